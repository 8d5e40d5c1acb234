"""bootsh.net.ping without a network: iPXE's pinger timing and verdicts (``core/pinger.c``)
against a fake clock and scripted replies, and the ICMP packets themselves. The lab tests
(tests/test_ip_cmds.py) ping dnsmasq's host for real."""

from __future__ import annotations

import contextlib
import struct
from dataclasses import dataclass, field

from bootsh.ipxe_errors import strerror
from bootsh.net.monojob import ECANCELED_MONOJOB
from bootsh.net.ping import (
    EINVAL_PING,
    EPROTO_DATA,
    EPROTO_LEN,
    EPROTO_SEQ,
    ETIMEDOUT_PING,
    Pinger,
    checksum,
    echo_request,
    parse_reply,
    payload,
)

SOURCE = "10.77.0.1"


def test_error_texts_and_numbers() -> None:
    assert strerror(ETIMEDOUT_PING) == "Connection timed out (https://ipxe.org/4c1b206e)"
    assert strerror(EINVAL_PING) == "Invalid argument (https://ipxe.org/1c1b2016)"
    assert strerror(ECANCELED_MONOJOB) == "Operation canceled (https://ipxe.org/0b07207d)"
    assert [f"{n:08x}" for n in (EPROTO_LEN, EPROTO_DATA, EPROTO_SEQ)] == [
        "431b2147",
        "431b2247",
        "431b2347",
    ]


def test_echo_request_is_a_valid_icmp_packet() -> None:
    packet = echo_request(0x1234, 7, payload(64))
    assert packet[:2] == b"\x08\x00" and packet[4:8] == b"\x12\x34\x00\x07"
    assert checksum(packet) == 0  # a correct checksum sums to zero
    assert payload(300)[255:258] == b"\xff\x00\x01"
    assert checksum(b"\x01") == checksum(b"\x01\x00")


def ipv4(icmp: bytes, ihl: int = 5) -> bytes:
    return bytes([0x40 | ihl]) + b"\0" * (ihl * 4 - 1) + icmp


def test_parse_reply() -> None:
    reply = struct.pack("!BBHHH", 0, 0, 0, 0x1234, 9) + b"data"
    assert parse_reply(ipv4(reply), 0x1234) == (9, b"data")
    assert parse_reply(ipv4(reply, ihl=6), 0x1234) == (9, b"data")  # IP options skipped
    assert parse_reply(ipv4(reply), 0x1235) is None  # another pinger's
    request = struct.pack("!BBHHH", 8, 0, 0, 0x1234, 9)
    assert parse_reply(ipv4(request), 0x1234) is None
    assert parse_reply(b"\x45\0", 0x1234) is None
    assert parse_reply(ipv4(reply[:6]), 0x1234) is None


@dataclass
class Net:
    """Scripted network: ``answers[seq]`` is (delay, sequence, body) or absent (no reply)."""

    answers: dict[int, tuple[float, int, bytes]] = field(default_factory=dict)
    now: float = 0.0
    sent: list[tuple[float, int]] = field(default_factory=list)
    due: list[tuple[float, tuple[str, int, bytes]]] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def send(self, sequence: int, packet: bytes) -> None:
        self.sent.append((self.now, sequence))
        if sequence in self.answers:
            delay, got, body = self.answers[sequence]
            self.due.append((self.now + delay, (SOURCE, got, body)))
            self.due.sort(key=lambda d: d[0])

    def receive(self, timeout: float) -> tuple[str, int, bytes] | None:
        if self.due and self.due[0][0] <= self.now + timeout:
            at, reply = self.due.pop(0)
            self.now = max(self.now, at)
            return reply
        self.now += timeout
        return None


def run(net: Net, count: int, size: int = 64) -> tuple[int, list[str]]:
    lines: list[str] = []

    def report(source: str | None, sequence: int, length: int, status: int) -> None:
        line = f"{length} bytes from {source or '<none>'}: seq={sequence}"
        lines.append(line + (f": {strerror(status)}" if status else ""))

    pinger = Pinger(net.send, net.receive, report, 1.0, size, count, clock=net.clock)
    return pinger.run(), lines


