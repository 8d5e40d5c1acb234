"""bootsh.net.dns without a network: the wire format on hostile input, and iPXE's resolution
algorithm (query order, search list, CNAMEs, server rotation, retry schedule) against a
scripted transport and a fake clock. The lab tests (tests/test_ip_cmds.py) run it against
dnsmasq."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from bootsh.ipxe_errors import strerror
from bootsh.net.dns import (
    EINVAL_DNS,
    ELOOP_DNS,
    ENXIO_NO_NAMESERVER,
    ENXIO_NO_RECORD,
    ETIMEDOUT_DNS,
    SCHEDULE,
    TYPE_A,
    TYPE_AAAA,
    TYPE_CNAME,
    DnsError,
    Lookup,
    Malformed,
    build_query,
    encode_name,
    read_name,
    records,
    search_list,
    skip_name,
)


def test_error_numbers_are_ipxes() -> None:
    assert f"{ENXIO_NO_RECORD:08x}" == "3e116106"
    assert f"{ENXIO_NO_NAMESERVER:08x}" == "3e116206"
    assert strerror(ETIMEDOUT_DNS) == "Connection timed out (https://ipxe.org/4c11606e)"
    assert strerror(EINVAL_DNS) == "Invalid argument (https://ipxe.org/1c116016)"
    # No text in iPXE's error table: only the number is printed.
    assert strerror(ENXIO_NO_RECORD) == "Error 0x3e116106 (https://ipxe.org/3e116106)"


# -- names -------------------------------------------------------------------------------


def test_encode_name() -> None:
    assert encode_name("server.bootsh.test") == b"\x06server\x06bootsh\x04test\x00"
    assert encode_name("server.bootsh.test.") == encode_name("server.bootsh.test")
    assert encode_name("") == b"\x00"
    assert encode_name("a" * 63) == b"\x3f" + b"a" * 63 + b"\0"


@pytest.mark.parametrize(
    "name", ["a..b", ".a", "a" * 64, ".".join(["abcdefgh"] * 29), "..", "a.b.."]
)
def test_encode_rejects_what_ipxe_rejects(name: str) -> None:
    with pytest.raises(DnsError) as info:
        encode_name(name)
    assert info.value.errno == EINVAL_DNS


def test_compressed_names() -> None:
    msg = b"\x00" * 12 + b"\x03foo\x03bar\x00" + b"\x03baz\xc0\x0c"
    assert skip_name(msg, 12) == 21
    assert read_name(msg, 21) == b"\x03baz\x03foo\x03bar\x00"
    assert skip_name(msg, 21) == 27


@pytest.mark.parametrize(
    ("msg", "offset"),
    [
        (b"\xc0\x00", 0),  # points at itself
        (b"\x00" * 4 + b"\xc0\x06\xc0\x04", 4),  # points forwards
        (b"\x05abc", 0),  # label past the end
        (b"\x03abc", 0),  # no terminating root
        (b"\x80abc", 0),  # reserved label type
        (b"\xc0", 0),  # half a pointer
        (b"", 0),
    ],
)
def test_hostile_names_are_malformed(msg: bytes, offset: int) -> None:
    with pytest.raises(Malformed):
        read_name(msg, offset)


def test_pointer_loops_end() -> None:
    # Two pointers pointing at each other: the backwards-only rule stops the walk.
    msg = b"\xc0\x02\xc0\x00"
    with pytest.raises(Malformed):
        read_name(msg, 2)


def test_search_list_of_option_119() -> None:
    raw = b"\x06bootsh\x04test\x00\x03lab\xc0\x00\x00"  # second name compressed, padding
    assert search_list(raw) == [b"\x06bootsh\x04test\x00", b"\x03lab\x06bootsh\x04test\x00"]
    assert search_list(b"\x05ab") == []


# -- responses ----------------------------------------------------------------------------


def rr(name: bytes, rtype: int, rdata: bytes) -> bytes:
    return name + struct.pack("!HHIH", rtype, 1, 60, len(rdata)) + rdata


def response(
    qid: int, qname: bytes, qtype: int, *answers: bytes, rcode: int = 0, qdcount: int = 1
) -> bytes:
    header = struct.pack("!HHHHHH", qid, 0x8180 | rcode, qdcount, len(answers), 0, 0)
    return header + qname + struct.pack("!HH", qtype, 1) + b"".join(answers)


def test_records_reads_every_section_and_follows_pointers() -> None:
    name = encode_name("x.test")
    msg = response(7, name, TYPE_A, rr(b"\xc0\x0c", TYPE_A, bytes([10, 0, 0, 1])))
    _, found = records(msg, 7)
    assert found[0][0] == name and found[0][1].rdata == bytes([10, 0, 0, 1])


@pytest.mark.parametrize(
    "msg",
    [
        b"\x00\x07",  # short
        response(8, encode_name("x"), TYPE_A),  # another id
        response(7, encode_name("x"), TYPE_A, qdcount=2),
        response(7, encode_name("x"), TYPE_A)[:-2],  # question cut
        response(7, encode_name("x"), TYPE_A, rr(encode_name("x"), TYPE_A, b"\1\2\3\4"))[:-1],
    ],
)
def test_records_rejects_what_ipxe_ignores(msg: bytes) -> None:
    with pytest.raises(Malformed):
        records(msg, 7)


# -- the algorithm -------------------------------------------------------------------------


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


Answerer = Callable[[bytes, int, int], bytes | None]


@dataclass
class Scripted:
    """A transport whose server answers through ``answer(qname, qtype, qid)`` at once."""

    answer: Answerer
    clock: Clock
    sent: list[tuple[str, str, int]] = field(default_factory=list)
    queue: list[bytes] = field(default_factory=list)

    def send(self, server: str, payload: bytes) -> None:
        qid = int.from_bytes(payload[:2], "big")
        end = skip_name(payload, 12)
        qname, qtype = payload[12:end], int.from_bytes(payload[end : end + 2], "big")
        labels = []
        offset = 0
        while qname[offset]:
            labels.append(qname[offset + 1 : offset + 1 + qname[offset]].decode())
            offset += 1 + qname[offset]
        self.sent.append((server, ".".join(labels), qtype))
        reply = self.answer(qname, qtype, qid)
        if reply is not None:
            self.queue.append(reply)

    def receive(self, timeout: float) -> bytes | None:
        if self.queue:
            return self.queue.pop(0)
        self.clock.now += timeout  # nothing comes: the whole wait passes
        return None


def lookup(name: str, answer: Answerer, **kwargs: object) -> tuple[Lookup, Scripted]:
    clock = Clock()
    transport = Scripted(answer, clock)
    servers = kwargs.pop("servers", ["10.77.0.1"])
    found = Lookup(name, servers, transport, clock=clock, **kwargs)  # type: ignore[arg-type]
    return found, transport


def zone(records_by_name: dict[str, list[tuple[int, bytes]]]) -> Answerer:
    """A server knowing these records, answering NXDOMAIN (no records) for the rest."""

    def answer(qname: bytes, qtype: int, qid: int) -> bytes:
        found = []
        for name, rrs in records_by_name.items():
            if encode_name(name).lower() == qname.lower():
                found += [rr(b"\xc0\x0c", t, d) for t, d in rrs if t in (qtype, TYPE_CNAME)]
        return response(qid, qname, qtype, *found, rcode=0 if found else 3)

    return answer


def test_a_record() -> None:
    found, transport = lookup(
        "Server.Bootsh.Test", zone({"server.bootsh.test": [(TYPE_A, bytes([10, 77, 0, 1]))]})
    )
    assert found.run() == "10.77.0.1"
    assert transport.sent == [("10.77.0.1", "Server.Bootsh.Test", TYPE_A)]


def test_aaaa_after_a() -> None:
    address = bytes(range(16))
    found, transport = lookup("six.test", zone({"six.test": [(TYPE_AAAA, address)]}))
    assert found.run() == "1:203:405:607:809:a0b:c0d:e0f"
    assert [t for _, _, t in transport.sent] == [TYPE_A, TYPE_AAAA]


def test_nxdomain_asks_a_aaaa_cname_for_each_name_then_fails() -> None:
    found, transport = lookup(
        "nosuch", zone({}), suffixes=[encode_name("bootsh.test"), encode_name("lab")]
    )
    with pytest.raises(DnsError) as info:
        found.run()
    assert info.value.errno == ENXIO_NO_RECORD
    assert [(n, t) for _, n, t in transport.sent] == [
        (name, qtype)
        for name in ("nosuch.bootsh.test", "nosuch.lab", "nosuch")
        for qtype in (TYPE_A, TYPE_AAAA, TYPE_CNAME)
    ]
    assert "nosuch.bootsh.test or nosuch.lab or nosuch" in info.value.detail


def test_a_name_with_a_dot_ignores_the_search_list() -> None:
    found, transport = lookup("a.b", zone({}), suffixes=[encode_name("bootsh.test")])
    with pytest.raises(DnsError):
        found.run()
    assert {n for _, n, _ in transport.sent} == {"a.b"}


def test_search_suffix_that_answers() -> None:
    found, _ = lookup(
        "server",
        zone({"server.bootsh.test": [(TYPE_A, bytes([10, 77, 0, 1]))]}),
        suffixes=[encode_name("bootsh.test")],
    )
    assert found.run() == "10.77.0.1"


def test_cname_with_the_target_in_the_same_response() -> None:
    def answer(qname: bytes, qtype: int, qid: int) -> bytes:
        target = encode_name("real.test")
        return response(
            qid,
            qname,
            qtype,
            rr(b"\xc0\x0c", TYPE_CNAME, target),
            rr(target, TYPE_A, bytes([10, 0, 0, 9])),
        )

    found, transport = lookup("alias.test", answer)
    assert found.run() == "10.0.0.9"
    assert len(transport.sent) == 1


def test_cname_loop_stops_with_eloop() -> None:
    def answer(qname: bytes, qtype: int, qid: int) -> bytes:
        return response(qid, qname, qtype, rr(b"\xc0\x0c", TYPE_CNAME, b"\xc0\x0c"))

    found, _ = lookup("loop.test", answer)
    with pytest.raises(DnsError) as info:
        found.run()
    assert info.value.errno == ELOOP_DNS


def test_records_of_other_names_do_not_count() -> None:
    def answer(qname: bytes, qtype: int, qid: int) -> bytes:
        return response(qid, qname, qtype, rr(encode_name("other.test"), TYPE_A, b"\1\1\1\1"))

    found, _ = lookup("x.test", answer)
    with pytest.raises(DnsError) as info:
        found.run()
    assert info.value.errno == ENXIO_NO_RECORD


def test_garbage_and_wrong_ids_are_ignored_until_the_real_answer() -> None:
    def answer(qname: bytes, qtype: int, qid: int) -> bytes:
        return response(qid, qname, qtype, rr(b"\xc0\x0c", TYPE_A, bytes([10, 0, 0, 2])))

    found, transport = lookup("x.test", answer)
    real = transport.answer
    transport.answer = lambda q, t, i: None  # the server stays silent; we inject instead

    def send(server: str, payload: bytes) -> None:
        qid = int.from_bytes(payload[:2], "big")
        transport.queue += [
            b"garbage",
            response(qid ^ 1, encode_name("x.test"), TYPE_A),
            response(qid, encode_name("x.test"), TYPE_A, rr(b"\xc0\x0c", TYPE_A, b"\1\2")),
            real(encode_name("x.test"), TYPE_A, qid),  # type: ignore[list-item]
        ]

    transport.send = send  # type: ignore[method-assign]
    assert found.run() == "10.0.0.2"


def test_silence_times_out_on_ipxes_schedule_rotating_servers() -> None:
    found, transport = lookup("x.test", lambda q, t, i: None, servers=["10.0.0.1", "10.0.0.2"])
    with pytest.raises(DnsError) as info:
        found.run()
    assert info.value.errno == ETIMEDOUT_DNS
    assert [s for s, _, _ in transport.sent] == ["10.0.0.1", "10.0.0.2"] * 3
    assert found.clock() == pytest.approx(sum(SCHEDULE)) == 15.75


def test_no_servers_and_literals() -> None:
    found, transport = lookup("x.test", zone({}), servers=[])
    with pytest.raises(DnsError) as info:
        found.run()
    assert info.value.errno == ENXIO_NO_NAMESERVER and transport.sent == []
    assert lookup("10.1.2.3", zone({}), servers=[])[0].run() == "10.1.2.3"
    assert lookup("fe80::1", zone({}), servers=[])[0].run() == "fe80::1"


def test_query_format() -> None:
    assert build_query(0x1234, encode_name("a.b"), TYPE_A) == (
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x01b\x00\x00\x01\x00\x01"
    )
