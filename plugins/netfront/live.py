"""A live XenStore through pyxs: xenstored's Unix socket (dom0, tests) or /dev/xen/xenbus.

pyxs has no timeouts: its ``Client`` hands every request to a router thread and waits on a
condition variable with no limit, so a daemon that hangs (SIGSTOP) or dies mid-request blocks
the caller forever. This module therefore uses pyxs below the ``Client``: its connections'
packet framing (``PacketConnection.send``/``recv``), its ``Packet`` and ``Op``, with transports
of its own shape, and does the request loop itself, in the calling thread, with a deadline on
every request:

* the Unix socket gets a timeout before ``connect()`` (a daemon with a full backlog blocks
  there too) and before every receive, so a half-sent reply cannot hang either;
* before each receive, ``select()`` waits at most the time left (this is what bounds
  ``/dev/xen/xenbus``, a character device that takes no socket timeout), which is opened
  close-on-exec so that a kexec'd kernel or a child never inherits it;
* replies are framed here, not by pyxs: the header's length is checked against
  ``PAYLOAD_MAX`` before anything is allocated (a header claiming 0xffffffff bytes cost
  4 GB), and every read of a header or payload waits at most until the request's deadline,
  so a daemon trickling one byte a second, or a flood of replies to other requests, ends
  at the timeout like silence does.

The first failure (timeout, connection lost, garbage) closes the connection and raises one
``XenStoreError`` naming the request, the path and the limit; later requests on the same
source fail at once with the same message instead of waiting again.

``prefetch(paths)`` sends many reads at once and collects the replies (xenstored answers a
connection's requests in order, each carrying its request id): one round trip where the
probe made one per key, nine per vif. On a busy machine each round trip to the daemon is a
pair of context switches; with 256 vifs they were most of ``ifstat``'s time. The replies
wait in the store until ``read`` asks for them; every request is still counted, bounded and
checked as a single one is: the clock restarts only when one of the batch's own replies is
complete, so a trickle or a flood of other replies ends at the timeout as for one request,
and a batch of N never waits longer than N requests one after the other could. Only the
daemon's socket pipelines: a guest's ``/dev/xen/xenbus`` keeps one request at a time.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import struct
import time
from typing import Any, NamedTuple, NoReturn

from pyxs._internal import NUL, Op, Packet
from pyxs.connection import PacketConnection, UnixSocketConnection, XenBusConnection
from pyxs.exceptions import PyXSError

from bootsh.api import XenStoreError

from .store import XenStoreDenied, valid_path

#: Largest request payload xenstored accepts (XENSTORE_PAYLOAD_MAX).
PAYLOAD_MAX = 4096

_OPS = {Op.READ: "reading", Op.DIRECTORY: "listing"}


#: xs_wire.h's ``xsd_sockmsg``: type, request id, transaction id, payload length.
_HEADER = struct.Struct("=IIII")


class _Reply(NamedTuple):
    op: int
    payload: bytes


class _Garbage(Exception):
    """A reply no xenstored sends (a length past PAYLOAD_MAX)."""


class _TimedUnixTransport:
    """pyxs's Unix socket transport, with a timeout from before ``connect()`` on.

    Same interface as ``pyxs.connection._UnixSocketTransport`` (fileno, send, recv, close).
    """

    def __init__(self, path: str, timeout: float) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError:
            self.sock.close()
            raise

    def fileno(self) -> int:
        return self.sock.fileno()

    def recv(self, size: int) -> bytes:
        view = memoryview(bytearray(size))
        while size:
            received = self.sock.recv_into(view[-size:])
            if not received:
                raise ConnectionResetError(errno.ECONNRESET, "xenstored closed the connection")
            size -= received
        return view.tobytes()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        with contextlib.suppress(OSError):  # already reset by the peer
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


class _TimedUnixConnection(UnixSocketConnection):  # type: ignore[misc]
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__(path)
        self.timeout = timeout

    def create_transport(self) -> _TimedUnixTransport:
        return _TimedUnixTransport(self.path, self.timeout)

    def set_timeout(self, seconds: float) -> None:
        if self.transport is not None:
            self.transport.sock.settimeout(seconds)


class _XenBusTransport:
    """pyxs's XenBus transport, opened close-on-exec and never as a controlling terminal."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CLOEXEC | os.O_NOCTTY)

    def fileno(self) -> int:
        return self.fd

    def recv(self, size: int) -> bytes:
        chunks: list[bytes] = []
        while size:
            data = os.read(self.fd, size)
            if not data:
                raise ConnectionResetError(errno.ECONNRESET, "XenBus closed")
            chunks.append(data)
            size -= len(data)
        return b"".join(chunks)

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]

    def close(self) -> None:
        os.close(self.fd)


class _XenBusConnection(XenBusConnection):  # type: ignore[misc]
    def create_transport(self) -> _XenBusTransport:
        return _XenBusTransport(self.path)


