"""NIC discovery at scale: does ``bootsh -c 'ifstat --all'`` grow linearly with the NICs?

Issue 14 measured 0.8 / 2.4 / 6 / 22 s for 2.5k / 5k / 10k / 20k vifs (list scans in the
settings store and the twin grouping) and over 60 s for 100k PCI functions. For each size N
this builds, in a scratch directory:

* a ``xenstore-ls -f`` dump of an HVM guest with N ``vif_ioemu`` vifs (the example
  machine's vif/0 repeated, each with its own MAC), and
* a sysfs tree with the Xen platform device and N emulated e1000 NICs with the same MACs
  (the N twins), written directly (tests/sysfs_tree.py is too slow for 100k functions),

then times, alternating in the same run so both see the same machine:

* ``bootsh --xenstore-dump D --sysfs-root S --xen-domid 7 -c 'ifstat --all'`` (every NIC
  probed, every twin group decided, every netdev named and printed), and
* a reference: the reading that cannot be avoided, in a process of its own: the dump
  parsed (``DumpXenStore.from_file``) and the PCI bus scanned (``pci_nics.sysfs.scan`` plus
  the network functions' details).

Discovery is linear when ``bootsh / reference`` stays flat as N doubles, and the time per
NIC with it. ``--pci M`` adds a run with M PCI functions and no vifs (network functions,
each its own MAC), the issue's second case.

    python3 bench/nic_discovery.py [--sizes 2500,5000,10000,20000] [--runs 3] [--pci 100000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "machines" / "xen-hvm" / "xenstore.txt"
DOMID = 7
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPATH"] = str(ROOT)

REFERENCE = """
import sys
from pathlib import Path
from bootsh_netfront.dump import DumpXenStore
from bootsh_pci_nics.probe import _is_network
from bootsh_pci_nics.sysfs import read_details, scan
if sys.argv[1] != "-":
    DumpXenStore.from_file(Path(sys.argv[1]))
for fn in scan(Path(sys.argv[2])).functions:
    if _is_network(fn):
        read_details(fn)
"""


def mac(i: int) -> str:
    return f"00:16:3e:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}"


def pci_address(i: int) -> str:
    domain, rest = divmod(i + 256, 1 << 16)  # bus 00 is left to the platform device
    return f"{domain:04x}:{rest >> 8:02x}:{(rest >> 3) & 31:02x}.{rest & 7}"


def write_dump(n: int, path: Path) -> None:
    """The example machine's dump with its two vifs replaced by ``n`` copies of vif/0."""
    lines = EXAMPLE.read_text().splitlines()

    def is_vif(line: str) -> bool:
        return line.startswith(
            (f"/local/domain/0/backend/vif/{DOMID}/", f"/local/domain/{DOMID}/device/vif/")
        )

    template = [
        line
        for line in lines
        if line.startswith(
            (f"/local/domain/0/backend/vif/{DOMID}/0", f"/local/domain/{DOMID}/device/vif/0")
        )
    ]
    with path.open("w") as out:
        for line in lines:
            if not is_vif(line):
                out.write(line + "\n")
        for i in range(n):
            for line in template:
                line = line.replace(f"/backend/vif/{DOMID}/0", f"/backend/vif/{DOMID}/{i}")
                line = line.replace("/device/vif/0", f"/device/vif/{i}")
                line = line.replace("00:16:3e:5f:48:e4", mac(i))
                if line.endswith('/handle = "0"'):
                    line = line[:-3] + f'"{i}"'
                out.write(line + "\n")


def write_sysfs(root: Path, n: int, *, platform: bool) -> None:
    """A PCI bus of ``n`` e1000 functions (bound, with an interface), what pci_nics reads."""
    devices = root / "bus" / "pci" / "devices"
    devices.mkdir(parents=True)
    (root / "class" / "net").mkdir(parents=True)
    functions = root / "devices" / "pci0000:00"
    functions.mkdir(parents=True)
    driver = root / "bus" / "pci" / "drivers" / "e1000"
    driver.mkdir(parents=True)

    def function(address: str, ids: dict[str, str]) -> Path:
        path = functions / address
        path.mkdir()
        for name, value in ids.items():
            (path / name).write_text(value + "\n")
        os.symlink(f"../../../devices/pci0000:00/{address}", devices / address)
        return path

    if platform:
        function("0000:00:02.0", {"vendor": "0x5853", "device": "0x0001", "class": "0xff8000"})
    for i in range(n):
        address = pci_address(i)
        path = function(
            address,
            {
                "vendor": "0x8086",
                "device": "0x100e",
                "class": "0x020000",
                "subsystem_vendor": "0x1af4",
                "subsystem_device": "0x1100",
                "revision": "0x03",
            },
        )
        os.symlink("../../../bus/pci/drivers/e1000", path / "driver")
        net = path / "net" / f"eth{i}"
        net.mkdir(parents=True)
        (net / "address").write_text(mac(i) + "\n")
        (net / "carrier").write_text("1\n")
        (net / "operstate").write_text("up\n")


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=ENV, cwd=ROOT)  # fmt: skip
    return time.perf_counter() - start


def measure(label: str, dump: Path | None, sysfs: Path, runs: int, count: int) -> float:
    bootsh = [sys.executable, "-m", "bootsh", "--sysfs-root", str(sysfs),
              "--xen-domid", str(DOMID), "-c", "ifstat --all"]  # fmt: skip
    if dump is not None:
        bootsh[3:3] = ["--xenstore-dump", str(dump)]
    else:
        bootsh[3:3] = ["--no-plugin", "netfront"]
    reference = [sys.executable, "-c", REFERENCE, str(dump) if dump else "-", str(sysfs)]
    timed(bootsh)  # warm-up: byte code, page cache
    ours: list[float] = []
    refs: list[float] = []
    for _ in range(runs):
        refs.append(timed(reference))
        ours.append(timed(bootsh))
    ours_m, ref_m = statistics.median(ours), statistics.median(refs)
    print(
        f"{label:>22}  bootsh {ours_m:7.2f} s  reference {ref_m:7.2f} s"
        f"  ratio {ours_m / ref_m:5.2f}  per NIC {ours_m / count * 1e6:6.0f} us",
        flush=True,
    )
    return ours_m


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="2500,5000,10000,20000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pci", type=int, default=0, help="also M PCI functions, no vifs")
    ns = parser.parse_args()
    sizes = [int(s) for s in ns.sizes.split(",") if s]
    print(f"medians of {ns.runs} alternating pairs; twins: N vifs + N e1000 with their MACs")
    previous: tuple[int, float] | None = None
    with tempfile.TemporaryDirectory(prefix="bootsh-bench-") as scratch:
        for n in sizes:
            where = Path(scratch) / f"n{n}"
            where.mkdir()
            dump = where / "xenstore.txt"
            write_dump(n, dump)
            write_sysfs(where / "sysfs", n, platform=True)
            took = measure(f"{n} vifs + {n} twins", dump, where / "sysfs", ns.runs, 2 * n)
            shutil.rmtree(where)  # a 20k tree is a few hundred thousand files
            if previous is not None:
                growth = took / previous[1]
                print(f"{'':>22}  x{n / previous[0]:.0f} NICs: x{growth:.2f} time")
            previous = (n, took)
        if ns.pci:
            where = Path(scratch) / "pci"
            write_sysfs(where, ns.pci, platform=False)
            measure(f"{ns.pci} PCI functions", None, where, ns.runs, ns.pci)


if __name__ == "__main__":
    main()
