"""netfront against the REAL C xenstored of Xen 4.17 (tests/xenstored.py), through pyxs.

One daemon serves the module; the tests that kill or stop a daemon start their own. The
guest layouts are written by ``populate_guest`` exactly as libxl writes them.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import threading
import time
import tty
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from bootsh.context import Config, Context
from bootsh.errors import XenStoreError
from bootsh.nics.netdevs import resolve
from bootsh.nics.nic import Nic
from bootsh.nics.twins import Verdict, mac_evidence, weigh
from bootsh.plugins import make_plugin_manager

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import bootsh_netfront as netfront
from bootsh_netfront.connect import Opened, open_guest
from bootsh_netfront.dump import DumpXenStore
from bootsh_netfront.evidence import twin_evidence
from bootsh_netfront.live import LiveXenStore
from bootsh_netfront.probe import ProbeResult, probe
from bootsh_netfront.store import Guest
from tests.sysfs_tree import SysfsTree
from tests.xenstored import (
    PassSpec,
    VifSpec,
    Xenstored,
    XenstoredUnavailable,
    populate_guest,
)

REPO = Path(__file__).resolve().parents[2]
NO_SYSFS = Path("/nonexistent-sysfs")
MAC0, MAC1 = "00:16:3e:5f:48:e4", "00:16:3e:1a:2b:3c"
TIMEOUT = 0.5
#: How much longer than TIMEOUT a timed-out request may take to be reported: it proves the
#: wait ended (no hang) without making the verdict depend on a busy machine's scheduling.
SLACK = 5.0
#: For a fake xenbus that always answers: generous, so a loaded CI machine cannot turn a slow
#: answer into a timeout (the timeout itself is tested with TIMEOUT and a silent bus).
ANSWERS_WITHIN = 10.0
#: Requests besides the nine per vif: the vif listing, the PCI frontend, the PCI num_devs.
FIXED_REQUESTS = 3


def mac(n: int) -> str:
    return f"00:16:3e:00:{n >> 8:02x}:{n & 0xFF:02x}"


@pytest.fixture
def own_xsd(stub: Path) -> Iterator[Xenstored]:
    """A daemon of this test's own, for tests that kill or stop it."""
    with Xenstored(stub=stub) as daemon:
        yield daemon


def populate(
    daemon: Xenstored, domid: int, vifs: Sequence[VifSpec], passthrough: Sequence[PassSpec] = ()
) -> None:
    # The client is closed before the probe so that a killed daemon takes only ours down.
    with daemon.client() as client:
        populate_guest(client, domid, vifs, passthrough)


def config(
    daemon: Xenstored,
    xen_domid: int | None = None,
    sysfs_root: Path = NO_SYSFS,
    verbose: bool = False,
) -> Config:
    return Config(
        xenstore_socket=str(daemon.socket_path),
        xen_domid=xen_domid,
        sysfs_root=sysfs_root,
        xenstore_timeout=TIMEOUT,
        verbose=verbose,
    )


def opened_guest(cfg: Config) -> Guest:
    opened = open_guest(cfg, env={}, xenbus=NO_SYSFS)
    assert opened.guest is not None, opened.reason
    return opened.guest


def probe_live(cfg: Config) -> tuple[ProbeResult, int]:
    guest = opened_guest(cfg)
    try:
        return probe(guest, cfg.sysfs_root), guest.store.requests
    finally:
        guest.store.close()


@pytest.fixture
def host_probe() -> Callable[[Config], tuple[list[Nic], Context, list[str]]]:
    """Probe through a plugin host holding netfront only; returns NICs, context and lines."""

    def run(cfg: Config) -> tuple[list[Nic], Context, list[str]]:
        lines: list[str] = []
        host = make_plugin_manager(
            entry_points=False, extra=[("netfront", netfront)], report=lines.append
        )
        context = Context(cfg, warn_sink=lines.append)
        return host.probe_nics(context), context, lines

    return run


# -- well-formed guests --------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 4, 64])
def test_vifs(xsd: Xenstored, count: int) -> None:
    populate(xsd, 5, [VifSpec(n, mac(n)) for n in range(count)])
    result, requests = probe_live(config(xsd, xen_domid=5))
    assert [(n.location, n.mac, n.problem) for n in result.nics] == [
        (f"vif/{n}", mac(n), None) for n in range(count)
    ]
    assert requests == 9 * count + FIXED_REQUESTS
    last = result.nics[-1]
    assert last.key == f"xen:vif/{count - 1}" and last.paravirtual and last.order == 10
    assert last.facts == {
        "mac": mac(count - 1),
        "backend": f"/local/domain/0/backend/vif/5/{count - 1}",
        "backend-id": "0",
        "handle": str(count - 1),
        "state": "4 (Connected)",
        "backend/type": "vif_ioemu",
        "backend/bridge": "xenbr0",
        "backend/script": "/etc/xen/scripts/vif-bridge",
    }