class LiveXenStore:
    """A connected XenStore; see the module docstring for how requests are bounded."""

    def __init__(self, connection: Any, where: str, timeout: float) -> None:
        self._conn: PacketConnection = connection
        self.where = where
        self.timeout = timeout
        self.requests = 0
        self._next_id = 1
        self._broken: str | None = None
        #: Replies that ``prefetch`` read ahead, by path (each answers one ``read``).
        self._prefetched: dict[str, _Reply] = {}

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def unix_socket(cls, path: str, timeout: float) -> LiveXenStore:
        """Connect to xenstored's socket; ``XenStoreError`` if that fails."""
        where = f"xenstored socket {path}"
        conn = _TimedUnixConnection(path, timeout)
        try:
            conn.connect()
        except TimeoutError:
            raise XenStoreError(
                f"cannot connect to {where}: no answer within {timeout:g} s"
            ) from None
        except OSError as exc:
            raise XenStoreError(f"cannot connect to {where}: {_reason(exc)}") from None
        return cls(conn, where, timeout)

    @classmethod
    def xenbus(cls, path: str, timeout: float) -> LiveXenStore:
        """Open the guest's XenBus device; ``XenStoreError`` if that fails."""
        conn = _XenBusConnection(path)
        try:
            conn.connect()
        except OSError as exc:
            hint = " (run as root)" if exc.errno == errno.EACCES else ""
            raise XenStoreError(f"cannot open {path}: {_reason(exc)}{hint}") from None
        return cls(conn, path, timeout)

    # -- the XenStore protocol -------------------------------------------------------------

    def read(self, path: str) -> bytes | None:
        reply = self._prefetched.pop(path, None)
        if reply is not None:
            return self._answer(reply, Op.READ, f"{_OPS[Op.READ]} {path}")
        return self._request(Op.READ, path)

    def peek(self, path: str) -> bytes | None:
        """The value ``prefetch`` read for ``path``, leaving it for ``read``; None when there
        is none (not read ahead, or an error, which ``read`` will raise)."""
        reply = self._prefetched.get(path)
        if reply is None or reply.op != Op.READ:
            return None
        return reply.payload

    def prefetch(self, paths: list[str]) -> None:
        """Read ``paths`` in one batch; each ``read`` of one of them then takes its reply.

        The requests go out in one write and the replies are read in large chunks (a
        request or a reply each is two system calls otherwise). A path that is no XenStore
        path, or a store that failed already, is left to ``read`` (which says why). Raises
        ``XenStoreError`` like a single request when the daemon stops answering, sends
        garbage or the connection is lost.
        """
        conn = self._conn
        if self._broken is not None or not isinstance(conn, _TimedUnixConnection):
            return
        pending: dict[int, str] = {}
        out: list[bytes] = []
        for path in dict.fromkeys(paths):
            encoded = path.encode("ascii", "replace") + NUL
            if path in self._prefetched or not valid_path(path) or len(encoded) > PAYLOAD_MAX:
                continue
            rq_id = self._take_id()
            pending[rq_id] = path
            self._count(f"{_OPS[Op.READ]} {path}")
            out.append(_HEADER.pack(Op.READ, rq_id, 0, len(encoded)) + encoded)
        if not pending:
            return
        try:
            self._set_timeout(self.timeout)
            conn.transport.send(b"".join(out))
            self._collect(pending)
        except _Garbage as exc:
            self._fail(f"XenStore sent {exc} while {self._what(pending)} ({self.where})")
        except (PyXSError, OSError, ValueError) as exc:
            if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
                self._fail(self._hung(self._what(pending)))
            self._fail(
                f"XenStore connection lost while {self._what(pending)} ({self.where}):"
                f" {_reason(exc)}"
            )

    @staticmethod
    def _what(pending: dict[int, str]) -> str:
        """The first request of a batch still without a reply, for the error."""
        return f"{_OPS[Op.READ]} {next(iter(pending.values()), '')}"

    def _collect(self, pending: dict[int, str]) -> None:
        """Read replies until every id in ``pending`` has one (each kept by its path)."""
        fd = self._conn.fileno()
        buf = b""
        deadline = time.monotonic() + self.timeout
        while pending:
            start = 0
            while len(buf) - start >= _HEADER.size:
                op, rq_id, _tx, size = _HEADER.unpack_from(buf, start)
                if size > PAYLOAD_MAX:
                    raise _Garbage(f"a reply of {size} bytes (at most {PAYLOAD_MAX})")
                end = start + _HEADER.size + size
                if len(buf) < end:
                    break
                path = pending.pop(rq_id, None)
                if path is not None:  # else not ours (a watch event): skipped
                    self._prefetched[path] = _Reply(op, buf[start + _HEADER.size : end])
                    # One of ours is complete: the next one gets a whole timeout.
                    deadline = time.monotonic() + self.timeout
                start = end
            buf = buf[start:]
            if not pending:
                return
            chunk = _read_before(fd, 1 << 16, deadline)
            if chunk is not None:
                buf += chunk

    def directory(self, path: str) -> list[str] | None:
        payload = self._request(Op.DIRECTORY, path)
        if payload is None:
            return None
        return [name.decode("ascii", "replace") for name in payload.split(NUL) if name]

    def close(self) -> None:
        self._conn.close()

    # -- one request -----------------------------------------------------------------------

    def _request(self, op: int, path: str) -> bytes | None:
        what = f"{_OPS[op]} {path}"
        if self._broken is not None:
            raise XenStoreError(self._broken)
        encoded = path.encode("ascii", "replace") + NUL
        if not valid_path(path) or len(encoded) > PAYLOAD_MAX:
            raise XenStoreError(f"not a XenStore path: {path!r}")
        rq_id = self._take_id()
        self._count(what)
        deadline = time.monotonic() + self.timeout
        try:
            self._set_timeout(self.timeout)
            self._conn.send(Packet(op, encoded, rq_id))
            reply = self._receive(rq_id, deadline)
        except TimeoutError:
            self._fail(self._hung(what))
        except _Garbage as exc:
            self._fail(f"XenStore sent {exc} while {what} ({self.where})")
        except (PyXSError, OSError, ValueError) as exc:
            # pyxs wraps a socket timeout (a reply cut short) in its ConnectionError.
            if isinstance(exc.__context__, TimeoutError):
                self._fail(self._hung(what))
            self._fail(f"XenStore connection lost while {what} ({self.where}): {_reason(exc)}")
        return self._answer(reply, op, what)

    def _take_id(self) -> int:
        rq_id = self._next_id
        self._next_id = (self._next_id + 1) & 0xFFFFFFFF or 1
        return rq_id

    def _count(self, what: str) -> None:
        """Every request (``what``: "reading PATH") is counted here, alone or in a batch,
        just before it goes out."""
        self.requests += 1

    def _hung(self, what: str) -> str:
        return f"XenStore did not answer within {self.timeout:g} s while {what} ({self.where})"

    def _answer(self, reply: _Reply, op: int, what: str) -> bytes | None:
        """What ``reply`` means for the request ``op``: its payload, None for ENOENT, or the
        error (XenStoreDenied for EACCES/EPERM)."""
        if reply.op == Op.ERROR:
            name = reply.payload.rstrip(NUL).decode("ascii", "replace")
            if name == "ENOENT":
                return None
            if name in ("EACCES", "EPERM"):
                raise XenStoreDenied(f"XenStore refused {what}: permission denied ({self.where})")
            code = getattr(errno, name, None) if name.isidentifier() else None
            text = f"{name} ({os.strerror(code)})" if isinstance(code, int) else name or "?"
            raise XenStoreError(f"XenStore refused {what}: {text} ({self.where})")
        if reply.op != op:
            self._fail(
                f"XenStore answered {what} with message type {reply.op}, not {op} ({self.where})"
            )
        return reply.payload

    def _receive(self, rq_id: int, deadline: float) -> _Reply:
        while True:
            header = self._read_exact(_HEADER.size, deadline)
            op, reply_id, _tx_id, size = _HEADER.unpack(header)
            if size > PAYLOAD_MAX:
                # Before any allocation: xenstored never sends more than PAYLOAD_MAX.
                raise _Garbage(f"a reply of {size} bytes (at most {PAYLOAD_MAX})")
            # Never a read of 0 bytes: on Linux, XenBus blocks on it (pyxs says so too).
            payload = self._read_exact(size, deadline) if size else b""
            if reply_id == rq_id:
                return _Reply(op, payload)
            # Not ours (a watch event of someone sharing the connection): keep waiting,
            # within the same deadline.

    def _read_exact(self, size: int, deadline: float) -> bytes:
        """``size`` bytes, each wait bounded by what is left until ``deadline``."""
        fd = self._conn.fileno()
        chunks: list[bytes] = []
        while size:
            data = _read_before(fd, size, deadline)
            if data is not None:
                chunks.append(data)
                size -= len(data)
        return b"".join(chunks)

    def _set_timeout(self, seconds: float) -> None:
        if isinstance(self._conn, _TimedUnixConnection):
            self._conn.set_timeout(seconds)

    def _fail(self, message: str) -> NoReturn:
        self._broken = message
        with contextlib.suppress(Exception):  # already gone; the message says why
            self._conn.close()
        raise XenStoreError(message)


def _reason(exc: BaseException | None) -> str:
    """A short text for an OSError (also one wrapped by pyxs)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, PyXSError) and isinstance(exc.__context__, OSError):
        return _reason(exc.__context__)
    if exc is None:
        return "unknown error"
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _read_before(fd: int, size: int, deadline: float) -> bytes | None:
    """At most ``size`` bytes, once ``fd`` is readable before ``deadline`` (monotonic); None
    for a spurious wake. ``TimeoutError`` past the deadline, ``ConnectionResetError`` at the
    connection's end."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError
    ready, _, _ = select.select([fd], [], [], remaining)
    if not ready:
        raise TimeoutError
    try:
        data = os.read(fd, size)
    except BlockingIOError:  # a socket with a timeout is non-blocking: a spurious wake
        return None
    if not data:
        raise ConnectionResetError(errno.ECONNRESET, "closed by the other end")
    return data
