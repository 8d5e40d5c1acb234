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
        return self._request(Op.READ, path)

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
        rq_id = self._next_id
        self._next_id = (self._next_id + 1) & 0xFFFFFFFF or 1
        self.requests += 1
        deadline = time.monotonic() + self.timeout
        hung = f"XenStore did not answer within {self.timeout:g} s while {what} ({self.where})"
        try:
            self._set_timeout(self.timeout)
            self._conn.send(Packet(op, encoded, rq_id))
            reply = self._receive(rq_id, deadline)
        except TimeoutError:
            self._fail(hung)
        except _Garbage as exc:
            self._fail(f"XenStore sent {exc} while {what} ({self.where})")
        except (PyXSError, OSError, ValueError) as exc:
            # pyxs wraps a socket timeout (a reply cut short) in its ConnectionError.
            if isinstance(exc.__context__, TimeoutError):
                self._fail(hung)
            self._fail(f"XenStore connection lost while {what} ({self.where}): {_reason(exc)}")
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
        payload: bytes = reply.payload
        return payload

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
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                raise TimeoutError
            try:
                data = os.read(fd, size)
            except BlockingIOError:  # a socket with a timeout is non-blocking: a spurious wake
                continue
            if not data:
                raise ConnectionResetError(errno.ECONNRESET, "closed by the other end")
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
