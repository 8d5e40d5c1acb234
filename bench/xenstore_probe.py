"""What netfront's XenStore probe costs against the real C xenstored, as the vifs grow.

For a guest with 1, 4, 16, 64 and 256 vifs (``vif_ioemu``, distinct MACs), written by
``tests/xenstored.populate_guest`` into a private xenstored (``tests/xenstored.Xenstored``):

* the probe's time, median of N runs, through the plugin's public path: a plugin host holding
  netfront (``make_plugin_manager`` + ``host.probe_nics``) with a ``Config`` naming the socket
  and the domain id; each run connects, probes and closes, as ``bootsh`` does;
* the exact number of XenStore requests it made, from netfront's own counter
  (``LiveXenStore.requests``), and, in one untimed pass against a second daemon started with
  ``--trace-file``, the number of requests that daemon logged for the probe's connection;
* a reference, alternating with the probe runs so that both see the same machine: a batch of
  plain ``pyxs.Client.read()`` calls of one key over the same socket, as many calls as the
  probe made requests, so that ``ratio = probe time / (requests x reference per request)``
  says how the probe compares with the bare round trips it cannot avoid.

Then whether growth is linear: requests(256)/requests(64) and time(256)/time(64) against 4.0.

``--full`` instead times the whole ``python -m bootsh --xen-domid D -c ifstat`` on a guest with
256 vifs and a sysfs tree holding their 256 emulated twins, against ``python3 -c pass``,
alternating, like ``bench/startup.py``.

    python3 bench/xenstore_probe.py [--runs N] [--full]
"""

from __future__ import annotations

import argparse
import contextlib
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pyxs import Client  # noqa: E402

import bootsh_netfront as netfront  # noqa: E402
from bootsh.context import Config, Context  # noqa: E402
from bootsh.nics.nic import Nic  # noqa: E402
from bootsh.plugins import PluginHost, make_plugin_manager  # noqa: E402
from bootsh_netfront import live  # noqa: E402
from bootsh_netfront.live import LiveXenStore  # noqa: E402
from tests.sysfs_tree import xen_hvm_guest  # noqa: E402
from tests.xenstored import VifSpec, Xenstored, populate_guest  # noqa: E402

SIZES = (1, 4, 16, 64, 256)
DOMID = 7
FULL_VIFS = 256
#: No sysfs: the timed probe measures XenStore, not directory scans of a tree.
NO_SYSFS = Path("/nonexistent-sysfs")
#: Generous: a loaded machine must not turn a slow answer into a failed run.
TIMEOUT = 10.0


def mac(n: int) -> str:
    return f"00:16:3e:00:{n >> 8:02x}:{n & 0xFF:02x}"


def vifs(count: int) -> list[VifSpec]:
    return [VifSpec(n, mac(n), type="vif_ioemu") for n in range(count)]


def populate(daemon: Xenstored, count: int) -> None:
    with daemon.client() as client:
        populate_guest(client, DOMID, vifs(count))


# -- the probe, through the plugin host, with netfront's own request counter -----------------