def test_request_count_is_linear(xsd: Xenstored) -> None:
    counts = {}
    for count in (64, 256):
        populate(xsd, 6, [VifSpec(n, mac(n)) for n in range(count)])
        result, counts[count] = probe_live(config(xsd, xen_domid=6))
        assert len(result.nics) == count
    assert counts == {64: 9 * 64 + FIXED_REQUESTS, 256: 9 * 256 + FIXED_REQUESTS}


def test_guest_found_without_domid(xsd: Xenstored) -> None:
    with xsd.client() as client:  # the module's daemon holds other tests' guests: remove them
        for domid in (5, 6, 8):
            client.delete(f"/local/domain/{domid}".encode())
    populate(xsd, 8, [VifSpec(0, MAC0, type="vif")])
    cfg = config(xsd)
    guest = opened_guest(cfg)
    assert (guest.domid, guest.home) == (8, "/local/domain/8")
    result = probe(guest, NO_SYSFS)
    guest.store.close()
    assert result.nics[0].facts["backend/type"] == "vif"
    populate(xsd, 9, [VifSpec(0, MAC1)])
    with pytest.raises(XenStoreError, match=r"several guests \(domains 8, 9\)"):
        open_guest(cfg, env={}, xenbus=NO_SYSFS)


def test_kernel_interface_from_sysfs(xsd: Xenstored, tmp_path: Path) -> None:
    tree = SysfsTree(tmp_path)
    tree.add_vif(0, "eth7", MAC0)
    tree.add_vif(1, None, MAC1, bound=False)
    populate(xsd, 5, [VifSpec(0, MAC0), VifSpec(1, MAC1)])
    result, _ = probe_live(config(xsd, xen_domid=5, sysfs_root=tmp_path))
    assert [n.ifname for n in result.nics] == ["eth7", None]


def test_malformed_vifs_are_reported_with_reasons(
    xsd: Xenstored, host_probe: Callable[[Config], tuple[list[Nic], Context, list[str]]]
) -> None:
    vifs = [
        VifSpec(0, MAC0),
        VifSpec(1, "00:16:3e:zz:00:01"),
        VifSpec(2, mac(2), overrides={"front/state": "connected"}),
        VifSpec(3, mac(3), overrides={"front/state": "9"}),
        VifSpec(4, mac(4), omit=("front/backend",)),
        VifSpec(5, mac(5), omit=("front/mac",)),
        VifSpec(6, mac(6), overrides={"front/backend": "local/domain/0/backend/vif/5/6"}),
        VifSpec(7, MAC1),
        VifSpec(8, mac(8)),
    ]
    populate(xsd, 5, vifs)
    # pyxs cannot write this one; the raw protocol can, and xenstore-ls would print it escaped.
    xsd.write_raw("/local/domain/5/device/vif/8/mac", b"00:16:3e:\xff\n")
    nics, context, lines = host_probe(config(xsd, xen_domid=5))
    found = {n.location: (n.mac, n.problem) for n in nics}
    assert found == {
        "vif/0": (MAC0, None),
        "vif/1": (None, "invalid MAC '00:16:3e:zz:00:01'"),
        "vif/2": (mac(2), "state 'connected' is not a XenbusState number"),
        "vif/3": (mac(3), "state 9 is not a XenbusState (0-8)"),
        "vif/4": (mac(4), "no backend path"),
        "vif/5": (None, "no mac in XenStore"),
        "vif/6": (
            mac(6),
            "backend 'local/domain/0/backend/vif/5/6' is not an absolute XenStore path",
        ),
        "vif/7": (MAC1, None),
        "vif/8": (None, "invalid MAC '00:16:3e:\\\\xff\\\\n'"),
    }
    assert lines == []  # problems are on the NICs (the shell reports them), not errors
    host = make_plugin_manager(entry_points=False, extra=[("netfront", netfront)])
    resolution = resolve(host, nics, "hide-emulated", context)
    assert [(n.name, n.nic.location) for n in resolution.shown] == [
        ("net0", "vif/0"),
        ("net1", "vif/7"),
    ]
    assert len(resolution.unusable) == 7


