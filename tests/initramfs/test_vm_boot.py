"""bootsh as the machine's boot environment, in QEMU: the initramfs built by ``bootsh
initramfs`` boots, its /init starts bootsh, which netboots a real kernel and jumps to it with
``kexec_file_load`` + ``reboot(LINUX_REBOOT_CMD_KEXEC)``; and what happens when it cannot.

Each test waits for console lines (tests/vm.py), with timeouts sized for TCG on a loaded
2-core machine (a whole boot takes 20-40 s there); none sleeps.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests import vm
from tests.initramfs.conftest import build_initramfs

#: Bound for each awaited line (TCG, CI's 2 shared cores): generous, never reached when well.
T = 240
#: quiet: the kernel's warnings would land in the middle of bootsh's lines on the shared
#: console; no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer check can
#: fail and panic ("IO-APIC + timer doesn't work!"); virtual machines skip it.
APPEND = "console=ttyS0 quiet panic=-1 no_timer_check"
NEXT = "console=ttyS0 quiet panic=-1 no_timer_check"
IFSTAT_OPEN = rf"^net0: {vm.MAC} using virtio-net on 0000:00:0[0-9a-f]\.0 \(Ethernet\) \[open\]$"


def _nic(netdev: str = "n0", model: str = "virtio-net-pci", mac: str = vm.MAC) -> str:
    # romfile= : the kernel is booted directly, no option ROM is needed (or run)
    return f"{model},netdev={netdev},mac={mac},romfile="


def _script(name: str, served: Path, tag: str, kernel: str = "vmlinuz") -> str:
    (served / name).write_text(
        "#!ipxe\n"
        f"kernel http://{vm.HTTP_IP}/{kernel} {NEXT} from={tag}\n"
        f"initrd tftp://{vm.SLIRP_SERVER}/second.cpio.gz\n"
        "imgstat\n"
        "boot\n"
    )
    return name


def _no_bootsh_errors(guest: vm.Guest) -> None:
    assert not [line for line in guest.text() if re.match(r"bootsh: |Could not", line)]


def test_autoboot_netboots_a_kernel_and_jumps_to_it(
    image: Path, served: Path, http: vm.HttpServer, tmp_path: Path
) -> None:
    bootfile = _script("boot.ipxe", served, "autoboot")
    net = vm.user_net("n0", served, bootfile, http.port)
    with vm.Guest.qemu(
        initrd=image, append=APPEND, nets=[(net, _nic())], log=tmp_path / "console.log"
    ) as guest:
        i = guest.wait_for(r"bootsh init: loaded modules: .*\bvirtio_net\b", T)
        i = guest.wait_for(rf"^Configuring \(net0 {vm.MAC}\)\.* ok$", T, i)
        i = guest.wait_for(rf"^tftp://{vm.SLIRP_SERVER}/boot\.ipxe\.\.\. ok$", T, i)
        i = guest.wait_for(r"^boot\.ipxe : \d+ bytes \[script\]$", T, i)
        i = guest.wait_for(rf"^http://{vm.HTTP_IP}/vmlinuz\.\.\. .*ok$", T, i)
        i = guest.wait_for(rf"^tftp://{vm.SLIRP_SERVER}/second\.cpio\.gz\.\.\. .*ok$", T, i)
        size = vm.KERNEL.stat().st_size
        i = guest.wait_for(
            rf'^vmlinuz : {size} bytes \[bzImage\] \[SELECTED\] "{NEXT} from=autoboot"$', T, i
        )
        i = guest.wait_for(r"^second\.cpio\.gz : \d+ bytes$", T, i)
        guest.wait_for(rf"^{vm.MARKER} cmdline: {NEXT} from=autoboot$", T, i)
        assert guest.wait_exit(T) == 0  # the second stage powered the machine off
    _no_bootsh_errors(guest)


def test_embedded_script_runs_instead_of_autoboot(
    served: Path, http: vm.HttpServer, tmp_path: Path
) -> None:
    script = tmp_path / "embedded.ipxe"
    script.write_text(
        "#!ipxe\n"
        "echo embedded script running\n"
        "dhcp\n"
        f"kernel http://{vm.HTTP_IP}/vmlinuz {NEXT} from=embedded\n"
        f"initrd http://{vm.HTTP_IP}/second.cpio.gz\n"
        f"initrd http://{vm.HTTP_IP}/hello.txt /etc/bootsh-hello mode=600\n"
        "boot\n"
    )
    image = tmp_path / "embedded.cpio.gz"
    proc = build_initramfs(image, "--script", str(script), "--compression", "gzip")
    assert proc.returncode == 0, proc.stderr
    # No boot file from DHCP: only the embedded script can say what to boot.
    net = vm.user_net("n0", None, None, http.port)
    with vm.Guest.qemu(
        initrd=image, append=APPEND, nets=[(net, _nic())], log=tmp_path / "console.log"
    ) as guest:
        i = guest.wait_for(r"^embedded script running$", T)
        i = guest.wait_for(rf"^Configuring \(net0 {vm.MAC}\)\.* ok$", T, i)
        i = guest.wait_for(rf"^http://{vm.HTTP_IP}/hello\.txt\.\.\. .*ok$", T, i)
        i = guest.wait_for(rf"^{vm.MARKER} cmdline: {NEXT} from=embedded$", T, i)
        guest.wait_for(r"^hello file: hello from bootsh mode 600$", T, i)
        assert guest.wait_exit(T) == 0
    _no_bootsh_errors(guest)


def test_a_kernel_kexec_refuses_leaves_bootsh_at_its_prompt(
    image: Path, served: Path, http: vm.HttpServer, tmp_path: Path
) -> None:
    bootfile = _script("cut.ipxe", served, "cut", kernel="vmlinuz-cut")
    # bootsh.script= instead of the DHCP boot file (which is absent here).
    net = vm.user_net("n0", served, None, http.port)
    append = f"{APPEND} bootsh.script=tftp://{vm.SLIRP_SERVER}/{bootfile}"
    with vm.Guest.qemu(
        initrd=image, append=append, nets=[(net, _nic())], log=tmp_path / "console.log"
    ) as guest:
        i = guest.wait_for(rf"^Configuring \(net0 {vm.MAC}\)\.* ok$", T)
        i = guest.wait_for(r"^vmlinuz-cut : 4096 bytes \[bzImage\] \[SELECTED\]", T, i)
        # One line from bootsh saying why, then iPXE's line; then the prompt on the console.
        i = guest.wait_for(
            r"^bootsh: cannot boot vmlinuz-cut: the running kernel cannot load", T, i
        )
        i = guest.wait_for(r"^Could not boot: Exec format error \(https://ipxe\.org/\w+\)$", T, i)
        i = guest.wait_for(r"^bootsh: -c failed: the interactive shell follows$", T, i)
        guest.wait_for(r"bootsh>", T, i, partial=True)
        guest.type("ifstat\r")
        i = guest.wait_for(IFSTAT_OPEN, T, i)
        i = guest.wait_for(r"^  \[Link:up, TX:\d+ TXE:0 RX:\d+ RXE:0\]$", T, i)
        # The images are still there, and the shell goes on answering.
        guest.type("imgstat\r")
        guest.wait_for(r"^vmlinuz-cut : 4096 bytes \[bzImage\] \[SELECTED\]", T, i)
        assert guest.proc is not None and guest.proc.poll() is None
    assert not [line for line in guest.text() if "Kernel panic" in line]


def test_no_dhcp_server_fails_clearly_then_the_shell(image: Path, tmp_path: Path) -> None:
    # A NIC on a QEMU hub with nothing else on it: DHCP gets no answer at all.
    with vm.Guest.qemu(
        initrd=image,
        append=APPEND,
        nets=[("hubport,id=n0,hubid=0", _nic())],
        log=tmp_path / "console.log",
    ) as guest:
        i = guest.wait_for(
            rf"^Configuring \(net0 {vm.MAC}\)\.+ No configuration methods succeeded"
            r" \(https://ipxe\.org/040ee163\)$", T,
        )  # fmt: skip
        i = guest.wait_for(r"^bootsh: net0: no DHCP server and no IPv6 router answered$", T, i)
        i = guest.wait_for(r"^bootsh: -c failed: the interactive shell follows$", T, i)
        guest.wait_for(r"bootsh>", T, i, partial=True)
        guest.type("echo still here\r")
        guest.wait_for(r"^still here$", T, i)
        assert guest.proc is not None and guest.proc.poll() is None


def test_two_nics_with_one_mac_in_a_real_guest(
    image: Path, served: Path, http: vm.HttpServer, tmp_path: Path
) -> None:
    # virtio-net and vmxnet3 (Debian's cloud kernel has no e1000 driver) with the same MAC on
    # one network (a QEMU hub joined to slirp): what a Xen HVM guest's vif and its emulated
    # twin look like without Xen. bootsh.twins= is passed on; bootsh.shell skips autoboot.
    user = vm.user_net("u0", served, None, http.port)
    extra = ["-netdev", user, "-netdev", "hubport,id=p0,hubid=0,netdev=u0"]
    nets = [
        ("hubport,id=p1,hubid=0", _nic("p1")),
        ("hubport,id=p2,hubid=0", _nic("p2", "vmxnet3")),
    ]
    append = f"{APPEND} bootsh.twins=label bootsh.shell"
    with vm.Guest.qemu(
        initrd=image, append=append, nets=nets, extra=extra, log=tmp_path / "console.log"
    ) as guest:
        i = guest.wait_for(r"bootsh init: loaded modules: .*\bvmxnet3\b", T)
        assert "virtio_net" in guest.text()[i]
        guest.wait_for(r"bootsh>", T, i, partial=True)
        guest.type("ifstat --all\r")
        i = guest.wait_for(rf"^net0: {vm.MAC} using virtio-net on 0000:00:0\w\.0 ", T, i)
        i = guest.wait_for(rf"^net1: {vm.MAC} using vmxnet3 on 0000:00:0\w\.0 ", T, i)
        guest.type("twins\r")
        i = guest.wait_for(r"^Twin policy: label$", T, i)
        # Either NIC works on its own: DHCP on the second one, though the first has its MAC.
        guest.type("dhcp net1\r")
        i = guest.wait_for(rf"^Configuring \(net1 {vm.MAC}\)\.* ok$", T, i)
        guest.type("show net1/ip\r")
        guest.wait_for(r"^net1\.dhcp/ip:ipv4 = 10\.0\.2\.\d+$", T, i)
        assert guest.proc is not None and guest.proc.poll() is None
    assert not [line for line in guest.text() if re.match(r"Traceback|Kernel panic", line)]


@pytest.fixture(autouse=True)
def _console_log_on_failure(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Where a failing test's whole console is (the assertion shows the last lines only)."""
    request.node.user_properties.append(("console", str(tmp_path / "console.log")))
