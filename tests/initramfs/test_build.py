"""``bootsh initramfs``: what goes into the image, that two builds give the same bytes, the
kernel modules' dependencies from a real Debian kernel package, /init's decisions, and one
clear line for each mistake. The VM tests (test_vm_boot.py) boot what is built here."""

from __future__ import annotations

import ctypes
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bootsh.initramfs import init
from bootsh.initramfs.cpio import Archive, CpioError, Member, read_archive
from bootsh.initramfs.modules import ModuleError, ModuleTree, modinfo, resolve
from tests import vm
from tests.helpers import ROOT
from tests.initramfs.conftest import build_initramfs


def _members(path: Path) -> dict[str, Member]:
    raw = subprocess.run(
        ["zstd", "-dc", str(path)], capture_output=True, check=True, timeout=120
    ).stdout
    return {m.path: m for m in read_archive(raw)}


def test_two_builds_give_the_same_bytes(image: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.cpio.zst"
    proc = build_initramfs(again)
    assert proc.returncode == 0, proc.stderr
    assert again.read_bytes() == image.read_bytes()


def test_what_the_image_holds(image: Path) -> None:
    members = _members(image)
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    stdlib = f"usr/lib/python{version}"
    init_file = members["init"]
    assert init_file.mode == stat.S_IFREG | 0o755
    assert init_file.data.startswith(b"#!/usr/bin/python3 -I\n")
    assert members["dev/console"].mode == stat.S_IFCHR | 0o600
    assert members["dev/console"].rdev == (5, 1)
    assert members["lib64"].data == b"usr/lib64"  # the interpreter's PT_INTERP path works
    assert "usr/bin/python3" in members
    # Byte code only, hash-based and unchecked (PEP 552 flags 0b01), no sources.
    assert members[f"{stdlib}/os.pyc"].data[4:8] == b"\x01\0\0\0"
    assert f"{stdlib}/os.py" not in members
    names = set(members)
    for left_out in ("test/", "idlelib/", "tkinter/", "lib2to3/", "ensurepip/",
                     "site-packages/scapy/contrib/", "encodings/cp1252"):  # fmt: skip
        assert not [n for n in names if n.startswith(f"{stdlib}/{left_out}")], left_out
    assert not [n for n in names if "__pycache__" in n or n.endswith(".py")]
    assert f"{stdlib}/encodings/utf_8.pyc" in members
    # bootsh, every built-in plugin (found through the entry points), the dependencies, and
    # the entry points themselves.
    site = f"{stdlib}/site-packages"
    for package in ("bootsh", "bootsh_ipxe_cmds", "bootsh_pci_nics", "bootsh_netfront",
                    "pluggy", "prompt_toolkit", "scapy", "pyxs", "wcwidth"):  # fmt: skip
        assert f"{site}/{package}/__init__.pyc" in members, package
    entry_points = [
        m for n, m in members.items() if n.endswith("bootsh-0.1.0.dist-info/entry_points.txt")
    ]
    assert b"bootsh_ipxe_cmds" in entry_points[0].data
    # The modules and their index, each after what it depends on.
    [index] = [m for n, m in members.items() if n.endswith("/bootsh-modules.json")]
    order = [m["name"] for m in json.loads(index.data)["modules"]]
    assert order.index("net_failover") < order.index("virtio_net")
    assert order.index("virtio") < order.index("virtio_pci") and "vmxnet3" in order
    # Reproducible members: one mtime, root's.
    assert {m.mtime for m in members.values()} == {0}


def test_a_third_party_plugin_goes_in(tmp_path: Path) -> None:
    # The example plugin pip-installed into a private directory, as a user installs one: the
    # builder's distribution walk finds it through its entry point (a build would too).
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(ROOT / "examples" / "twin_prefer_e1000")],
        check=True, timeout=300, env={**os.environ, "TMPDIR": str(tmp_path)},
    )  # fmt: skip
    code = (
        "from bootsh.initramfs.cpio import Archive\n"
        "from bootsh.initramfs.python import Layout, Report, add_distribution,"
        " bootsh_distributions\n"
        "archive, report = Archive(), Report()\n"
        "for d in bootsh_distributions():\n"
        "    if d.name.startswith('bootsh'):\n"
        "        add_distribution(archive, Layout.current(), d, report, strip=False)\n"
        "print('\\n'.join(sorted(archive.entries)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "PYTHONPATH": str(target)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    paths = proc.stdout.split()
    assert [p for p in paths if p.endswith("site-packages/bootsh_prefer_e1000.pyc")]
    assert [p for p in paths if "prefer_e1000" in p and p.endswith("entry_points.txt")]


# -- kernel modules from the real Debian package -------------------------------------------------


@pytest.fixture(scope="module")
def tree(vm_parts: None) -> ModuleTree:
    return ModuleTree.from_deb(vm.KERNEL_DEB)


def test_dependencies_come_from_the_modules(tree: ModuleTree) -> None:
    modules, notes = resolve(tree, ["virtio_net", "xen-netfront"])
    names = [m.name for m in modules]
    assert names[-1] == "xen_netfront" and "virtio_net" in names
    for position, module in enumerate(modules):
        for dep in module.depends:  # everything a module needs is loaded before it
            assert dep in names[:position], (module.name, dep)
    virtio_net = modules[names.index("virtio_net")]
    assert "net_failover" in virtio_net.depends
    assert "virtio:d00000001v*" in virtio_net.aliases
    assert notes == []


def test_module_mistakes_are_one_line(tree: ModuleTree) -> None:
    with pytest.raises(ModuleError, match=r"^kernel 6\.\S+ has no module 'nosuch'$"):
        resolve(tree, ["nosuch"])
    with pytest.raises(ModuleError, match=r"no module of kernel \S+ matches 'drivers/nosuch/\*'"):
        resolve(tree, ["drivers/nosuch/*"])
    modules, notes = resolve(tree, ["af_packet"])  # built into the cloud kernel
    assert modules == [] and notes == [
        f"af_packet is built into kernel {tree.version}: nothing to add"
    ]
    with pytest.raises(ModuleError, match=r"^x\.ko: not an ELF object$"):
        modinfo(b"garbage" * 20, "x.ko")


def test_cli_mistakes_are_one_line(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bootsh", "initramfs", "-o", str(tmp_path / "x"), *args],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    script = tmp_path / "s.ipxe"
    script.write_text("echo no magic line\n")
    deb = tmp_path / "not.deb"
    deb.write_bytes(b"hello")
    cases = {
        ("-m", "virtio_net"): "bootsh initramfs: --module needs --kernel-deb or --modules-dir",
        ("--kernel-deb", str(tmp_path / "missing.deb")): "No such file or directory",
        ("--kernel-deb", str(deb)): "not a Debian package (no ar archive)",
        ("--script", str(script)): "no #!ipxe line: not an iPXE script",
        ("--modules-dir", str(tmp_path)): "not a module tree",
    }
    for args, message in cases.items():
        proc = run(*args)
        assert proc.returncode == 1, args
        assert len(proc.stderr.splitlines()) == 1 and message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    proc = run("--add", "relative")
    assert proc.returncode == 2 and "is not SOURCE:/PATH" in proc.stderr
    assert not (tmp_path / "x").exists()


# -- the archive format ---------------------------------------------------------------------------


def test_archive_bytes_do_not_depend_on_the_order_of_adding() -> None:
    import io

    def build(order: list[int]) -> bytes:
        archive = Archive()
        adds = [
            lambda: archive.file("usr/bin/tool", b"x", 0o755),
            lambda: archive.symlink("bin", "usr/bin"),
            lambda: archive.chardev("dev/console", 5, 1),
            lambda: archive.file("etc/a", b"abc"),
        ]
        for i in order:
            adds[i]()
        out = io.BytesIO()
        archive.write(out, mtime=7)
        return out.getvalue()

    first = build([0, 1, 2, 3])
    assert first == build([3, 2, 1, 0])
    paths = [m.path for m in read_archive(first)]
    assert paths == sorted(paths) and "usr" in paths  # parents made, before their contents


def test_archive_refuses_conflicts_and_escapes() -> None:
    archive = Archive()
    archive.symlink("lib", "usr/lib")
    with pytest.raises(CpioError, match=r"^lib is already in the archive as a symlink$"):
        archive.file("lib/x", b"")
    with pytest.raises(CpioError, match="bad archive path"):
        archive.file("../etc/passwd", b"")


# -- /init's decisions ----------------------------------------------------------------------------


def test_kernel_command_line_options() -> None:
    options = init.parse_options(
        "console=ttyS0 bootsh.twins=label bootsh.modules=all bootsh.nosuch=1 quiet",
        {"script": "/etc/bootsh/boot.ipxe", "console": "hvc0"},
    )
    assert (options.twins, options.modules, options.console) == ("label", "all", "hvc0")
    assert options.unknown == ["bootsh.nosuch=1"]
    python = [init.PYTHON, "-I", "-m", "bootsh", "--twins", "label"]
    assert init.bootsh_argv(options, "boot") == [*python, "--shell-after", "/etc/bootsh/boot.ipxe"]
    assert init.bootsh_argv(options, "shell") == [*python, "--interactive"]
    uri = init.parse_options("bootsh.script=http://10.0.0.1/x.ipxe bootsh.console=/dev/ttyS1", {})
    assert init.bootsh_argv(uri, "boot")[4:] == [
        "--shell-after",
        "-c",
        "dhcp",
        "-c",
        "chain http://10.0.0.1/x.ipxe",
    ]
    assert uri.console == "ttyS1"
    plain = init.parse_options("", {})
    assert init.bootsh_argv(plain, "boot")[4:] == ["--shell-after", "-c", "autoboot"]
    assert init.bootsh_argv(init.parse_options("bootsh.shell", {}), "boot")[4:] == ["--interactive"]


def test_modules_load_from_modaliases_round_by_round(tmp_path: Path) -> None:
    release = os.uname().release
    root = tmp_path / "modules"
    (root / release).mkdir(parents=True)
    index = {
        "kernel": release,
        "modules": [
            {"name": "virtio", "path": "virtio.ko", "depends": [], "aliases": []},
            {"name": "virtio_pci", "path": "virtio_pci.ko", "depends": ["virtio"],
             "aliases": ["pci:v00001AF4d*sv*sd*bc*sc*i*"]},
            {"name": "virtio_net", "path": "virtio_net.ko", "depends": ["virtio"],
             "aliases": ["virtio:d00000001v*"]},
            {"name": "e1000", "path": "e1000.ko", "depends": [],
             "aliases": ["pci:v00008086d0000100Esv*sd*bc*sc*i*"]},
        ],
    }  # fmt: skip
    (root / release / init.MODULE_INDEX).write_text(json.dumps(index))
    sysfs = tmp_path / "sys"
    pci = sysfs / "bus/pci/devices/0000:00:02.0"
    pci.mkdir(parents=True)
    (pci / "modalias").write_text("pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00\n")
    loaded: list[str] = []

    def load(libc: ctypes.CDLL, path: Path) -> int:
        # Like the kernel: loading virtio_pci makes the virtio bus device appear.
        loaded.append(path.name)
        (sysfs / "module" / path.stem).mkdir(parents=True)
        if path.stem == "virtio_pci":
            device = sysfs / "bus/virtio/devices/virtio0"
            device.mkdir(parents=True)
            (device / "modalias").write_text("virtio:d00000001v00001AF4\n")
        return 0

    libc = ctypes.CDLL(None)
    names = init.load_modules(libc, "auto", root, sysfs, load)
    assert names == ["virtio", "virtio_pci", "virtio_net"]  # no e1000: no such device here
    assert loaded == ["virtio.ko", "virtio_pci.ko", "virtio_net.ko"]
    assert init.load_modules(libc, "none", root, sysfs, load) == []


def test_modules_of_another_kernel_are_not_loaded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "5.0.0-other").mkdir()
    (tmp_path / "5.0.0-other" / init.MODULE_INDEX).write_text('{"modules": []}')
    assert init.load_modules(ctypes.CDLL(None), "auto", tmp_path, tmp_path) == []
    err = capsys.readouterr().err
    assert "the image has modules for kernel 5.0.0-other, this is" in err


def test_console_device(tmp_path: Path) -> None:
    active = tmp_path / "class/tty/console"
    active.mkdir(parents=True)
    (active / "active").write_text("tty0 ttyS0\n")
    assert init.console_device("auto", tmp_path) == "/dev/ttyS0"
    (active / "active").write_text("tty0\n")
    assert init.console_device("auto", tmp_path) == "/dev/tty1"
    assert init.console_device("hvc0", tmp_path) == "/dev/hvc0"
    assert init.environment({}, "/dev/ttyS0")["PROMPT_TOOLKIT_NO_CPR"] == "1"
    assert "PROMPT_TOOLKIT_NO_CPR" not in init.environment({}, "/dev/tty1")


def test_pid1_restarts_the_shell_and_drops_a_twins_option_that_stops_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    started: list[list[str]] = []
    waits = iter([(999, 0), (101, 256), (102, 512), (103, 512), (104, 0)])

    class Stop(Exception):
        pass

    def spawn(argv: list[str], device: str, env: dict[str, str]) -> int:
        started.append(argv[4:])
        if len(started) > 4:
            raise Stop
        return 100 + len(started)

    def wait() -> tuple[int, int]:
        return next(waits)

    monkeypatch.setattr(init, "spawn", spawn)
    monkeypatch.setattr(os, "wait", wait)
    monkeypatch.setattr(time, "sleep", lambda s: None)
    monkeypatch.setattr(time, "monotonic", lambda: 0.0)  # every run "ends at once"
    with pytest.raises(Stop):
        init.supervise(init.parse_options("bootsh.twins=bogus", {}), "/dev/ttyS0", {})
    # The orphan (pid 999) was reaped on the way; autoboot first, then the shell, then (two
    # starts having failed at once) the shell without the option.
    assert started == [
        ["--twins", "bogus", "--shell-after", "-c", "autoboot"],
        ["--twins", "bogus", "--interactive"],
        ["--interactive"],
        ["--interactive"],
        ["--interactive"],
    ]
    err = capsys.readouterr().err
    assert "bootsh init: bootsh ended (status 1): starting the shell again" in err
    assert "bootsh init: dropping bootsh.twins=bogus: bootsh does not start with it" in err


def test_a_requirement_whose_marker_did_not_hold_is_not_wanted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cryptography requires typing-extensions on Python < 3.11 only: pip did not install
    it here, and the image must not ask for it; a requirement without a marker must be there."""
    from bootsh.initramfs.python import PayloadError, bootsh_distributions

    def dist(name: str, *requires: str) -> None:
        where = tmp_path / f"{name}-1.0.dist-info"
        where.mkdir()
        lines = ["Metadata-Version: 2.1", f"Name: {name}", "Version: 1.0"]
        lines += [f"Requires-Dist: {r}" for r in requires]
        (where / "METADATA").write_text("\n".join(lines) + "\n")

    dist("conditional", "not-installed-anywhere>=4 ; python_full_version < '3.11'", "plain")
    dist("plain")
    dist("broken", "not-installed-anywhere")
    monkeypatch.syspath_prepend(str(tmp_path))
    names = {d.metadata["Name"] for d in bootsh_distributions(["conditional"])}
    assert {"conditional", "plain", "bootsh"} <= names
    assert "not-installed-anywhere" not in names
    with pytest.raises(PayloadError, match="distribution not-installed-anywhere is needed"):
        bootsh_distributions(["broken"])
