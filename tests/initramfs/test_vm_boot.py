"""bootsh as the machine's boot environment, in QEMU: the initramfs built by ``bootsh
initramfs`` boots, its /init starts bootsh, which netboots a real kernel and jumps to it with
``kexec_file_load`` + ``reboot(LINUX_REBOOT_CMD_KEXEC)``; and what happens when it cannot.

Each test waits for console lines (tests/vm.py), with timeouts sized for TCG on a loaded
2-core machine: a boot takes 20-40 s there.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests import vm

#: Overall bound for one guest's whole life (TCG, CI's 2 shared cores).
BOOT_TIMEOUT = 240
APPEND = "console=ttyS0 quiet panic=-1"


def _nic(netdev: str = "n0", model: str = "virtio-net-pci", mac: str = vm.MAC) -> str:
    # romfile= : the kernel is booted directly, no option ROM needed (and none is run)
    return f"{model},netdev={netdev},mac={mac},romfile="


def test_autoboot_netboots_a_kernel_and_jumps_to_it(
    image: Path, served: Path, http: vm.HttpServer, tmp_path: Path
) -> None:
    (served / "boot.ipxe").write_text(
        "#!ipxe\n"
        f"kernel http://{vm.HTTP_IP}/vmlinuz console=ttyS0 quiet panic=-1 from=bootsh\n"
        f"initrd tftp://{vm.SLIRP_SERVER}/second.cpio.gz\n"
        "imgstat\n"
        "boot\n"
    )
    net = vm.user_net("n0", served, "boot.ipxe", http.port)
    with vm.Guest.qemu(
        initrd=image, append=APPEND, nets=[(net, _nic())], log=tmp_path / "console.log"
    ) as guest:
        t = BOOT_TIMEOUT
        i = guest.wait_for(r"^bootsh init: loaded modules: .*\bvirtio_net\b", t)
        i = guest.wait_for(rf"^Configuring \(net0 {vm.MAC}\)\.* ok$", t, i)
        i = guest.wait_for(rf"^tftp://{vm.SLIRP_SERVER}/boot\.ipxe\.\.\. ok$", t, i)
        i = guest.wait_for(rf"^http://{vm.HTTP_IP}/vmlinuz\.\.\. .*ok$", t, i)
        i = guest.wait_for(rf"^tftp://{vm.SLIRP_SERVER}/second\.cpio\.gz\.\.\. .*ok$", t, i)
        size = vm.KERNEL.stat().st_size
        i = guest.wait_for(
            rf'^vmlinuz : {size} bytes \[bzImage\] \[SELECTED\] "console=ttyS0 quiet panic=-1'
            r' from=bootsh"$', t, i,
        )  # fmt: skip
        i = guest.wait_for(r"^second\.cpio\.gz : \d+ bytes$", t, i)
        i = guest.wait_for(r"kexec_core: Starting new kernel", t, i)
        i = guest.wait_for(rf"^{vm.MARKER} cmdline: console=ttyS0 quiet panic=-1 from=bootsh$", t, i)
        assert guest.wait_exit(t) == 0
        # The first kernel's bootsh said nothing about errors on the way.
        assert not [line for line in guest.text() if re.match(r"bootsh: |Could not", line)]
