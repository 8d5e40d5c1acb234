"""Start-up cost of ``bootsh -c ifstat`` on the example machine, against ``python3 -c pass``.

Both are measured in the same run, alternating, so the ratio is fair on a busy machine.
Also checks that neither scapy nor prompt_toolkit is imported for this command.

    python3 bench/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MACHINE = ROOT / "examples" / "machines" / "xen-hvm"


# Measure what a user gets: byte-code cached (some shells export PYTHONDONTWRITEBYTECODE,
# which would make every run recompile bootsh and measure the compiler instead).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    return time.perf_counter() - start


def heavy_imports(argv: list[str]) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *argv[1:]], capture_output=True, text=True, check=True
    )
    names = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()}
    return sorted(n for n in names if n.split(".")[0] in {"scapy", "prompt_toolkit"})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    ns = parser.parse_args()
    reference = [sys.executable, "-c", "pass"]
    bootsh = [sys.executable, "-m", "bootsh", "--machine", str(MACHINE), "-c", "ifstat"]
    timed(bootsh)  # warm-up: writes the byte-code cache
    ref_times: list[float] = []
    our_times: list[float] = []
    for _ in range(ns.runs):
        ref_times.append(timed(reference))
        our_times.append(timed(bootsh))
    ref = statistics.median(ref_times)
    ours = statistics.median(our_times)
    print(f"python3 -c pass          median {ref * 1000:7.1f} ms over {ns.runs} runs")
    print(f"bootsh -c ifstat         median {ours * 1000:7.1f} ms over {ns.runs} runs")
    print(f"ratio bootsh / python    {ours / ref:7.2f}")
    heavy = heavy_imports(bootsh)
    print(f"scapy/prompt_toolkit imported: {', '.join(heavy) if heavy else 'none'}")


if __name__ == "__main__":
    main()
