"""Import cost of bootsh's hand-written rtnetlink against pyroute2's, paired in one run.

Each pair starts two fresh interpreters (byte code cached): one imports
``bootsh.net.netlink``, the other ``pyroute2.IPRoute``; ``-X importtime`` gives the
cumulative microseconds of the top module. Medians of the pairs are printed with the ratio.
pyroute2 is not a bootsh dependency: install it for this benchmark (``pip install
'.[bench]'``); without it the benchmark says so and stops.

    python3 bench/netlink.py [pairs]
"""

from __future__ import annotations

import statistics
import subprocess
import sys


def cost(statement: str, module: str) -> int:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    for line in proc.stderr.splitlines():
        fields = [f.strip() for f in line.split("|")]
        if len(fields) == 3 and fields[2] == module:
            return int(fields[1])
    raise SystemExit(f"no import line for {module}")


def main() -> int:
    pairs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    try:
        import pyroute2  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        print("pyroute2 is not installed: pip install '.[bench]'", file=sys.stderr)
        return 2
    cost("import bootsh.net.netlink", "bootsh.net.netlink")  # warm the byte-code caches
    cost("from pyroute2 import IPRoute", "pyroute2")
    ours, theirs = [], []
    for _ in range(pairs):
        ours.append(cost("import bootsh.net.netlink", "bootsh.net.netlink"))
        theirs.append(cost("from pyroute2 import IPRoute", "pyroute2"))
    a, b = statistics.median(ours) / 1000, statistics.median(theirs) / 1000
    print(f"bootsh.net.netlink: {a:.1f} ms median of {pairs} (with bootsh.errors and its base)")
    print(f"pyroute2.IPRoute:   {b:.1f} ms median of {pairs}")
    print(f"ratio pyroute2 / bootsh: {b / a:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
