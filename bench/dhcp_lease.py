"""Time to a DHCP lease, bootsh against busybox ``udhcpc``, in the network lab.

Everything runs in the same lab (dnsmasq on the server side, the client namespace's
veth-cli), in the same run, alternating, timed from one process inside the client namespace
(no ``ip netns exec`` in any figure), so the ratios are fair on a busy machine:

1. exec -> lease: the whole ``python -m bootsh --net af_packet,if=veth-cli -c 'dhcp net0'``
   process (start-up, the DISCOVER/OFFER/REQUEST/ACK exchange, the settings block, the
   address and route given to the kernel, exit) against the whole ``busybox udhcpc -q -n -f
   -i veth-cli`` process, as a user would run either; udhcpc's lease script is a no-op so
   that the kernel state does not differ by more than bootsh's own address. Issue 13 asks
   for <= 1.5 x udhcpc, with <= 1 x as the goal.
2. a lease inside a running shell: one bootsh started once runs ``dhcp`` again and again
   (the first one shown apart); it should stay under 5 ms.

The medians of ``--runs`` pairs are printed with their ratios, and dnsmasq's log is checked:
every run must have been a full exchange (one DHCPACK each).

The comparison is DHCPv4 with DHCPv4, so the client namespace has no IPv6
(``client_ipv6=False``): where the kernel does IPv6 on the interface, ``dhcp`` also runs
iPXE's ipv6 configurator and, as iPXE's ``ifconf``, waits until router discovery gives up
(3.875 s on a link without an IPv6 router, such as this lab's), which udhcpc never does. The
shell checks this before measuring and refuses otherwise, so the figure can never silently
include that wait.

    sudo python3 bench/dhcp_lease.py [--runs N]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
NET = "af_packet,if=veth-cli"
#: Measure what a user gets: byte-code cached.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def inside() -> None:
    """In the client namespace: one shell; each ``bootsh`` line on stdin runs ``dhcp`` in it,
    each ``run ARGV...`` line runs that process; prints the seconds each took."""
    from bootsh.config import Choices, merge
    from bootsh.context import Context
    from bootsh.plugins import make_plugin_manager
    from bootsh.shell import Shell

    config = merge(Choices(nets=[NET]), os.environ)
    host = make_plugin_manager(report=lambda line: None)
    out = io.StringIO()
    shell = Shell(host, Context(config, stderr=sys.stderr), out=out, err=sys.stderr)
    from bootsh.net.ipv6 import kernel_has_ipv6

    if kernel_has_ipv6(NET.split("if=", 1)[1]):
        raise SystemExit("IPv6 is on in the client namespace: dhcp would include router discovery")
    with shell:
        for line in sys.stdin:
            start = time.perf_counter()
            if line.strip() == "bootsh":
                if shell.run_line("dhcp") != 0:
                    raise SystemExit(f"dhcp failed: {out.getvalue()}")
            else:
                argv = json.loads(line.removeprefix("run "))
                done = subprocess.run(argv, capture_output=True, cwd=ROOT, env=ENV)
                if done.returncode != 0:
                    raise SystemExit(f"{argv} failed: {done.stdout!r} {done.stderr!r}")
            print(json.dumps(time.perf_counter() - start), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.inside:
        inside()
        return
    from bootsh.lab import Lab

    busybox = shutil.which("busybox")
    if busybox is None:
        raise SystemExit("busybox is not installed (apt-get install busybox)")
    with (
        tempfile.TemporaryDirectory() as tmp,
        Lab(client_ipv6=False, tftp=False, http=False) as lab,
    ):
        script = Path(tmp) / "udhcpc.script"
        script.write_text("#!/bin/sh\nexit 0\n")
        script.chmod(0o755)
        udhcpc = [busybox, "udhcpc", "-q", "-n", "-f", "-i", lab.client_if, "-s", str(script)]
        shell = subprocess.Popen(
            lab.client_argv([sys.executable, __file__, "--inside"]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert shell.stdin is not None and shell.stdout is not None

        def ask(line: str) -> float:
            assert shell.stdin is not None and shell.stdout is not None
            shell.stdin.write(line + "\n")
            shell.stdin.flush()
            return float(json.loads(shell.stdout.readline()))

        def bootsh_dhcp() -> float:
            return ask("bootsh")

        def run(argv: list[str]) -> float:
            return ask("run " + json.dumps(argv))

        bootsh_process = [sys.executable, "-m", "bootsh", "--net", NET, "-c", "dhcp net0"]
        python = [sys.executable, "-c", "pass"]
        first = bootsh_dhcp()
        run(udhcpc)  # warm-up: page cache, dnsmasq's lease known to both
        run(bootsh_process)  # warm-up: byte-code written
        ours: list[float] = []
        ref: list[float] = []
        process: list[float] = []
        process_ref: list[float] = []
        bare: list[float] = []
        for _ in range(ns.runs):
            process_ref.append(run(udhcpc))
            process.append(run(bootsh_process))
            bare.append(run(python))
            ref.append(run(udhcpc))
            ours.append(bootsh_dhcp())
        shell.stdin.close()
        shell.wait(timeout=30)
        acks = lab.dnsmasq_log().count("DHCPACK(")
    med = statistics.median
    expected = 4 * ns.runs + 3  # udhcpc twice and bootsh twice per round, the warm-ups
    print(f"exec -> lease, whole processes, median of {ns.runs} alternating runs:")
    print(f"  busybox udhcpc -q -n -f        {med(process_ref) * 1000:7.1f} ms")
    print(f"  bootsh -c 'dhcp net0'          {med(process) * 1000:7.1f} ms")
    print(f"  ({sys.executable} -c pass      {med(bare) * 1000:7.1f} ms)")
    whole = med(process) / med(process_ref)
    print(f"  ratio bootsh / udhcpc          {whole:7.2f}  (issue 13: <= 1.5, goal <= 1)")
    print("a lease inside a running shell:")
    print(f"  bootsh dhcp                    {med(ours) * 1000:7.1f} ms", end="")
    print(f" (the shell's first: {first * 1000:.1f} ms)")
    print(f"  ratio to udhcpc's process      {med(ours) / med(ref):7.2f}  (under 5 ms wanted)")
    print(f"dnsmasq sent {acks} DHCPACKs (expected {expected}: every run a full exchange)")
    if whole > 1.5 or med(ours) > 0.005 or acks != expected:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
