"""A whole boot over HTTP in the lab: ``chain`` of a script that does ``kernel`` + ``initrd`` +
``boot`` (``--dry-run``), against ``curl`` fetching the same three files in one process.

The served files are Debian's bzImage (.ci/install-kernel.sh), an initrd of ``--initrd-mib``
MiB and the script. The client gets a static address (no DHCP in the measurement: the DHCP
benchmark is bench/dhcp's business) and both programs run in the client namespace, one after
the other, ``--runs`` times; the medians and their ratio are printed, and bootsh's time minus
a bare ``python3 -c pass`` start in the same namespace, to tell start-up from transfer. Raw
download throughput is bench/fetch.py's subject.

    python3 bench/boot.py [--runs N] [--initrd-mib M]
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

from bootsh.lab import Lab

ROOT = Path(__file__).resolve().parent.parent
KERNEL = Path("/opt/bootsh-kernel/vmlinuz")
CLIENT_IP = "10.77.0.50/24"
SCRIPT = "#!ipxe\nkernel vmlinuz console=ttyS0 quiet\ninitrd initrd.img\nboot\n"
# Measure what a user gets: byte-code cached.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["BOOTSH_NEVER_KEXEC"] = "1"


def timed(lab: Lab, argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        lab.client_argv(argv),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=ENV,
        cwd=ROOT,
        timeout=300,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--initrd-mib", type=int, default=32)
    ns = parser.parse_args()
    if not KERNEL.is_file():
        sys.exit(f"{KERNEL} missing: run .ci/install-kernel.sh")
    served = Path(tempfile.mkdtemp(prefix="bootsh-bench-boot-"))
    try:
        shutil.copyfile(KERNEL, served / "vmlinuz")
        (served / "initrd.img").write_bytes(os.urandom(ns.initrd_mib << 20))
        (served / "boot.ipxe").write_text(SCRIPT)
        total = sum(p.stat().st_size for p in served.iterdir())
        with Lab(serve=served, dhcp=False, tftp=False, dns=False) as lab:
            subprocess.run(
                ["ip", "-n", lab.client_ns, "addr", "add", CLIENT_IP, "dev", lab.client_if],
                check=True,
            )
            url = lab.http_url
            bootsh = [sys.executable, "-m", "bootsh", "--dry-run", "-c", f"chain {url}boot.ipxe"]
            curl = ["curl", "-fsS"]
            for name in ("boot.ipxe", "vmlinuz", "initrd.img"):
                curl += ["-o", "/dev/null", f"{url}{name}"]
            python = [sys.executable, "-c", "pass"]
            for argv in (bootsh, curl, python):  # warm-up (byte-code cache, page cache)
                timed(lab, argv)
            ours, theirs, bare = [], [], []
            for _ in range(ns.runs):
                ours.append(timed(lab, bootsh))
                theirs.append(timed(lab, curl))
                bare.append(timed(lab, python))
    finally:
        shutil.rmtree(served, ignore_errors=True)
    o, t, b = (statistics.median(x) for x in (ours, theirs, bare))
    mib = total / (1 << 20)
    print(f"files: script + kernel + {ns.initrd_mib} MiB initrd = {mib:.1f} MiB over HTTP")
    print(f"bootsh chain + boot --dry-run  median {o * 1000:8.1f} ms over {ns.runs} runs")
    print(f"curl, the same three files     median {t * 1000:8.1f} ms")
    print(f"python3 -c pass                median {b * 1000:8.1f} ms")
    print(f"ratio bootsh / curl                   {o / t:8.2f}")
    print(f"ratio (bootsh - python start) / curl  {(o - b) / t:8.2f}")


if __name__ == "__main__":
    main()
