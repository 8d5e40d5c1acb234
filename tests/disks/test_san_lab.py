"""Ironic's templates (tests/data/ironic, from the shared corpus) in the network lab, switched
to their boot label as Ironic's ``switch_pxe_config`` does, up to their ``sanboot``/``sanhook``:
the whole-disk boot of a local disk, an ISO over HTTP, and iSCSI volumes served by Debian's
tgt (tgtd + tgtadm) in the lab's server namespace with CHAP, one with a wrong password."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bootsh.lab import Lab
from tests import diskimages as d
from tests import helpers
from tests.helpers import ROOT, started

DATA = ROOT / "tests" / "data" / "ironic"
MAC = "52:54:00:b0:0c:5a"
IQN = "iqn.2024-01.test.bootsh:volume"
CTL = "917"  # tgtd's control port: a socket of this test's own


@pytest.fixture(scope="module")
def disk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("san-lab")
    cfg = (
        "set default=0\nmenuentry 'Debian GNU/Linux' {\n"
        "\tlinux /boot/vmlinuz-6.1.0-18-amd64 root=LABEL=root ro quiet\n"
        "\tinitrd /boot/initrd.img-6.1.0-18-amd64\n}\n"
    )
    root = d.ext4(work, "root", {
        "boot/grub/grub.cfg": cfg.encode(),
        "boot/vmlinuz-6.1.0-18-amd64": d.kernel_path(),
        "boot/initrd.img-6.1.0-18-amd64": d.initrd_bytes("lab"),
    }, label="root")  # fmt: skip
    return d.gpt_disk(work / "volume.img", [("8300", root, "root")])


@pytest.fixture(scope="module")
def lab(disk: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    d.need("tgtd", "tgtadm", "qemu-storage-daemon")
    served = tmp_path_factory.mktemp("served")
    (served / "disk.img").symlink_to(disk)
    with started(Lab(serve=served, client_mac=MAC)) as the_lab:
        tgtd = subprocess.Popen(
            the_lab.server_argv(
                ["tgtd", "-f", "-C", CTL, "--iscsi", f"portal={the_lab.server_ip}:3260"]
            ),  # fmt: skip
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for args in (
                ["--op", "new", "--mode", "target", "--tid", "1", "-T", IQN],
                [
                    "--op",
                    "new",
                    "--mode",
                    "logicalunit",
                    "--tid",
                    "1",
                    "--lun",
                    "1",
                    "-b",
                    str(disk),
                ],
                ["--op", "bind", "--mode", "target", "--tid", "1", "-I", "ALL"],
                [
                    "--op",
                    "new",
                    "--mode",
                    "account",
                    "--user",
                    "ironic",
                    "--password",
                    "s3cretpass12",
                ],
                ["--op", "bind", "--mode", "account", "--tid", "1", "--user", "ironic"],
            ):
                # tgtadm connects to tgtd's socket: the first call may come before it exists.
                for _ in range(100):
                    proc = the_lab.run_in_server(["tgtadm", "-C", CTL, "--lld", "iscsi", *args],
                                                 capture_output=True, text=True)  # fmt: skip
                    if proc.returncode == 0 or "connect" not in proc.stderr:
                        break
                    tgtd.wait(0.05) if tgtd.poll() is None and False else None
                    import time

                    time.sleep(0.05)
                assert proc.returncode == 0, proc.stderr
            yield the_lab
        finally:
            tgtd.kill()
            tgtd.wait(30)


def run(lab: Lab, script: str, disk: Path | None = None) -> subprocess.CompletedProcess[str]:
    path = Path(lab.tmpdir) / "node.ipxe"
    path.write_text(script)
    options = ["--dry-run"] + (["--disk", str(disk)] if disk else [])
    env = {**os.environ, "BOOTSH_NEVER_KEXEC": "1"}
    proc = helpers.bootsh(
        lab, "dhcp", f"chain file://{path}", options=options, env=env, timeout=180
    )
    assert "Traceback" not in proc.stderr
    return proc


def template(name: str, label: str, **subs: str) -> str:
    text = (DATA / name).read_text().replace("goto deploy", f"goto {label}", 1)
    for old, new in subs.items():
        text = text.replace(old, new)
    return text


PLAN_TAIL = 'boot: cmdline "root=LABEL=root ro quiet'


def test_whole_disk(lab: Lab, disk: Path) -> None:
    proc = run(lab, template("ipxe_config.ipxe", "boot_whole_disk"), disk)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "Booting from SAN device 0x80" in lines
    assert any(line.startswith("boot: kernel vmlinuz-6.1.0-18-amd64 ") for line in lines)
    assert lines[-1] == PLAN_TAIL + '"'


def test_iso_over_http(lab: Lab, disk: Path) -> None:
    url = f"http://{lab.server_ip}/disk.img"
    proc = run(lab, template("ipxe_config_boot_from_iso.ipxe", "boot_ramdisk",
                             **{"http://1.2.3.4:1234/uuid/iso": url}))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"{url}... ok" in proc.stdout
    assert proc.stdout.splitlines()[-2:] == [PLAN_TAIL + '"', "Unregistered SAN device 0x80"]


@pytest.mark.parametrize("name", [
    "ipxe_config_boot_from_volume_no_extra_volumes.ipxe",
    "ipxe_config_boot_from_volume_multipath.ipxe",
])  # fmt: skip
def test_boot_from_volume(lab: Lab, name: str) -> None:
    text = template(name, "boot_iscsi", fake_host=lab.server_ip, fake_iqn=IQN,
                    fake_username="ironic", fake_password="s3cretpass12",
                    **{"3260:0:": "3260:1:"})  # fmt: skip
    text = text.replace("set initiator-iqn fake_iqn", "set initiator-iqn iqn.2024-01.test:node")
    proc = run(lab, text)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "Registered SAN device 0x80" in lines
    assert lines[-1] == (
        PLAN_TAIL + " iscsi_initiator=iqn.2024-01.test:node"
        f" iscsi_target_name={IQN} iscsi_target_ip={lab.server_ip} iscsi_target_port=3260"
        ' iscsi_username=ironic iscsi_password=s3cretpass12"'
    )
    assert d_leftovers() == []


def test_chap_failure_goes_to_the_retry_label(lab: Lab) -> None:
    script = (
        "#!ipxe\nset username ironic\nset password wrongpassword1\n"
        f"sanhook --drive 0x80 iscsi:{lab.server_ip}::3260:1:{IQN} || goto fail\n"
        "echo not reached\n:fail\necho errno ${errno}\n"
    )
    proc = run(lab, script)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-2:] == [
        "Could not open SAN device: Initiator authentication failed (https://ipxe.org/410d6101)",
        "errno 0x410d6101",
    ]
    assert "Authentication failure" in proc.stderr


def d_leftovers() -> list[str]:
    mounts = Path("/proc/self/mounts").read_text()
    return [
        line for line in mounts.splitlines() if "bootsh-iscsi-" in line or "bootsh-mnt-" in line
    ]
