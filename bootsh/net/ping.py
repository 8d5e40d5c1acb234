"""ICMP echo the way iPXE's pinger does it (``core/pinger.c``, ``usr/pingmgmt.c``).

The timer decides everything: it fires at once, then every ``timeout``. Each firing first
reports the previous packet as timed out if no reply came (``0 bytes from <none>: seq=N:
Connection timed out``), then ends the ping when the count is used up, else sends the next
packet (sequence numbers from 1, payload bytes ``i & 0xff``). A reply of the wrong length or
content is reported and ends a counted ping at once; a reply for an older sequence number is
reported as "Delayed or out-of-sequence reply" and ignored; a good one is reported
(``64 bytes from 10.77.0.1: seq=1``) and ends a counted ping after its last packet. The
result is success when any reply was good, else "Connection timed out"; with no count it
runs until Ctrl-C.

Packets go out through the kernel on a raw ICMP socket (root: CAP_NET_RAW) bound to the
netdev the destination is routed through (``bootsh.net.egress``), so nothing leaves through an
interface that is not an open netdev; with no route the packets are not sent and time out,
as iPXE's transmit fails with "Network unreachable" and only its timer speaks.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Callable

from bootsh.ipxe_errors import error_number
from bootsh.net.inet import checksum as checksum  # still importable from here
from bootsh.records import dataclass, field

ERRFILE_PINGER = 0x001B2000  # core/pinger.c
ERRFILE_PING = 0x003A6000  # net/ping.c
#: A packet without a reply, and a ping that got no good reply at all.
ETIMEDOUT_PING = error_number("ETIMEDOUT", ERRFILE_PINGER)
#: ``--timeout 0``: "Could not start ping: Invalid argument".
EINVAL_PING = error_number("EINVAL", ERRFILE_PINGER)
#: "Incorrect reply length", "Incorrect reply data", "Delayed or out-of-sequence reply".
EPROTO_LEN = error_number("EPROTO", ERRFILE_PINGER, 0x01)
EPROTO_DATA = error_number("EPROTO", ERRFILE_PINGER, 0x02)
EPROTO_SEQ = error_number("EPROTO", ERRFILE_PINGER, 0x03)
#: bootsh only: no raw ICMP socket (CAP_NET_RAW missing).
EPERM_PING = error_number("EPERM", ERRFILE_PING)

#: The largest echo payload an IPv4 packet holds (65535 - 20 - 8).
MAX_PAYLOAD = 65507
ICMP_ECHO_REPLY = 0
ICMP_ECHO_REQUEST = 8
_SOL_RAW = 255
_ICMP_FILTER = 1

#: What the report callback gets: source (None for a timeout), sequence, length, status.
Report = Callable[[str | None, int, int, int], None]


def payload(size: int) -> bytes:
    """iPXE's ``pinger_generate``: byte i is ``i & 0xff``."""
    return bytes(i & 0xFF for i in range(size))


def echo_request(ident: int, sequence: int, data: bytes) -> bytes:
    header = struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, 0, ident, sequence)
    return header[:2] + struct.pack("!H", checksum(header + data)) + header[4:] + data


def parse_reply(packet: bytes, ident: int) -> tuple[int, bytes] | None:
    """(sequence, data) of an echo reply to ``ident`` in an IPv4 packet, else None."""
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return None
    start = (packet[0] & 0x0F) * 4
    icmp = packet[start:]
    if len(icmp) < 8:
        return None
    kind, code, _, their_ident, sequence = struct.unpack("!BBHHH", icmp[:8])
    if kind != ICMP_ECHO_REPLY or code != 0 or their_ident != ident:
        return None
    return sequence, icmp[8:]


@dataclass
class Pinger:
    """One ping run; ``send(sequence, packet)`` transmits, ``receive(timeout)`` gives one
    reply as ``(source, sequence, data)`` or None when the timeout passes first."""

    send: Callable[[int, bytes], None]
    receive: Callable[[float], tuple[str, int, bytes] | None]
    report: Report | None
    timeout: float = 1.0
    size: int = 64
    count: int = 0
    ident: int = field(default_factory=lambda: int.from_bytes(os.urandom(2), "big"))
    clock: Callable[[], float] = time.monotonic

    def run(self) -> int:
        """0 when a good reply came, else iPXE's error; Ctrl-C passes through."""
        remaining = self.count + 1 if self.count else 0  # + the initial expiry
        sequence = 0
        pending = False
        status = ETIMEDOUT_PING
        # A payload IPv4 cannot carry is never built (iPXE's buffer allocation fails and it
        # only logs that): nothing is sent and every packet times out.
        data = payload(self.size) if self.size <= MAX_PAYLOAD else None
        expiry = self.clock()  # the timer starts without delay
        while True:
            left = expiry - self.clock()
            if left <= 0:
                if pending and self.report is not None:
                    self.report(None, sequence, 0, ETIMEDOUT_PING)
                if remaining:
                    remaining -= 1
                    if remaining == 0:
                        return status
                sequence = (sequence + 1) & 0xFFFF
                expiry = self.clock() + self.timeout
                pending = True
                if data is not None:
                    self.send(sequence, echo_request(self.ident, sequence, data))
                continue
            reply = self.receive(left)
            if reply is None:
                continue
            source, got, body = reply
            if got == sequence:
                pending = False
            if len(body) != self.size:
                result, terminate = EPROTO_LEN, remaining != 0
            elif body != data:
                result, terminate = EPROTO_DATA, remaining != 0
            elif got != sequence:
                result, terminate = EPROTO_SEQ, False
            else:
                result, terminate = 0, remaining == 1
                status = 0
            if self.report is not None:
                self.report(source, got, len(body), result)
            if terminate:
                return result


def icmp_socket(ifname: str) -> socket.socket:
    """A raw ICMP socket bound to ``ifname`` that sees only echo replies; PermissionError
    without CAP_NET_RAW."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
        # The kernel hands every ICMP packet to raw sockets: keep only echo replies.
        blocked = ~(1 << ICMP_ECHO_REPLY) & 0xFFFFFFFF
        sock.setsockopt(_SOL_RAW, _ICMP_FILTER, struct.pack("I", blocked))
    except BaseException:
        sock.close()
        raise
    return sock