GOOD = payload(64)
TIMEOUT_LINE = "0 bytes from <none>: seq={}: Connection timed out (https://ipxe.org/4c1b206e)"


def test_all_answered() -> None:
    net = Net({n: (0.01, n, GOOD) for n in (1, 2, 3)})
    status, lines = run(net, 3)
    assert status == 0
    assert lines == [f"64 bytes from 10.77.0.1: seq={n}" for n in (1, 2, 3)]
    # One packet per second, the first at once; done at the last reply, not a second later.
    assert net.sent == [(0.0, 1), (1.0, 2), (2.0, 3)]
    assert net.now < 2.1


def test_no_reply_at_all() -> None:
    net = Net()
    status, lines = run(net, 2)
    assert status == ETIMEDOUT_PING
    assert lines == [TIMEOUT_LINE.format(1), TIMEOUT_LINE.format(2)]
    assert net.now == 2.0  # the last timeout is reported when the timer fires after it


def test_one_good_reply_is_success_even_if_the_last_is_lost() -> None:
    net = Net({1: (0.01, 1, GOOD)})
    status, lines = run(net, 2)
    assert status == 0
    assert lines == ["64 bytes from 10.77.0.1: seq=1", TIMEOUT_LINE.format(2)]


def test_late_reply_is_out_of_sequence_and_ignored() -> None:
    net = Net({1: (1.05, 1, GOOD), 2: (0.1, 2, GOOD)})
    status, lines = run(net, 2)
    assert status == 0
    assert lines == [
        TIMEOUT_LINE.format(1),
        "64 bytes from 10.77.0.1: seq=1: Error 0x431b2347 (https://ipxe.org/431b2347)",
        "64 bytes from 10.77.0.1: seq=2",
    ]


def test_wrong_length_ends_a_counted_ping() -> None:
    net = Net({1: (0.1, 1, GOOD[:10]), 2: (0.1, 2, GOOD)})
    status, lines = run(net, 5)
    assert status == EPROTO_LEN
    assert lines == ["10 bytes from 10.77.0.1: seq=1: Error 0x431b2147 (https://ipxe.org/431b2147)"]


def test_wrong_data_ends_a_counted_ping() -> None:
    net = Net({1: (0.1, 1, b"\xff" * 64)})
    status, lines = run(net, 5)
    assert status == EPROTO_DATA and len(lines) == 1


def test_wrong_length_does_not_end_an_endless_ping() -> None:
    net = Net({1: (0.1, 1, GOOD[:10]), 2: (0.1, 2, GOOD)})
    pinger_lines: list[int] = []

    def receive(timeout: float) -> tuple[str, int, bytes] | None:
        if net.now > 3.5:
            raise KeyboardInterrupt  # the user's Ctrl-C ends an endless ping
        return net.receive(timeout)

    def report(source: str | None, sequence: int, length: int, status: int) -> None:
        pinger_lines.append(status)

    pinger = Pinger(net.send, receive, report, 1.0, 64, 0, clock=net.clock)
    with contextlib.suppress(KeyboardInterrupt):
        pinger.run()
    assert pinger_lines[:2] == [EPROTO_LEN, 0]
    assert [s for _, s in net.sent] == [1, 2, 3, 4, 5]


def test_quiet_reports_nothing() -> None:
    net = Net({1: (0.1, 1, GOOD)})
    assert Pinger(net.send, net.receive, None, 1.0, 64, 1, clock=net.clock).run() == 0


def test_sequence_numbers_wrap_at_16_bits() -> None:
    net = Net()
    pinger = Pinger(net.send, net.receive, None, 0.001, 0, 65537, clock=net.clock)
    assert pinger.run() == ETIMEDOUT_PING
    assert net.sent[-1][1] == 1 and net.sent[-2][1] == 0


def test_a_payload_ipv4_cannot_carry_is_never_sent() -> None:
    net = Net()
    pinger = Pinger(net.send, net.receive, None, 1.0, 0xFFFFFFFF, 2, clock=net.clock)
    assert pinger.run() == ETIMEDOUT_PING and net.sent == []
