"""bootsh.boot.kexec: the boot plan, the combined initrd, and the real system call's failure paths.

No test here ever loads and starts a kernel. The real ``kexec_file_load`` is called only in
child processes that cannot succeed (CAP_SYS_BOOT dropped from the bounding set, or no
capability at all), with BOOTSH_NEVER_KEXEC set besides, which makes bootsh unload and
refuse should a load ever succeed. What the kernel answers such a process (EPERM, or ENOSYS
on a kernel built without kexec_file_load, as this test machine's is) is learnt from a raw
system call in the same kind of process: the oracle is the kernel, not bootsh.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bootsh.boot.kexec import (
    SYSCALLS,
    BootPlan,
    KexecError,
    PlanFile,
    combine_initrds,
    explain,
    syscall_number,
)
from tests.helpers import ROOT, run_cli
from tests.initrd import kernel, newc

NO_SYS_BOOT = ["setpriv", "--bounding-set=-sys_boot", "--inh-caps=-sys_boot"]
NO_CAPS = ["setpriv", "--bounding-set=-all", "--inh-caps=-all"]


@pytest.fixture(autouse=True)
def never_kexec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOOTSH_NEVER_KEXEC", "1")


@pytest.fixture
def shared() -> Iterator[Path]:
    """A directory any process can read (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="bootsh-kexec-test-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# -- the plan ----------------------------------------------------------------------------------


def test_dry_run_prints_the_plan_in_order(shared: Path) -> None:
    (shared / "a.cpio").write_bytes(newc({"etc/a": b"a"}, dirs=("etc",)))
    (shared / "b.cpio.gz").write_bytes(b"\x1f\x8b" + b"\0" * 30)
    (shared / "menu.ipxe").write_text("#!ipxe\necho menu\n")
    size = kernel().stat().st_size
    status, out, _ = run_cli(
        f"chain {(shared / 'menu.ipxe').as_uri()}",  # a script: never an initrd
        f"kernel {kernel().as_uri()} root=/dev/ram0  console=ttyS0",
        f"initrd {(shared / 'a.cpio').as_uri()}",
        f"initrd -n second {(shared / 'b.cpio.gz').as_uri()}",
        "boot",
        "echo boot returned",
    )
    assert status == 0
    assert out.splitlines()[-5:] == [
        f"boot: kernel vmlinuz {size} bytes {kernel().as_uri()}",
        f"boot: initrd a.cpio {(shared / 'a.cpio').stat().st_size} bytes"
        f" {(shared / 'a.cpio').as_uri()}",
        f"boot: initrd second 32 bytes {(shared / 'b.cpio.gz').as_uri()}",
        'boot: cmdline "root=/dev/ram0 console=ttyS0"',
        "boot returned",
    ]


def test_plan_without_initrd_or_arguments() -> None:
    plan = BootPlan(PlanFile("k", Path("/k"), 10, None), (), "")
    assert plan.lines() == ["boot: kernel k 10 bytes -", 'boot: cmdline ""']


def test_plan_lines_hide_a_password_as_the_download_line_does() -> None:
    kernel_file = PlanFile("k", Path("/k"), 10, "http://joe:secret@h/k")
    initrd = PlanFile("i", Path("/i"), 4, "tftp://joe:secret@h/i")
    lines = BootPlan(kernel_file, (initrd,), "").lines()
    assert lines[:2] == [
        "boot: kernel k 10 bytes http://joe:***@h/k",
        "boot: initrd i 4 bytes tftp://joe:***@h/i",
    ]
    assert "secret" not in "\n".join(lines)


def test_combined_initrd_keeps_order_and_pads_to_four(shared: Path) -> None:
    first = newc({"a": b"12345"})
    second = b"\x1f\x8b\x08odd!"  # 7 bytes: padded with one NUL
    third = newc({"b": b"x"})
    paths = []
    for i, data in enumerate((first, second, third)):
        path = shared / f"{i}.img"
        path.write_bytes(data)
        paths.append(PlanFile(path.name, path, len(data), None))
    combined = combine_initrds(tuple(paths), shared / "combined")
    assert combined is not None
    assert combined.read_bytes() == first + second + b"\0" + third
    assert combine_initrds((), shared / "none") is None


def test_an_initrd_with_a_name_is_wrapped_in_a_cpio_header(shared: Path) -> None:
    (shared / "hostname.txt").write_bytes(b"lab\n")
    status, out, _ = run_cli(
        f"kernel {kernel().as_uri()}",
        f"initrd {(shared / 'hostname.txt').as_uri()} /etc/hostname mode=600",
        "boot",
    )
    assert status == 0
    assert out.splitlines()[-2] == (
        f"boot: initrd hostname.txt 4 bytes {(shared / 'hostname.txt').as_uri()}"
        " as /etc/hostname mode 0600"
    )
    item = PlanFile.initrd("h", shared / "hostname.txt", 4, None, "/etc/hostname mode=600")
    combined = combine_initrds((item,), shared / "combined")
    assert combined is not None
    data = combined.read_bytes()
    fields = [int(data[6 + 8 * i : 14 + 8 * i], 16) for i in range(13)]
    assert data[:6] == b"070701"
    assert (fields[1], fields[6], fields[11]) == (0o100600, 4, len("/etc/hostname") + 1)
    name_end = 110 + fields[11]
    assert data[110:name_end] == b"/etc/hostname\0"
    start = name_end + (-name_end % 4)
    assert data[start:] == b"lab\n"  # 4 bytes: no padding needed
    # Without arguments the file is taken to be an archive already.
    assert PlanFile.initrd("r", Path("/r"), 1, None, None).cpio_name is None


def test_the_newc_writer_is_real_cpio(shared: Path) -> None:
    (shared / "x.cpio").write_bytes(newc({"etc/hostname": b"lab\n"}, dirs=("etc",)))
    listed = subprocess.run(
        ["busybox", "cpio", "-t", "-F", str(shared / "x.cpio")],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert listed.stdout.split() == ["etc", "etc/hostname"]


# -- errors ------------------------------------------------------------------------------------


def test_kernel_errors_become_ipxe_errors_with_a_reason() -> None:
    nosys = explain(errno.ENOSYS)
    assert (nosys.errno, "CONFIG_KEXEC_FILE" in nosys.why) == (0x3C81805F, True)
    perm = explain(errno.EPERM)
    assert perm.errno == 0x41818001
    assert "CAP_SYS_BOOT" in perm.why or "locked down" in perm.why
    assert explain(errno.ENOEXEC).errno == 0x2E818008
    assert "signature" in explain(errno.EKEYREJECTED).why
    assert explain(errno.ENOMEM).errno == 0x3181800C


def test_syscall_numbers() -> None:
    assert syscall_number("x86_64") == SYSCALLS["x86_64"] == 320
    assert syscall_number("aarch64") == 294
    with pytest.raises(KexecError, match="not known on sparc64"):
        syscall_number("sparc64")


def test_booting_something_that_is_no_kernel_fails_cleanly(shared: Path) -> None:
    (shared / "x.efi").write_bytes(b"MZ" + b"\0" * 0x3A + b"\x40\0\0\0" + b"PE\0\0")
    status, out, err = run_cli(f"chain {(shared / 'x.efi').as_uri()}", options=())
    assert status == 1
    assert out.splitlines()[-1] == "Could not boot: Exec format error (https://ipxe.org/2e008008)"
    assert "cannot boot an EFI executable from Linux" in err


# -- the real system call, where it must fail ----------------------------------------------------

ORACLE = (
    "import ctypes, platform\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "nr = {'x86_64': 320, 'aarch64': 294}[platform.machine()]\n"
    "r = libc.syscall(ctypes.c_long(nr), ctypes.c_long(-1), ctypes.c_long(-1),"
    " ctypes.c_ulong(0), None, ctypes.c_ulong(1))\n"
    "print(ctypes.get_errno() if r else 0)\n"
)


def _kernel_answer(prefix: list[str]) -> int:
    """The errno the kernel gives a process like ``prefix`` for kexec_file_load."""
    proc = subprocess.run(
        [*prefix, sys.executable, "-c", ORACLE], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout)


def _expected(answer: int) -> tuple[str, str]:
    if answer == errno.ENOSYS:
        return "Operation not supported (https://ipxe.org/3c81805f)", "CONFIG_KEXEC_FILE"
    assert answer == errno.EPERM, f"unexpected kernel answer {answer}"
    return "Operation not permitted (https://ipxe.org/41818001)", "CAP_SYS_BOOT"


@pytest.mark.parametrize("prefix", [NO_SYS_BOOT, NO_CAPS], ids=["no-cap-sys-boot", "no-caps"])
def test_boot_without_privilege_fails_with_a_clear_error(shared: Path, prefix: list[str]) -> None:
    if shutil.which("setpriv") is None:
        raise AssertionError("setpriv (util-linux) is needed")
    answer = _kernel_answer(prefix)
    assert answer in (errno.EPERM, errno.ENOSYS)
    line, why = _expected(answer)
    (shared / "initrd.cpio").write_bytes(newc({"init": b"#!/bin/sh\n"}))
    (shared / "initrd.cpio").chmod(0o644)
    argv = [
        *prefix,
        sys.executable,
        "-m",
        "bootsh",
        "-c",
        f"kernel {kernel().as_uri()} console=ttyS0",
        "-c",
        f"initrd {(shared / 'initrd.cpio').as_uri()}",
        "-c",
        "boot || echo errno ${errno}",
    ]
    env = {**os.environ, "BOOTSH_NEVER_KEXEC": "1"}
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-2] == f"Could not boot: {line}"
    assert lines[-1].startswith("errno 0x")
    assert "bootsh: cannot boot vmlinuz: " in proc.stderr and why in proc.stderr
    # Nothing stays loaded: the kernel says so where it can.
    loaded = Path("/sys/kernel/kexec_loaded")
    if loaded.exists():
        assert loaded.read_text().strip() == "0"