def test_passthrough_list_and_evidence(
    xsd: Xenstored, host_probe: Callable[[Config], tuple[list[Nic], Context, list[str]]]
) -> None:
    passed = [
        PassSpec("0000:03:00.0", 0x28),
        PassSpec("0000:04:00.1", 0x31),
        PassSpec("0000:05:00.0", 0),
    ]
    populate(xsd, 5, [VifSpec(0, MAC0)], passed)
    nics, context, lines = host_probe(config(xsd, xen_domid=5, verbose=True))
    assert context.machine.passthrough == {
        "0000:00:05.0": "0000:03:00.0",
        "0000:00:06.1": "0000:04:00.1",
    }
    assert lines == ["netfront: passed-through 0000:05:00.0 has no vdevfn-2: guest address unknown"]
    [pv] = nics
    real = Nic("e1000", "0000:00:05.0", MAC0, "pci")
    evidence = [mac_evidence(pv, real), *twin_evidence(pv, real, context)]
    assert [(e.key, e.supports, e.decisive) for e in evidence] == [
        ("mac-match", True, False),
        ("backend-type", True, False),
        ("passthrough", False, True),
    ]
    assert "passed through from host device 0000:03:00.0" in evidence[-1].detail
    assert weigh(evidence) is Verdict.NOT_TWIN
    emulated = Nic("rtl8139", "0000:00:04.0", MAC0, "pci")
    assert [e.key for e in twin_evidence(pv, emulated, context)] == ["backend-type"]


def test_live_and_dumped_store_agree(xsd: Xenstored) -> None:
    """A real `xenstore-ls -f` of the daemon, read back, gives the same NICs and facts."""
    if shutil.which("xenstore-ls") is None:
        pytest.skip("xenstore-ls (xenstore-utils) is not installed")
    populate(
        xsd, 5, [VifSpec(0, MAC0), VifSpec(1, MAC1, type="vif")], [PassSpec("0000:03:00.0", 0x28)]
    )
    live, _ = probe_live(config(xsd, xen_domid=5))
    text = subprocess.run(
        ["xenstore-ls", "-f", "-p"], env=xsd.tool_env(), capture_output=True, text=True, check=True
    ).stdout
    dumped = probe(Guest(DumpXenStore.from_text(text), "/local/domain/5", 5), NO_SYSFS)
    assert dumped.nics == live.nics and dumped.passthrough == live.passthrough


# -- no XenStore, a XenStore that fails ----------------------------------------------------------


def test_no_xenstore_at_all(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    host_probe: Callable[[Config], tuple[list[Nic], Context, list[str]]],
) -> None:
    if Path("/dev/xen/xenbus").exists():
        pytest.skip("this machine is a Xen guest: it has a XenStore")
    monkeypatch.delenv("XENSTORED_PATH", raising=False)
    monkeypatch.setenv("XENSTORED_RUNDIR", str(tmp_path))
    nics, _, lines = host_probe(Config(sysfs_root=NO_SYSFS))
    assert nics == [] and lines == []
    nics, _, lines = host_probe(Config(sysfs_root=NO_SYSFS, verbose=True))
    assert nics == []
    assert lines == [
        "netfront: no XenStore here: no --xenstore-dump, no $XENSTORED_PATH,"
        f" no /dev/xen/xenbus, no xenstored socket at {tmp_path}/socket"
    ]


def test_socket_that_is_not_there(
    tmp_path: Path, host_probe: Callable[[Config], tuple[list[Nic], Context, list[str]]]
) -> None:
    cfg = Config(xenstore_socket=str(tmp_path / "socket"), sysfs_root=NO_SYSFS)
    nics, _, lines = host_probe(cfg)
    assert nics == []
    assert lines == [
        f"netfront: cannot connect to xenstored socket {tmp_path}/socket: No such file or directory"
    ]


def trip_after(requests: int, action: Callable[[], object]) -> Callable[..., Opened]:
    """open_guest, with ``action`` run just before the store's ``requests``-th request."""

    def opener(cfg: Config) -> Opened:
        opened = open_guest(cfg, env={}, xenbus=NO_SYSFS)
        assert opened.guest is not None
        store = opened.guest.store
        assert isinstance(store, LiveXenStore)
        real = store._count  # every request is counted here before it goes out, alone or not

        def count(what: str) -> None:
            if store.requests + 1 == requests:
                action()
            real(what)

        store._count = count  # type: ignore[method-assign]
        return opened

    return opener


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("pause", f"XenStore did not answer within {TIMEOUT:g} s while reading "),
        ("kill", "XenStore connection lost while reading "),
    ],
)
def test_daemon_fails_mid_probe(
    own_xsd: Xenstored,
    monkeypatch: pytest.MonkeyPatch,
    host_probe: Callable[[Config], tuple[list[Nic], Context, list[str]]],
    action: str,
    message: str,
) -> None:
    populate(own_xsd, 5, [VifSpec(n, mac(n)) for n in range(64)])
    # The plugin imports open_guest when its probe hook runs: patch it where it lives.
    monkeypatch.setattr(netfront.connect, "open_guest", trip_after(100, getattr(own_xsd, action)))
    start = time.monotonic()
    try:
        nics, _, lines = host_probe(config(own_xsd, xen_domid=5))
    finally:
        if own_xsd.paused:
            own_xsd.resume()
    elapsed = time.monotonic() - start
    assert nics == []
    [line] = lines
    assert line.startswith(f"netfront: {message}/local/domain/")
    assert f"(xenstored socket {own_xsd.socket_path})" in line
    # The message says which end it was (a timeout or a lost connection); the clock only
    # confirms a paused daemon was waited for, and bounds the wait loosely (a busy machine
    # stretches the 100 requests before the trip; a tight bound failed there).
    if action == "pause":
        assert TIMEOUT <= elapsed < TIMEOUT + SLACK, f"took {elapsed:.2f} s"


