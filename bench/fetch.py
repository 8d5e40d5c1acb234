"""Download throughput and memory of ``bootsh.boot.fetch`` in the network lab, against
reference clients.

A 256 MiB random file is served by the lab (dnsmasq's TFTP, the lab's HTTP server) and
fetched from the client namespace, alternating bootsh and the reference in the same run:

- HTTP: bootsh vs ``curl -o``.
- TFTP, blksize 1428: bootsh vs ``curl --tftp-blksize 1428`` and busybox ``tftp -b 1428``.
- TFTP, 512-byte blocks: bootsh vs Debian's tftp-hpa ``tftp -m binary -c get``; tftp-hpa's
  client (5.2) sends no options at all, so 512 bytes is the only block size it can use and
  the fair comparison is at that size.

Each figure is the median of ``--runs`` runs; for bootsh also the time spent inside
``fetch()`` alone (the process's wall time includes ~0.1 s of Python start-up and plugin
loading, which the C clients do not pay). The bootsh process reports its own peak RSS
(``getrusage(RUSAGE_SELF)``, it is the process ``ip netns exec`` turns into), once for a
1 KiB file and once for the 256 MiB one: a streaming download keeps the two about equal.

    python3 bench/fetch.py [--size-mib 256] [--runs 3] [--skip-512]

Needs root (namespaces) and .ci/install-net.sh's tools.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bootsh.lab import Lab

ROOT = Path(__file__).resolve().parent.parent

SERVER = "10.77.0.1"
CLIENT = "10.77.0.50"


def make_file(path: Path, size: int) -> None:
    block = 1 << 20
    with path.open("wb") as f:
        for _ in range(size // block):
            f.write(os.urandom(block))
        f.write(os.urandom(size % block))


def bootsh_fetch(lab: Lab, uri: str, out: Path, *args: str) -> dict[str, object]:
    argv = [sys.executable, "-m", "tests.fetch_runner", uri, str(out), "--quiet", "--no-hash"]
    proc = lab.run_in_client([*argv, *args], capture_output=True, text=True, cwd=ROOT)
    report: dict[str, object] = json.loads(proc.stderr.strip().splitlines()[-1])
    if report.get("outcome") != "ok":
        raise SystemExit(f"bootsh fetch of {uri} failed: {report}")
    return report


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def run_checked(lab: Lab, argv: list[str], cwd: Path) -> None:
    proc = lab.run_in_client(argv, capture_output=True, text=True, cwd=cwd, timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr.strip()}")


def clean(directory: Path) -> None:
    for entry in directory.iterdir():
        entry.unlink()


def compare(
    label: str,
    runs: int,
    size: int,
    ours: Callable[[], dict[str, object]],
    reference: Callable[[], object],
    ref_name: str,
    out: Path,
    check: Callable[[], None],
) -> None:
    our_times: list[float] = []
    in_fetch: list[float] = []
    ref_times: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        report = ours()
        our_times.append(time.perf_counter() - start)
        in_fetch.append(float(str(report["fetch_s"])))
        check()
        clean(out)
        ref_times.append(timed(reference))
        check()
        clean(out)
    mine, theirs = statistics.median(our_times), statistics.median(ref_times)
    mib = size / (1 << 20)
    print(
        f"{label:<26} bootsh {mib / mine:7.1f} MiB/s   {ref_name:<22} {mib / theirs:7.1f} MiB/s"
        f"   ratio bootsh/ref {theirs / mine:5.2f} (time ratio {mine / theirs:5.2f})"
    )
    inside = statistics.median(in_fetch)
    print(
        f"{'':<26} bootsh without interpreter start-up {mib / inside:7.1f} MiB/s"
        f"   ratio {theirs / inside:5.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-512", action="store_true", help="skip the slow 512-byte runs")
    ns = parser.parse_args()
    size = ns.size_mib << 20
    work = Path(tempfile.mkdtemp(prefix="bootsh-bench-fetch-"))
    try:
        served = work / "served"
        out = work / "out"
        served.mkdir()
        out.mkdir()
        make_file(served / "big.bin", size)
        (served / "tiny.bin").write_bytes(os.urandom(1024))
        expected = (served / "big.bin").stat().st_size

        def check() -> None:
            files = list(out.iterdir())
            if len(files) != 1 or files[0].stat().st_size != expected:
                raise SystemExit(f"bad download in {out}: {files}")

        with Lab(serve=served, dhcp=False, dns=False, client_ipv6=False) as lab:
            for cmd in (
                ["addr", "add", f"{CLIENT}/24", "dev", lab.client_if],
                ["link", "set", lab.client_if, "up"],
            ):
                subprocess.run(["ip", "-n", lab.client_ns, *cmd], check=True)
            print(f"{ns.size_mib} MiB, median of {ns.runs} runs, lab {SERVER} -> {CLIENT}")
            http = f"http://{SERVER}/big.bin"
            tftp = f"tftp://{SERVER}/big.bin"
            compare(
                "HTTP", ns.runs, size,
                lambda: bootsh_fetch(lab, http, out),
                lambda: run_checked(lab, ["curl", "-fsS", "-o", str(out / "c"), http], out),
                "curl", out, check,
            )  # fmt: skip
            compare(
                "TFTP blksize 1428", ns.runs, size,
                lambda: bootsh_fetch(lab, tftp, out, "--set", "tftp-blksize=1428"),
                lambda: run_checked(
                    lab, ["curl", "-fsS", "--tftp-blksize", "1428", "-o", str(out / "c"), tftp], out
                ),
                "curl --tftp-blksize", out, check,
            )  # fmt: skip
            compare(
                "TFTP blksize 1428", ns.runs, size,
                lambda: bootsh_fetch(lab, tftp, out, "--set", "tftp-blksize=1428"),
                lambda: run_checked(
                    lab,
                    ["busybox", "tftp", "-b", "1428", "-g", "-r", "big.bin", "-l", "b", SERVER],
                    out,
                ),
                "busybox tftp -b 1428", out, check,
            )  # fmt: skip
            if not ns.skip_512:
                compare(
                    "TFTP 512-byte blocks", ns.runs, size,
                    lambda: bootsh_fetch(lab, tftp, out, "--set", "tftp-blksize=512"),
                    lambda: run_checked(
                        lab, ["tftp", "-m", "binary", SERVER, "-c", "get", "big.bin", "t"], out
                    ),
                    "tftp-hpa (512 only)", out, check,
                )  # fmt: skip
            small = bootsh_fetch(lab, f"http://{SERVER}/tiny.bin", out)
            clean(out)
            rss = {
                "HTTP": bootsh_fetch(lab, http, out)["maxrss_kib"],
                "TFTP": bootsh_fetch(lab, tftp, out, "--set", "tftp-blksize=1428")["maxrss_kib"],
            }
            clean(out)
            print(
                f"peak RSS of the bootsh process: 1 KiB file {small['maxrss_kib']} KiB; "
                f"{ns.size_mib} MiB over HTTP {rss['HTTP']} KiB, over TFTP {rss['TFTP']} KiB"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
