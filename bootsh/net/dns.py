"""DNS name resolution the way iPXE's resolver does it (``net/udp/dns.c``).

The wire format is built and read here by hand, not with scapy: iPXE's resolver is defined by
the raw structure (which records count, how names compare, which compression pointers are
allowed), every bound must hold on hostile input, and a lookup should not pay scapy's import.

iPXE's algorithm, kept exactly:

* servers are the ``dns`` setting (every 4 bytes one IPv4 address), tried in turn: each
  retransmission moves to the next one; no server at all fails at once with "No DNS servers
  available" (ENXIO, uniquifier 2);
* a name without a dot is tried with each suffix of the search list (``dnssl``, else
  ``domain``) and then as it is; a name with a dot only as it is;
* for each name: an A query, then AAAA, then CNAME; the response code is never looked at (an
  NXDOMAIN is just a response without the record), and every record after the question is
  read, whatever section it is in, when its name matches the question's (case-insensitively);
* a CNAME restarts the lookup at its target (no search list any more), at most 32 times
  (ELOOP beyond); when nothing is left to try: "DNS name does not exist" (ENXIO, uniquifier 1);
* a response that is too short, has another id, not exactly one question or a malformed
  name is ignored, and the retransmission timer runs on: 0.25 s doubling, to 8 s, and after
  that one fails with ETIMEDOUT (15.75 s after the first query).

The resolver talks through a ``Transport`` (send a datagram to a server, receive one), so the
logic is tested without a network; ``bootsh.net.egress`` gives the kernel-socket transport.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from bootsh.errors import BootshError
from bootsh.ipxe_errors import error_number
from bootsh.records import dataclass

ERRFILE_DNS = 0x00116000  # net/udp/dns.c
#: "DNS name does not exist": every query type and suffix answered without the record.
ENXIO_NO_RECORD = error_number("ENXIO", ERRFILE_DNS, 0x01)
#: "No DNS servers available": the ``dns`` setting is empty.
ENXIO_NO_NAMESERVER = error_number("ENXIO", ERRFILE_DNS, 0x02)
#: No answer from any server within the retransmission schedule.
ETIMEDOUT_DNS = error_number("ETIMEDOUT", ERRFILE_DNS)
#: More than ``MAX_CNAME_RECURSION`` CNAMEs.
ELOOP_DNS = error_number("ELOOP", ERRFILE_DNS)
#: A name that cannot be encoded (empty label, label over 63, name over 255 bytes).
EINVAL_DNS = error_number("EINVAL", ERRFILE_DNS)

TYPE_A = 1
TYPE_CNAME = 5
TYPE_AAAA = 28
CLASS_IN = 1
PORT = 53
FLAG_RD = 0x0100
MAX_LABEL = 63
MAX_NAME = 255
#: Compression pointers followed one after another without a label between them. A real
#: answer has none such (a pointer leads to a label); each one costs a step, and a 65 KB
#: answer of pointers to pointers made every name a walk through the whole message.
MAX_POINTER_HOPS = 16
MAX_CNAME_RECURSION = 32
#: iPXE's retry timer for DNS: the first wait, doubled per retransmission up to the last one.
SCHEDULE = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
_TEXT = {
    ENXIO_NO_RECORD: "DNS name does not exist",
    ENXIO_NO_NAMESERVER: "No DNS servers available",
}


class DnsError(BootshError):
    """A lookup that failed: ``errno`` is iPXE's number, the message says why in words."""

    def __init__(self, number: int, detail: str) -> None:
        super().__init__(detail)
        self.errno = number
        self.detail = detail


class Malformed(ValueError):
    """A response iPXE would not read (it ignores it and keeps waiting)."""


# -- names on the wire ----------------------------------------------------------------------


def encode_name(name: str) -> bytes:
    """iPXE's ``dns_encode``: labels with length bytes and the root label.

    A trailing dot is allowed (and changes nothing); an empty label elsewhere, a label over
    63 bytes or a name over 255 bytes is EINVAL. The empty name is the root.
    """
    data = name.encode("utf-8", "surrogateescape")
    if data.endswith(b"."):
        data = data[:-1]
    labels = data.split(b".") if data else []
    if any(not label or len(label) > MAX_LABEL for label in labels):
        raise DnsError(EINVAL_DNS, f"{name!r} is not a valid DNS name")
    wire = b"".join(bytes([len(label)]) + label for label in labels) + b"\0"
    if len(wire) > MAX_NAME:
        raise DnsError(EINVAL_DNS, f"{name!r} is longer than 255 bytes")
    return wire


