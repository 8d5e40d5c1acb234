"""A throw-away network lab: a server and a client network namespace joined by a veth pair.

The server namespace runs Debian's ``dnsmasq`` (DHCP, TFTP and DNS) and an HTTP server, both
serving one directory; commands run in the client namespace, whose only interface is the other
end of the veth. Nothing is ever configured outside the two namespaces: the veth is created
inside the server namespace with its peer placed straight into the client namespace, addresses
and routes exist only there, and neither namespace has any other interface, so no packet can
leave the lab. Typical use::

    with Lab(serve="images") as lab:
        lab.run_in_client(["busybox", "udhcpc", "-i", lab.client_if, "-q", "-n"], check=True)
        lab.run_in_client(["curl", "-fsS", f"{lab.http_url}boot.ipxe"], check=True)

and from a shell (``bootsh lab`` later)::

    python -m bootsh.lab --serve images -- bootsh --net af_packet,if=veth-cli

Teardown kills the lab's own processes (by pid), deletes both namespaces (which destroys the
veth) and removes the temporary files; it runs on leaving the ``with`` block for any reason, at
interpreter exit, and in the command-line mode on SIGINT, SIGTERM and SIGHUP. A lab whose owner
died without tearing down (``kill -9``, a crash, a power cut of the test run) is removed by
:func:`cleanup_stale`, which every new lab calls first: lab names carry the owner's pid and
process start time, so a dead owner is recognised even after its pid has been reused.

The HTTP server is a threaded ``http.server`` inside the owning process, listening on a socket
created in the server namespace by a short-lived thread that ``setns()``-ed into it (a socket
belongs to the namespace it was created in, whichever thread uses it later). Compared with a
child process started through ``ip netns exec`` there is no readiness race (the socket listens
before :meth:`Lab.start` returns), no third process to track, and nothing can outlive the owner.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import ctypes
import fcntl
import http.server
import ipaddress
import os
import re
import secrets
import shutil
import signal
import socket
import socketserver
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, TypeVar

from bootsh.errors import BootshError
from bootsh.nics.nic import normalise_mac

__all__ = [
    "CLIENT_IF",
    "DEFAULT_DOMAIN",
    "DEFAULT_SUBNET",
    "NAME_PREFIX",
    "SERVER_IF",
    "Lab",
    "LabError",
    "LabUnavailable",
    "add_arguments",
    "cleanup_stale",
    "in_netns",
    "main",
    "netns_pids",
    "run",
    "stale_lock",
]

#: Every namespace, temporary directory and /etc/netns entry of a lab starts with this.
NAME_PREFIX = "bootsh-lab-"
#: Interface names inside the namespaces (they never exist in the initial namespace).
SERVER_IF = "veth-srv"
CLIENT_IF = "veth-cli"
#: A private /24 that only ever exists inside the lab's namespaces.
DEFAULT_SUBNET = "10.77.0.0/24"
#: RFC 6761 reserves .test: the lab's DNS answers for this domain and refuses everything else.
DEFAULT_DOMAIN = "bootsh.test"
#: What iPXE-tagged clients get as boot file (formatted with the lab's attributes).
DEFAULT_IPXE_BOOTFILE = "http://{server_ip}/boot.ipxe"

_NETNS_DIR = Path("/run/netns")
_ETC_NETNS = Path("/etc/netns")
_LAB_RE = re.compile(
    rf"^{re.escape(NAME_PREFIX)}(\d+)-(\d+)-([0-9a-f]{{8}})(?:-(?:srv|cli|h\d+))?$"
)
_CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS = 0x8913
_IFF_RUNNING = 0x40
_SERVER_IFINDEX = 10
_CLIENT_IFINDEX = 20
_TOOLS = ("ip", "dnsmasq", "ethtool")

_T = TypeVar("_T")


class LabError(BootshError):
    """The lab could not be set up or torn down; the message says which step and why."""


class LabUnavailable(LabError):
    """A tool or a privilege the lab needs is missing (tests skip on this)."""


# ---------------------------------------------------------------------------------------------
# Names and owners


@dataclass(frozen=True)
class _LabId:
    pid: int
    start: int
    token: str

    @property
    def name(self) -> str:
        return f"{NAME_PREFIX}{self.pid}-{self.start}-{self.token}"

    @classmethod
    def parse(cls, name: str) -> _LabId | None:
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


def _new_id() -> _LabId:
    pid = os.getpid()
    start = _proc_start_time(pid)
    assert start is not None
    return _LabId(pid, start, secrets.token_hex(4))


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
            fd = os.open(_NETNS_DIR / name, os.O_RDONLY | os.O_CLOEXEC)
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


def _netns_names() -> list[str]:
    try:
        return sorted(os.listdir(_NETNS_DIR))
    except FileNotFoundError:
        return []


def netns_pids(name: str) -> list[int]:
    """Pids of the processes whose network namespace is ``name`` (what ``ip netns pids`` does)."""
    try:
        st = os.stat(_NETNS_DIR / name)
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


def _kill_netns_processes(names: Sequence[str], timeout: float) -> list[int]:
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


def _ip(*args: str, timeout: float = 10.0) -> None:
    try:
        proc = subprocess.run(
            ["ip", *args], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"ip {' '.join(args)}: no answer within {timeout:g} s") from exc
    if proc.returncode != 0:
        raise LabError(f"ip {' '.join(args)}: {proc.stderr.strip() or proc.returncode}")


def _delete_netns(name: str) -> None:
    try:
        _ip("netns", "delete", name)
    except LabError:
        if (_NETNS_DIR / name).exists():  # not deleted meanwhile by a concurrent cleanup
            raise


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
        _NETNS_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
        fd = os.open(_NETNS_DIR, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise LabError(f"{_NETNS_DIR} stayed locked for {timeout:g} s") from None
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
    for name in _netns_names():
        lab_id = _LabId.parse(name)
        if lab_id is not None and not lab_id.owner_alive():
            stale.add(lab_id.name)
    dead_ns = [n for n in _netns_names() if (i := _LabId.parse(n)) and i.name in stale]
    _kill_netns_processes(dead_ns, timeout)
    for name in dead_ns:
        _delete_netns(name)
    for parent in (Path(tempfile.gettempdir()), _ETC_NETNS):
        with contextlib.suppress(FileNotFoundError):
            for path in parent.iterdir():
                lab_id = _LabId.parse(path.name)
                if lab_id is not None and not lab_id.owner_alive():
                    stale.add(lab_id.name)
                    shutil.rmtree(path, ignore_errors=True)
    return sorted(stale)


# ---------------------------------------------------------------------------------------------
# HTTP


class _HTTPHandler(http.server.SimpleHTTPRequestHandler):
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        self.server.log(f"{self.address_string()} {format % args}")


class _HTTPServer(http.server.ThreadingHTTPServer):
    """http.server's threaded server, logging to a file and able to drop open connections."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], directory: Path, log_path: Path) -> None:
        self._log_lock = threading.Lock()
        self._log_path = log_path
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        handler = partial(_HTTPHandler, directory=str(directory))
        super().__init__(address, handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would look up the server's name (socket.getfqdn): a PTR query
        # through the host's resolver, possibly over a Unix socket that crosses the namespace.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def log(self, line: str) -> None:
        with self._log_lock, self._log_path.open("a") as f:
            f.write(f"{time.strftime('%H:%M:%S')} {line}\n")

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def stop(self, serving: bool) -> None:
        """Stop accepting, cut the connections still open and close the listening socket."""
        if serving:
            self.shutdown()  # waits for serve_forever to return: only if it runs
        with self._open_lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self.server_close()


# ---------------------------------------------------------------------------------------------
# The lab


class Lab:
    """A server and a client namespace joined by a veth pair; see the module docstring.

    Names and addresses are known from construction on; :meth:`start` (or ``with``) builds the
    lab, :meth:`close` tears it down and may be called any number of times.
    """

    def __init__(
        self,
        serve: str | os.PathLike[str] | None = None,
        *,
        subnet: str = DEFAULT_SUBNET,
        dhcp: bool = True,
        tftp: bool = True,
        dns: bool = True,
        http: bool = True,
        http_port: int = 80,
        domain: str = DEFAULT_DOMAIN,
        ipxe_bootfile: str | None = DEFAULT_IPXE_BOOTFILE,
        client_mac: str | None = None,
        client_ipv6: bool = True,
        dnsmasq_args: Sequence[str] = (),
        timeout: float = 10.0,
        command_timeout: float | None = 120.0,
    ) -> None:
        self.id = _new_id()
        self.name = self.id.name
        self.server_ns = f"{self.name}-srv"
        self.client_ns = f"{self.name}-cli"
        self.server_if = SERVER_IF
        self.client_if = CLIENT_IF
        self.subnet = ipaddress.IPv4Network(subnet)
        if self.subnet.num_addresses < 8:
            raise LabError(f"subnet {subnet} is too small for a lab (at least a /29)")
        size = self.subnet.num_addresses
        self.server_ip = str(self.subnet[1])
        self.dhcp_range = (
            str(self.subnet[min(100, size // 2)]),
            str(self.subnet[min(199, size - 2)]),
        )
        self.domain = domain
        self.server_name = f"server.{domain}"
        self.dhcp, self.tftp, self.dns, self.http = dhcp, tftp, dns, http
        self.http_port = http_port
        port = "" if http_port == 80 else f":{http_port}"
        self.http_url = f"http://{self.server_ip}{port}/"
        self.ipxe_bootfile = (
            ipxe_bootfile.format(server_ip=self.server_ip, http_url=self.http_url, domain=domain)
            if ipxe_bootfile
            else None
        )
        self.client_mac = client_mac
        self.client_ipv6 = client_ipv6
        self.extra_dnsmasq_args = tuple(dnsmasq_args)
        self.timeout = timeout
        self.command_timeout = command_timeout
        self.tmpdir = Path(tempfile.gettempdir()) / self.name
        self.serve_dir = Path(serve).resolve() if serve is not None else self.tmpdir / "serve"
        #: Seconds taken by the last start ("up") and close ("down").
        self.timings: dict[str, float] = {}
        self._dnsmasq: subprocess.Popen[bytes] | None = None
        self._httpd: _HTTPServer | None = None
        self._http_thread: threading.Thread | None = None
        self._started = False
        self._closed = False
        #: Namespaces of the extra hosts (``add_host``) and the dnsmasqs started there.
        self.hosts: list[str] = []
        self._host_dnsmasqs: list[subprocess.Popen[bytes]] = []

    # -- context manager

    def __enter__(self) -> Lab:
        return self if self._started and not self._closed else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- files

    @property
    def dnsmasq_log_path(self) -> Path:
        return self.tmpdir / "dnsmasq.log"

    @property
    def leases_path(self) -> Path:
        return self.tmpdir / "dnsmasq.leases"

    @property
    def http_log_path(self) -> Path:
        return self.tmpdir / "http.log"

    def dnsmasq_log(self) -> str:
        """dnsmasq's log so far (DHCP transactions with their tags, TFTP, DNS queries)."""
        return _read(self.dnsmasq_log_path)

    def leases(self) -> str:
        """dnsmasq's lease file as it is now."""
        return _read(self.leases_path)

    def http_log(self) -> str:
        """One line per HTTP request served."""
        return _read(self.http_log_path)

    @property
    def dnsmasq_pid(self) -> int | None:
        return self._dnsmasq.pid if self._dnsmasq else None

    # -- running things

    def client_argv(self, argv: Sequence[str]) -> list[str]:
        """``argv`` prefixed so that it runs in the client namespace (for Popen and friends)."""
        return ["ip", "netns", "exec", self.client_ns, *argv]

    def server_argv(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.server_ns, *argv]

    def run_in_client(self, argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[Any]:
        """``subprocess.run`` of ``argv`` in the client namespace (timeout: command_timeout)."""
        self._require_running()
        kwargs.setdefault("timeout", self.command_timeout)
        return subprocess.run(self.client_argv(argv), **kwargs)

    def run_in_server(self, argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[Any]:
        self._require_running()
        kwargs.setdefault("timeout", self.command_timeout)
        return subprocess.run(self.server_argv(argv), **kwargs)

    def env(self) -> dict[str, str]:
        """The lab described as environment variables (given to the command-line mode's command)."""
        return {
            "BOOTSH_LAB_SERVER_IP": self.server_ip,
            "BOOTSH_LAB_SUBNET": str(self.subnet),
            "BOOTSH_LAB_CLIENT_IF": self.client_if,
            "BOOTSH_LAB_CLIENT_NS": self.client_ns,
            "BOOTSH_LAB_SERVER_NS": self.server_ns,
            "BOOTSH_LAB_HTTP_URL": self.http_url,
            "BOOTSH_LAB_DOMAIN": self.domain,
            "BOOTSH_LAB_SERVE": str(self.serve_dir),
        }

    def describe(self) -> str:
        services = []
        if self.dhcp:
            services.append(f"DHCP {self.dhcp_range[0]}-{self.dhcp_range[1]}")
        if self.tftp:
            services.append("TFTP")
        if self.dns:
            services.append(f"DNS {self.server_name}")
        if self.http:
            services.append(f"HTTP {self.http_url}")
        return (
            f"server {self.server_ip}/{self.subnet.prefixlen} on {self.server_if} in netns "
            f"{self.server_ns} ({', '.join(services) or 'no services'}) serving {self.serve_dir}; "
            f"client interface {self.client_if} in netns {self.client_ns}"
        )

    # -- life cycle

    def start(self) -> Lab:
        if self._started:
            raise LabError("a lab starts only once")
        self._started = True
        t0 = time.monotonic()
        _check_tools()
        cleanup_stale(timeout=self.timeout)
        atexit.register(self.close)
        try:
            self.tmpdir.mkdir(mode=0o700)
            if self.serve_dir == self.tmpdir / "serve":
                self.serve_dir.mkdir()
            if not self.serve_dir.is_dir():
                raise LabError(f"{self.serve_dir}: no such directory to serve")
            self._make_namespaces()
            if self.dhcp or self.tftp or self.dns:
                self._start_dnsmasq()
            if self.http:
                self._start_http()
        except BaseException:
            self.close()
            raise
        self.timings["up"] = time.monotonic() - t0
        return self

    def close(self) -> None:
        """Tear down everything this lab made; safe to call again and after a failed start."""
        if self._closed or not self._started:
            return
        self._closed = True
        atexit.unregister(self.close)
        t0 = time.monotonic()
        problems: list[str] = []
        if self._httpd is not None:
            try:
                thread = self._http_thread
                self._httpd.stop(serving=thread is not None and thread.is_alive())
                if thread is not None:
                    thread.join(self.timeout)
            except Exception as exc:
                problems.append(f"HTTP server: {exc}")
        if self._dnsmasq is not None:
            try:
                _stop(self._dnsmasq, self.timeout)
            except Exception as exc:
                problems.append(f"dnsmasq: {exc}")
        for proc in self._host_dnsmasqs:
            try:
                _stop(proc, self.timeout)
            except Exception as exc:
                problems.append(f"dnsmasq of an extra host: {exc}")
        lab_namespaces = (self.client_ns, self.server_ns, *self.hosts)
        namespaces = [n for n in lab_namespaces if n in _netns_names()]
        try:
            _kill_netns_processes(namespaces, self.timeout)
        except LabError as exc:
            problems.append(str(exc))
        for name in namespaces:
            try:
                _delete_netns(name)
            except LabError as exc:
                problems.append(str(exc))
        shutil.rmtree(_ETC_NETNS / self.client_ns, ignore_errors=True)
        shutil.rmtree(self.tmpdir, ignore_errors=True)
        self.timings["down"] = time.monotonic() - t0
        if problems:
            raise LabError("lab teardown incomplete: " + "; ".join(problems))

    # -- extra hosts on the lab's link (a second DHCP server, a ProxyDHCP server, a responder)

    def add_host(self, ip: str) -> str:
        """Another host on the lab's link, in a namespace of its own; returns its name.

        Its interface ``eth0`` is a macvlan (bridge mode) of the server's veth, so the client
        reaches it on the same link (broadcasts included) without changing the server's
        side; it has address ``ip`` in the lab subnet, no IPv6 and tx checksum offload off
        (a raw-socket client sees finished checksums). Torn down with the lab.
        """
        self._require_running()
        index = len(self.hosts)
        ns = f"{self.name}-h{index}"
        link = f"mvh{index}"
        _ip("netns", "add", ns)
        self.hosts.append(ns)
        in_netns(ns, partial(_quiet, ipv6=False), timeout=self.timeout)
        _ip("-n", self.server_ns, "link", "add", link, "link", self.server_if,
            "type", "macvlan", "mode", "bridge")  # fmt: skip
        _ip("-n", self.server_ns, "link", "set", link, "netns", ns)
        _ip("-n", ns, "link", "set", link, "name", "eth0")
        _ip("-n", ns, "address", "add", f"{ip}/{self.subnet.prefixlen}", "dev", "eth0")
        _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", ns, "link", "set", "eth0", "up")
        proc = subprocess.run(
            ["ip", "netns", "exec", ns, "ethtool", "-K", "eth0", "tx", "off"],
            capture_output=True,
            text=True,
            timeout=self.timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise LabError(f"ethtool -K eth0 tx off in {ns}: {proc.stderr.strip()}")
        in_netns(ns, partial(_wait_running, "eth0", self.timeout), timeout=self.timeout + 1)
        return ns

    def host_argv(self, ns: str, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", ns, *argv]

    def start_host_dnsmasq(
        self, ns: str, args: Sequence[str], *, ports: Sequence[int] = (67,), dns: bool = False
    ) -> Path:
        """Run a dnsmasq on the extra host ``ns`` with ``args`` (its whole DHCP setup: no
        defaults besides files, interface and no DNS unless ``dns``); returns its log file.
        It listens (UDP ``ports``) when this returns."""
        self._require_running()
        tag = ns.rsplit("-", 1)[1]
        log = self.tmpdir / f"dnsmasq-{tag}.log"
        argv = [
            "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
            "--no-hosts", "--user=root", f"--port={53 if dns else 0}", "--bind-interfaces",
            "--interface=eth0", f"--pid-file={self.tmpdir / f'dnsmasq-{tag}.pid'}",
            f"--dhcp-leasefile={self.tmpdir / f'dnsmasq-{tag}.leases'}",
            f"--log-facility={log}", "--log-dhcp", *args,
        ]  # fmt: skip
        stderr_path = self.tmpdir / f"dnsmasq-{tag}.stderr"
        with stderr_path.open("wb") as stderr:
            proc = subprocess.Popen(
                self.host_argv(ns, argv), stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr
            )
        self._host_dnsmasqs.append(proc)
        _wait_listening(
            proc, ns, set(ports), self.timeout, f"dnsmasq on {ns}", stderr_path, lambda: _read(log)
        )
        return log

    def _require_running(self) -> None:
        if not self._started or self._closed:
            raise LabError("the lab is not running")

    def _make_namespaces(self) -> None:
        _ip("netns", "add", self.server_ns)
        _ip("netns", "add", self.client_ns)
        # Before the veth exists: no IPv6 on the server side (it then sends nothing the client
        # did not ask for: no router solicitations, no MLD) and no forwarding, ever.
        in_netns(self.server_ns, partial(_quiet, ipv6=False), timeout=self.timeout)
        # The client's kernel: IPv6 as on any Linux host unless asked otherwise (without it the
        # kernel sends nothing on veth-cli, so a raw-socket client sees only its own traffic).
        in_netns(self.client_ns, partial(_quiet, ipv6=self.client_ipv6), timeout=self.timeout)
        # Created inside the server namespace, peer moved straight into the client namespace:
        # neither end is ever visible in the initial namespace.
        # Distinct ifindexes: with equal ones (both would be 2 in fresh namespaces) the kernel
        # does not treat a veth's carrier change as urgent and the link only comes up after
        # linkwatch's one-second batching delay.
        peer = ["peer", "name", self.client_if, "index", str(_CLIENT_IFINDEX)]
        if self.client_mac:
            peer += ["address", self.client_mac]
        _ip(
            "-n", self.server_ns, "link", "add", self.server_if,
            "index", str(_SERVER_IFINDEX), "type", "veth",
            *peer, "netns", self.client_ns,
        )  # fmt: skip
        prefix = f"{self.server_ip}/{self.subnet.prefixlen}"
        _ip("-n", self.server_ns, "address", "add", prefix, "dev", self.server_if)
        _ip("-n", self.server_ns, "link", "set", "lo", "up")
        _ip("-n", self.server_ns, "link", "set", self.server_if, "up")
        _ip("-n", self.client_ns, "link", "set", "lo", "up")
        _ip("-n", self.client_ns, "link", "set", self.client_if, "up")
        # Raw-socket clients (scapy in bootsh) see the server's UDP packets as they are on the
        # wire: with tx checksum offload the checksum would be left unfinished ("partial").
        # The veth's carrier comes up asynchronously: wait for it, so that whatever runs next
        # (bootsh reading the link state, a DHCP client) finds both ends running.
        for ns, ifname in ((self.server_ns, self.server_if), (self.client_ns, self.client_if)):
            in_netns(ns, partial(_wait_running, ifname, self.timeout), timeout=self.timeout + 1)
        proc = subprocess.run(
            self.server_argv(["ethtool", "-K", self.server_if, "tx", "off"]),
            capture_output=True,
            text=True,
            timeout=self.timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise LabError(f"ethtool -K {self.server_if} tx off: {proc.stderr.strip()}")
        if self.dns:
            # ip netns exec bind-mounts /etc/netns/NS/* over /etc: the client resolves through
            # the lab's DNS, never through the host's resolvers.
            etc = _ETC_NETNS / self.client_ns
            etc.mkdir(parents=True, exist_ok=True)
            (etc / "resolv.conf").write_text(f"nameserver {self.server_ip}\nsearch {self.domain}\n")
            # Name lookups only from files and that DNS: no NSS module (resolve, mdns) that
            # would ask a host daemon over a Unix socket, which crosses network namespaces.
            (etc / "nsswitch.conf").write_text(_nsswitch_conf())

    def _dnsmasq_argv(self) -> list[str]:
        argv = [
            "dnsmasq",
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            # Root inside a throw-away namespace: it can read a served directory that only
            # root may enter (pytest's tmp_path is 0700) and write its lease and log files.
            "--user=root",
            f"--pid-file={self.tmpdir / 'dnsmasq.pid'}",
            f"--dhcp-leasefile={self.leases_path}",
            f"--log-facility={self.dnsmasq_log_path}",
            f"--interface={self.server_if}",
            "--bind-interfaces",
        ]
        if self.dhcp:
            mask = str(self.subnet.netmask)
            argv += [
                f"--dhcp-range={self.dhcp_range[0]},{self.dhcp_range[1]},{mask},1h",
                "--dhcp-authoritative",
                "--no-ping",  # else dnsmasq pings each new address and waits 3 s for no answer
                "--log-dhcp",
                # iPXE clients: they send option 175 (encapsulated iPXE options) and user-class
                # "iPXE"; tagged clients get option 175 back with sub-option 176 (no-pxedhcp=1:
                # do not wait for ProxyDHCP) and their own boot file.
                "--dhcp-match=set:ipxe,175",
                "--dhcp-userclass=set:ipxe,iPXE",
                "--dhcp-option=tag:ipxe,encap:175,176,1",
            ]
            if self.ipxe_bootfile:
                argv.append(f"--dhcp-boot=tag:ipxe,{self.ipxe_bootfile},,{self.server_ip}")
        if self.tftp:
            argv += ["--enable-tftp", f"--tftp-root={self.serve_dir}"]
        if self.dns:
            argv += [
                f"--domain={self.domain}",
                f"--local=/{self.domain}/",
                f"--host-record={self.server_name},{self.server_ip}",
                "--log-queries",
            ]
        else:
            argv.append("--port=0")
        argv += self.extra_dnsmasq_args
        return argv

    def _start_dnsmasq(self) -> None:
        stderr_path = self.tmpdir / "dnsmasq.stderr"
        with stderr_path.open("wb") as stderr:
            self._dnsmasq = proc = subprocess.Popen(
                self.server_argv(self._dnsmasq_argv()),
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
            )
        want = {67} if self.dhcp else set()
        want |= {69} if self.tftp else set()
        want |= {53} if self.dns else set()
        _wait_listening(
            proc, self.server_ns, want, self.timeout, "dnsmasq", stderr_path, self.dnsmasq_log
        )

    def _start_http(self) -> None:
        address = (self.server_ip, self.http_port)
        httpd = in_netns(
            self.server_ns,
            lambda: _HTTPServer(address, self.serve_dir, self.http_log_path),
            timeout=self.timeout,
        )
        self._httpd = httpd
        self._http_thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="lab-http", daemon=True
        )
        self._http_thread.start()

        def probe() -> None:
            with socket.create_connection(address, timeout=self.timeout):
                pass

        try:
            in_netns(self.server_ns, probe, timeout=self.timeout)
        except OSError as exc:
            raise LabError(
                f"HTTP server on {address[0]}:{address[1]} not answering: {exc}"
            ) from exc


def _nsswitch_conf() -> str:
    try:
        lines = Path("/etc/nsswitch.conf").read_text().splitlines()
    except OSError:
        lines = ["passwd: files", "group: files", "shadow: files"]
    kept = [line for line in lines if not re.match(r"\s*hosts\s*:", line)]
    return "\n".join([*kept, "hosts: files dns", ""])


def _quiet(ipv6: bool) -> None:
    """No forwarding, and IPv6 off unless wanted, in the calling thread's namespace."""
    off = "0" if ipv6 else "1"
    for path, value in (
        ("/proc/sys/net/ipv6/conf/all/disable_ipv6", off),
        ("/proc/sys/net/ipv6/conf/default/disable_ipv6", off),
        ("/proc/sys/net/ipv4/ip_forward", "0"),
    ):
        with contextlib.suppress(FileNotFoundError), open(path, "w") as f:
            f.write(value)


def _wait_running(ifname: str, timeout: float) -> None:
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


def _wait_listening(
    proc: subprocess.Popen[bytes],
    netns: str,
    ports: set[int],
    timeout: float,
    who: str,
    stderr_path: Path,
    log: Callable[[], str],
) -> None:
    """Wait until ``proc`` (started by ``ip netns exec``) runs in ``netns`` with the UDP
    ``ports`` bound; ``LabError`` (with its stderr and ``log()``) when it exits or times out."""
    ns = os.stat(_NETNS_DIR / netns)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise LabError(
                f"{who} exited with status {proc.returncode}: "
                f"{_read(stderr_path).strip()} {log().strip()}".strip()
            )
        # /proc/PID/net shows the namespace of PID: once the process (not yet `ip netns exec`)
        # runs there, its UDP sockets are listed as soon as they are bound.
        with contextlib.suppress(OSError):
            pid_ns = os.stat(f"/proc/{proc.pid}/ns/net")
            if (pid_ns.st_dev, pid_ns.st_ino) == (ns.st_dev, ns.st_ino) and ports <= _udp_ports(
                Path(f"/proc/{proc.pid}/net/udp")
            ):
                return
        if time.monotonic() > deadline:
            raise LabError(
                f"{who} not listening on UDP {sorted(ports)} after {timeout:g} s: {log().strip()}"
            )
        time.sleep(0.005)


def _udp_ports(path: Path) -> set[int]:
    ports = set()
    for line in path.read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[3] == "07":  # TCP_CLOSE: an unconnected UDP socket
            ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _stop(proc: subprocess.Popen[bytes], timeout: float) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


#: Capability bits (linux/capability.h) the lab needs: namespaces and mounts, links.
_CAP_NET_ADMIN, _CAP_SYS_ADMIN = 12, 21


def _effective_capabilities() -> int:
    """The process's effective capability set (``CapEff`` of /proc/self/status); all bits
    when it cannot be read (the tools will say what fails)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    except (OSError, ValueError, IndexError):
        pass
    return ~0


def _check_tools() -> None:
    # Root is not enough (a container, setpriv): checked here so that the error names the
    # capabilities instead of being ip(8)'s mount failure halfway through the set-up.
    needed = (1 << _CAP_SYS_ADMIN) | (1 << _CAP_NET_ADMIN)
    if os.geteuid() != 0 or _effective_capabilities() & needed != needed:
        raise LabUnavailable(
            "the lab needs CAP_SYS_ADMIN (namespaces) and CAP_NET_ADMIN (links): run it as root"
        )
    missing = [t for t in _TOOLS if shutil.which(t) is None and not Path(f"/usr/sbin/{t}").exists()]
    if missing:
        raise LabUnavailable(f"missing {', '.join(missing)}: run .ci/install-net.sh")


# ---------------------------------------------------------------------------------------------
# Command line


class _Stop(BaseException):
    """Raised by the signal handler to end the lab when no command is running."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _Signals:
    """SIGINT, SIGTERM and SIGHUP for the command-line mode.

    With a command running, the command decides: SIGTERM and SIGHUP are passed on (SIGKILL
    follows after a grace period), and so is SIGINT unless it came from the terminal, which
    has sent it to the command already (an interactive bootsh uses Ctrl-C to cancel a command,
    not to end the lab). Without a command, the first signal ends the lab; later ones are
    ignored so that the teardown runs to its end.
    """

    def __init__(self) -> None:
        self.child: subprocess.Popen[bytes] | None = None
        self.received: int | None = None
        self.kill_at: float | None = None
        self.stopping = False
        self._saved: dict[int, Any] = {}

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self._saved[signum] = signal.signal(signum, self._handle)

    def restore(self) -> None:
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping:
            return
        child = self.child
        if child is not None and child.poll() is None:
            self.received = signum
            if signum == signal.SIGINT and _terminal_in_foreground():
                return
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signum)
            if signum != signal.SIGINT and self.kill_at is None:
                self.kill_at = time.monotonic() + 5.0
            return
        self.stopping = True
        raise _Stop(signum)


def _terminal_in_foreground() -> bool:
    try:
        return os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp()
    except OSError:
        return False


def _subnet_option(text: str) -> str:
    """``--subnet``: checked here, so that a typo is argparse's one line, not a traceback."""
    try:
        network = ipaddress.IPv4Network(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IPv4 network") from None
    if network.num_addresses < 8:
        raise argparse.ArgumentTypeError(f"{network} is too small for a lab (at least a /29)")
    return text


def _port_option(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"{text} is not a port (1-65535)")
    return port


def _mac_option(text: str) -> str:
    """``--client-mac``: a MAC as ``--net``'s (``bootsh.nics.nic``); the kernel refuses a
    multicast (or broadcast) veth address."""
    mac = normalise_mac(text)
    if mac is None or int(mac[:2], 16) & 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a unicast Ethernet MAC")
    return mac


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The lab's options, for this module's main and for ``bootsh lab``."""
    parser.add_argument(
        "--serve", metavar="DIR", help="directory served over TFTP and HTTP (default: empty)"
    )
    parser.add_argument(
        "--subnet", type=_subnet_option, default=DEFAULT_SUBNET, help="lab subnet (%(default)s)"
    )
    parser.add_argument("--domain", default=DEFAULT_DOMAIN, help="DNS domain (%(default)s)")
    parser.add_argument("--no-dns", action="store_true", help="no DNS server (dnsmasq --port=0)")
    parser.add_argument("--no-tftp", action="store_true", help="no TFTP server")
    parser.add_argument("--no-http", action="store_true", help="no HTTP server")
    parser.add_argument(
        "--http-port", type=_port_option, default=80, help="HTTP port (%(default)s)"
    )
    parser.add_argument(
        "--ipxe-bootfile",
        default=DEFAULT_IPXE_BOOTFILE,
        metavar="URL",
        help="boot file for iPXE clients, '' for none (%(default)s)",
    )
    parser.add_argument(
        "--client-mac", type=_mac_option, metavar="MAC", help="MAC address of the client veth"
    )
    parser.add_argument(
        "--no-client-ipv6",
        action="store_true",
        help="IPv6 off in the client namespace: its kernel sends nothing on the veth",
    )
    parser.add_argument(
        "--dnsmasq-arg", action="append", default=[], metavar="ARG", help="extra dnsmasq option"
    )
    parser.add_argument(
        "--cleanup-stale",
        action="store_true",
        help="remove labs left by dead owners and exit (when no command is given)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    parser.add_argument(
        "command",
        nargs=argparse.REMAINDER,
        help="command run in the client namespace (after --); without one, run until Ctrl-C",
    )


def run(ns: argparse.Namespace) -> int:
    """Run the lab as ``add_arguments`` parsed it; return the process exit status."""
    command = list(ns.command)
    if command[:1] == ["--"]:
        command = command[1:]

    def say(text: str) -> None:
        if not ns.quiet:
            print(f"bootsh lab: {text}", file=sys.stderr, flush=True)

    if ns.cleanup_stale:
        removed = cleanup_stale()
        say(f"removed {len(removed)} stale lab(s){': ' if removed else ''}{' '.join(removed)}")
        if not command:
            return 0
    signals = _Signals()
    signals.install()
    lab = Lab(
        ns.serve,
        subnet=ns.subnet,
        domain=ns.domain,
        dns=not ns.no_dns,
        tftp=not ns.no_tftp,
        http=not ns.no_http,
        http_port=ns.http_port,
        ipxe_bootfile=ns.ipxe_bootfile or None,
        client_mac=ns.client_mac,
        client_ipv6=not ns.no_client_ipv6,
        dnsmasq_args=ns.dnsmasq_arg,
    )
    status = 0
    try:
        lab.start()
        say(f"up in {lab.timings['up']:.2f} s: {lab.describe()}")
        if not command:
            say(f"enter the client with: ip netns exec {lab.client_ns} $SHELL; Ctrl-C ends the lab")
            while True:
                signal.pause()
        status = _run_command(lab, command, signals)
    except _Stop as stop:
        status = 0 if not command else 128 + stop.signum
    except LabError as exc:
        print(f"bootsh lab: {exc}", file=sys.stderr)
        status = 1
    finally:
        signals.stopping = True
        try:
            lab.close()
        except LabError as exc:
            print(f"bootsh lab: {exc}", file=sys.stderr)
            status = status or 1
        signals.restore()
    if "down" in lab.timings:
        say(f"down in {lab.timings['down']:.2f} s")
    return status


def _run_command(lab: Lab, command: Sequence[str], signals: _Signals) -> int:
    env = {**os.environ, **lab.env()}
    try:
        child = subprocess.Popen(lab.client_argv(command), env=env)
    except OSError as exc:
        raise LabError(f"cannot run {command[0]}: {exc}") from exc
    signals.child = child
    while True:
        try:
            returncode = child.wait(0.1)
            break
        except subprocess.TimeoutExpired:
            if signals.kill_at is not None and time.monotonic() > signals.kill_at:
                child.kill()
    signals.child = None
    if returncode < 0:
        return 128 - returncode
    return returncode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bootsh.lab",
        description="A throw-away network lab: DHCP, TFTP, DNS and HTTP from a server network "
        "namespace, a command in a client namespace joined to it by a veth pair.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
