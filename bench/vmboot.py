"""A whole netboot in QEMU (TCG, one vCPU): bootsh as the machine's boot environment against
QEMU's own iPXE ROM (Debian's ipxe-qemu), the same kernel + initrd, in the same run.

bootsh's flow: Debian's cloud kernel boots the initramfs ``bootsh initramfs`` builds; /init
loads virtio-net, bootsh runs ``autoboot`` (DHCP from QEMU's user-mode network, ``boot.ipxe``
over TFTP, the kernel over HTTP, the second-stage initrd over TFTP) and jumps with kexec. iPXE's
flow: SeaBIOS runs the virtio-net option ROM, which does the same ``autoboot`` from the same
servers and boots the same script. Both end when the second stage prints its marker and powers
off. Times are from QEMU's start, read off the serial console (tests/vm.py): /init's first
line (after firmware, kernel, the initramfs unpacked and the NIC's modules loaded: the kernel
says nothing of the unpacking at a console log level that keeps TCG's serial fast), the lease
(``Configuring ... ok``: bootsh's start-up and the exchange), the downloads done (the initrd's
``tftp://...... ok``), the kexec call (the first kernel's ``kexec_core: Starting new kernel``:
``kexec_file_load`` and the jump), the marker (the next kernel's boot). iPXE's ROM has only
its first line, the lease and the marker. Runs alternate
(bootsh, iPXE, bootsh, ...) and medians are printed with the initramfs size.

    python3 bench/vmboot.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import vm  # noqa: E402  (the harness the VM tests use)

TIMEOUT = 600
APPEND = "console=ttyS0 loglevel=6 panic=-1 no_timer_check"
NEXT = "console=ttyS0 quiet panic=-1 no_timer_check"
POINTS = ("first line", "lease", "downloaded", "kexec call", "marker")


def bootsh_run(image: Path, served: Path, port: int) -> dict[str, float]:
    net = vm.user_net("n0", served, "boot.ipxe", port)
    device = f"virtio-net-pci,netdev=n0,mac={vm.MAC},romfile="
    with vm.Guest.qemu(initrd=image, append=APPEND, nets=[(net, device)]) as guest:
        first = guest.wait_for(r"bootsh init: ", TIMEOUT)
        # A kernel warning may cut the Configuring line in two: its end is the lease.
        lease = guest.wait_for(r"(^Configuring \(net0 .*|^\.*) ok$", TIMEOUT, first)
        # The last download of boot.ipxe: the initrd, over TFTP.
        downloaded = guest.wait_for(r"^tftp://.*second\.cpio\.gz\.\.\. ok$", TIMEOUT, lease)
        kexec = guest.wait_for(r"kexec_core: Starting new kernel", TIMEOUT, downloaded)
        marker = guest.wait_for(vm.MARKER, TIMEOUT, kexec)
        guest.wait_exit(TIMEOUT)
        return {
            "first line": guest.at(first),
            "lease": guest.at(lease),
            "downloaded": guest.at(downloaded),
            "kexec call": guest.at(kexec),
            "marker": guest.at(marker),
        }


def ipxe_run(served: Path, port: int) -> dict[str, float]:
    net = vm.user_net("n0", served, "boot.ipxe", port)
    # QEMU's default ROM for virtio-net-pci is ipxe-qemu's efi-virtio.rom (BIOS and EFI iPXE).
    device = f"virtio-net-pci,netdev=n0,mac={vm.MAC},bootindex=1"
    guest = vm.Guest.qemu(kernel=None, nets=[(net, device)], extra=["-boot", "n"])
    with guest:
        first = guest.wait_for(r"iPXE", TIMEOUT)
        lease = guest.wait_for(r"Configuring \(net0 .*\).* ok", TIMEOUT, first)
        marker = guest.wait_for(vm.MARKER, TIMEOUT, lease)
        guest.wait_exit(TIMEOUT)
        return {"first line": guest.at(first), "lease": guest.at(lease), "marker": guest.at(marker)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3, help="pairs of runs (default 3)")
    ns = parser.parse_args()
    reason = vm.missing()
    if reason is not None:
        sys.exit(reason)
    with tempfile.TemporaryDirectory(prefix="bootsh-bench-vm-") as tmp:
        work = Path(tmp)
        image = work / "bootsh.cpio.zst"
        build = subprocess.run(
            [sys.executable, "-m", "bootsh", "initramfs", "-o", str(image),
             "--kernel-deb", str(vm.KERNEL_DEB), "-m", "virtio_net", "-m", "virtio_pci"],
            capture_output=True, text=True, check=True, timeout=900,
        )  # fmt: skip
        print(build.stdout, end="")
        served = work / "served"
        served.mkdir()
        (served / "vmlinuz").write_bytes(vm.KERNEL.read_bytes())
        vm.second_stage(served / "second.cpio.gz")
        (served / "boot.ipxe").write_text(
            "#!ipxe\n"
            f"kernel http://{vm.HTTP_IP}/vmlinuz {NEXT}\n"
            f"initrd tftp://{vm.SLIRP_SERVER}/second.cpio.gz\n"
            "boot\n"
        )
        results: dict[str, list[dict[str, float]]] = {"bootsh": [], "iPXE ROM": []}
        with vm.HttpServer(served) as http:
            for run in range(ns.runs):
                results["bootsh"].append(bootsh_run(image, served, http.port))
                results["iPXE ROM"].append(ipxe_run(served, http.port))
                print(f"pair {run + 1}: bootsh {results['bootsh'][-1]}")
                print(f"        iPXE   {results['iPXE ROM'][-1]}", flush=True)
    print(f"\nmedians of {ns.runs} runs, seconds from QEMU's start:")
    print(f"{'':12}" + "".join(f"{p:>12}" for p in POINTS))
    for flow, runs in results.items():
        cells = []
        for point in POINTS:
            values = [r[point] for r in runs if point in r]
            cells.append(f"{statistics.median(values):12.1f}" if values else f"{'-':>12}")
        print(f"{flow:12}" + "".join(cells))
    print("bootsh's phases, medians of each run's durations (s):")
    previous = "QEMU start"
    for point in POINTS:
        spans = [r[point] - r.get(previous, 0.0) for r in results["bootsh"]]
        print(f"  {previous + ' -> ' + point:28}{statistics.median(spans):8.1f}")
        previous = point
    ratio = statistics.median(r["marker"] for r in results["bootsh"]) / statistics.median(
        r["marker"] for r in results["iPXE ROM"]
    )
    print(f"bootsh / iPXE ROM, QEMU start to marker: {ratio:.2f}")


if __name__ == "__main__":
    main()