def _label_at(msg: bytes, offset: int) -> int:
    """iPXE's ``dns_label``: follow compression pointers (backwards only) to a label.

    At most ``MAX_POINTER_HOPS`` pointers in a row (iPXE follows any number): with
    ``read_name``'s bound on the name's length, reading a name is a bounded amount of work
    whatever the message, so a whole answer parses in time linear in its size.
    """
    for _ in range(MAX_POINTER_HOPS + 1):
        if offset >= len(msg):
            raise Malformed("name runs past the end")
        if msg[offset] & 0xC0 == 0xC0:
            if offset + 2 > len(msg):
                raise Malformed("pointer runs past the end")
            pointer = int.from_bytes(msg[offset : offset + 2], "big") & 0x3FFF
            if pointer >= offset:  # only backwards: every walk ends
                raise Malformed("compression pointer does not point backwards")
            offset = pointer
            continue
        if msg[offset] & 0xC0:
            raise Malformed("reserved label type")
        if offset + 1 + msg[offset] > len(msg):
            raise Malformed("label runs past the end")
        return offset
    raise Malformed(f"more than {MAX_POINTER_HOPS} compression pointers in a row")


def skip_name(msg: bytes, offset: int) -> int:
    """The offset after the (possibly compressed) name at ``offset`` (iPXE's ``dns_skip``)."""
    while True:
        label = _label_at(msg, offset)
        if label != offset:
            return offset + 2  # a pointer ends the name
        length = msg[offset]
        offset += 1 + length
        if length == 0:
            return offset


def read_name(msg: bytes, offset: int) -> bytes:
    """The name at ``offset`` in uncompressed wire form (iPXE's ``dns_copy``)."""
    out = bytearray()
    while True:
        offset = _label_at(msg, offset)
        length = msg[offset]
        out += msg[offset : offset + 1 + length]
        # Checked as it grows, not at the end: a chain of labels through the whole message
        # (each pointing back to the one before) was copied whole before being refused.
        if len(out) > MAX_NAME:
            raise Malformed("name longer than 255 bytes")
        if length == 0:
            return bytes(out)
        offset += 1 + length


def same_name(first: bytes, second: bytes) -> bool:
    """Two uncompressed names compared as iPXE does (ASCII case-insensitive)."""
    return first.lower() == second.lower()


def name_text(wire: bytes) -> str:
    """``server.bootsh.test`` for an uncompressed wire name (for messages)."""
    labels, offset = [], 0
    while offset < len(wire) and wire[offset]:
        labels.append(wire[offset + 1 : offset + 1 + wire[offset]])
        offset += 1 + wire[offset]
    return b".".join(labels).decode("utf-8", "replace")


def search_list(raw: bytes) -> list[bytes]:
    """The names of a ``dnssl`` value (DHCP option 119: compressed names back to back)."""
    names: list[bytes] = []
    offset = 0
    while offset < len(raw):
        if raw[offset] == 0:  # padding between names (NDP's DNSSL option has some)
            offset += 1
            continue
        try:
            names.append(read_name(raw, offset))
            offset = skip_name(raw, offset)
        except Malformed:
            break
    return names


# -- messages -----------------------------------------------------------------------------


def build_query(qid: int, name: bytes, qtype: int) -> bytes:
    """One question, recursion desired (iPXE sets only RD)."""
    header = qid.to_bytes(2, "big") + FLAG_RD.to_bytes(2, "big") + b"\0\x01" + b"\0" * 6
    return header + name + qtype.to_bytes(2, "big") + CLASS_IN.to_bytes(2, "big")


@dataclass(frozen=True)
class Record:
    """An answer record whose name matched: its type and data."""

    rtype: int
    rdata: bytes
    #: For a CNAME: its target, uncompressed.
    target: bytes = b""


def records(msg: bytes, qid: int) -> tuple[int, list[tuple[bytes, Record]]]:
    """Every record after the question, as (owner name, record); the offset of the first.

    Raises ``Malformed`` for what iPXE ignores: short, another id, not one question, a bad
    name or a record running past the end.
    """
    if len(msg) < 12:
        raise Malformed("shorter than a DNS header")
    if int.from_bytes(msg[0:2], "big") != qid:
        raise Malformed("another query's id")
    if int.from_bytes(msg[4:6], "big") != 1:
        raise Malformed("not exactly one question")
    offset = skip_name(msg, 12) + 4
    if offset > len(msg):
        raise Malformed("question runs past the end")
    found: list[tuple[bytes, Record]] = []
    while offset < len(msg):
        owner = read_name(msg, offset)
        offset = skip_name(msg, offset)
        if offset + 10 > len(msg):
            raise Malformed("record header runs past the end")
        rtype = int.from_bytes(msg[offset : offset + 2], "big")
        rdlength = int.from_bytes(msg[offset + 8 : offset + 10], "big")
        start = offset + 10
        if start + rdlength > len(msg):
            raise Malformed("record data runs past the end")
        target = read_name(msg, start) if rtype == TYPE_CNAME else b""
        found.append((owner, Record(rtype, msg[start : start + rdlength], target)))
        offset = start + rdlength
    return offset, found


# -- the resolver ---------------------------------------------------------------------------


class Transport(Protocol):
    def send(self, server: str, payload: bytes) -> None:
        """Send one datagram to ``server`` port 53; OSError when it cannot be sent."""

    def receive(self, timeout: float) -> bytes | None:
        """One datagram from a server, or None when ``timeout`` seconds pass first."""


def numeric(name: str) -> str | None:
    """iPXE's numeric resolver: an IPv4 or IPv6 literal is its own address."""
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return None


