"""The DHCP client's pure parts: option walking, packets, frames, the state machine's timers
and choices (with an injected clock), the identifiers a request carries, the settings block
and ``route``. The lab tests (tests/test_dhcp.py) run the same code against real servers."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bootsh.net import dhcp, monojob
from bootsh.net.dhcp import (
    ACK,
    DISCOVER,
    NAK,
    OFFER,
    REQUEST,
    DhcpBlock,
    DhcpPacket,
    Identity,
    Reply,
    Session,
    parse_frame,
    walk_options,
)
from bootsh.plugins import PluginHost
from bootsh.shell import Shell
from bootsh_ipxe_cmds.config_cmds import link_local
from tests.helpers import ROOT, make_shell

MAC = bytes.fromhex("525400123456")
SERVER = socket.inet_aton("10.0.0.1")
PROXY = socket.inet_aton("10.0.0.9")
LEASE = socket.inet_aton("10.0.0.50")
IDENTITY = Identity(MAC, busid=b"\x01\x10\xec\x81\x39", uuid=bytes(range(16)))


def packet(
    msgtype: int | None,
    *,
    xid: int = 1,
    yiaddr: bytes = bytes(4),
    siaddr: bytes = bytes(4),
    chaddr: bytes = MAC,
    server: bytes | None = SERVER,
    extra: list[tuple[int, bytes]] | None = None,
    file: bytes = b"",
) -> DhcpPacket:
    header = bytearray(dhcp.HEADER_LEN)
    header[0] = 2
    header[4:8] = xid.to_bytes(4, "big")
    header[16:20] = yiaddr
    header[20:24] = siaddr
    header[28 : 28 + len(chaddr)] = chaddr
    header[108 : 108 + len(file)] = file
    options: list[tuple[int, bytes]] = []
    if msgtype is not None:
        options.append((53, bytes([msgtype])))
    if server is not None:
        options.append((54, server))
    options += extra or []
    return DhcpPacket(header, options)


def reply(pkt: DhcpPacket, peer: bytes = SERVER, port: int = 67) -> Reply:
    return Reply(pkt, peer, port, b"\x02\0\0\0\0\x09")


def offer(**kw: object) -> Reply:
    return reply(packet(OFFER, yiaddr=LEASE, **kw))  # type: ignore[arg-type]


NO_PXE = (175, bytes([0xB0, 1, 1]))


def output(shell: Shell) -> str:
    assert isinstance(shell.out, io.StringIO)
    return shell.out.getvalue()


def decoded(frame: bytes) -> tuple[int, dict[int, bytes], object]:
    from scapy.layers.inet import UDP
    from scapy.layers.l2 import Ether

    ether = Ether(frame)
    bootp = bytes(ether[UDP].payload)  # BOOTP on port 67, raw bytes on port 4011
    pkt = DhcpPacket.parse(bootp)
    assert pkt is not None
    return pkt.msgtype, dict(pkt.options), ether


# -- options and packets -------------------------------------------------------------------


def test_options_skip_pads_and_stop_at_end() -> None:
    assert walk_options(bytes([0, 0, 1, 1, 7, 255, 3, 1, 9])) == [(1, b"\x07")]


def test_an_option_that_overflows_ends_the_list_where_it_starts() -> None:
    assert walk_options(bytes([12, 2, 0x61, 0x62, 15, 200, 0x63])) == [(12, b"ab")]
    assert walk_options(bytes([12])) == []


def test_fetch_reads_fields_before_options_and_encapsulated_ones() -> None:
    extra = [(67, b"other"), (175, bytes([0xBE, 5, *b"alice", 0xB0, 1, 1]))]
    pkt = packet(ACK, yiaddr=LEASE, siaddr=SERVER, file=b"boot.ipxe", extra=extra)
    assert pkt.fetch(dhcp.EB_YIADDR) == LEASE
    assert pkt.fetch(dhcp.EB_SIADDR) == SERVER
    assert pkt.fetch(67) == b"boot.ipxe"  # the file field wins, as in iPXE
    assert pkt.fetch(dhcp.encap(175, 0xBE)) == b"alice"
    assert pkt.fetch(dhcp.EB_NO_PXEDHCP) == b"\x01"
    assert pkt.fetch(99) is None and pkt.fetch(dhcp.encap(43, 9)) is None


def test_store_replaces_fields_and_options() -> None:
    pkt = packet(ACK, yiaddr=LEASE)
    pkt.store(dhcp.encap(175, 0xBE), b"bob")
    pkt.store(12, b"host")
    pkt.store(67, b"x.efi")
    assert pkt.fetch(dhcp.encap(175, 0xBE)) == b"bob" and pkt.fetch(12) == b"host"
    assert pkt.fetch(67) == b"x.efi"
    pkt.store(12, None)
    assert pkt.fetch(12) is None
    again = DhcpPacket.parse(pkt.to_bytes())
    assert again is not None and again.fetch(dhcp.encap(175, 0xBE)) == b"bob"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=700))
def test_garbage_frames_are_never_taken_and_never_raise(data: bytes) -> None:
    assert parse_frame(data, MAC, 1) is None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.integers(0, 0xFFFF))
def test_any_options_parse_and_fetch_without_raising(options: bytes, tag: int) -> None:
    payload = bytes(packet(ACK).header) + dhcp.MAGIC + options
    pkt = DhcpPacket.parse(payload)
    assert pkt is not None
    value = pkt.fetch(tag)
    assert value is None or isinstance(value, bytes)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_a_well_formed_frame_with_any_options_parses(options: bytes) -> None:
    frame = dhcp.build_frame(Identity(MAC), 7, [])
    # Turn the request into a reply to us with arbitrary options, checksum left out (0).
    from scapy.layers.dhcp import BOOTP
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    body = bytearray(bytes(packet(OFFER, xid=7, yiaddr=LEASE).header)) + dhcp.MAGIC + options
    reply_frame = bytes(
        Ether(dst="52:54:00:12:34:56") / IP(src="10.0.0.1", dst="255.255.255.255")
        / UDP(sport=67, dport=68, chksum=0) / bytes(body)
    )  # fmt: skip
    assert BOOTP in Ether(frame)
    parsed = parse_frame(reply_frame, MAC, 7)
    assert parsed is not None and parsed.packet.yiaddr == LEASE
    assert parse_frame(reply_frame, MAC, 8) is None  # another xid
    assert parse_frame(reply_frame, bytes.fromhex("525400123457"), 7) is None  # another MAC


def test_a_bad_udp_checksum_is_dropped() -> None:
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    body = packet(OFFER, xid=7, yiaddr=LEASE).to_bytes()
    good = bytes(Ether() / IP(src="10.0.0.1", dst="255.255.255.255") / UDP(sport=67, dport=68)
                 / body)  # fmt: skip
    assert parse_frame(good, MAC, 7) is not None
    bad = bytearray(good)
    bad[40] ^= 0x55
    assert parse_frame(bytes(bad), MAC, 7) is None


# -- what a request says ---------------------------------------------------------------------


def test_a_discover_carries_ipxe_identifiers() -> None:
    frame = dhcp.build_frame(IDENTITY, 0x1234, dhcp.request_options(IDENTITY, DISCOVER))
    msgtype, options, ether = decoded(frame)
    assert msgtype == DISCOVER
    assert options[60] == b"PXEClient:Arch:00009:UNDI:003010"
    assert options[77] == b"iPXE"
    assert options[93] == b"\x00\x09" and options[94] == bytes([1, 3, 10])
    assert options[57] == (1472).to_bytes(2, "big")
    assert options[61] == b"\x01" + MAC
    # iPXE's UUID byte order: the first three fields little-endian.
    assert options[97] == b"\x00" + bytes([3, 2, 1, 0, 5, 4, 7, 6, *range(8, 16)])
    assert options[55] == dhcp.PARAMETER_REQUEST_LIST
    features = dict(walk_options(options[175]))
    assert features[0x13] == b"\x01" and features[0x15] == b"\x01"  # HTTP, TFTP
    assert features[0xB1] == b"\x01\x10\xec\x81\x39"  # bus id
    assert ether.dst == "ff:ff:ff:ff:ff:ff" and ether.src == "52:54:00:12:34:56"  # type: ignore[attr-defined]
    assert ether["IP"].src == "0.0.0.0" and ether["IP"].dst == "255.255.255.255"  # type: ignore[index]
    assert 54 not in options and 50 not in options


def test_the_user_class_setting_replaces_ipxe() -> None:
    options = dict(dhcp.request_options(Identity(MAC, user_class=b"mine"), DISCOVER))
    assert options[77] == b"mine" and 97 not in options


def test_vendor_class_names_the_architecture() -> None:
    assert Identity(MAC, arch=0x0B).vendor_class == b"PXEClient:Arch:00011:UNDI:003010"


# -- the state machine -----------------------------------------------------------------------


def sent(session: Session) -> list[int]:
    kinds = [decoded(f)[0] for f in session.outbox]
    session.outbox.clear()
    return kinds


def run_until(session: Session, end: float, step: float = 0.05) -> list[tuple[float, int]]:
    """Tick the session on a fake clock; returns (time, message type) of what it sends."""
    log: list[tuple[float, int]] = []
    now = 0.0
    while now <= end and session.outcome is None:
        session.tick(now)
        log += [(round(now, 2), kind) for kind in sent(session)]
        now = round(now + step, 4)
    return log


def test_discovery_retransmits_as_ipxe_and_gives_up_at_15_s() -> None:
    session = Session(IDENTITY, 1, 0.0)
    log = run_until(session, 30)
    assert log == [(0.0, DISCOVER), (1.0, DISCOVER), (3.0, DISCOVER), (7.0, DISCOVER)]
    assert session.outcome is not None and session.outcome.rc == dhcp.ETIMEDOUT_DHCP
    assert dhcp.describe_error(dhcp.ETIMEDOUT_DHCP).startswith("Connection timed out")


def test_an_offer_saying_no_pxedhcp_is_requested_at_once() -> None:
    session = Session(IDENTITY, 1, 0.0)
    session.tick(0.0)
    assert sent(session) == [DISCOVER]
    session.receive(offer(extra=[NO_PXE]), 0.1)
    assert sent(session) == [REQUEST]
    session.receive(reply(packet(ACK, yiaddr=LEASE)), 0.2)
    assert session.outcome is not None and session.outcome.rc == 0
    assert session.outcome.ack is not None and session.outcome.ack.yiaddr == LEASE


def test_without_no_pxedhcp_discovery_waits_for_proxydhcp_past_2_s() -> None:
    session = Session(IDENTITY, 1, 0.0)
    session.tick(0.0)
    sent(session)
    session.receive(offer(), 0.1)
    assert sent(session) == []
    log = run_until(session, 4)
    assert log[:3] == [(1.0, DISCOVER), (3.0, REQUEST), (3.25, REQUEST)]


def test_a_nak_is_ignored_and_the_request_times_out() -> None:
    session = Session(IDENTITY, 1, 0.0)
    session.tick(0.0)
    sent(session)
    session.receive(offer(extra=[NO_PXE]), 0.0)
    assert sent(session) == [REQUEST]
    session.receive(reply(packet(NAK)), 0.01)
    assert session.outcome is None and len(session.naks) == 1
    log = run_until(session, 20, step=0.01)
    assert [t for t, _ in log] == [0.25, 0.75, 1.75, 3.75, 7.75]
    assert session.outcome is not None and session.outcome.rc == dhcp.ETIMEDOUT_DHCP


def test_acks_from_another_server_or_for_another_address_are_ignored() -> None:
    session = Session(IDENTITY, 1, 0.0)
    session.tick(0.0)
    session.receive(offer(extra=[NO_PXE]), 0.0)
    session.receive(reply(packet(ACK, yiaddr=socket.inet_aton("10.0.0.51"))), 0.1)
    session.receive(reply(packet(ACK, yiaddr=LEASE, server=PROXY), peer=PROXY), 0.1)
    session.receive(reply(packet(ACK, yiaddr=LEASE), port=4011), 0.1)
    assert session.outcome is None
    session.receive(reply(packet(ACK, yiaddr=LEASE)), 0.2)
    assert session.outcome is not None and session.outcome.rc == 0


def test_a_higher_priority_offer_wins() -> None:
    session = Session(IDENTITY, 1, 0.0)
    session.tick(0.0)
    best = socket.inet_aton("10.0.0.77")
    session.receive(reply(packet(OFFER, yiaddr=best, server=PROXY,
                                 extra=[(175, bytes([1, 1, 5]))]), peer=PROXY), 0.1)  # fmt: skip
    session.receive(offer(), 0.2)  # priority 0 after priority 5: not taken
    run_until(session, 4)
    assert session.offer == best and session.server == PROXY


def test_proxydhcp_offer_leads_to_a_request_on_port_4011() -> None:
    session = Session(IDENTITY, 1, 0.0)
    session.tick(0.0)
    sent(session)
    session.receive(offer(), 0.05)
    proxy_offer = packet(OFFER, server=PROXY, extra=[(60, b"PXEClient")])
    session.receive(reply(proxy_offer, peer=PROXY), 0.1)
    assert sent(session) == [REQUEST] and session.proxy_server == PROXY
    session.receive(reply(packet(ACK, yiaddr=LEASE)), 0.2)
    assert session.ack is not None and session.outcome is None
    frames = list(session.outbox)
    assert sent(session) == [REQUEST]
    _, options, ether = decoded(frames[0])
    assert ether["UDP"].dport == 4011 and ether["IP"].dst == "10.0.0.9"  # type: ignore[index]
    assert ether["IP"].src == "10.0.0.50" and options[54] == PROXY  # type: ignore[index]
    answer = packet(ACK, server=PROXY, siaddr=PROXY, file=b"boot.efi", extra=[(60, b"PXEClient")])
    session.receive(reply(answer, peer=PROXY, port=4011), 0.3)
    assert session.outcome is not None and session.outcome.proxy is answer


def test_a_silent_proxydhcp_server_is_given_up_after_2_s() -> None:
    session = Session(IDENTITY, 1, 0.0)
    session.tick(0.0)
    session.receive(offer(), 0.0)
    session.receive(reply(packet(OFFER, server=PROXY, extra=[(60, b"PXEClient")]), PROXY), 0.0)
    session.receive(reply(packet(ACK, yiaddr=LEASE)), 0.0)
    run_until(session, 5, step=0.01)
    assert session.outcome is not None and session.outcome.rc == 0
    assert session.outcome.proxy is None


def test_a_proxy_offer_with_boot_options_is_taken_without_a_request() -> None:
    session = Session(IDENTITY, 1, 0.0)
    session.tick(0.0)
    session.receive(offer(), 0.0)
    pxe = packet(OFFER, server=PROXY, siaddr=PROXY, file=b"x.efi", extra=[(60, b"PXEClient")])
    session.receive(reply(pxe, PROXY), 0.0)
    session.receive(reply(packet(ACK, yiaddr=LEASE)), 0.0)
    assert session.outcome is not None and session.outcome.proxy is pxe


# -- settings and route ------------------------------------------------------------------------


def test_the_lease_is_readable_by_name_and_number(host: PluginHost) -> None:
    shell = make_shell(host)
    name = shell.netdevs().shown[0].name
    ack = packet(ACK, yiaddr=LEASE, siaddr=SERVER, file=b"http://x/boot.ipxe",
                 extra=[(1, socket.inet_aton("255.255.255.0")), (3, SERVER), (6, SERVER),
                        (15, b"lab.test"), (225, b"\x01\x02\x03"),
                        (175, bytes([0xBE, 5, *b"alice"]))])  # fmt: skip
    shell.settings.register_block(DhcpBlock("dhcp", ack), str(name))
    for line, value in (
        ("ip", "10.0.0.50"),
        ("netmask", "255.255.255.0"),
        ("gateway", "10.0.0.1"),
        ("dns", "10.0.0.1"),
        ("domain", "lab.test"),
        ("filename", "http://x/boot.ipxe"),
        ("next-server", "10.0.0.1"),
        ("dhcp-server", "10.0.0.1"),
        ("username", "alice"),
        ("225:hex", "01:02:03"),
    ):
        assert shell.lookup(f"{name}.dhcp/{line}") == value, line
    assert shell.run_line(f"show {name}.dhcp/ip") == 0
    assert f"{name}.dhcp/ip:ipv4 = 10.0.0.50" in output(shell)
    assert shell.run_line("route") == 0
    out = output(shell)
    assert f"{name}: 10.0.0.50/255.255.255.0 gw 10.0.0.1 (inaccessible)" in out


def test_static_settings_show_in_route(host: PluginHost) -> None:
    shell = make_shell(host)
    netdev = shell.netdevs().shown[0]
    name = str(netdev.name)
    for line in (f"set {name}/ip 192.168.7.9", f"set {name}/gateway 192.168.7.1", "route"):
        assert shell.run_line(line) == 0
    lines = output(shell).splitlines()
    assert lines[0] == f"{name}: 192.168.7.9/255.255.255.0 gw 192.168.7.1 (inaccessible)"
    assert lines[1] == f"{name}: {link_local(str(netdev.nic.mac))}/64 (inaccessible)"


@pytest.mark.parametrize(
    ("mac", "address"),
    [
        ("52:54:00:12:34:56", "fe80::5054:ff:fe12:3456"),
        ("00:16:3e:00:00:01", "fe80::216:3eff:fe00:1"),
        ("02:00:00:00:00:00", "fe80::ff:fe00:0"),
    ],
)
def test_link_local_is_eui64(mac: str, address: str) -> None:
    assert link_local(mac) == address


def test_ifconf_names_an_unknown_configurator(host: PluginHost) -> None:
    shell = make_shell(host)
    assert shell.run_line("ifconf -c bogus") == dhcp.ENOTSUP_CONFIGURATOR
    assert output(shell) == '"bogus": no such configurator\n'


def test_ifconf_of_an_unknown_netdev_says_so(host: PluginHost) -> None:
    shell = make_shell(host)
    assert shell.run_line("dhcp nosuch") == dhcp.ENODEV_NETDEV
    assert output(shell) == '"nosuch": no such network device\n'


def test_error_texts_are_ipxes() -> None:
    assert dhcp.describe_error(dhcp.EADDRNOTAVAIL_CONFIG) == (
        "No configuration methods succeeded (https://ipxe.org/040ee163)"
    )
    assert dhcp.describe_error(monojob.ECANCELED_MONOJOB) == (
        "Operation canceled (https://ipxe.org/0b07207d)"
    )
    assert dhcp.describe_error(monojob.ETIMEDOUT_MONOJOB) == (
        "Connection timed out (https://ipxe.org/4c07206e)"
    )


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([None, 0, OFFER, ACK, NAK, 99]),
            st.binary(max_size=80),
            st.sampled_from([bytes(4), LEASE]),
            st.sampled_from([SERVER, PROXY, None]),
            st.sampled_from([67, 4011, 68]),
            st.floats(0, 20),
        ),
        max_size=12,
    )
)
def test_the_session_survives_any_sequence_of_replies(
    replies: list[tuple[int | None, bytes, bytes, bytes | None, int, float]],
) -> None:
    session = Session(IDENTITY, 1, 0.0)
    now = 0.0
    for msgtype, options, yiaddr, server, port, later in replies:
        now += later
        session.tick(now)
        pkt = packet(msgtype, yiaddr=yiaddr, server=server, extra=walk_options(options))
        session.receive(reply(pkt, port=port), now)
        session.outbox.clear()
    for step in range(200):  # then silence: every state gives up within 16 s
        session.tick(now + step * 0.125)
        session.outbox.clear()
    assert session.outcome is not None
    if session.outcome is not None and session.outcome.rc == 0:
        assert session.outcome.ack is not None and session.outcome.ack.yiaddr == session.offer


CLOCK_AFTER_CODEC = """
import json, socket, sys
from bootsh.net.dhcp import Identity, run_session
from bootsh.net.netstate import NetdevState
ours, peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
ours.setblocking(False)
seen = []
def clock():
    seen.append(set(sys.modules))
    return 0.0 if len(seen) == 1 else 100.0  # then past the -t at once
state = NetdevState("net0", None, sock=ours)
outcome, _ = run_session(state, Identity(b"\\x02\\0\\0\\0\\0\\1"), deadline=1.0, clock=clock)
late = sorted(set(sys.modules) - seen[0])
scapy = sorted(m for m in sys.modules if m.split(".")[0] == "scapy")
print(json.dumps([late, scapy, len(peer.recv(2000)) > 300, hex(outcome.rc)]))
"""


def test_the_session_clock_starts_once_frames_can_be_built_and_read() -> None:
    """A module imported on the session's clock delays the DISCOVER and the reading of the
    offers (scapy's first import, 0.15 s idle and seconds on a busy machine, once ran inside
    the first transmit: past the 2 s ProxyDHCP wait the first offer read won at once over a
    better one queued behind it). bootsh builds and reads the frames itself now: nothing is
    imported once the session's clock has started, and scapy never. A fresh interpreter, so
    that nothing is loaded yet."""
    proc = subprocess.run(
        [sys.executable, "-c", CLOCK_AFTER_CODEC],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    late, scapy, sent, rc = json.loads(proc.stdout)
    assert (late, scapy, sent, rc) == ([], [], True, hex(monojob.ETIMEDOUT_MONOJOB)), proc.stderr
