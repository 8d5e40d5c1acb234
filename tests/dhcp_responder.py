"""A tiny DHCP server for the cases no real server produces on demand, run on a lab host.

    python tests/dhcp_responder.py MODE IFACE SERVER_IP LEASE_IP

``nak``: answers a DHCPDISCOVER with a DHCPOFFER of LEASE_IP (saying no-pxedhcp, so the
client requests at once) and every DHCPREQUEST with a DHCPNAK (the server changed its mind).
``garbage``: answers a DHCPDISCOVER with a good
DHCPOFFER of LEASE_IP (without no-pxedhcp, so the client keeps listening for two seconds)
followed by junk a client must ignore, each piece offering 10.77.0.66 if it were taken:
random bytes, another xid, another chaddr, a bad UDP checksum, a truncated packet, options
that overflow, a UDP length past the frame, an IP fragment; a DHCPREQUEST for LEASE_IP gets
the same junk and then a good DHCPACK. It prints one line per answer to stdout.
``nak-escape``: as ``nak``, with terminal escape sequences in the DHCPNAK's message.
``lease MASK ROUTER``: offers and acknowledges LEASE_IP with that netmask and router (a lease
the client must refuse whole: 127.0.0.5, a zero mask, a router it cannot reach).
``flood``: no DHCP at all; sends broadcast UDP datagrams to port 68 from the interface as
fast as it can (at most 20 million, 120 s), each one junk to a DHCP client.
"""

from __future__ import annotations

import os
import socket
import struct
import sys
import time

from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

BAD_IP = "10.77.0.66"


def reply(
    request: Ether,
    server_ip: str,
    server_mac: str,
    msgtype: str,
    yiaddr: str,
    no_pxedhcp: bool = False,
    *,
    mask: str = "255.255.255.0",
    router: str | None = None,
    nak_message: bytes = b"address not available (bootsh test)",
    **over: object,
) -> Ether:
    bootp = request[BOOTP]
    options: list[object] = [
        ("message-type", msgtype),
        ("server_id", server_ip),
        ("subnet_mask", mask),
        ("router", router or server_ip),
        ("lease_time", 3600),
    ]
    if no_pxedhcp:
        options.append((175, b"\xb0\x01\x01"))  # iPXE: do not wait for ProxyDHCP
    if msgtype == "nak":
        options = [("message-type", "nak"), ("server_id", server_ip),
                   ("error_message", nak_message)]  # fmt: skip
    options.append("end")
    frame = (
        Ether(src=server_mac, dst=bootp.chaddr[:6])
        / IP(src=server_ip, dst="255.255.255.255")
        / UDP(sport=67, dport=68)
        / BOOTP(
            op=2,
            xid=over.get("xid", bootp.xid),
            yiaddr=yiaddr if msgtype != "nak" else "0.0.0.0",
            siaddr=server_ip,
            chaddr=over.get("chaddr", bootp.chaddr),
        )
        / DHCP(options=options)
    )
    return frame


def junk(request: Ether, server_ip: str, server_mac: str, msgtype: str) -> list[bytes]:
    bootp = request[BOOTP]
    good = reply(request, server_ip, server_mac, msgtype, BAD_IP)
    frames = [
        b"\xff" * 6 + bytes.fromhex(server_mac.replace(":", "")) + b"\x08\x00" + os.urandom(300),
        bytes(reply(request, server_ip, server_mac, msgtype, BAD_IP, xid=bootp.xid ^ 0x5A5A)),
        bytes(
            reply(
                request,
                server_ip,
                server_mac,
                msgtype,
                BAD_IP,
                chaddr=b"\x02\x99\x99\x99\x99\x99" + b"\0" * 10,
            )
        ),
    ]
    # A bad UDP checksum.
    bad_sum = bytearray(bytes(good))
    bad_sum[14 + 20 + 6] ^= 0xFF
    frames.append(bytes(bad_sum))
    # Truncated inside the BOOTP header (lengths consistent, so only the DHCP parser sees it).
    cut = (
        Ether(src=server_mac, dst="ff:ff:ff:ff:ff:ff")
        / IP(src=server_ip, dst="255.255.255.255")
        / UDP(sport=67, dport=68)
        / bytes(good[BOOTP])[:120]
    )
    frames.append(bytes(cut))
    # Options that overflow: the first option claims 250 bytes where 3 remain.
    raw = bytearray(bytes(good[BOOTP]))
    raw[240:] = bytes([53, 250, 2])
    raw[16:20] = bytes(4)  # no yiaddr: only the option parser is tested
    overflow = (
        Ether(src=server_mac, dst="ff:ff:ff:ff:ff:ff")
        / IP(src=server_ip, dst="255.255.255.255")
        / UDP(sport=67, dport=68)
        / bytes(raw)
    )
    frames.append(bytes(overflow))
    # A UDP length past the end of the frame.
    long_udp = bytearray(bytes(good))
    struct.pack_into("!H", long_udp, 14 + 20 + 4, 4000)
    frames.append(bytes(long_udp))
    # An IP fragment (more fragments follow, never sent).
    fragment = bytearray(bytes(good))
    fragment[14 + 6] |= 0x20
    frames.append(bytes(fragment))
    return frames


