"""Ironic's templates (tests/data/ironic, from the shared corpus) in the network lab, switched
to their boot label as Ironic's ``switch_pxe_config`` does, up to their ``sanboot``/``sanhook``:
the whole-disk boot of a local disk, an ISO over HTTP, iSCSI volumes served by Debian's tgt
(tgtd + tgtadm) in the lab's server namespace with CHAP, and the PXE entry scripts chaining
them; then live ISOs, dracut's iSCSI parameters and the iSCSI errors.

bootsh runs with ``--dry-run`` and ``BOOTSH_NEVER_KEXEC``, and every local drive is named with
``--disk`` (never this machine's). A dry-run boot prints its plan and returns, where a real one
never comes back: where a template would then run into its retry loop, the test ends the
script right after the boot line (``stop_after``)."""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from bootsh.lab import Lab
from tests import diskimages as d
from tests import helpers
from tests.helpers import ROOT, started

DATA = ROOT / "tests" / "data" / "ironic"
MAC = "52:54:00:b0:0c:5a"
IQN = "iqn.2024-01.test.bootsh:volume"
IQN_DRACUT = "iqn.2024-01.test.bootsh:fedora"
IQN_GONE = "iqn.2024-01.test.bootsh:gone"
NODE_IQN = "iqn.2024-01.test:node"
#: tgtd's control port names its socket (/var/run/tgtd/socket.N): one of this process's own.
CTL = str(1024 + os.getpid() % 30000)  # tgtadm takes at most 32767
DEBIAN_CMDLINE = "root=LABEL=root ro quiet"
CHAP = ("ironic", "s3cretpass12")
CHAP_EXTRA = ("ironic1", "s3cretpass34")


@dataclass
class Images:
    debian: Path  # GPT, GRUB, initramfs-tools (initrd.img-*): the boot volume
    fedora: Path  # GPT, GRUB + BLS, dracut (initramfs-*.img)
    data: Path  # GPT, one ext4 with no OS
    gone: Path  # a copy of debian, on a target the test deletes
    initrd_size: int


def _debian(work: Path, name: str) -> Path:
    cfg = (
        "set default=0\nmenuentry 'Debian GNU/Linux' {\n"
        f"\tlinux /boot/vmlinuz-6.1.0-18-amd64 {DEBIAN_CMDLINE}\n"
        "\tinitrd /boot/initrd.img-6.1.0-18-amd64\n}\n"
    )
    root = d.ext4(work, name, {
        "boot/grub/grub.cfg": cfg.encode(),
        "boot/vmlinuz-6.1.0-18-amd64": d.kernel_path(),
        "boot/initrd.img-6.1.0-18-amd64": d.initrd_bytes("lab"),
    }, label="root")  # fmt: skip
    return d.gpt_disk(work / f"{name}.img", [("8300", root, "root")])


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Images:
    work = tmp_path_factory.mktemp("san-lab")
    version = "6.7.4-200.fc39.x86_64"
    bls = (
        f"title Fedora Linux ({version}) 39\nversion {version}\nlinux /vmlinuz-{version}\n"
        f"initrd /initramfs-{version}.img\noptions root=LABEL=fedora ro\n"
    )
    boot = d.ext4(work, "fedora-boot", {
        "grub2/grub.cfg": b"set default=0\nblscfg\n",
        f"loader/entries/0123-{version}.conf": bls.encode(),
        f"vmlinuz-{version}": d.kernel_path(),
        f"initramfs-{version}.img": d.initrd_bytes("lab"),
    })  # fmt: skip
    data = d.ext4(work, "data", {"srv/data.txt": b"no operating system here\n"})
    return Images(
        debian=_debian(work, "debian"),
        fedora=d.gpt_disk(work / "fedora.img", [("8300", boot, "boot")]),
        data=d.gpt_disk(work / "data.img", [("8300", data, "data")]),
        gone=_debian(work, "gone"),
        initrd_size=len(d.initrd_bytes("lab")),
    )


