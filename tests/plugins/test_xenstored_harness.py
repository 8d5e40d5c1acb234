"""The xenstored harness itself: a real daemon starts, answers, dies and hangs on request."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pyxs.exceptions import ConnectionError as PyXSConnectionError

# Plain `pytest` puts tests/ (not the repository root) on sys.path, while mypy resolves this
# module as tests.xenstored; a `pythonpath = ["."]` pytest setting would make this line moot.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.xenstored import (
    XENSTORED_CANDIDATES,
    XS_READ,
    PassSpec,
    VifSpec,
    Xenstored,
    XenstoredError,
    XenstoredUnavailable,
    build_stub,
    find_xenstored,
    populate_guest,
)

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "xenstore-ls-f-sample.txt"
MAC0, MAC1 = "00:16:3e:5f:48:e4", "00:16:3e:1a:2b:3c"


@pytest.fixture
def xsd(stub: Path) -> Iterator[Xenstored]:
    with Xenstored(stub=stub) as daemon:
        yield daemon


def _xenstore_ls(daemon: Xenstored, *args: str) -> str:
    tool = shutil.which("xenstore-ls")
    if tool is None:
        pytest.skip("xenstore-ls (xenstore-utils) is not installed")
    result = subprocess.run(
        [tool, *args], env=daemon.tool_env(), capture_output=True, text=True, check=True
    )
    return result.stdout


def _in_thread(fn: Callable[[], object]) -> tuple[threading.Thread, dict[str, object]]:
    """Run ``fn()`` in a daemon thread (pyxs has no timeouts); result or exception in the dict."""
    out: dict[str, object] = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except BaseException as e:
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def test_daemon_starts_and_answers(xsd: Xenstored) -> None:
    assert xsd.running
    assert xsd.start_seconds is not None and xsd.start_seconds < 5.0
    assert xsd.pid_file.read_text().strip() == str(xsd.pid)
    # Root-only socket, as on a real dom0.
    mode = xsd.socket_path.stat().st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
    assert xsd.ping()
    with xsd.client() as c:
        assert c.read(b"/local/domain/0/name") == b"Domain-0"
        assert b"tool" in c.list(b"/")


def test_populated_guest_reads_back(xsd: Xenstored) -> None:
    vifs = [VifSpec(0, MAC0), VifSpec(1, MAC1, type="vif", state="2")]
    with xsd.client() as c:
        populate_guest(c, 3, vifs, [PassSpec("0000:03:00.0", 0x28)], name="web")
        assert c.read(b"/local/domain/3/name") == b"web"
        assert sorted(c.list(b"/local/domain/3/device/vif")) == [b"0", b"1"]
        front = b"/local/domain/3/device/vif/1"
        back = c.read(front + b"/backend")
        assert back == b"/local/domain/0/backend/vif/3/1"
        assert c.read(front + b"/mac") == MAC1.encode()
        assert c.read(back + b"/type") == b"vif"
        assert c.read(back + b"/state") == b"2"
        assert c.read(back + b"/frontend") == front
        assert c.read(b"/local/domain/0/backend/vif/3/0/type") == b"vif_ioemu"
        # libxl's permissions: guest owns its frontend, may read the backend and its mtu.
        assert c.get_perms(front) == [b"n3", b"r0"]
        assert c.get_perms(back) == [b"n0", b"r3"]
        assert c.get_perms(front + b"/mtu") == [b"n0", b"r3"]
        pci = b"/local/domain/0/backend/pci/3/0"
        assert c.read(pci + b"/num_devs") == b"1"
        assert c.read(pci + b"/dev-0") == b"0000:03:00.0"
        assert c.read(pci + b"/vdevfn-0") == b"28"


def test_populate_replaces_and_breaks_on_request(xsd: Xenstored) -> None:
    with xsd.client() as c:
        populate_guest(c, 2, [VifSpec(0, MAC0), VifSpec(1, MAC1)])
        bad = VifSpec(
            0,
            MAC0,
            omit=("mac", "back/type"),
            overrides={"front/state": "1", "back/ip": "10.0.0.7", "hotplug-status": ""},
        )
        populate_guest(c, 2, [bad])
        assert c.list(b"/local/domain/2/device/vif") == [b"0"]
        assert not c.exists(b"/local/domain/0/backend/vif/2/1")
        # (pyxs's read() raises ENOENT even with default=None)
        assert not c.exists(b"/local/domain/2/device/vif/0/mac")
        assert not c.exists(b"/local/domain/0/backend/vif/2/0/mac")
        assert not c.exists(b"/local/domain/0/backend/vif/2/0/type")
        assert c.read(b"/local/domain/2/device/vif/0/state") == b"1"
        assert c.read(b"/local/domain/0/backend/vif/2/0/state") == b"4"
        assert c.read(b"/local/domain/0/backend/vif/2/0/ip") == b"10.0.0.7"
        assert c.read(b"/local/domain/0/backend/vif/2/0/hotplug-status") == b""
        with pytest.raises(ValueError, match="no key"):
            populate_guest(c, 2, [VifSpec(0, MAC0, omit=("nonexistent",))])
        with pytest.raises(ValueError, match="write_raw"):
            populate_guest(c, 2, [VifSpec(0, MAC0 + "\n")])
    # Values pyxs refuses go through the raw protocol.
    xsd.write_raw("/local/domain/2/device/vif/0/mac", b"00:16:3e:\xff\n")
    assert xsd.request(XS_READ, b"/local/domain/2/device/vif/0/mac\0") == b"00:16:3e:\xff\n"


def test_xenstore_ls_matches_sample(xsd: Xenstored) -> None:
    with xsd.client() as c:
        populate_guest(c, 1, [VifSpec(0, MAC0), VifSpec(1, MAC1)])
    assert _xenstore_ls(xsd, "-f", "/local/domain") == SAMPLE.read_text()


# pyxs's router thread dies with an uncaught ConnectionError when the daemon goes away, and a
# failed connect leaks its socket (a ResourceWarning when collected).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_kill_refuses_new_and_fails_idle_clients(xsd: Xenstored) -> None:
    idle = xsd.client()
    try:
        assert xsd.kill() == -9
        assert not xsd.running and not xsd.ping(0.5)
        with pytest.raises(PyXSConnectionError):
            xsd.client()
        # The idle client's router thread saw the EOF; a new request fails instead of hanging.
        t, out = _in_thread(lambda: idle.read(b"/local/domain/0/name"))
        t.join(5.0)
        assert not t.is_alive(), "request on a dead daemon's client hung"
        assert isinstance(out.get("error"), Exception)
    finally:
        idle.close()
    assert xsd.stop() == -9


def test_pause_hangs_requests_until_resume(xsd: Xenstored) -> None:
    with xsd.client() as c:
        c.write(b"/data/x", b"1")
        xsd.pause()
        try:
            assert xsd.paused and xsd.running
            assert not xsd.ping(0.2)
            t, out = _in_thread(lambda: c.read(b"/data/x"))
            t.join(0.5)
            assert t.is_alive(), "pyxs request answered by a stopped daemon"
        finally:
            xsd.resume()
        t.join(5.0)
        assert out == {"value": b"1"}
        assert xsd.ping()


def test_stop_while_paused(stub: Path) -> None:
    daemon = Xenstored(stub=stub).start()
    workdir = daemon.workdir
    daemon.pause()
    assert daemon.stop(timeout=5.0) == -15
    assert not workdir.exists()


def test_two_daemons_side_by_side(stub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Xenstored(stub=stub) as a:
        # A stale XENSTORED_PATH aimed at the first daemon must not make the second bind there.
        monkeypatch.setenv("XENSTORED_PATH", str(a.socket_path))
        monkeypatch.setenv("XENSTORED_RUNDIR", str(a.workdir))
        with Xenstored(stub=stub) as b:
            assert a.socket_path != b.socket_path and a.pid != b.pid
            with a.client() as ca, b.client() as cb:
                populate_guest(ca, 1, [VifSpec(0, MAC0)])
                populate_guest(cb, 1, [VifSpec(0, MAC1)])
                assert ca.read(b"/local/domain/1/device/vif/0/mac") == MAC0.encode()
                assert cb.read(b"/local/domain/1/device/vif/0/mac") == MAC1.encode()
            b.kill()
            assert a.ping()


def test_shared_workdir_never_steals_a_live_socket(stub: Path, tmp_path: Path) -> None:
    with Xenstored(tmp_path, stub=stub) as first:
        with pytest.raises(XenstoredError, match="another xenstored"):
            Xenstored(tmp_path, stub=stub).start()
        assert first.ping()
        first.kill()
        # A dead daemon's socket is simply replaced.
        with Xenstored(tmp_path, stub=stub) as second:
            assert second.ping()
    assert tmp_path.exists()  # a caller's workdir is kept


def test_start_failure_reports_stderr(stub: Path, tmp_path: Path) -> None:
    fake = tmp_path / "xenstored"
    fake.write_text("#!/bin/sh\necho 'FATAL: no database' >&2\nexit 3\n")
    fake.chmod(0o755)
    daemon = Xenstored(binary=fake, stub=stub)
    with pytest.raises(XenstoredError, match=r"(?s)exited with 3.*FATAL: no database"):
        daemon.start()
    assert not daemon.running


def test_start_timeout(stub: Path, tmp_path: Path) -> None:
    fake = tmp_path / "xenstored"
    fake.write_text("#!/bin/sh\nexec sleep 30\n")
    fake.chmod(0o755)
    daemon = Xenstored(binary=fake, stub=stub, start_timeout=0.3)
    with pytest.raises(XenstoredError, match="did not answer"):
        daemon.start()
    assert not daemon.running


def test_build_stub_is_cached(stub: Path) -> None:
    before = stub.stat().st_mtime_ns
    assert build_stub(stub.parent) == stub
    assert stub.stat().st_mtime_ns == before


def test_find_xenstored_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BOOTSH_XENSTORED", str(tmp_path / "missing"))
    with pytest.raises(XenstoredUnavailable, match="BOOTSH_XENSTORED"):
        find_xenstored()
    monkeypatch.delenv("BOOTSH_XENSTORED")
    assert find_xenstored() in XENSTORED_CANDIDATES
