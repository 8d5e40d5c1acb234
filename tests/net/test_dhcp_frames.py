"""bootsh builds and reads DHCP frames itself: byte for byte what scapy builds, and what
scapy builds it reads (scapy is a test dependency only)."""

from __future__ import annotations

import socket

from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.dhcp import BOOTP
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from bootsh.net import dhcp
from bootsh.net.dhcppkt import BOOTPC, BOOTPS, MAGIC, OFFER, OPT_END, PXE_PORT, encode_options

MAC = bytes.fromhex("525400123456")


def scapy_frame(
    identity: dhcp.Identity,
    xid: int,
    options: list[tuple[int, bytes]],
    secs: int,
    broadcast: bool,
    ciaddr: bytes,
    dst_ip: str,
    dst_port: int,
    dst_mac: bytes,
) -> bytes:
    """What bootsh built with scapy before."""
    src_ip = socket.inet_ntoa(ciaddr)
    bootp = BOOTP(
        op=1,
        htype=1,
        hlen=len(identity.mac),
        xid=xid,
        secs=secs,
        flags=0x8000 if broadcast else 0,
        ciaddr=src_ip,
        chaddr=identity.mac.ljust(16, b"\0"),
        options=MAGIC + encode_options(options) + bytes([OPT_END]),
    )
    frame = (
        Ether(dst=dst_mac.hex(":"), src=identity.mac.hex(":"), type=0x0800)
        / IP(src=src_ip, dst=dst_ip, ttl=64)
        / UDP(sport=BOOTPC, dport=dst_port)
        / bootp
    )
    return bytes(frame)


OPTIONS = st.lists(st.tuples(st.integers(1, 254), st.binary(max_size=40)), max_size=6)


@settings(max_examples=200, deadline=None)
@given(
    OPTIONS,
    st.integers(0, 0xFFFFFFFF),
    st.integers(0, 0xFFFF),
    st.booleans(),
    st.binary(min_size=4, max_size=4),
    st.sampled_from([("255.255.255.255", BOOTPS), ("10.77.0.1", PXE_PORT)]),
    st.binary(min_size=6, max_size=6),
)
def test_frames_are_scapys_byte_for_byte(
    options: list[tuple[int, bytes]],
    xid: int,
    secs: int,
    broadcast: bool,
    ciaddr: bytes,
    destination: tuple[str, int],
    dst_mac: bytes,
) -> None:
    identity = dhcp.Identity(MAC)
    dst_ip, dst_port = destination
    ours = dhcp.build_frame(
        identity, xid, options, secs=secs, broadcast=broadcast, ciaddr=ciaddr,
        dst_ip=dst_ip, dst_port=dst_port, dst_mac=dst_mac,
    )  # fmt: skip
    assert ours == scapy_frame(
        identity, xid, options, secs, broadcast, ciaddr, dst_ip, dst_port, dst_mac
    )


def test_a_real_request_is_scapys() -> None:
    identity = dhcp.Identity(MAC, uuid=bytes(range(16)))
    options = dhcp.request_options(identity, 3, server_id=b"\n\0\0\1", requested=b"\n\0\0\x05")
    assert dhcp.build_frame(identity, 0xDEADBEEF, options) == scapy_frame(
        identity, 0xDEADBEEF, options, 0, False, bytes(4), "255.255.255.255", BOOTPS, b"\xff" * 6
    )


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 40), st.booleans(), st.integers(0, 0xFFFF))
def test_scapys_replies_are_read(ip_options: int, checksummed: bool, sport: int) -> None:
    """IP options shift the UDP header; a zero UDP checksum means none (RFC 768)."""
    body = bytearray(236) + MAGIC + bytes([53, 1, OFFER, 255])
    body[0], body[4:8], body[16:20], body[28:34] = 2, (7).to_bytes(4, "big"), b"\n\0\0\5", MAC
    pad = bytes((ip_options // 4) * 4)
    udp = UDP(sport=sport, dport=68) if checksummed else UDP(sport=sport, dport=68, chksum=0)
    frame = bytes(
        Ether(src="02:00:00:00:00:01", dst=MAC.hex(":"))
        / IP(src="10.0.0.1", dst="255.255.255.255", options=pad)
        / udp
        / bytes(body)
    )
    reply = dhcp.parse_frame(frame, MAC, 7)
    assert reply is not None
    assert (reply.peer_ip, reply.peer_port, reply.peer_mac) == (
        b"\n\0\0\1",
        sport,
        bytes.fromhex("020000000001"),
    )
    assert reply.packet.yiaddr == b"\n\0\0\5"


def test_fragments_are_not_replies() -> None:
    body = bytearray(236) + MAGIC + bytes([53, 1, OFFER, 255])
    body[0], body[4:8], body[28:34] = 2, (7).to_bytes(4, "big"), MAC
    for flags, frag in (("MF", 0), (0, 1)):
        frame = bytes(
            Ether() / IP(src="10.0.0.1", dst="255.255.255.255", flags=flags, frag=frag)
            / UDP(sport=67, dport=68) / bytes(body)
        )  # fmt: skip
        assert dhcp.parse_frame(frame, MAC, 7) is None