class _CountedStore(LiveXenStore):
    """netfront's ``LiveXenStore`` unchanged, but remembering each instance opened.

    The hook opens and closes its store itself; this is how its ``requests`` counter is read
    afterwards without changing the path being measured.
    """

    opened: ClassVar[list[LiveXenStore]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _CountedStore.opened.append(self)


@contextlib.contextmanager
def counted_stores() -> Iterator[list[LiveXenStore]]:
    """While active, every store netfront opens is listed in the yielded list."""
    _CountedStore.opened = []
    # open_guest imports LiveXenStore from live when it needs one: patch it there.
    with mock.patch.object(live, "LiveXenStore", _CountedStore):
        yield _CountedStore.opened


def netfront_host() -> PluginHost:
    """A plugin host holding netfront only; a failing hook raises instead of being reported."""

    def report(line: str) -> None:
        raise RuntimeError(f"plugin host reported: {line}")

    return make_plugin_manager(entry_points=False, extra=[("netfront", netfront)], report=report)


def probe_config(daemon: Xenstored) -> Config:
    return Config(
        xenstore_socket=str(daemon.socket_path),
        xen_domid=DOMID,
        sysfs_root=NO_SYSFS,
        xenstore_timeout=TIMEOUT,
    )


def probe_once(host: PluginHost, config: Config, stores: list[LiveXenStore]) -> tuple[float, int]:
    """One probe through the host: its time and the requests its one store made."""
    stores.clear()
    context = Context(config)
    start = time.perf_counter()
    nics = host.probe_nics(context)
    elapsed = time.perf_counter() - start
    check_nics(nics, config)
    if len(stores) != 1:
        raise RuntimeError(f"netfront opened {len(stores)} stores, expected 1")
    return elapsed, stores[0].requests


def check_nics(nics: Sequence[Nic], config: Config) -> None:
    count = len(nics)
    expected = [(f"vif/{n}", mac(n), None) for n in range(count)]
    got = [(n.location, n.mac, n.problem) for n in nics]
    if not nics or got != expected:
        raise RuntimeError(f"probe of domain {config.xen_domid} found {got[:3]}...")


def reference_once(client: Client, key: bytes, calls: int) -> float:
    """The time of ``calls`` plain pyxs reads of ``key``."""
    start = time.perf_counter()
    for _ in range(calls):
        client.read(key)
    return time.perf_counter() - start


# -- the daemon's own count --------------------------------------------------------------------

_TRACE = re.compile(r"^(CREATE connection|DESTROY connection|IN) (0x[0-9a-f]+)")


def daemon_counts(sizes: Sequence[int]) -> dict[int, int]:
    """Requests the daemon logged for the probe's connection, per size (one untimed probe)."""
    counts: dict[int, int] = {}
    host = netfront_host()
    with Xenstored(trace=True) as daemon:
        config = probe_config(daemon)
        for count in sizes:
            populate(daemon, count)
            offset = daemon.trace_path.stat().st_size
            nics = host.probe_nics(Context(config))
            check_nics(nics, config)
            counts[count] = _last_connection_requests(daemon.trace_path, offset)
    return counts


def _last_connection_requests(trace: Path, offset: int) -> int:
    with trace.open("rb") as handle:
        handle.seek(offset)
        lines = handle.read().decode(errors="replace").splitlines()
    per_connection: dict[str, int] = {}
    order: list[str] = []
    for line in lines:
        m = _TRACE.match(line)
        if m is None:
            continue
        kind, conn = m.groups()
        if kind.startswith("CREATE"):
            per_connection[conn] = 0
            order.append(conn)
        elif kind == "IN" and conn in per_connection:
            per_connection[conn] += 1
    if len(order) != 1:
        raise RuntimeError(f"expected one probe connection in the trace, saw {len(order)}")
    return per_connection[order[0]]


# -- the table -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    vifs: int
    requests: int
    daemon_requests: int
    probe: float  # seconds, median
    reference: float  # seconds per plain pyxs read, median batch / calls

    @property
    def ratio(self) -> float:
        return self.probe / (self.requests * self.reference)


def measure(runs: int) -> list[Row]:
    seen_by_daemon = daemon_counts(SIZES)
    rows: list[Row] = []
    host = netfront_host()
    with Xenstored() as daemon, counted_stores() as stores, daemon.client() as client:
        config = probe_config(daemon)
        key = f"/local/domain/{DOMID}/device/vif/0/mac".encode()
        for count in SIZES:
            populate(daemon, count)
            # Warm-up: first connection, first reads of the new nodes, byte-code.
            _, requests = probe_once(host, config, stores)
            reference_once(client, key, requests)
            probe_times: list[float] = []
            ref_times: list[float] = []
            for _ in range(runs):
                elapsed, made = probe_once(host, config, stores)
                if made != requests:
                    raise RuntimeError(f"{count} vifs: {made} requests, then {requests}")
                probe_times.append(elapsed)
                ref_times.append(reference_once(client, key, requests))
            rows.append(
                Row(
                    vifs=count,
                    requests=requests,
                    daemon_requests=seen_by_daemon[count],
                    probe=statistics.median(probe_times),
                    reference=statistics.median(ref_times) / requests,
                )
            )
    return rows


def print_table(rows: Sequence[Row], runs: int) -> None:
    print(f"netfront probe against the real xenstored, median of {runs} runs")
    print(
        f"{'vifs':>5} {'requests':>9} {'daemon':>7} {'req/vif':>8} {'probe ms':>9}"
        f" {'ms/vif':>7} {'ref us/req':>11} {'ratio':>6}"
    )
    for r in rows:
        print(
            f"{r.vifs:5d} {r.requests:9d} {r.daemon_requests:7d} {r.requests / r.vifs:8.2f}"
            f" {r.probe * 1000:9.2f} {r.probe * 1000 / r.vifs:7.3f}"
            f" {r.reference * 1e6:11.1f} {r.ratio:6.2f}"
        )
    print(
        "requests: netfront's counter; daemon: requests xenstored logged for the probe's"
        " connection;\nref: one plain pyxs Client.read() of one key over the same socket;"
        " ratio = probe ms / (requests x ref)"
    )
    by_size = {r.vifs: r for r in rows}
    big, small = by_size[256], by_size[64]
    req_growth = big.requests / small.requests
    time_growth = big.probe / small.probe
    print(
        f"growth 64 -> 256 vifs (linear = 4.0): requests x{req_growth:.2f}, time x{time_growth:.2f}"
    )
    # Requests: a constant per vif plus a fixed part makes the ratio a bit under 4.
    # Time: timing noise allowed, but a quadratic term would show as well above 4.
    limit = 4.0 * 1.25
    linear = req_growth <= 4.0 and time_growth <= limit
    print(
        f"linear: {'yes' if linear else 'NO'}"
        f" (requests x <= 4.0, time x <= {limit:.1f} allowing for timing noise)"
    )


# -- --full: the whole command ---------------------------------------------------------------


def command_env(daemon: Xenstored, home: Path) -> dict[str, str]:
    """The daemon's tool environment, with byte-code cached and no user configuration."""
    env = {
        k: v
        for k, v in daemon.tool_env().items()
        if k != "PYTHONDONTWRITEBYTECODE" and not k.startswith("BOOTSH_")
    }
    env["XDG_CONFIG_HOME"] = str(home)
    return env


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT
    )
    return time.perf_counter() - start