@dataclass
class Lookup:
    """One name being resolved; see the module documentation for the algorithm."""

    name: str
    servers: Sequence[str]
    transport: Transport
    suffixes: Sequence[bytes] = ()
    schedule: Sequence[float] = SCHEDULE
    clock: Callable[[], float] = time.monotonic
    #: Called with each query sent (qname text, type): for tests and ``-v``.
    trace: Callable[[str, int], None] | None = None
    #: iPXE asks AAAA first when it has an IPv6 DNS server (``dns6``), then A.
    ipv6_first: bool = False

    def run(self) -> str:
        """The address (text); raises ``DnsError``."""
        literal = numeric(self.name)
        if literal is not None:
            return literal
        if not self.servers:
            raise DnsError(ENXIO_NO_NAMESERVER, "the dns setting is empty")
        base = encode_name(self.name)[:-1]  # without the root label
        suffixes = list(self.suffixes) if b"." not in self.name.encode() else []
        first, second = (TYPE_AAAA, TYPE_A) if self.ipv6_first else (TYPE_A, TYPE_AAAA)
        qtype = first
        qname = self._qualify(base, suffixes)
        recursion = 0
        index = 0
        tried = [name_text(qname)]
        while True:
            answer = self._ask(qname, qtype, index)
            index = answer.index
            asked = qtype
            restart = True
            while restart:
                restart = False
                for owner, record in answer.records:
                    if not same_name(owner, qname):
                        continue
                    if record.rtype in (TYPE_A, TYPE_AAAA):
                        size = 4 if record.rtype == TYPE_A else 16
                        return str(ipaddress.ip_address(record.rdata[:size]))
                    if record.rtype == TYPE_CNAME:
                        recursion += 1
                        if recursion > MAX_CNAME_RECURSION:
                            raise DnsError(ELOOP_DNS, f"more than {MAX_CNAME_RECURSION} CNAMEs")
                        qname, suffixes, qtype = record.target, [], first
                        tried.append(name_text(qname))
                        restart = True  # iPXE scans the answers again for the new name
                        break
            if asked == first:
                qtype = second
            elif asked == second:
                qtype = TYPE_CNAME
            elif asked == TYPE_CNAME and qtype == TYPE_CNAME:
                if not suffixes:
                    names = " or ".join(tried)
                    raise DnsError(ENXIO_NO_RECORD, f"no A, AAAA or CNAME record for {names}")
                suffixes = suffixes[1:]
                qname = self._qualify(base, suffixes)
                qtype = first
                tried.append(name_text(qname))

    @staticmethod
    def _qualify(base: bytes, suffixes: Sequence[bytes]) -> bytes:
        name = base + (suffixes[0] if suffixes else b"\0")
        if len(name) > MAX_NAME:
            raise DnsError(EINVAL_DNS, "the name with its search suffix is longer than 255 bytes")
        return name

    def _ask(self, qname: bytes, qtype: int, index: int) -> _Answer:
        """Send the question until a readable response comes, moving through the servers."""
        # os.urandom, not secrets: that loads OpenSSL's hmac at start-up for one number.
        qid = int.from_bytes(os.urandom(2), "big") or 1
        query = build_query(qid, qname, qtype)
        ignored = 0  # responses that were unreadable: said (with the last reason) if nothing
        last_ignored = ""  # else came; a count, so that a flood of them costs no memory
        for attempt, wait in enumerate(self.schedule):
            if attempt:
                index += 1  # iPXE moves to the next server on each retransmission
            server = self.servers[index % len(self.servers)]
            if self.trace is not None:
                self.trace(name_text(qname), qtype)
            with contextlib.suppress(OSError):  # iPXE only logs it; the timer retransmits
                self.transport.send(server, query)
            deadline = self.clock() + wait
            while (left := deadline - self.clock()) > 0:
                data = self.transport.receive(left)
                if data is None:
                    break
                try:
                    _, found = records(data, qid)
                    _check_addresses(found, qname)
                except Malformed as exc:
                    ignored += 1
                    last_ignored = str(exc)
                    continue
                return _Answer(found, index)
        servers = ", ".join(self.servers)
        if ignored:
            raise DnsError(
                ETIMEDOUT_DNS,
                f"no usable answer from {servers}: {ignored} response(s) ignored"
                f" (the last: {last_ignored})",
            )
        raise DnsError(ETIMEDOUT_DNS, f"no answer from {servers}")


def _check_addresses(found: list[tuple[bytes, Record]], qname: bytes) -> None:
    """iPXE drops a response whose A or AAAA record for the question is too short."""
    for owner, record in found:
        size = {TYPE_A: 4, TYPE_AAAA: 16}.get(record.rtype)
        if size and same_name(owner, qname) and len(record.rdata) < size:
            raise Malformed("address record shorter than an address")


@dataclass(frozen=True)
class _Answer:
    records: list[tuple[bytes, Record]]
    index: int


def describe(number: int) -> str:
    """The words iPXE attaches to its DNS errors (its strerror shows only the number)."""
    return _TEXT.get(number, "")
