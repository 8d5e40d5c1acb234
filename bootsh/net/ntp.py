"""An SNTP query the way iPXE's ``ntp`` does it (``net/udp/ntp.c``).

iPXE sends a version-1 client request whose transmit timestamp is its own clock and whose
fraction is the magic ``iPXE`` (0x69505845), retransmits on its retry timer (1 s doubling,
failing with ETIMEDOUT at the first wait past 10 s: 15 s after the first request), ignores
anything that is not from port 123, shorter than 48 bytes, not in server mode or not echoing
the magic, fails on a kiss-o'-death (stratum 0: EPROTO), and otherwise takes the clock delta
as the server's receive seconds minus its own originate seconds (a signed 32-bit number).

iPXE then adjusts its own clock. bootsh never sets the machine's clock (that would change it
for every program on the host): the delta is added to the shell's own clock offset, so
``${unixtime}`` shows the adjusted time as it would under iPXE, and a second ``ntp`` sends
the adjusted time (and so finds a delta near 0), as iPXE's does.
"""

from __future__ import annotations

import contextlib
import struct
import time
from collections.abc import Callable, Sequence

from bootsh.errors import BootshError
from bootsh.ipxe_errors import error_number
from bootsh.records import dataclass

ERRFILE_NTP = 0x00496000  # net/udp/ntp.c
ETIMEDOUT_NTP = error_number("ETIMEDOUT", ERRFILE_NTP)
#: A kiss-o'-death answer (stratum 0).
EPROTO_NTP = error_number("EPROTO", ERRFILE_NTP)

PORT = 123
#: Seconds from 1900 (NTP's epoch) to 1970.
EPOCH = 2208988800
MAGIC = 0x69505845  # "iPXE"
FLAGS = 0xC0 | 0x08 | 0x03  # leap unknown, version 1, client
MODE_MASK = 0x07
MODE_SERVER = 0x04
SIZE = 48
#: iPXE's NTP retry timer: 1 s, doubling; the wait after 8 s would pass 10 s and fails.
SCHEDULE = (1.0, 2.0, 4.0, 8.0)


class NtpError(BootshError):
    def __init__(self, number: int, detail: str) -> None:
        super().__init__(detail)
        self.errno = number
        self.detail = detail


def request(now: float) -> bytes:
    """The 48-byte client request iPXE sends (only flags and the transmit timestamp set)."""
    transmit = struct.pack("!II", (int(now) + EPOCH) & 0xFFFFFFFF, MAGIC)
    return bytes([FLAGS]) + b"\0" * 39 + transmit


def delta(reply: bytes) -> int | None:
    """The clock delta in seconds from a server reply, None for one iPXE ignores; raises
    ``NtpError`` for a kiss-o'-death."""
    if len(reply) < SIZE or reply[0] & MODE_MASK != MODE_SERVER:
        return None
    originate_seconds, originate_fraction, receive_seconds = struct.unpack_from("!III", reply, 24)
    if originate_fraction != MAGIC:
        return None
    if reply[1] == 0:
        code = reply[12:16].decode("ascii", "replace")
        raise NtpError(EPROTO_NTP, f"the server sent a kiss-o'-death ({code})")
    value: int = (receive_seconds - originate_seconds) & 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


@dataclass
class Query:
    """One ``ntp`` run: ``send(payload)`` to the server, ``receive(timeout)`` gives one
    datagram from port 123 or None when the timeout passes first."""

    send: Callable[[bytes], None]
    receive: Callable[[float], bytes | None]
    schedule: Sequence[float] = SCHEDULE
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time

    def run(self) -> int:
        """The clock delta in seconds; raises ``NtpError``."""
        for wait in self.schedule:
            with contextlib.suppress(OSError):  # iPXE only logs a failed send
                self.send(request(self.wall()))
            deadline = self.clock() + wait
            while (left := deadline - self.clock()) > 0:
                data = self.receive(left)
                if data is None:
                    break
                found = delta(data)
                if found is not None:
                    return found
        raise NtpError(ETIMEDOUT_NTP, "no answer from the NTP server")