def _iso(work: Path, name: str, config: str, kernel: str, initrd: str, label: str) -> Path:
    """An ISO with ``config`` (a GRUB or isolinux file) and a kernel and initrd at those paths."""
    where = "isolinux/isolinux.cfg" if "label " in config.lower() else "boot/grub/grub.cfg"
    return d.iso(work, name, {
        where: config.encode(),
        kernel.lstrip("/"): d.kernel_path(),
        initrd.lstrip("/"): d.initrd_bytes("live"),
    }, label=label, isolinux=where.startswith("isolinux"))  # fmt: skip


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, images: Images) -> Path:
    """What the lab's HTTP server serves: ISOs, a disk image, Ironic's PXE scripts and a node
    configuration (in ``pxe/``), the fallback with no configuration for this MAC and the
    inspector (in ``fallback/``), and the agent's kernel and initramfs."""
    work = tmp_path_factory.mktemp("isos")
    top = tmp_path_factory.mktemp("served")
    ubuntu = (
        "set timeout=30\nmenuentry 'Try or Install Ubuntu Server' {\n"
        "\tset gfxpayload=keep\n\tlinux\t/casper/vmlinuz  ---\n\tinitrd\t/casper/initrd\n}\n"
    )
    fedora = (
        "default vesamenu.c32\nlabel linux\n  menu label ^Start Fedora-Workstation-Live 39\n"
        "  kernel /images/pxeboot/vmlinuz\n  append initrd=/images/pxeboot/initrd.img"
        " root=live:CDLABEL=Fedora-WS-Live-39-1-5 rd.live.image quiet rhgb\n"
    )
    debian = (
        "menuentry 'Live system (amd64)' {\n"
        "\tlinux /live/vmlinuz-6.1.0-18-amd64 boot=live components quiet splash\n"
        "\tinitrd /live/initrd.img-6.1.0-18-amd64\n}\n"
    )
    isos = {
        "ubuntu.iso": _iso(work, "ubuntu", ubuntu, "/casper/vmlinuz", "/casper/initrd",
                           "Ubuntu-Server 22.04.3 LTS amd64"),
        "fedora.iso": _iso(work, "fedora", fedora, "/images/pxeboot/vmlinuz",
                           "/images/pxeboot/initrd.img", "Fedora-WS-Live-39-1-5"),
        "debian-live.iso": _iso(work, "debian", debian, "/live/vmlinuz-6.1.0-18-amd64",
                                "/live/initrd.img-6.1.0-18-amd64", "d-live 12.4.0 st amd64"),
    }  # fmt: skip
    for name, path in isos.items():
        (top / name).symlink_to(path)
    (top / "disk.img").symlink_to(images.debian)
    (top / "ironic-python-agent.kernel").symlink_to(d.kernel_path())
    (top / "ironic-python-agent.initramfs").write_bytes(d.initrd_bytes("ipa"))
    for where in ("pxe", "fallback"):
        (top / where / "pxelinux.cfg").mkdir(parents=True)
        (top / where / "pxelinux.cfg" / "00-00-00-00-00-00").write_text("#!ipxe\necho other\n")
    (top / "pxe" / "boot.ipxe").write_text((DATA / "boot.ipxe").read_text())
    # The inspector's dry-run boot returns, where a real one would not: the script then ends.
    fallback, count = re.subn(r"^(chain inspector\.ipxe .*)$", r"\1\nexit 0",
                              (DATA / "boot-fallback.ipxe").read_text(), flags=re.M)  # fmt: skip
    assert count == 2
    (top / "fallback" / "boot-fallback.ipxe").write_text(fallback)
    node = template("ipxe_config.ipxe", "boot_whole_disk")
    (top / "pxe" / "pxelinux.cfg" / MAC.replace(":", "-")).write_text(node)
    return top