def test_daemon_paused_before_probe(
    own_xsd: Xenstored, host_probe: Callable[[Config], tuple[list[Nic], Context, list[str]]]
) -> None:
    populate(own_xsd, 5, [VifSpec(0, MAC0)])
    own_xsd.pause()
    try:
        start = time.monotonic()
        nics, _, lines = host_probe(config(own_xsd))  # domain detection is the first request
        elapsed = time.monotonic() - start
    finally:
        own_xsd.resume()
    assert nics == [] and TIMEOUT <= elapsed < TIMEOUT + SLACK
    assert lines == [
        f"netfront: XenStore did not answer within {TIMEOUT:g} s while listing /local/domain"
        f" (xenstored socket {own_xsd.socket_path})"
    ]


def test_daemon_dead_before_probe(
    own_xsd: Xenstored, host_probe: Callable[[Config], tuple[list[Nic], Context, list[str]]]
) -> None:
    own_xsd.kill()
    nics, _, lines = host_probe(config(own_xsd))
    assert nics == []
    assert lines == [
        f"netfront: cannot connect to xenstored socket {own_xsd.socket_path}: Connection refused"
    ]


def test_a_failed_store_fails_fast_afterwards(own_xsd: Xenstored) -> None:
    populate(own_xsd, 5, [VifSpec(0, MAC0)])
    guest = opened_guest(config(own_xsd, xen_domid=5))
    own_xsd.pause()
    try:
        with pytest.raises(XenStoreError, match="did not answer") as first:
            guest.store.read("/local/domain/5/name")
        start = time.monotonic()
        with pytest.raises(XenStoreError) as again:
            guest.store.read("/local/domain/5/domid")
        # Without a second wait: well under one more timeout, whatever the machine's load.
        assert time.monotonic() - start < TIMEOUT and str(again.value) == str(first.value)
    finally:
        own_xsd.resume()
        guest.store.close()


# -- /dev/xen/xenbus (a pseudo-terminal in raw mode stands in for the character device) ----------


