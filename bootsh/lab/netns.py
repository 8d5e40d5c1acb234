"""Network namespaces for the lab: names and owners, ``ip``, :func:`in_netns`, the processes
living in a namespace, interface set-up inside one, and the removal of stale labs.

Lab names carry the owner's pid and process start time (``bootsh-lab-PID-START-TOKEN``), so
:func:`cleanup_stale`, which every new lab calls first, recognises a lab whose owner died
without tearing down (``kill -9``, a crash, a power cut of the test run) even after its pid has
been reused, and leaves the labs of living owners alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import re
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from bootsh.lab.errors import LabError
from bootsh.records import dataclass

#: Every namespace, temporary directory and /etc/netns entry of a lab starts with this.
NAME_PREFIX = "bootsh-lab-"

NETNS_DIR = Path("/run/netns")
ETC_NETNS = Path("/etc/netns")
_LAB_RE = re.compile(
    rf"^{re.escape(NAME_PREFIX)}(\d+)-(\d+)-([0-9a-f]{{8}})(?:-(?:srv|cli|h\d+))?$"
)
_CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS = 0x8913
_IFF_RUNNING = 0x40

_T = TypeVar("_T")


# ---------------------------------------------------------------------------------------------
# Names and owners


@dataclass(frozen=True)
class LabId:
    pid: int
    start: int
    token: str

    @property
    def name(self) -> str:
        return f"{NAME_PREFIX}{self.pid}-{self.start}-{self.token}"

    @classmethod
    def parse(cls, name: str) -> LabId | None:
        m = _LAB_RE.match(name)
        return cls(int(m[1]), int(m[2]), m[3]) if m else None

    def owner_alive(self) -> bool:
        return _proc_start_time(self.pid) == self.start


def _proc_start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (clock ticks since boot), or None if there is no such pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[19])


def new_id() -> LabId:
    pid = os.getpid()
    start = _proc_start_time(pid)
    assert start is not None
    return LabId(pid, start, secrets.token_hex(4))


# ---------------------------------------------------------------------------------------------
# Namespace helpers


_libc = ctypes.CDLL(None, use_errno=True)


def in_netns(name: str, fn: Callable[[], _T], *, timeout: float = 10.0) -> _T:
    """Call ``fn`` in a fresh thread that has joined network namespace ``name``; return its value.

    Only that thread changes namespace (setns of a network namespace is per thread), and it ends
    with the call, so the caller's namespace is never touched. Sockets created by ``fn`` stay in
    ``name`` wherever they are used afterwards.
    """
    outcome: list[Any] = []

    def target() -> None:
        try:
            fd = os.open(NETNS_DIR / name, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc.setns(fd, _CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns({name}): {os.strerror(err)}")
            finally:
                os.close(fd)
            outcome.append((True, fn()))
        except BaseException as exc:
            outcome.append((False, exc))

    thread = threading.Thread(target=target, name=f"netns:{name}", daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome:
        raise LabError(f"no answer within {timeout:g} s from a thread in netns {name}")
    ok, value = outcome[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


def netns_names() -> list[str]:
    try:
        return sorted(os.listdir(NETNS_DIR))
    except FileNotFoundError:
        return []


def netns_pids(name: str) -> list[int]:
    """Pids of the processes whose network namespace is ``name`` (what ``ip netns pids`` does)."""
    try:
        st = os.stat(NETNS_DIR / name)
    except FileNotFoundError:
        return []
    own = os.getpid()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == own:
            continue
        try:
            ns = os.stat(f"/proc/{entry}/ns/net")
        except OSError:  # gone, a zombie, or a kernel thread
            continue
        if (ns.st_dev, ns.st_ino) == (st.st_dev, st.st_ino):
            pids.append(int(entry))
    return pids


def kill_netns_processes(names: Sequence[str], timeout: float) -> list[int]:
    """SIGKILL every process living in the namespaces ``names``; wait until they are gone.

    Scanned again until none is left: a process may join a namespace after a scan (one being
    started through ``ip netns exec`` when the teardown begins).
    """
    killed: list[int] = []
    deadline = time.monotonic() + timeout
    while pids := [pid for name in names for pid in netns_pids(name)]:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                if pid not in killed:
                    killed.append(pid)
        if time.monotonic() > deadline:
            left = {n: netns_pids(n) for n in names}
            raise LabError(f"processes still running in the lab after SIGKILL: {left}")
        time.sleep(0.01)
    return killed


def run_ip(*args: str, timeout: float = 10.0) -> None:
    """``ip ARGS``; ``LabError`` with its stderr when it fails."""
    try:
        proc = subprocess.run(
            ["ip", *args], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"ip {' '.join(args)}: no answer within {timeout:g} s") from exc
    if proc.returncode != 0:
        raise LabError(f"ip {' '.join(args)}: {proc.stderr.strip() or proc.returncode}")


def delete_netns(name: str) -> None:
    try:
        run_ip("netns", "delete", name)
    except LabError:
        if (NETNS_DIR / name).exists():  # not deleted meanwhile by a concurrent cleanup
            raise


# ---------------------------------------------------------------------------------------------
# Inside a namespace


def quiet(ipv6: bool) -> None:
    """No forwarding, and IPv6 off unless wanted, in the calling thread's namespace; where
    IPv6 is on, no duplicate address detection (addresses are usable at once: no wait)."""
    off = "0" if ipv6 else "1"
    for path, value in (
        ("/proc/sys/net/ipv6/conf/all/disable_ipv6", off),
        ("/proc/sys/net/ipv6/conf/default/disable_ipv6", off),
        ("/proc/sys/net/ipv6/conf/all/accept_dad", "0"),
        ("/proc/sys/net/ipv6/conf/default/accept_dad", "0"),
        ("/proc/sys/net/ipv4/ip_forward", "0"),
    ):
        with contextlib.suppress(FileNotFoundError), open(path, "w") as f:
            f.write(value)


def wait_running(ifname: str, timeout: float) -> None:
    """Poll the interface's flags (in the calling thread's namespace) until IFF_RUNNING."""
    request = struct.pack("16sH14x", ifname.encode(), 0)
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        while True:
            flags = struct.unpack_from("H", fcntl.ioctl(sock, _SIOCGIFFLAGS, request), 16)[0]
            if flags & _IFF_RUNNING:
                return
            if time.monotonic() > deadline:
                raise LabError(f"{ifname}: no carrier after {timeout:g} s")
            time.sleep(0.002)


def tx_checksum_off(ns: str, ifname: str, timeout: float, where: str = "") -> None:
    """``ethtool -K IFNAME tx off`` in namespace ``ns``: raw-socket clients (bootsh's DHCP)
    then see UDP packets as they are on the wire, not with the checksum left unfinished
    ("partial") by tx checksum offload. ``where`` is added to the error after the command."""
    proc = subprocess.run(
        ["ip", "netns", "exec", ns, "ethtool", "-K", ifname, "tx", "off"],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise LabError(f"ethtool -K {ifname} tx off{where}: {proc.stderr.strip()}")


def nsswitch_conf() -> str:
    """The host's nsswitch.conf with hosts from files and DNS only (for /etc/netns/NS)."""
    try:
        lines = Path("/etc/nsswitch.conf").read_text().splitlines()
    except OSError:
        lines = ["passwd: files", "group: files", "shadow: files"]
    kept = [line for line in lines if not re.match(r"\s*hosts\s*:", line)]
    return "\n".join([*kept, "hosts: files dns", ""])


# ---------------------------------------------------------------------------------------------
# Stale labs


_lock_depth = 0
_lock_guard = threading.RLock()


@contextlib.contextmanager
def stale_lock(timeout: float = 10.0) -> Iterator[None]:
    """Hold off :func:`cleanup_stale` in every process (re-entrant within this one).

    An exclusive flock on /run/netns, the directory ``ip netns`` keeps its namespaces in (no
    lock file is left behind). Concurrent cleanups thus never race, and a test can look at a
    stale lab before anything removes it.
    """
    global _lock_depth
    with _lock_guard:
        if _lock_depth:
            _lock_depth += 1
            try:
                yield
            finally:
                _lock_depth -= 1
            return
        NETNS_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
        fd = os.open(NETNS_DIR, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise LabError(f"{NETNS_DIR} stayed locked for {timeout:g} s") from None
                    time.sleep(0.01)
            _lock_depth = 1
            try:
                yield
            finally:
                _lock_depth = 0
        finally:
            os.close(fd)


def cleanup_stale(*, timeout: float = 10.0) -> list[str]:
    """Remove what labs with a dead owner left behind; return the names of those labs.

    For every namespace named ``bootsh-lab-PID-START-TOKEN-{srv,cli}`` whose owner (pid PID,
    started at START) is gone: SIGKILL the processes still in it (a dnsmasq, a command run in
    the client), delete it (which destroys its veth), then remove the lab's temporary directory
    and /etc/netns entry. Labs of living owners, including other processes', are left alone.
    """
    with stale_lock(timeout):
        return _cleanup_stale(timeout)


def _cleanup_stale(timeout: float) -> list[str]:
    stale: set[str] = set()
    for name in netns_names():
        lab_id = LabId.parse(name)
        if lab_id is not None and not lab_id.owner_alive():
            stale.add(lab_id.name)
    dead_ns = [n for n in netns_names() if (i := LabId.parse(n)) and i.name in stale]
    kill_netns_processes(dead_ns, timeout)
    for name in dead_ns:
        delete_netns(name)
    for parent in (Path(tempfile.gettempdir()), ETC_NETNS):
        with contextlib.suppress(FileNotFoundError):
            for path in parent.iterdir():
                lab_id = LabId.parse(path.name)
                if lab_id is not None and not lab_id.owner_alive():
                    stale.add(lab_id.name)
                    shutil.rmtree(path, ignore_errors=True)
    return sorted(stale)