def _tgtadm(lab: Lab, tgtd: subprocess.Popen[bytes], *args: str) -> None:
    """One tgtadm call; the first ones may come before tgtd's control socket is there: tried
    again (while tgtd runs) until it answers, for at most 30 s."""
    deadline = time.monotonic() + 30
    while True:
        proc = lab.run_in_server(["tgtadm", "-C", CTL, "--lld", "iscsi", *args],
                                 capture_output=True, text=True)  # fmt: skip
        if proc.returncode == 0:
            return
        if tgtd.poll() is not None or "connect" not in proc.stderr:
            raise AssertionError(f"tgtadm {' '.join(args)}: {proc.stderr.strip()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"tgtd did not answer within 30 s: {proc.stderr.strip()}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def lab(served: Path, images: Images) -> Iterator[Lab]:
    """The lab, with tgtd in its server namespace: target 1 (CHAP, two accounts) has the
    Debian volume as LUN 1 and the data volume as LUN 2; target 2 (no CHAP) the Fedora
    volume; target 3 a Debian volume that a test takes away."""
    d.need("tgtd", "tgtadm", "qemu-storage-daemon")
    with started(Lab(serve=served, client_mac=MAC)) as the_lab:
        tgtd = subprocess.Popen(
            the_lab.server_argv(
                ["tgtd", "-f", "-C", CTL, "--iscsi", f"portal={the_lab.server_ip}:3260"]
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        targets = ((1, IQN, [images.debian, images.data]), (2, IQN_DRACUT, [images.fedora]),
                   (3, IQN_GONE, [images.gone]))  # fmt: skip
        try:
            for tid, iqn, luns in targets:
                _tgtadm(the_lab, tgtd, "--op", "new", "--mode", "target", "--tid", str(tid), "-T",
                        iqn)  # fmt: skip
                for lun, image in enumerate(luns, 1):
                    _tgtadm(the_lab, tgtd, "--op", "new", "--mode", "logicalunit", "--tid",
                            str(tid), "--lun", str(lun), "-b", str(image))  # fmt: skip
                _tgtadm(the_lab, tgtd, "--op", "bind", "--mode", "target", "--tid", str(tid),
                        "-I", "ALL")  # fmt: skip
            for user, password in (CHAP, CHAP_EXTRA):
                _tgtadm(the_lab, tgtd, "--op", "new", "--mode", "account", "--user", user,
                        "--password", password)  # fmt: skip
                _tgtadm(the_lab, tgtd, "--op", "bind", "--mode", "account", "--tid", "1",
                        "--user", user)  # fmt: skip
            yield the_lab
        finally:
            # tgt's own way to stop (its init script's): every target deleted, then the
            # system; tgtd exits at once. Its control socket and lock stay: removed below.
            for tid, _, _ in targets:
                with contextlib.suppress(subprocess.SubprocessError):
                    the_lab.run_in_server(["tgtadm", "-C", CTL, "--lld", "iscsi", "--op",
                                           "delete", "--mode", "target", "--tid", str(tid),
                                           "--force"], capture_output=True)  # fmt: skip
            with contextlib.suppress(subprocess.SubprocessError):
                the_lab.run_in_server(["tgtadm", "-C", CTL, "--op", "delete", "--mode", "system"],
                                      capture_output=True)  # fmt: skip
            try:
                tgtd.wait(30)
            except subprocess.TimeoutExpired:
                tgtd.kill()
                tgtd.wait(30)
            for leftover in (f"socket.{CTL}", f"socket.{CTL}.lock"):
                Path("/var/run/tgtd", leftover).unlink(missing_ok=True)


def run(lab: Lab, script: str, disk: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``script`` run by bootsh in the client namespace, ``disk`` its only local drive, its
    temporary files (images, iSCSI attachments) under ``tmp_path``; afterwards nothing of it
    is left: no mount, no qemu-storage-daemon."""
    path = Path(lab.tmpdir) / "node.ipxe"
    path.write_text(script)
    env = {**os.environ, "BOOTSH_NEVER_KEXEC": "1", "TMPDIR": str(tmp_path)}
    proc = helpers.bootsh(
        lab, "dhcp", f"chain file://{path}", options=["--dry-run", "--disk", str(disk)],
        env=env, timeout=180,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr
    assert leftovers(tmp_path) == []
    return proc


def leftovers(tmp_path: Path) -> list[str]:
    """Mounts and processes of bootsh's under ``tmp_path`` (there must be none)."""
    mounts = Path("/proc/self/mounts").read_text().splitlines()
    found = [line for line in mounts if str(tmp_path) in line or "bootsh-mnt-" in line]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "qemu-storage-daemon" in cmdline and str(tmp_path) in cmdline:
            found.append(f"process {pid}: {cmdline}")
    return found


def template(name: str, label: str, *, stop_after: str | None = None, **subs: str) -> str:
    """Ironic's template switched to ``label``; with ``stop_after``, ended after that line."""
    text = (DATA / name).read_text().replace("goto deploy", f"goto {label}", 1)
    for old, new in subs.items():
        text = text.replace(old, new)
    if stop_after is not None:
        assert stop_after in text
        text = text.replace(stop_after, f"{stop_after}\nexit 0", 1)
    return text


def plan(kernel: str, initrd: str, size: int, cmdline: str, uri: str = "-") -> list[str]:
    return [
        f"boot: kernel {kernel} {d.kernel_path().stat().st_size} bytes {uri}",
        f"boot: initrd {initrd} {size} bytes {uri}",
        f'boot: cmdline "{cmdline}"',
    ]


def debian_plan(images: Images, cmdline: str = DEBIAN_CMDLINE) -> list[str]:
    return plan("vmlinuz-6.1.0-18-amd64", "initrd.img-6.1.0-18-amd64", images.initrd_size,
                cmdline)  # fmt: skip


def after_dhcp(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """The output after DHCP and the fetch of the node's script."""
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("Configuring (net0") and lines[1].endswith("node.ipxe... ok")
    return lines[2:]


WHOLE_DISK = sorted(p.name for p in DATA.glob("ipxe_config*.ipxe"))


@pytest.mark.parametrize("name", WHOLE_DISK)
def test_whole_disk(lab: Lab, images: Images, tmp_path: Path, name: str) -> None:
    """Every node template has Ironic's ``:boot_whole_disk`` (``sanboot --no-describe``)."""
    assert len(WHOLE_DISK) == 8
    proc = run(lab, template(name, "boot_whole_disk"), images.debian, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert after_dhcp(proc) == [
        "Booting from SAN device 0x80",
        'SAN 0x80 partition 1 (ext4 "root"): /boot/grub/grub.cfg "Debian GNU/Linux"',
        *debian_plan(images),
    ]


def test_iso_over_http_then_the_whole_disk_label(lab: Lab, images: Images, tmp_path: Path) -> None:
    """Ironic's ramdisk ISO: an Ubuntu live ISO over HTTP, told where it is (casper's
    ``url=``, before the ``---``). The dry-run boot returns, so the script then runs into its
    next label, ``:boot_whole_disk``, on the one local drive it has: a disk with no OS.

    This was the "HTTP image fails with EIO" of the first attempt: the HTTP path worked; the
    fall-through scanned this machine's own disks (no ``--disk``) and failed on /dev/vda."""
    url = f"http://{lab.server_ip}/ubuntu.iso"
    script = template("ipxe_config_boot_from_iso.ipxe", "boot_ramdisk",
                      **{"http://1.2.3.4:1234/uuid/iso": url})  # fmt: skip
    proc = run(lab, script, images.data, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert after_dhcp(proc) == [
        f"{url}... ok",
        "Registered SAN device 0x80",
        "Booting from SAN device 0x80",
        'SAN 0x80 whole disk (iso9660 "Ubuntu-Server 22.04.3 LTS amd64"): /boot/grub/grub.cfg'
        ' "Try or Install Ubuntu Server"',
        *plan("vmlinuz", "initrd", len(d.initrd_bytes("live")), f"url={url} ip=dhcp ---"),
        "Unregistered SAN device 0x80",
        "Booting from SAN device 0x80",
        "Boot from SAN device 0x80 failed: No such file or directory (https://ipxe.org/2d222002)",
    ]


@pytest.mark.parametrize("name", ["fedora.iso", "debian-live.iso", "disk.img"])
def test_live_isos_and_a_disk_image_over_http(
    lab: Lab, images: Images, tmp_path: Path, name: str
) -> None:
    url = f"http://{lab.server_ip}/{name}"
    proc = run(lab, f"#!ipxe\nsanboot {url} || echo errno ${{errno}}\n", images.data, tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = after_dhcp(proc)
    assert lines[:3] == [
        f"{url}... ok",
        "Registered SAN device 0x80",
        "Booting from SAN device 0x80",
    ]
    if name == "fedora.iso":  # dracut's root=live: gets the URL in place of the label
        assert lines[3:] == [
            'SAN 0x80 whole disk (iso9660 "Fedora-WS-Live-39-1-5"): /isolinux/isolinux.cfg'
            ' "Start Fedora-Workstation-Live 39"',
            *plan("vmlinuz", "initrd.img", len(d.initrd_bytes("live")),
                  f"root=live:{url} rd.live.image quiet rhgb ip=dhcp"),
            "Unregistered SAN device 0x80",
        ]  # fmt: skip
    elif name == "debian-live.iso":
        assert lines[3:] == [
            "Boot from SAN device 0x80 failed: Exec format error (https://ipxe.org/2e008008)",
            "Unregistered SAN device 0x80",
            "errno 0x2e008008",
        ]
        assert "Debian live ISO (boot=live): live-boot can fetch its squashfs" in proc.stderr
    else:
        assert lines[3:] == [
            'SAN 0x80 partition 1 (ext4 "root"): /boot/grub/grub.cfg "Debian GNU/Linux"',
            *debian_plan(images),
            "Unregistered SAN device 0x80",
        ]


def _volume_subs(lab: Lab) -> dict[str, str]:
    """The template's placeholders, in order: the extra volume (LUN 1 in the template) is
    LUN 2 here, the boot volume (LUN 0 there) LUN 1 (tgt's LUN 0 is its controller)."""
    return {
        "fake_username_1": CHAP_EXTRA[0], "fake_password_1": CHAP_EXTRA[1],
        "fake_username": CHAP[0], "fake_password": CHAP[1],
        "set initiator-iqn fake_iqn": f"set initiator-iqn {NODE_IQN}",
        "faker_host": lab.server_ip, "fake_host": "127.0.0.1", "fake_iqn": IQN,
        "3260:1:": "3260:2:", "3260:0:": "3260:1:",
    }  # fmt: skip


TOOLS_CHAP = (
    f"iscsi_initiator={NODE_IQN} iscsi_target_name={IQN} iscsi_target_ip=%s"
    f" iscsi_target_port=3260 iscsi_username={CHAP[0]} iscsi_password={CHAP[1]}"
)


@pytest.mark.parametrize("name", [
    "ipxe_config_boot_from_volume_no_extra_volumes.ipxe",
    "ipxe_config_boot_from_volume_multipath.ipxe",
    "ipxe_config_boot_from_volume_extra_volume.ipxe",
])  # fmt: skip
def test_boot_from_volume(lab: Lab, images: Images, tmp_path: Path, name: str) -> None:
    """Boot from an iSCSI volume with CHAP, the next kernel told how to log in again. In the
    multipath template the first path is a portal where nothing listens (refused: the second
    path is used); the extra-volume template hooks a second LUN as 0x81 with other
    credentials."""
    subs = _volume_subs(lab)
    if "multipath" not in name:
        subs["fake_host"] = lab.server_ip
    text = template(name, "boot_iscsi", stop_after="sanboot --no-describe || goto fail_iscsi_retry",
                    **subs)  # fmt: skip
    proc = run(lab, text, images.data, tmp_path)
    assert proc.returncode == 0, proc.stderr
    extra = ["Registered SAN device 0x81"] if name.endswith("_extra_volume.ipxe") else []
    assert after_dhcp(proc) == [
        "Registered SAN device 0x80",
        *extra,
        "Booting from SAN device 0x80",
        'SAN 0x80 partition 1 (ext4 "root"): /boot/grub/grub.cfg "Debian GNU/Linux"',
        *debian_plan(images, f"{DEBIAN_CMDLINE} {TOOLS_CHAP % lab.server_ip}"),
    ]
    if "multipath" in name:
        assert proc.stderr.startswith(f"bootsh: iscsi:127.0.0.1::3260:1:{IQN}: ")
        assert "refused" in proc.stderr.splitlines()[0].lower()
    else:
        assert proc.stderr == ""  # 0x81 is on the same target: no note


def test_dracut_gets_rd_iscsi_and_netroot(lab: Lab, images: Images, tmp_path: Path) -> None:
    """A Fedora volume (dracut's initramfs-*.img, no CHAP): ``sanboot`` of the root path
    hooks, boots and unhooks; the command line has dracut's parameters; then ``sanboot
    --keep`` and ``sanunhook`` (iPXE's messages)."""
    root = f"iscsi:{lab.server_ip}::3260:1:{IQN_DRACUT}"
    script = (
        f"#!ipxe\nset initiator-iqn {NODE_IQN}\nsanboot {root}\n"
        f"sanboot --keep --drive 0x81 {root}\nsanunhook --drive 0x81\n"
    )
    proc = run(lab, script, images.data, tmp_path)
    assert proc.returncode == 0, proc.stderr
    version = "6.7.4-200.fc39.x86_64"
    boot = [
        'partition 1 (ext4): /grub2/grub.cfg "Fedora Linux (6.7.4-200.fc39.x86_64) 39"',
        *plan(f"vmlinuz-{version}", f"initramfs-{version}.img", images.initrd_size,
              f"root=LABEL=fedora ro rd.iscsi.initiator={NODE_IQN}"
              f" netroot=iscsi:{lab.server_ip}::3260:1:{IQN_DRACUT} ip=dhcp"),
    ]  # fmt: skip
    assert after_dhcp(proc) == [
        "Registered SAN device 0x80",
        "Booting from SAN device 0x80",
        f"SAN 0x80 {boot[0]}",
        *boot[1:],
        "Unregistered SAN device 0x80",
        "Registered SAN device 0x81",
        "Booting from SAN device 0x81",
        f"SAN 0x81 {boot[0]}",
        *boot[1:],
        "Unregistered SAN device 0x81",  # by sanunhook: --keep kept it, silently as iPXE does
    ]


def test_iscsi_errors_go_to_the_retry_label(lab: Lab, images: Images, tmp_path: Path) -> None:
    """CHAP failure, no such target, nothing listening, mutual CHAP, a bad root path: iPXE's
    error each, one line saying why, the script's ``|| goto`` taken, nothing left logged in
    or mounted."""
    server = lab.server_ip
    chap = ["set username ironic", "set password wrongpassword1"]
    mutual = ["set username a", "set password b", "set reverse-username c",
              "set reverse-password d"]  # fmt: skip
    cases = [  # (settings, root path, iPXE's error, bootsh's reason)
        (chap, f"{server}::3260:1:{IQN}", "Initiator authentication failed (https://ipxe.org/410d6101)",
         "the target refused the login: Authentication failure(513)"),
        ([], f"{server}::3260:1:{IQN}.nosuch", "No such device (https://ipxe.org/2c0d6013)",
         "the target refused the login: Target not found(515)"),
        ([], f"127.0.0.1::3260:1:{IQN}", "Connection refused (https://ipxe.org/0e08606f)",
         "127.0.0.1:3260 refused the connection"),
        (mutual, f"{server}::3260:1:{IQN}", "Operation not supported (https://ipxe.org/3c0d605f)",
         "mutual CHAP (reverse-username) is not supported by libiscsi in QEMU"),
        ([], f"{server}::3260", "Root path too short (https://ipxe.org/1c0d6116)",
         "too few fields (iscsi:<server>:<protocol>:<port>:<LUN>:<target IQN>)"),
        ([], f"{server}::3260:1:", "No target IQN (https://ipxe.org/1c0d6416)", "no target IQN"),
    ]  # fmt: skip
    script = ["#!ipxe"]
    for i, (settings, root, _, _) in enumerate(cases):
        script += [*settings, f"sanhook iscsi:{root} || goto fail{i}", "echo not reached",
                   f":fail{i}", "echo errno ${errno}"]  # fmt: skip
        script += [f"clear {s.split()[1]}" for s in settings]
    proc = run(lab, "\n".join(script) + "\n", images.data, tmp_path)
    assert proc.returncode == 0, proc.stderr
    expected = []
    for _, _, error, _ in cases:
        number = error.rsplit("/", 1)[1].rstrip(")").lstrip("0")
        expected += [f"Could not open SAN device: {error}", f"errno 0x{number}"]
    assert after_dhcp(proc) == expected
    assert proc.stderr.splitlines() == [f"bootsh: iscsi:{root}: {why}" for _, root, _, why in cases]


def test_pxe_entry_scripts(lab: Lab, served: Path, images: Images, tmp_path: Path) -> None:
    """``boot.ipxe`` chains the node's configuration by MAC (here the whole-disk boot), and
    says so when that returns; ``boot-fallback.ipxe``, with no configuration for this MAC,
    chains the inspector (``doc-inspection.ipxe``), which boots the agent."""
    base = f"http://{lab.server_ip}"
    inspector = (DATA / "doc-inspection.ipxe").read_text()
    (served / "fallback" / "inspector.ipxe").write_text(
        inspector.replace("http://192.0.2.10:8080", base)
    )
    proc = run(lab, f"#!ipxe\nchain {base}/pxe/boot.ipxe\n", images.debian, tmp_path)
    assert proc.returncode == 0, proc.stderr
    node = f"pxelinux.cfg/{MAC.replace(':', '-')}"  # printed as given, as iPXE does
    assert after_dhcp(proc) == [
        f"{base}/pxe/boot.ipxe... ok",
        f"Attempting to boot from MAC {MAC.replace(':', '-')}",
        f"{node}... ok",
        "Booting from SAN device 0x80",
        'SAN 0x80 partition 1 (ext4 "root"): /boot/grub/grub.cfg "Debian GNU/Linux"',
        *debian_plan(images),
        "Exiting pxe config to allow boot to continue on next device",
    ]
    proc = run(lab, f"#!ipxe\nchain {base}/fallback/boot-fallback.ipxe\n", images.data, tmp_path)
    assert proc.returncode == 0, proc.stderr
    agent = (
        "ipa-inspection-callback-url=http://192.0.2.10:6385/v1/continue_inspection"
        f" systemd.journald.forward_to_console=yes BOOTIF={MAC}"
        " initrd=ironic-python-agent.initramfs"
    )
    lines = [re.sub(r"^(Configuring .*\))\.+ ok$", r"\1... ok", line) for line in after_dhcp(proc)]
    assert lines == [  # how many progress dots DHCP prints depends on how long it waited
        f"{base}/fallback/boot-fallback.ipxe... ok",
        f"Attempting to boot from MAC {MAC.replace(':', '-')}",
        f"{node}... Not found (https://ipxe.org/2d0c6102)",
        "inspector.ipxe... ok",
        f"Configuring (net0 {MAC})... ok",
        f"{base}/ironic-python-agent.kernel... ok",
        f"{base}/ironic-python-agent.initramfs... ok",
        f"boot: kernel ironic-python-agent.kernel {d.kernel_path().stat().st_size} bytes"
        f" {base}/ironic-python-agent.kernel",
        f"boot: initrd ironic-python-agent.initramfs {len(d.initrd_bytes('ipa'))} bytes"
        f" {base}/ironic-python-agent.initramfs",
        f'boot: cmdline "{agent}"',
    ]


def _line(stream: IO[bytes], timeout: float) -> bytes:
    """The next line of an unbuffered pipe (no hidden buffer: select() sees what is left)."""
    with selectors.DefaultSelector() as sel:
        sel.register(stream, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise AssertionError(f"no line within {timeout} s")
    return stream.readline()


def test_a_target_that_goes_away_fails_the_boot_in_bounded_time(
    lab: Lab, images: Images, tmp_path: Path
) -> None:
    """The target is deleted while bootsh has its LUN hooked (bootsh reads its commands from
    a pipe: the test deletes the target once the hook is reported). libiscsi would reconnect
    forever, and every read with it; bootsh's watchdog ends the daemon once the connection is
    gone for LOST_AFTER (20 s), the reads fail, and ``sanboot`` reports it."""
    env = {**os.environ, "BOOTSH_NEVER_KEXEC": "1", "TMPDIR": str(tmp_path)}
    argv = helpers.bootsh_argv(options=["--interactive", "--dry-run", "--disk", str(images.data)])
    proc = subprocess.Popen(
        lab.client_argv(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, bufsize=0, cwd=ROOT, env=env,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    try:
        root = f"iscsi:{lab.server_ip}::3260:1:{IQN_GONE}"
        proc.stdin.write(f"dhcp\nsanhook --drive 0x82 {root}\necho hooked\n".encode())
        proc.stdin.flush()
        seen: list[bytes] = []
        while not seen or b"hooked" not in seen[-1]:
            seen.append(_line(proc.stdout, 60))
            assert seen[-1], b"".join(seen)
        assert b"Registered SAN device 0x82" in b"".join(seen)
        lab.run_in_server(["tgtadm", "-C", CTL, "--lld", "iscsi", "--op", "delete", "--mode",
                           "target", "--tid", "3", "--force"], check=True)  # fmt: skip
        out, err = proc.communicate(
            b"sanboot --drive 0x82 || echo errno ${errno}\nsanunhook --drive 0x82\n", timeout=120
        )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    lines = [line.removeprefix("bootsh> ") for line in out.decode().splitlines()]
    assert lines == [
        "Booting from SAN device 0x82",
        "Boot from SAN device 0x82 failed: Input/output error (https://ipxe.org/1d222005)",
        "errno 0x1d222005",
        "Unregistered SAN device 0x82",
        "",
    ], out.decode() + err.decode()
    assert err.decode().splitlines() == [
        f"bootsh: SAN device 0x82: the connection to {lab.server_ip}:3260 was lost and not"
        " re-established within 20 s"
    ]
    assert leftovers(tmp_path) == []