class FakeXenbus:
    """The other end of a raw pty: answers READ/DIRECTORY from a dict, or never answers."""

    def __init__(
        self, nodes: dict[str, bytes] | None, errors: dict[str, bytes] | None = None
    ) -> None:
        self.errors = errors or {}
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        self._slave = slave  # kept open so that the pty survives until close()
        self.nodes = nodes
        self.seen: list[str] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _read(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = os.read(self.master, size - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def _serve(self) -> None:
        try:
            while True:
                header = self._read(16)
                op, rq_id, tx_id, length = (
                    int.from_bytes(header[i : i + 4], sys.byteorder) for i in range(0, 16, 4)
                )
                path = self._read(length).rstrip(b"\0").decode()
                self.seen.append(path)
                if self.nodes is None:
                    continue  # a hung xenstored: never answer
                value = self.nodes.get(path)
                if path in self.errors:
                    op, payload = 16, self.errors[path] + b"\0"
                elif op == 1 and value is not None:  # DIRECTORY
                    prefix = path + "/"
                    kids = sorted(
                        {p[len(prefix) :].split("/")[0] for p in self.nodes if p.startswith(prefix)}
                    )
                    payload = b"".join(k.encode() + b"\0" for k in kids)
                elif value is not None:
                    payload = value
                else:
                    op, payload = 16, b"ENOENT\0"
                reply = b"".join(
                    v.to_bytes(4, sys.byteorder) for v in (op, rq_id, tx_id, len(payload))
                )
                os.write(self.master, reply + payload)
        except (EOFError, OSError):
            return

    def close(self) -> None:
        # The server thread must be gone before the master's number is free: a thread still
        # looping would read (and answer) the next test's pty once it got the same number,
        # which a busy machine made happen. Without the slave the master reads EIO at once.
        os.close(self._slave)
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "the fake xenbus thread did not end"
        os.close(self.master)


@pytest.fixture
def xenbus_nodes() -> dict[str, bytes]:
    back = "/local/domain/0/backend/vif/3/0"
    return {
        "device/vif": b"",
        "device/vif/0": b"",
        "device/vif/0/mac": MAC0.encode(),
        "device/vif/0/backend": back.encode(),
        "device/vif/0/backend-id": b"0",
        "device/vif/0/handle": b"0",
        "device/vif/0/state": b"4",
        f"{back}/type": b"vif_ioemu",
        "domid": b"3",
    }


def test_xenbus_relative_paths(xenbus_nodes: dict[str, bytes]) -> None:
    bus = FakeXenbus(xenbus_nodes)
    try:
        opened = open_guest(Config(xenstore_timeout=ANSWERS_WITHIN), env={}, xenbus=Path(bus.path))
        assert opened.guest is not None
        assert (opened.guest.home, opened.guest.domid) == ("", None)
        assert opened.guest.store.where == bus.path
        result = probe(opened.guest, NO_SYSFS)
        opened.guest.store.close()
    finally:
        bus.close()
    assert [(n.location, n.mac, n.problem) for n in result.nics] == [("vif/0", MAC0, None)]
    assert result.nics[0].facts["backend/type"] == "vif_ioemu"
    assert bus.seen[:2] == ["device/vif", "device/vif/0/mac"]
    # The PCI backend is found from the guest's own domid (no domain id was given).
    assert "domid" in bus.seen and "/local/domain/0/backend/pci/3/0/num_devs" in bus.seen


def test_xenbus_error_replies(xenbus_nodes: dict[str, bytes]) -> None:
    back = "/local/domain/0/backend/vif/3/0"
    errors = {f"{back}/bridge": b"EACCES", "device/vif/0/handle": b"EINVAL"}
    bus = FakeXenbus(xenbus_nodes, errors)
    try:
        opened = open_guest(Config(xenstore_timeout=ANSWERS_WITHIN), env={}, xenbus=Path(bus.path))
        assert opened.guest is not None
        with pytest.raises(XenStoreError) as info:
            probe(opened.guest, NO_SYSFS)
        del errors["device/vif/0/handle"]
        result = probe(opened.guest, NO_SYSFS)
        opened.guest.store.close()
    finally:
        bus.close()
    assert str(info.value) == (
        f"XenStore refused reading device/vif/0/handle: EINVAL (Invalid argument) ({bus.path})"
    )
    # Refused access to an optional backend key: noted, the vif still works.
    [nic] = result.nics
    assert nic.problem is None and "backend/bridge" not in nic.facts
    assert f"vif/0: backend {back}/bridge is not readable" in result.notes


def test_xenbus_that_cannot_be_opened(tmp_path: Path) -> None:
    with pytest.raises(XenStoreError, match=f"cannot open {tmp_path}: Is a directory"):
        open_guest(Config(), env={}, xenbus=tmp_path)


def test_xenbus_that_never_answers() -> None:
    bus = FakeXenbus(None)
    try:
        opened = open_guest(Config(xenstore_timeout=TIMEOUT), env={}, xenbus=Path(bus.path))
        assert opened.guest is not None
        start = time.monotonic()
        with pytest.raises(XenStoreError) as info:
            probe(opened.guest, NO_SYSFS)
        elapsed = time.monotonic() - start
        opened.guest.store.close()
    finally:
        bus.close()
    assert TIMEOUT <= elapsed < TIMEOUT + SLACK
    assert str(info.value) == (
        f"XenStore did not answer within {TIMEOUT:g} s while listing device/vif ({bus.path})"
    )


# -- the built-in example machine ------------------------------------------------------------


def test_example_machine_dump_is_what_xenstored_prints() -> None:
    """examples/machines/xen-hvm/xenstore.txt is regenerated from the real daemon unchanged."""
    if shutil.which("xenstore-ls") is None:
        pytest.skip("xenstore-ls (xenstore-utils) is not installed")
    script = REPO / "examples" / "machines" / "build_xen_hvm_xenstore.py"
    spec = importlib.util.spec_from_file_location("build_xen_hvm_xenstore", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        text = module.dump()
    except XenstoredUnavailable as exc:
        pytest.skip(f"xenstored harness unavailable: {exc}")
    assert text == (REPO / "examples" / "machines" / "xen-hvm" / "xenstore.txt").read_text()
