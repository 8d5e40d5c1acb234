"""The interpreter's speed: a counting loop in lines per second, and start-up of ``-c 'echo hi'``.

    python3 bench/language.py [--iterations N] [--runs N]

The loop is plain iPXE (``inc``, ``iseq``, ``goto``), run by ``bootsh`` on a script file; the
start-up figure is a ratio to ``python3 -c pass`` measured in the same run, alternating.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
LOOP = """#!ipxe
set i:int32 0
:loop
inc i
iseq ${{i}} {n} || goto loop
echo ${{i}}
"""


def timed(argv: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(argv, check=True, capture_output=True, text=True, env=ENV)
    return time.perf_counter() - start, proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    ns = parser.parse_args()
    bootsh = [sys.executable, "-m", "bootsh", "--sysfs-root", "/nonexistent"]
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "loop.ipxe"
        script.write_text(LOOP.format(n=ns.iterations))
        timed([*bootsh, "-c", "echo warm-up"])
        empty, _ = timed([*bootsh, "-c", "echo hi"])
        seconds, out = timed([*bootsh, str(script)])
        assert out == f"{ns.iterations}\n", out
    lines = 3 * ns.iterations  # per iteration: the ":loop" line, "inc i", "iseq ... || goto loop"
    loop = seconds - empty
    print(
        f"counting loop: {ns.iterations} iterations, {lines} lines in {loop:.2f} s"
        f" = {lines / loop:,.0f} lines/s (start-up of {empty * 1000:.0f} ms subtracted)"
    )
    ref: list[float] = []
    ours: list[float] = []
    for _ in range(ns.runs):
        ref.append(timed([sys.executable, "-c", "pass"])[0])
        ours.append(timed([*bootsh, "-c", "echo hi"])[0])
    r, o = statistics.median(ref), statistics.median(ours)
    print(f"python3 -c pass    median {r * 1000:6.1f} ms")
    print(f"bootsh -c 'echo hi' median {o * 1000:6.1f} ms   ratio {o / r:.2f}")


if __name__ == "__main__":
    main()