def full(runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bootsh-bench-") as tmp, Xenstored() as daemon:
        sysfs = Path(tmp) / "sysfs"
        xen_hvm_guest(sysfs, [mac(n) for n in range(FULL_VIFS)])
        populate(daemon, FULL_VIFS)
        env = command_env(daemon, Path(tmp) / "config")
        reference = [sys.executable, "-c", "pass"]
        bootsh = [
            sys.executable,
            "-m",
            "bootsh",
            "--xen-domid",
            str(DOMID),
            "--sysfs-root",
            str(sysfs),
            "-c",
            "ifstat",
        ]
        # Warm-up (writes the byte-code cache), and a check that the command did its work.
        proc = subprocess.run(bootsh, capture_output=True, text=True, env=env, cwd=ROOT)
        # The default twin policy (hide-emulated) shows each vif once, through netfront, and
        # none of the emulated twins: proof that all 256 pairs were recognised.
        shown = re.findall(r"^net\d+: (\S+) using (\S+) ", proc.stdout, re.MULTILINE)
        expected = [(mac(n), "netfront") for n in range(FULL_VIFS)]
        if proc.returncode != 0 or proc.stderr or shown != expected:
            raise RuntimeError(
                f"bootsh -c ifstat: exit {proc.returncode}, {len(shown)} interfaces shown"
                f" ({shown[:2]}...), stderr: {proc.stderr.strip()[:500]!r}"
            )
        ref_times: list[float] = []
        our_times: list[float] = []
        for _ in range(runs):
            ref_times.append(timed(reference, env))
            our_times.append(timed(bootsh, env))
        ref = statistics.median(ref_times)
        ours = statistics.median(our_times)
        print(f"{FULL_VIFS} vifs in XenStore, {FULL_VIFS} emulated twins in sysfs")
        print(f"ifstat showed the {FULL_VIFS} vifs through netfront, their twins hidden")
        print(f"python3 -c pass                 median {ref * 1000:8.1f} ms over {runs} runs")
        print(f"bootsh --xen-domid -c ifstat    median {ours * 1000:8.1f} ms over {runs} runs")
        print(f"ratio bootsh / python           {ours / ref:8.2f}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=20, help="runs per measurement (median)")
    parser.add_argument(
        "--full",
        action="store_true",
        help=f"time the whole `bootsh -c ifstat` with {FULL_VIFS} vifs and twins instead",
    )
    ns = parser.parse_args(argv)
    if ns.runs < 1:
        parser.error("--runs must be at least 1")
    if ns.full:
        full(ns.runs)
    else:
        print_table(measure(ns.runs), ns.runs)


if __name__ == "__main__":
    main()
