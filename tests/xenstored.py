"""Run the real C xenstored of Xen 4.17 without a hypervisor, for tests and benchmarks.

The daemon comes from Debian's xen-utils-4.17 (``.ci/install-xen.sh`` unpacks it into
/opt/bootsh-xen). Its Xen library calls are replaced by ``tests/xenstub/xenstub.c`` through
LD_PRELOAD; dom0 is introduced from two plain files standing in for /proc/xen/xsd_port and
/proc/xen/xsd_kva, which is what makes the daemon create its database.

Typical use::

    with Xenstored() as xsd, xsd.client() as c:
        populate_guest(c, 1, [VifSpec(0, "00:16:3e:5f:48:e4")])
        assert c.read(b"/local/domain/1/device/vif/0/mac") == b"00:16:3e:5f:48:e4"

Everything here talks to its own daemon through its own socket: several daemons can run side by
side, and processes are only ever signalled by the pid this module started.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from pyxs import Client
from pyxs.exceptions import PyXSError

__all__ = [
    "STUB_SOURCE",
    "XENSTORED_CANDIDATES",
    "XS_DIRECTORY",
    "XS_ERROR",
    "XS_READ",
    "XS_WRITE",
    "PassSpec",
    "VifSpec",
    "Xenstored",
    "XenstoredError",
    "XenstoredUnavailable",
    "XsNode",
    "build_stub",
    "find_xenstored",
    "guest_nodes",
    "populate_guest",
]

#: Where the daemon is looked for after $BOOTSH_XENSTORED.
XENSTORED_CANDIDATES: tuple[Path, ...] = (
    Path("/usr/lib/xen-4.17/bin/xenstored"),
    Path("/opt/bootsh-xen/usr/lib/xen-4.17/bin/xenstored"),
)
STUB_SOURCE = Path(__file__).resolve().parent / "xenstub" / "xenstub.c"
_STUB_CFLAGS: tuple[str, ...] = ("-shared", "-fPIC", "-O2", "-Wall", "-Wextra")
_STUB_LIBS: tuple[str, ...] = ("-ldl",)

# XenStore wire protocol (xs_wire.h): header of four native u32 - type, req_id, tx_id, len.
_XS_HEADER = struct.Struct("=IIII")
# What pyxs lets through in a value (client._re_7bit_ascii, minus NUL which ends a C string).
_PYXS_VALUE = re.compile(rb"[\x20-\x7f]+")
XS_DIRECTORY = 1
XS_READ = 2
XS_WRITE = 11
XS_ERROR = 16


class XenstoredUnavailable(RuntimeError):
    """The daemon binary, gcc or the Xen libraries are missing: tests should skip."""


class XenstoredError(RuntimeError):
    """The daemon failed to start or to answer."""


# ---------------------------------------------------------------------------------------------
# Locating and building


def find_xenstored() -> Path:
    """Return the xenstored binary: $BOOTSH_XENSTORED, then the known install locations."""
    env = os.environ.get("BOOTSH_XENSTORED")
    if env:
        path = Path(env)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise XenstoredUnavailable(f"BOOTSH_XENSTORED={env} is not an executable file")
        return path
    for path in XENSTORED_CANDIDATES:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    tried = ", ".join(str(p) for p in XENSTORED_CANDIDATES)
    raise XenstoredUnavailable(
        f"no xenstored found (tried $BOOTSH_XENSTORED, {tried}); run .ci/install-xen.sh"
    )


def build_stub(build_dir: Path) -> Path:
    """Compile tests/xenstub/xenstub.c into ``build_dir`` and return the shared object.

    The file name carries a hash of the source and flags, so a rebuild only happens when either
    changes; the object is written under a temporary name and renamed, so concurrent test
    processes never load a half-written file.
    """
    source = STUB_SOURCE.read_bytes()
    digest = hashlib.sha256(source + "\0".join(_STUB_CFLAGS + _STUB_LIBS).encode()).hexdigest()
    target = build_dir / f"xenstub-{digest[:16]}.so"
    if target.is_file():
        return target
    gcc = shutil.which("gcc")
    if gcc is None:
        raise XenstoredUnavailable("gcc is needed to build the xenstored stub")
    build_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".xenstub-", suffix=".so", dir=build_dir)
    os.close(fd)
    try:
        result = subprocess.run(
            [gcc, *_STUB_CFLAGS, "-o", tmp_name, str(STUB_SOURCE), *_STUB_LIBS],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise XenstoredError(f"building {STUB_SOURCE} failed:\n{result.stderr}")
        os.replace(tmp_name, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
    return target


def _default_build_dir() -> Path:
    # Outside the repository so the build never shows up in git status.
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "bootsh" / "xenstub"


# ---------------------------------------------------------------------------------------------
# The daemon


class Xenstored:
    """One private xenstored process; use as a context manager or call start()/stop().

    With ``init_dom0`` (default) /local/domain/0/{domid,name} are written as xen-init-dom0
    does. All files live in ``workdir`` (a fresh temporary directory by default, removed by stop()):
    ``socket``, ``xenstored.pid``, ``stdout.log``, ``stderr.log``, ``trace.log`` (with
    ``trace=True``) and the two stand-ins for /proc/xen.
    """

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        binary: Path | None = None,
        stub: Path | None = None,
        trace: bool = False,
        extra_args: Sequence[str] = (),
        start_timeout: float = 5.0,
        init_dom0: bool = True,
    ) -> None:
        self._own_workdir = workdir is None
        self._workdir_arg = workdir
        self._binary = binary
        self._stub = stub
        self.trace = trace
        self.extra_args = tuple(extra_args)
        self.start_timeout = start_timeout
        self.init_dom0 = init_dom0
        self._workdir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._paused = False
        #: Seconds from spawning the daemon to its first answer on the socket.
        self.start_seconds: float | None = None
        #: The command line of the last start(), for reports.
        self.argv: list[str] = []

    # -- paths and state

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            raise XenstoredError("xenstored was not started")
        return self._workdir

    @property
    def socket_path(self) -> Path:
        return self.workdir / "socket"

    @property
    def pid_file(self) -> Path:
        return self.workdir / "xenstored.pid"

    @property
    def trace_path(self) -> Path:
        return self.workdir / "trace.log"

    @property
    def stderr_path(self) -> Path:
        return self.workdir / "stderr.log"

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise XenstoredError("xenstored was not started")
        return self._proc.pid

    @property
    def running(self) -> bool:
        """True while the process exists (also while paused)."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except (FileNotFoundError, XenstoredError):
            return ""

    def tool_env(self) -> dict[str, str]:
        """Environment for the xenstore-* command line tools (and pyxs's default lookup)."""
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        env["XENSTORED_RUNDIR"] = str(self.workdir)
        env["XENSTORED_PATH"] = str(self.socket_path)
        return env

    # -- lifecycle

    def start(self) -> Xenstored:
        if self._proc is not None:
            raise XenstoredError("xenstored already started")
        binary = self._binary or find_xenstored()
        stub = self._stub or build_stub(_default_build_dir())
        if self._workdir_arg is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="bootsh-xenstored-"))
        else:
            self._workdir = self._workdir_arg
            self._workdir.mkdir(parents=True, exist_ok=True)
        wd = self._workdir
        port_file, kva_file = wd / "xsd_port", wd / "xsd_kva"
        # Any positive port will do: the stub's bind_interdomain ignores it.
        port_file.write_text("1\n")
        # dom0's ring page: mmap()ed MAP_SHARED, so it must be a full page of zeroes.
        kva_file.write_bytes(bytes(os.sysconf("SC_PAGE_SIZE")))

        env = dict(os.environ)
        # Both, always: the daemon prefers XENSTORED_PATH, and a stale one inherited from the
        # caller would make it bind over another daemon's socket.
        env["XENSTORED_RUNDIR"] = str(wd)
        env["XENSTORED_PATH"] = str(self.socket_path)
        env["LD_PRELOAD"] = str(stub)
        env["BOOTSH_XSD_PORT_FILE"] = str(port_file)
        env["BOOTSH_XSD_KVA_FILE"] = str(kva_file)

        argv = [str(binary), "--no-fork", "--pid-file", str(self.pid_file)]
        if self.trace:
            argv += ["--trace-file", str(self.trace_path)]
        argv += self.extra_args
        self.argv = argv
        if self.socket_path.exists():
            # A reused workdir: never take the socket of a daemon that is still alive (a second
            # daemon would also exit 0 silently on its locked pid file).
            if self.ping(0.2):
                message = f"another xenstored answers on {self.socket_path}"
                self._workdir = None
                raise XenstoredError(message)
            self.socket_path.unlink()  # a dead daemon's leftover

        with (
            open(wd / "stdout.log", "wb") as out,
            open(self.stderr_path, "wb") as err,
        ):
            t0 = time.perf_counter()
            self._proc = subprocess.Popen(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=wd,
                start_new_session=True,  # a ^C in pytest must not hit the daemon first
            )
        try:
            self._wait_ready(t0)
            if self.init_dom0:
                # What xen-init-dom0 writes at boot, so /local/domain/0 looks like a real host.
                self.write_raw("/local/domain/0/domid", b"0")
                self.write_raw("/local/domain/0/name", b"Domain-0")
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, t0: float) -> None:
        deadline = t0 + self.start_timeout
        last_error: str = "no socket yet"
        assert self._proc is not None
        while True:
            code = self._proc.poll()
            if code is not None:
                raise XenstoredError(
                    f"xenstored exited with {code} before answering "
                    f"(argv {self.argv}); stderr:\n{self.stderr()}"
                )
            try:
                self._ping(timeout=max(0.05, deadline - time.perf_counter()))
            except (OSError, XenstoredError) as e:
                last_error = repr(e)
            else:
                self.start_seconds = time.perf_counter() - t0
                return
            if time.perf_counter() >= deadline:
                raise XenstoredError(
                    f"xenstored did not answer on {self.socket_path} within "
                    f"{self.start_timeout} s ({last_error}); stderr:\n{self.stderr()}"
                )
            time.sleep(0.002)

    def request(self, op: int, payload: bytes, *, timeout: float = 5.0) -> bytes:
        """Send one raw request on a fresh connection and return the reply's payload.

        Unlike pyxs this has a timeout (socket.timeout/TimeoutError on a paused daemon) and no
        restriction on the bytes sent, so tests can store values pyxs refuses (control
        characters, 8-bit bytes, the empty string). An ERROR reply raises XenstoredError.
        """
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(self.socket_path))
            s.sendall(_XS_HEADER.pack(op, 1, 0, len(payload)) + payload)
            kind, _req, _tx, length = _XS_HEADER.unpack(_recv_exact(s, _XS_HEADER.size))
            reply = _recv_exact(s, length)
        if kind == XS_ERROR:
            name = reply.rstrip(b"\0").decode(errors="replace")
            raise XenstoredError(f"xenstored answered {name}")
        if kind != op:
            raise XenstoredError(f"xenstored answered type {kind} to request type {op}")
        return reply

    def write_raw(self, path: str, value: bytes, *, timeout: float = 5.0) -> None:
        """Write any bytes as a node's value (WRITE payload: path, NUL, value)."""
        self.request(XS_WRITE, path.encode() + b"\0" + value, timeout=timeout)

    def _ping(self, timeout: float) -> None:
        # Connecting is not enough: the database only exists once dom0 is introduced, and a
        # request before that would crash the daemon, so readiness means a real answer.
        self.request(XS_DIRECTORY, b"/\0", timeout=timeout)

    def ping(self, timeout: float = 1.0) -> bool:
        """True if the daemon answers a request within ``timeout`` seconds."""
        try:
            self._ping(timeout)
        except (OSError, XenstoredError):
            return False
        return True

    def stop(self, timeout: float = 5.0) -> int | None:
        """Terminate the daemon (SIGTERM, then SIGKILL) and remove an own workdir.

        Returns the exit status (negative signal number), or None if it never started.
        """
        code: int | None = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._signal(signal.SIGTERM)
                # A stopped process keeps SIGTERM pending until it is continued.
                self._signal(signal.SIGCONT)
                try:
                    self._proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self._signal(signal.SIGKILL)
                    self._proc.wait()
            code = self._proc.returncode
            self._paused = False
        if self._own_workdir and self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        return code

    def kill(self) -> int:
        """SIGKILL the daemon and reap it (for tests of a daemon dying under a client).

        The workdir stays until stop(), so its stderr and trace remain readable.
        """
        if self._proc is None:
            raise XenstoredError("xenstored was not started")
        if self._proc.poll() is None:
            self._signal(signal.SIGKILL)
        self._paused = False
        return self._proc.wait()

    def pause(self) -> None:
        """SIGSTOP: the socket still accepts connections but nothing is answered."""
        self._signal(signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        """SIGCONT after pause()."""
        self._signal(signal.SIGCONT)
        self._paused = False

    @property
    def paused(self) -> bool:
        return self._paused

    def _signal(self, sig: signal.Signals) -> None:
        # Only ever our own child, by pid; Popen.send_signal is a no-op once it was reaped.
        if self._proc is None:
            raise XenstoredError("xenstored was not started")
        self._proc.send_signal(sig)

    def __enter__(self) -> Xenstored:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "paused" if self._paused else "running" if self.running else "stopped"
        pid = self._proc.pid if self._proc is not None else None
        return f"Xenstored(pid={pid}, {state}, workdir={self._workdir})"

    # -- clients

    def client(self) -> Client:
        """A new, connected ``pyxs.Client`` on this daemon's socket.

        Close it (or use it as a context manager; entering again is harmless). pyxs has no
        timeouts: a request to a paused daemon, or in flight when it dies, blocks forever.
        Raises ``pyxs.exceptions.ConnectionError`` if nothing listens on the socket.
        """
        c = Client(unix_socket_path=str(self.socket_path))
        try:
            c.connect()
        except Exception:
            # pyxs leaks its router's socketpair (and the failed socket) here; close what we can.
            c.router.r_terminator.close()
            c.router.w_terminator.close()
            raise
        return c


def _recv_exact(s: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("xenstored closed the connection")
        buf += chunk
    return bytes(buf)


# ---------------------------------------------------------------------------------------------
# A guest's XenStore layout, as libxl 4.17 writes it


@dataclass(frozen=True)
class VifSpec:
    """One vif of a guest.

    ``omit`` and ``overrides`` make malformed vifs. Their keys are ``"front/KEY"`` (under
    /local/domain/D/device/vif/N), ``"back/KEY"`` (under the backend directory), or a bare
    ``KEY`` for every side that has it (``"mac"``, ``"handle"`` and ``"state"`` are on both).
    An override may add a key that is not normally written, with an explicit side. Values must
    be printable 7-bit ASCII or empty (pyxs rejects anything else; see Xenstored.write_raw).
    """

    index: int
    mac: str
    type: str = "vif_ioemu"
    bridge: str = "xenbr0"
    state: str = "4"
    backend_domid: int = 0
    mtu: int = 1500
    script: str = "/etc/xen/scripts/vif-bridge"
    hotplug_status: str = "connected"
    omit: tuple[str, ...] = ()
    overrides: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PassSpec:
    """A passed-through PCI device: host address and guest devfn (``0x28`` = 00:05.0)."""

    host_addr: str
    vdevfn: int


# Permission strings as pyxs wants them: n = none, r = read, w = write, b = both; the first
# entry is the owner (who may do everything) and also the default for other domains.
def _perms(owner: int, reader: int | None = None) -> list[bytes]:
    perms = [f"n{owner}".encode()]
    if reader is not None and reader != owner:
        perms.append(f"r{reader}".encode())
    return perms


@dataclass(frozen=True)
class XsNode:
    """One node to write: a value, or None for a directory made with mkdir."""

    value: str | None
    perms: list[bytes] | None = None  # None: inherited from the parent, as xenstored does


def _vif_nodes(domid: int, vif: VifSpec) -> dict[str, XsNode]:
    """Frontend and backend nodes of one vif, with the permissions libxl gives them."""
    n, b = vif.index, vif.backend_domid
    front = f"/local/domain/{domid}/device/vif/{n}"
    back = f"/local/domain/{b}/backend/vif/{domid}/{n}"
    # libxl__device_generic_add: frontend dir owned by the guest, readable by the backend;
    # backend dir and read-only frontend keys (mtu) owned by the backend, readable by the guest.
    front_perms, back_perms = _perms(domid, b), _perms(b, domid)
    front_keys: dict[str, str] = {
        "backend": back,
        "backend-id": str(b),
        "state": vif.state,
        "handle": str(n),
        "mac": vif.mac,
        "trusted": "1",
    }
    ro_front_keys: dict[str, str] = {"mtu": str(vif.mtu)}
    back_keys: dict[str, str] = {
        "frontend": front,
        "frontend-id": str(domid),
        "online": "1",
        "state": vif.state,
        "script": vif.script,
        "mac": vif.mac,
        "bridge": vif.bridge,
        "handle": str(n),
        "type": vif.type,
        "hotplug-status": vif.hotplug_status,
    }
    if vif.mtu != 1500:
        back_keys["mtu"] = str(vif.mtu)  # libxl writes it only when not the default

    sides = {"front": (front_keys, ro_front_keys), "back": (back_keys,)}

    def targets(key: str, *, adding: bool) -> list[tuple[dict[str, str], str]]:
        side, sep, name = key.partition("/")
        if sep:
            if side not in sides or not name:
                raise ValueError(f"vif {n}: bad key {key!r} (use front/KEY, back/KEY or KEY)")
            found = [(d, name) for d in sides[side] if name in d]
            if not found and adding:
                found = [(sides[side][0], name)]
        else:
            found = [(d, key) for ds in sides.values() for d in ds if key in d]
        if not found:
            raise ValueError(f"vif {n}: no key {key!r} to omit or override")
        return found

    for key in vif.omit:
        for d, name in targets(key, adding=False):
            del d[name]
    for key, value in vif.overrides.items():
        for d, name in targets(key, adding=True):
            d[name] = value

    nodes: dict[str, XsNode] = {front: XsNode(None, front_perms), back: XsNode(None, back_perms)}
    nodes.update({f"{front}/{k}": XsNode(v) for k, v in front_keys.items()})
    nodes.update({f"{front}/{k}": XsNode(v, back_perms) for k, v in ro_front_keys.items()})
    nodes.update({f"{back}/{k}": XsNode(v) for k, v in back_keys.items()})
    return nodes


def _pci_nodes(domid: int, name: str, devices: Sequence[PassSpec]) -> dict[str, XsNode]:
    """libxl_pci.c: one backend device 0 holding all passed-through functions."""
    front = f"/local/domain/{domid}/device/pci/0"
    back = f"/local/domain/0/backend/pci/{domid}/0"
    front_keys = {"backend": back, "backend-id": "0", "state": "1"}
    back_keys = {
        "frontend": front,
        "frontend-id": str(domid),
        "online": "1",
        "state": "1",
        "domain": name,
        "num_devs": str(len(devices)),
    }
    for i, dev in enumerate(devices):
        back_keys[f"key-{i}"] = dev.host_addr
        back_keys[f"dev-{i}"] = dev.host_addr
        if dev.vdevfn:  # libxl leaves it out for 0 (no fixed guest slot)
            back_keys[f"vdevfn-{i}"] = f"{dev.vdevfn:x}"
        back_keys[f"opts-{i}"] = "msitranslate=0,power_mgmt=0,permissive=0,rdm_policy=strict"
        back_keys[f"state-{i}"] = "1"
    nodes: dict[str, XsNode] = {
        front: XsNode(None, _perms(domid, 0)),
        back: XsNode(None, _perms(0, domid)),
    }
    nodes.update({f"{front}/{k}": XsNode(v) for k, v in front_keys.items()})
    nodes.update({f"{back}/{k}": XsNode(v) for k, v in back_keys.items()})
    return nodes


def guest_nodes(
    domid: int,
    vifs: Iterable[VifSpec],
    passthrough: Sequence[PassSpec] = (),
    *,
    name: str | None = None,
) -> dict[str, XsNode]:
    """The nodes populate_guest() writes, in write order (parents before children)."""
    if not 0 < domid < 0x7FF0:
        raise ValueError(f"domid {domid} is not an ordinary guest domain id")
    name = name if name is not None else f"bootsh-guest{domid}"
    dom = f"/local/domain/{domid}"
    # libxl__domain_make: the domain dir is dom0's and readable by the guest; device/ is the
    # guest's own.
    nodes: dict[str, XsNode] = {
        dom: XsNode(None, _perms(0, domid)),
        f"{dom}/name": XsNode(name),
        f"{dom}/domid": XsNode(str(domid)),
        f"{dom}/device": XsNode(None, _perms(domid)),
    }
    seen: set[int] = set()
    for vif in vifs:
        if vif.index in seen:
            raise ValueError(f"duplicate vif index {vif.index}")
        seen.add(vif.index)
        nodes.update(_vif_nodes(domid, vif))
    if passthrough:
        nodes.update(_pci_nodes(domid, name, passthrough))
    return nodes


def populate_guest(
    client: Client,
    domid: int,
    vifs: Iterable[VifSpec],
    passthrough: Sequence[PassSpec] = (),
    *,
    name: str | None = None,
    retries: int = 5,
) -> None:
    """Write a guest's XenStore layout as libxl does, in one transaction.

    ``client`` is a connected ``pyxs.Client`` of dom0 (the socket). Existing nodes of the guest
    (its domain dir, and the vif/pci backend dirs it would get) are replaced. The domain is not
    introduced: xenstored (with the stub) treats every domid as existing, so permissions that
    name it stick.
    """
    vifs = list(vifs)
    nodes = guest_nodes(domid, vifs, passthrough, name=name)
    for path, node in nodes.items():
        if node.value and not _PYXS_VALUE.fullmatch(node.value.encode()):
            raise ValueError(
                f"{path}: pyxs cannot write {node.value!r}; populate, then Xenstored.write_raw()"
            )
    backends = sorted({v.backend_domid for v in vifs} | {0})
    stale = [f"/local/domain/{domid}"] + [
        f"/local/domain/{b}/backend/{kind}/{domid}" for b in backends for kind in ("vif", "pci")
    ]
    # A copy shares the connection but has its own transaction id, so the caller's client can
    # keep being used (pyxs ties one transaction to one Client object).
    tx = copy.copy(client)
    for _attempt in range(retries):
        tx.transaction()
        try:
            for path in stale:
                with contextlib.suppress(PyXSError):  # ENOENT on a first population
                    tx.delete(path.encode())
            for path, node in nodes.items():
                if not node.value:  # pyxs cannot WRITE an empty value; MKDIR makes one
                    tx.mkdir(path.encode())
                else:
                    tx.write(path.encode(), node.value.encode())
                if node.perms is not None:
                    tx.set_perms(path.encode(), node.perms)
        except BaseException:
            with contextlib.suppress(Exception):
                tx.rollback()
            raise
        if tx.commit():
            return
    raise XenstoredError(f"populating domain {domid}: transaction kept conflicting {retries} times")
