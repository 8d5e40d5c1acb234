"""``tftp://``: an RFC 1350 client with the options of RFCs 2347-2349, as iPXE's tftp.c.

The request is iPXE's: the URI's path (with its leading ``/``) in ``octet`` mode, asking for
``blksize 1432`` (iPXE's TFTP_MAX_BLKSIZE) and ``tsize 0``; a server without options answers
with 512-byte DATA blocks straight away. The first answer fixes the server's transfer id
(address and port); packets from anyone else get an ``Unknown transfer ID`` ERROR and are
otherwise ignored (RFC 1350). Block numbers are counted past 65535: the wire number is the
count modulo 65536, so a file of any size arrives in order.

Retransmission follows iPXE's retry timer: the last packet (RRQ or ACK) is sent again after
1/4 s, then after twice as long each time, and the transfer fails with ``Connection timed
out`` when the next wait would exceed 10 s (about 16 s of silence). A duplicate DATA block
is not acknowledged again (that is what turns one delayed packet into a doubled stream, the
Sorcerer's Apprentice syndrome of RFC 1123); the timer re-sends the last ACK if the server
really missed it.

bootsh-only settings tune the request: ``tftp-blksize`` (8-65464, default 1432) and
``tftp-timeout`` (1-255 s: the RFC 2349 option, which iPXE never sends, so it is sent only
when set). ``imgfetch -t`` bounds the silence as iPXE's monojob does.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
import urllib.parse

from bootsh.api import (
    ENXIO_NO_RECORD,
    ERRFILE_TFTP,
    ETIMEDOUT_FETCH,
    FetchError,
    FetchRequest,
    check_server,
    error_number,
    redact,
)

PORT = 69
RRQ, DATA, ACK, ERROR, OACK = 1, 3, 4, 5, 6
#: iPXE's TFTP_MAX_BLKSIZE: what it asks for (the most that fits a 1500-byte MTU frame).
DEFAULT_BLKSIZE = 1432
#: RFC 1350's block size, used when the server ignores the options.
PLAIN_BLKSIZE = 512
MIN_BLKSIZE, MAX_BLKSIZE = 8, 65464
#: iPXE's retry timer (core/retry.c): first wait, and the bound whose excess fails.
MIN_RTO = 0.25
MAX_RTO = 10.0

# The ERROR codes of RFC 1350 that iPXE tells apart (tftp_errcode_to_rc); the rest are
# "Operation not supported".
_ERRCODES = {1: "ENOENT", 2: "EACCES", 4: "ENOTTY"}
_ERR_UNKNOWN_TID = 5
_ACK = struct.Struct("!HH")
#: How many strangers' packets get RFC 1350's "Unknown transfer ID" answer per transfer.
MAX_STRANGER_ERRORS = 16


def _error(kind: str, detail: str, uniq: int = 0, *, start: bool = False) -> FetchError:
    return FetchError(error_number(kind, ERRFILE_TFTP, uniq), detail, start=start)


def validate(parts: urllib.parse.SplitResult) -> None:
    """iPXE refuses a TFTP URI without a host or a path before sending anything."""
    check_server(parts, ERRFILE_TFTP)
    if not parts.path:
        uri = redact(urllib.parse.urlunsplit(parts))
        raise _error("EINVAL", f"{uri}: no file", start=True)
    if b"\0" in file_name_bytes(parts):
        # The request's fields are NUL-terminated: a %00 in the path would end the file
        # name there and make the rest of it fields of the request (a mode, options).
        uri = redact(urllib.parse.urlunsplit(parts))
        raise _error("EINVAL", f"{uri}: a NUL byte (%00) in the file name", start=True)


def file_name_bytes(parts: urllib.parse.SplitResult) -> bytes:
    """The file name the request carries: the URI's path, percent-decoded, as bytes (a
    script's non-UTF-8 bytes are the bytes they stood for; urllib's own unquote would turn
    %FF into U+FFFD, and encoding a lone surrogate raised UnicodeEncodeError)."""
    return urllib.parse.unquote_to_bytes(parts.path.encode("utf-8", "surrogateescape"))


def _int_setting(request: FetchRequest, name: str, low: int, high: int) -> int | None:
    value = request.setting(name)
    if value is None or value == "":
        return None
    try:
        number = int(value, 0)
    except ValueError:
        number = -1
    if not low <= number <= high:
        raise _error("EINVAL", f"setting {name}={value!r}: not a number from {low} to {high}")
    return number


def _resolve(
    request: FetchRequest, host: str, port: int
) -> tuple[socket.AddressFamily, tuple[str, int]]:
    # The shell's DNS (the lease's servers) first, as iPXE; the system's without one.
    host = request.resolve(host) or host
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(ENXIO_NO_RECORD, f"{host}: {exc}") from exc
    family, _, _, _, address = infos[0]
    return family, (str(address[0]), int(address[1]))


def rrq(path: bytes | str, blksize: int, timeout: int | None) -> bytes:
    """The read request: file, ``octet``, then the options iPXE asks for (and ``timeout``)."""
    if isinstance(path, str):
        path = path.encode("utf-8", "surrogateescape")
    if b"\0" in path:
        raise ValueError("a TFTP file name cannot hold a NUL byte")  # validate() refused it
    fields = [path, b"octet", b"blksize", str(blksize).encode(), b"tsize", b"0"]
    if timeout is not None:
        fields += [b"timeout", str(timeout).encode()]
    return struct.pack("!H", RRQ) + b"".join(f + b"\0" for f in fields)


def parse_oack(payload: bytes) -> dict[str, str]:
    """Option names (lower case) and values; a malformed tail is ignored, as iPXE does."""
    options: dict[str, str] = {}
    items = payload.split(b"\0")
    # A well-formed OACK ends in NUL, so the split leaves an empty last item; anything
    # unterminated or without a value is dropped (iPXE tolerates such trailing garbage).
    for i in range(0, len(items) - 2, 2):
        name = items[i].decode("ascii", "replace").lower()
        options[name] = items[i + 1].decode("ascii", "replace")
    return options


def open_tftp(request: FetchRequest) -> None:
    parts = request.parts  # already validated: fetch() calls validate before open
    host = parts.hostname or ""
    path = file_name_bytes(parts)
    want_blksize = _int_setting(request, "tftp-blksize", MIN_BLKSIZE, MAX_BLKSIZE)
    server_timeout = _int_setting(request, "tftp-timeout", 1, 255)
    family, server = _resolve(request, host, parts.port or PORT)
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        Transfer(request, sock, server, path, want_blksize or DEFAULT_BLKSIZE, server_timeout).run()


def _arm(sock: socket.socket, seconds: float) -> None:
    whole = int(seconds)
    micro = int((seconds - whole) * 1_000_000)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("@ll", whole, micro))


class Transfer:
    """One download: the lock-step loop of DATA and ACK with iPXE's retransmission."""

    def __init__(
        self,
        request: FetchRequest,
        sock: socket.socket,
        server: tuple[str, int],
        path: bytes,
        blksize: int,
        server_timeout: int | None,
    ) -> None:
        self.request = request
        self.sock = sock
        self.server = server
        self.path = path
        self.asked_blksize = blksize
        self.server_timeout = server_timeout
        #: Until an OACK says otherwise, DATA blocks are RFC 1350's 512 bytes.
        self.blksize = PLAIN_BLKSIZE
        self.tsize: int | None = None
        self.peer: tuple[str, int] | None = None
        #: The peer's address exactly as recvfrom gives it, for the fast comparison.
        self.peer_raw: object = None
        #: The number (counted past 65535) of the next block wanted; 1 is the first.
        self.expected = 1
        self.done = 0
        self.finished = False
        self.oacked = False
        #: "Unknown transfer ID" errors sent to strangers: a few, then strays are dropped
        #: silently (a flood from elsewhere must not make bootsh send as many packets).
        self.strangers_told = 0

    def run(self) -> None:
        request = self.request
        silence = request.timeout
        last = rrq(self.path, self.asked_blksize, self.server_timeout)
        buf = bytearray(MAX_BLKSIZE + 4)
        view = memoryview(buf)
        sock = self.sock
        recv, sendto = sock.recvfrom_into, sock.sendto
        write = request.sink.write
        progress = request.progress
        monotonic = time.monotonic
        ack = _ACK.pack
        # The transfer's state lives in locals while DATA blocks follow one another (each
        # block costs a few microseconds of Python; the server waits for every ACK); it is
        # put back into the object around the rare packets handle() deals with.
        done, expected, blksize, peer_raw = self.done, self.expected, self.blksize, self.peer_raw
        rto = wanted = MIN_RTO
        armed = 0.0
        sendto(last, self.server)
        sent_at = progress_at = monotonic()
        try:
            while True:
                if wanted != armed:
                    # A kernel receive timeout (SO_RCVTIMEO) rather than settimeout(): the
                    # socket stays blocking, so each packet costs one recvfrom, no poll.
                    _arm(sock, wanted)
                    armed = wanted
                try:
                    size, source = recv(buf)
                except (BlockingIOError, TimeoutError):
                    now = monotonic()
                    if silence is not None and now - progress_at >= silence:
                        quiet_for = f"nothing from {self.server[0]} for {silence:g} s"
                        raise FetchError(ETIMEDOUT_FETCH, quiet_for) from None
                    if now - sent_at >= rto * 0.99:
                        rto *= 2
                        if rto > MAX_RTO:
                            gave_up = f"no answer from {self.server[0]} to 6 retransmissions"
                            raise _error("ETIMEDOUT", gave_up) from None
                        sendto(last, self.peer or self.server)
                        sent_at = now
                    wanted = sent_at + rto - now
                    if silence is not None:
                        wanted = min(wanted, progress_at + silence - now)
                    wanted = max(wanted, 0.001)
                    continue
                if (
                    source == peer_raw
                    and size >= 4
                    and buf[1] == DATA
                    and buf[0] == 0
                    and (buf[2] << 8 | buf[3]) == expected & 0xFFFF
                ):
                    # The common case, kept short: the next DATA block from the server.
                    length = size - 4
                    if length > blksize:
                        raise _error("EINVAL", f"DATA block of {length} bytes")
                    # Acknowledged before it is written: the server sends the next block
                    # while this one goes to the sink (lock-step TFTP waits a round trip per
                    # block). A failing write still ends the transfer with an ERROR.
                    last = ack(ACK, expected & 0xFFFF)
                    sendto(last, source)
                    write(view[4:size])
                    done += length
                    expected += 1
                    progress(done, self.tsize)
                    if length < blksize:
                        self.finished = True
                        break
                    sent_at = progress_at = monotonic()
                    rto = wanted = MIN_RTO
                    continue
                self.done, self.expected = done, expected
                reply = self.handle(view[:size], source)
                done, expected = self.done, self.expected
                blksize, peer_raw = self.blksize, self.peer_raw
                if reply is not None:
                    last = reply
                    sendto(last, source)
                    if self.finished:
                        break
                    sent_at = progress_at = monotonic()
                    rto = wanted = MIN_RTO
                    continue
                # Not progress (a stray, a duplicate, a repeated OACK): the timers run on as
                # if nothing had come. Checked here, not only when a wait times out: a flood
                # of such packets never lets a wait time out, and held the transfer forever.
                now = monotonic()
                if silence is not None and now - progress_at >= silence:
                    quiet_for = f"no progress from {self.server[0]} for {silence:g} s"
                    raise FetchError(ETIMEDOUT_FETCH, quiet_for)
                if now - sent_at >= rto * 0.99:
                    rto *= 2
                    if rto > MAX_RTO:
                        gave_up = f"no progress from {self.server[0]} after 6 retransmissions"
                        raise _error("ETIMEDOUT", gave_up)
                    sendto(last, self.peer or self.server)
                    sent_at = now
                wanted = max(sent_at + rto - now, 0.001)
                if silence is not None:
                    wanted = max(min(wanted, progress_at + silence - now), 0.001)
        except BaseException:
            # iPXE's tftp_close(): tell the server we give up, so it stops retransmitting.
            if self.peer is not None and not self.finished:
                with contextlib.suppress(OSError):
                    sendto(struct.pack("!HH", ERROR, 0) + b"TFTP Aborted\0", self.peer)
            raise
        finally:
            self.done, self.expected = done, expected

    def handle(self, packet: memoryview, source: tuple[str, int]) -> bytes | None:
        """Process one datagram; return the ACK to send (and restart the timer), or None."""
        if len(packet) < 4:
            return None
        raw = source
        source = (str(source[0]), int(source[1]))
        if self.peer is None:
            if source[0] != self.server[0]:
                return None  # not an answer to our request at all
            self.peer, self.peer_raw = source, raw
        elif source != self.peer:
            # RFC 1350: a packet from another transfer id is answered with an ERROR and
            # does not disturb the transfer.
            if self.strangers_told < MAX_STRANGER_ERRORS:
                self.strangers_told += 1
                with contextlib.suppress(OSError):
                    self.sock.sendto(
                        struct.pack("!HH", ERROR, _ERR_UNKNOWN_TID) + b"Unknown transfer ID\0",
                        source,
                    )
            return None
        opcode, number = struct.unpack_from("!HH", packet)
        if opcode == DATA:
            return self.data(number, packet[4:])
        if opcode == OACK:
            return self.oack(bytes(packet[2:]))
        if opcode == ERROR:
            message = bytes(packet[4:]).split(b"\0", 1)[0].decode("utf-8", "replace")
            kind = _ERRCODES.get(number, "ENOTSUP")
            # iPXE's file-not-found is its own ENOENT_NOT_FOUND (uniq 1, "Not found").
            uniq = 0x01 if number == 1 else 0
            self.finished = True  # the server ended the transfer: nothing to abort
            raise _error(kind, f"TFTP error {number} from {source[0]}: {message}", uniq)
        return None  # iPXE ignores any other packet type

    def oack(self, payload: bytes) -> bytes | None:
        if self.expected != 1 or self.oacked:
            # A late or repeated OACK: the options are agreed. Not acknowledged again and no
            # progress (a stream of OACKs kept the transfer alive forever, each one
            # answered); if our ACK 0 was lost, the retransmission timer sends it again.
            return None
        self.oacked = True
        options = parse_oack(payload)
        if "blksize" in options:
            try:
                blksize = int(options["blksize"], 10)
            except ValueError:
                blksize = 0
            if not MIN_BLKSIZE <= blksize <= MAX_BLKSIZE:
                raise _error("EINVAL", f"invalid blksize {options['blksize']!r} in the OACK", 0x01)
            self.blksize = blksize
        if "tsize" in options:
            try:
                self.tsize = int(options["tsize"], 10) or None
            except ValueError as exc:
                raise _error(
                    "EINVAL", f"invalid tsize {options['tsize']!r} in the OACK", 0x02
                ) from exc
        self.request.progress(0, self.tsize)
        return struct.pack("!HH", ACK, 0)

    def data(self, number: int, payload: memoryview) -> bytes | None:
        if number != self.expected & 0xFFFF:
            # A duplicate or stray block: never acknowledged again (Sorcerer's Apprentice).
            # Block 0 can only be a server's mistake before any data: iPXE fails on it.
            if number == 0 and self.expected == 1:
                raise _error("EINVAL", "DATA block 0")
            return None
        if len(payload) > self.blksize:
            raise _error("EINVAL", f"DATA block of {len(payload)} bytes (blksize {self.blksize})")
        self.request.sink.write(payload)
        self.done += len(payload)
        self.expected += 1
        self.request.progress(self.done, self.tsize)
        if len(payload) < self.blksize:
            self.finished = True
        return struct.pack("!HH", ACK, number)
