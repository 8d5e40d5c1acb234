"""examples/netboot/run.sh, the README's boot flow, run as a user would: a lab with dnsmasq and
HTTP, ``autoboot`` in the client namespace, a real Debian kernel and an initramfs built from
examples/netboot/initrd, ending in the ``--dry-run`` kexec plan."""

from __future__ import annotations

import re
import subprocess

from tests.helpers import ROOT
from tests.initrd import kernel

RUN = ROOT / "examples" / "netboot" / "run.sh"


def test_the_netboot_example_boots_the_kernel_in_a_dry_run() -> None:
    vmlinuz = kernel()  # fails with the way to install one when it is missing
    proc = subprocess.run(["bash", str(RUN)], capture_output=True, text=True, timeout=120, cwd="/")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    # autoboot: open, DHCP from the lab's dnsmasq, the iPXE boot file, the chained script.
    assert re.fullmatch(r"Configuring \(net0 [0-9a-f:]{17}\)\.* ok", lines[2]), lines
    assert "Filename: http://10.77.0.1/boot.ipxe" in lines
    assert "http://10.77.0.1/boot.ipxe... ok" in lines
    booting = next(line for line in lines if line.startswith("Booting from"))
    assert re.fullmatch(
        r"Booting from http://10\.77\.0\.1/boot\.ipxe on net0 \(10\.77\.0\.\d+\)", booting
    )
    size = vmlinuz.stat().st_size
    plan = [line for line in lines if line.startswith("boot: ")]
    assert plan[0] == f"boot: kernel vmlinuz {size} bytes http://10.77.0.1/vmlinuz"
    assert re.fullmatch(
        r"boot: initrd initrd\.cpio \d+ bytes http://10\.77\.0\.1/initrd\.cpio", plan[1]
    )
    assert plan[2:] == ['boot: cmdline "console=ttyS0 quiet"']
    # The initramfs served is the example's (busybox builds the same bytes again), and lists.
    initrd_size = int(plan[1].split()[3])
    assert f"initrd.cpio : {initrd_size} bytes" in lines
    build = "find . -mindepth 1 | LC_ALL=C sort | busybox cpio -o -H newc 2>/dev/null"
    archive = subprocess.run(
        build, shell=True, cwd=RUN.parent / "initrd", capture_output=True, check=True
    ).stdout
    assert len(archive) == initrd_size
    listing = subprocess.run(
        ["busybox", "cpio", "-t"], input=archive, capture_output=True, check=True
    ).stdout.decode()
    assert listing.split() == ["init"]