def flood(sock: socket.socket, server_ip: str, server_mac: str) -> int:
    """Broadcast junk to UDP port 68, prebuilt, sent in a tight loop (bounded)."""
    frame = bytes(
        Ether(src=server_mac, dst="ff:ff:ff:ff:ff:ff")
        / IP(src=server_ip, dst="255.255.255.255")
        / UDP(sport=67, dport=68)
        / (b"\x02" + bytes(299))  # a BOOTREPLY of zeros: no magic cookie, no xid of ours
    )
    end = time.monotonic() + 120
    for n in range(20_000_000):
        try:
            sock.send(frame)
        except OSError:
            time.sleep(0.001)  # the queue is full: go on when it has room
        if n % 4096 == 0 and time.monotonic() > end:
            break
    return 0


def main() -> int:
    mode, iface, server_ip, lease_ip, *extra = sys.argv[1:]
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    sock.bind((iface, 0))
    server_mac = ":".join(f"{b:02x}" for b in sock.getsockname()[4])
    print("ready", flush=True)
    if mode == "flood":
        return flood(sock, server_ip, server_mac)
    mask, router = (extra[0], extra[1]) if mode == "lease" else ("255.255.255.0", None)
    nak_message = b"address not available (bootsh test)"
    if mode == "nak-escape":
        mode = "nak"
        nak_message = b"no \x1b[2J\x1b]0;pwned\x07 address"
    while True:
        data, address = sock.recvfrom(65536)
        if address[2] == socket.PACKET_OUTGOING:
            continue
        frame = Ether(data)
        if DHCP not in frame or frame[BOOTP].op != 1:
            continue
        options = {o[0]: o[1] for o in frame[DHCP].options if isinstance(o, tuple)}
        kind = options.get("message-type")
        if kind == 1:
            answer = reply(
                frame,
                server_ip,
                server_mac,
                "offer",
                lease_ip,
                mode in ("nak", "lease"),
                mask=mask,
                router=router,
            )
            sock.send(bytes(answer))
            if mode == "garbage":
                for piece in junk(frame, server_ip, server_mac, "offer"):
                    sock.send(piece)
            print("offer", flush=True)
        elif kind == 3:
            if mode == "no-ack":  # offers, then never answers the request
                print("request", flush=True)
                continue
            if mode == "nak":
                nak = reply(frame, server_ip, server_mac, "nak", lease_ip, nak_message=nak_message)
                sock.send(bytes(nak))
                print("nak", flush=True)
                continue
            if mode == "lease":
                sock.send(
                    bytes(
                        reply(
                            frame, server_ip, server_mac, "ack", lease_ip, mask=mask, router=router
                        )
                    )
                )
                print("ack", flush=True)
                continue
            for piece in junk(frame, server_ip, server_mac, "ack"):
                sock.send(piece)
            sock.send(bytes(reply(frame, server_ip, server_mac, "ack", lease_ip)))
            print("ack", flush=True)


if __name__ == "__main__":
    sys.exit(main())
