"""The DHCP client: iPXE's state machine (``net/udp/dhcp.c``) over the netdev's raw socket.

``bootsh.net.ifmgmt.configure`` runs it for ``dhcp``/``ifconf``: it opens the netdev if needed,
prints iPXE's progress line (``Configuring (net0 MAC)... ok``, a dot per second),
runs DISCOVER/OFFER/REQUEST/ACK (and a ProxyDHCP request when a PXE server answered), and on
success registers the ACK as the ``net0.dhcp`` settings block (and a ProxyDHCP answer as
``proxydhcp``) and applies the address and default route to the kernel interface
(``bootsh.net.netlink``). Nothing is applied before the ACK, so a timeout or Ctrl-C leaves the
interface as it was.

iPXE's behaviour, kept here:

* Timers are iPXE's retry timers: discovery retransmits after 1, 2, 4 and 8 s and fails at
  the next doubling past 10 s (about 15 s in all); requests start at once and back off from
  0.25 s to 8 s. A DHCPOFFER ends discovery at once when it says ``no-pxedhcp`` (175.176) or
  a ProxyDHCP offer is in; otherwise discovery waits for ProxyDHCP until more than 2 s have
  passed. Among offers, one of equal or higher priority (175.1) replaces the one held.
* A DHCPNAK, like any reply other than the DHCPACK for the address offered by the server
  chosen, is ignored: the request is retransmitted until it times out.
* Replies with another transaction id or another client hardware address are ignored, and so
  is anything that is not a well-formed UDP datagram to port 68 with a good checksum;
  options that overflow the packet end the option list where they start.
* The request carries what an iPXE client sends: message type, maximum size 1472, client
  architecture (93) and network interface (94), ``PXEClient:Arch:xxxxx:UNDI:yyyzzz`` (60),
  user class ``iPXE`` (77, or the ``user-class`` setting), iPXE's parameter request list
  (55), the feature list in option 175 (with the bus id, 175.177), the client id (61) and,
  when the firmware has one, the client UUID (97). Like iPXE's Linux build, bootsh presents
  itself as the EFI client of its architecture.

The frames are built and read here, byte by byte (Ethernet, IPv4, UDP: fixed headers and two
checksums); the DHCP payload is ``bootsh.net.dhcppkt``'s (options walked byte by byte as
iPXE's ``dhcpopts.c`` does, so that every option stays readable by number as raw bytes; the
``DhcpBlock`` settings). A packet library would add nothing to that but its import: scapy's
took about 145 ms, more than a whole lease (bench/dhcp_lease.py); tests/net/test_dhcp_logic.py
holds the frames built here to scapy's, byte for byte, and reads scapy's replies.
"""

from __future__ import annotations

import _socket as socket  # the C module: socket.py would import enum and selectors
import contextlib
import errno
import ipaddress
import os
import select
import struct
import time

from bootsh import __version__
from bootsh.ipxe_errors import ERRFILE_PARSEOPT, error_number, strerror
from bootsh.lang.settings import SettingsError, buildarch
from bootsh.lang.settypes import _mangle as uuid_mangle  # iPXE's uuid_mangle
from bootsh.net.dhcppkt import (
    ACK,
    BOOTPC,
    BOOTPS,
    DISCOVER,
    EB_BUS_ID,
    EB_NO_PXEDHCP,
    EB_PRIORITY,
    EB_SIADDR,
    EB_VERSION,
    EB_YIADDR,
    HEADER_LEN,
    MAGIC,
    NAK,
    OFFER,
    OPT_ARCH,
    OPT_CLIENT_ID,
    OPT_EB_ENCAP,
    OPT_END,
    OPT_MSGTYPE,
    OPT_NDI,
    OPT_REQUESTED_IP,
    OPT_SERVER_ID,
    OPT_USER_CLASS,
    OPT_UUID,
    OPT_VENDOR_CLASS,
    PXE_PORT,
    REQUEST,
    DhcpBlock,
    DhcpPacket,
    encap,
    encode_options,
    has_pxe_options,
    walk_options,
)
from bootsh.net.ifmgmt import ENODEV_NETDEV
from bootsh.net.inet import checksum
from bootsh.net.linkstate import LINK_DOWN, LINK_UNKNOWN
from bootsh.net.monojob import ETIMEDOUT_MONOJOB
from bootsh.records import dataclass

# The names that moved to bootsh.net.dhcppkt (and ifmgmt) stay importable from here: mypy's strict
# mode exports an imported name only when __all__ lists it. This is not the whole public API:
# everything defined below is public as well.
__all__ = [
    "ACK",
    "DISCOVER",
    "EB_NO_PXEDHCP",
    "EB_SIADDR",
    "EB_YIADDR",
    "ENODEV_NETDEV",
    "HEADER_LEN",
    "MAGIC",
    "NAK",
    "OFFER",
    "REQUEST",
    "DhcpBlock",
    "DhcpPacket",
    "encap",
    "walk_options",
]

TYPE_CHECKING = False  # a lease's path: no typing
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from bootsh.net.netstate import NetdevState
    from bootsh.shell import Shell

#: iPXE's parameter request list (``dhcp_request_options_data``), 128-135 are for PXE.
PARAMETER_REQUEST_LIST = bytes(
    [1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, *range(128, 136), 175, 203]
)
#: ETH_MAX_MTU - IP header - UDP header.
MAX_MESSAGE_SIZE = 1500 - 20 - 8
#: The features a bootsh client announces in option 175 (``include/ipxe/features.h``),
#: in iPXE's category order: protocols (HTTP, HTTPS, TFTP, DNS), image formats (bzImage),
#: miscellaneous (menus); each is ``tag, 1, version 1``.
FEATURES = bytes([0x13, 1, 1, 0x14, 1, 1, 0x15, 1, 1, 0x17, 1, 1, 0x18, 1, 1, 0x27, 1, 1])
#: iPXE's Linux build presents itself as the EFI client of its architecture (RFC 4578 and
#: iPXE's ``dhcp.h``): EFI IA32 6, EFI x86-64 9, ARM32 10, ARM64 11, RISC-V 25/27, LoongArch
#: 39; the network interface is UNDI 3.10.
CLIENT_ARCHES = {
    "i386": 0x06,
    "x86_64": 0x09,
    "arm32": 0x0A,
    "arm64": 0x0B,
    "riscv32": 0x19,
    "riscv64": 0x1B,
    "loong64": 0x27,
}
CLIENT_NDI = bytes([1, 3, 10])

# -- timers (config/dhcp.h, net/retry.c) ----------------------------------------------------

DEFAULT_MIN_TIMEOUT = 0.25  # TICKS_PER_SEC / 4
DISC_START, DISC_END = 1.0, 10.0
DISC_PROXY_TIMEOUT = 2.0
#: Frames read per wake-up of the session loop before the clock is looked at again.
FRAMES_PER_WAKE = 256
REQ_START, REQ_END = 0.0, 10.0
PROXY_START, PROXY_END = 0.0, 10.0
REQ_PROXY_TIMEOUT = 2.0

# -- error numbers (Linux build: the low byte is the kernel's errno) ------------------------

_ERRFILE_DHCP = 0x00106000  # net/udp/dhcp.c
_ERRFILE_IFMGMT = 0x000EE000  # usr/ifmgmt.c
#: DHCP gave up: "Connection timed out".
ETIMEDOUT_DHCP = error_number("ETIMEDOUT", _ERRFILE_DHCP)
#: ``ifconf`` without ``-c`` when no configurator succeeded (usr/ifmgmt.c).
EADDRNOTAVAIL_CONFIG = error_number("EADDRNOTAVAIL", _ERRFILE_IFMGMT, 0x01)
#: ``"x": no such configurator``.
ENOTSUP_CONFIGURATOR = error_number("ENOTSUP", ERRFILE_PARSEOPT)
#: The texts of the errors that are not in the common table (the link's own from
#: net/netdevice.c, ``iflinkwait``'s result when the link stays down).
ERROR_TEXTS = {
    EADDRNOTAVAIL_CONFIG: "No configuration methods succeeded",
    LINK_DOWN[1]: LINK_DOWN[0],
    LINK_UNKNOWN[1]: LINK_UNKNOWN[0],
}
#: iPXE's default for waiting for the link before configuring (usr/ifmgmt.c).
LINK_WAIT_TIMEOUT = 15.0

#: The configurators, in iPXE's names: "ipv6" is router discovery (and DHCPv6).
CONFIGURATORS = ("ipv6", "dhcp")


def describe_error(number: int) -> str:
    """iPXE's strerror text for a DHCP/ifconf error number."""
    return strerror(number, ERROR_TEXTS)


# -- frames ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """A DHCP reply addressed to this client, with where it came from."""

    packet: DhcpPacket
    peer_ip: bytes
    peer_port: int
    peer_mac: bytes

    @property
    def msgtype(self) -> int:
        return self.packet.msgtype

    @property
    def server_id(self) -> bytes:
        value = self.packet.fetch(OPT_SERVER_ID)
        return value[:4] if value is not None and len(value) >= 4 else bytes(4)

    @property
    def pseudo_id(self) -> bytes:
        """iPXE's server pseudo-id: the server id, else siaddr, else the sender's address."""
        for candidate in (self.server_id, self.packet.siaddr, self.peer_ip):
            if any(candidate):
                return candidate
        return bytes(4)


def _udp_checksum_ok(frame: bytes, ip_start: int, ihl: int, udp_len: int) -> bool:
    udp = frame[ip_start + ihl : ip_start + ihl + udp_len]
    if udp[6:8] == b"\0\0":
        return True  # no checksum computed: allowed for UDP over IPv4
    pseudo = frame[ip_start + 12 : ip_start + 20] + struct.pack("!BBH", 0, 17, udp_len)
    return checksum(pseudo + udp) == 0  # the sum with its checksum in is all ones


def parse_frame(frame: bytes, mac: bytes, xid: int) -> Reply | None:
    """The DHCP reply in an Ethernet frame for (``mac``, ``xid``), or None for anything else.

    Garbage, other traffic, bad checksums, fragments, another xid or another chaddr: None.
    Never raises.
    """
    # Cheap tests first: the raw socket sees every frame on the link.
    if len(frame) < 14 + 20 + 8 + HEADER_LEN + 4 or frame[12:14] != b"\x08\x00":
        return None
    if frame[14] >> 4 != 4 or frame[23] != 17:
        return None
    try:
        return _parse_udp(frame, mac, xid)
    except (struct.error, IndexError, ValueError):  # cut short: the frame is not ours
        return None


def _parse_udp(frame: bytes, mac: bytes, xid: int) -> Reply | None:
    # IPv4 at 14 (version 4 and protocol UDP checked by the caller), UDP after its header.
    ihl = (frame[14] & 0x0F) * 4
    total, fragment = struct.unpack_from("!H2xH", frame, 16)
    if fragment & 0x3FFF:
        return None  # a fragment (MF or an offset): iPXE reassembles, a reply never needs it
    if ihl < 20 or total > len(frame) - 14:
        return None
    sport, dport, udp_len = struct.unpack_from("!HHH", frame, 14 + ihl)
    if dport != BOOTPC or udp_len < 8 or ihl + udp_len > total:
        return None
    if not _udp_checksum_ok(frame, 14, ihl, udp_len):
        return None
    payload = frame[14 + ihl + 8 : 14 + ihl + udp_len]
    packet = DhcpPacket.parse(payload)
    if packet is None or packet.op != 2 or packet.xid != xid:
        return None
    if packet.chaddr[: len(mac)] != mac:
        return None
    return Reply(packet, frame[26:30], sport, frame[6:12])


# -- building requests -------------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """What the client says about itself in every request."""

    mac: bytes
    arch: int = 0x09
    busid: bytes = b"\0\0\0\0\0"
    uuid: bytes | None = None
    user_class: bytes = b"iPXE"
    version: tuple[int, int, int] = (0, 0, 0)

    @property
    def vendor_class(self) -> bytes:
        ndi = f"{CLIENT_NDI[1]:03d}{CLIENT_NDI[2]:03d}"
        return f"PXEClient:Arch:{self.arch:05d}:UNDI:{ndi}".encode()

    def features(self) -> bytes:
        version = bytes([EB_VERSION, 3, *self.version])
        return FEATURES + version + bytes([EB_BUS_ID, len(self.busid)]) + self.busid


def request_options(
    identity: Identity,
    msgtype: int,
    server_id: bytes | None = None,
    requested: bytes | None = None,
) -> list[tuple[int, bytes]]:
    """The options of a request, in the order iPXE puts them (``dhcp_create_request``)."""
    options = [
        (OPT_MSGTYPE, bytes([msgtype])),
        (57, MAX_MESSAGE_SIZE.to_bytes(2, "big")),
        (OPT_ARCH, identity.arch.to_bytes(2, "big")),
        (OPT_NDI, CLIENT_NDI),
        (OPT_VENDOR_CLASS, identity.vendor_class),
        (OPT_USER_CLASS, identity.user_class),
        (55, PARAMETER_REQUEST_LIST),
        (OPT_EB_ENCAP, identity.features()),
        (OPT_CLIENT_ID, b"\x01" + identity.mac),
    ]
    if identity.uuid is not None and len(identity.uuid) == 16:
        # As EFI lays it out: the first three fields little-endian.
        options.append((OPT_UUID, b"\x00" + uuid_mangle(identity.uuid)))
    if server_id is not None:
        options.append((OPT_SERVER_ID, server_id))
    if requested is not None:
        options.append((OPT_REQUESTED_IP, requested))
    return options


def build_frame(
    identity: Identity,
    xid: int,
    options: list[tuple[int, bytes]],
    *,
    secs: int = 0,
    broadcast: bool = False,
    ciaddr: bytes = bytes(4),
    dst_ip: str = "255.255.255.255",
    dst_port: int = BOOTPS,
    dst_mac: bytes = b"\xff" * 6,
) -> bytes:
    """One Ethernet frame carrying a BOOTREQUEST: Ethernet, IPv4 (id 1, TTL 64, no options),
    UDP with its checksum, the BOOTP header (sname and file empty), the options."""
    bootp = (
        struct.pack(
            "!BBBBIHH4s4s4s4s16s64x128x",
            1,  # BOOTREQUEST
            1,  # Ethernet
            len(identity.mac),
            0,  # hops
            xid,
            secs,
            0x8000 if broadcast else 0,
            ciaddr,
            bytes(4),  # yiaddr
            bytes(4),  # siaddr
            bytes(4),  # giaddr
            identity.mac.ljust(16, b"\0"),
        )
        + MAGIC
        + encode_options(options)
        + bytes([OPT_END])
    )
    dst = socket.inet_aton(dst_ip)
    udp_len = 8 + len(bootp)
    pseudo = ciaddr + dst + struct.pack("!BBH", 0, 17, udp_len)
    udp_sum = checksum(pseudo + struct.pack("!HHHH", BOOTPC, dst_port, udp_len, 0) + bootp)
    udp = struct.pack("!HHHH", BOOTPC, dst_port, udp_len, udp_sum or 0xFFFF) + bootp
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, ciaddr, dst)
    ip = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    ether = dst_mac + identity.mac + b"\x08\x00"
    return ether + ip + udp


# -- the state machine ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _State:
    name: str
    min_timeout: float
    max_timeout: float
    msgtype: int = REQUEST


_DISCOVERY = _State("discovery", DISC_START, DISC_END, DISCOVER)
_REQUEST = _State("request", REQ_START, REQ_END)
_PROXY = _State("ProxyDHCP", PROXY_START, PROXY_END)


@dataclass
class Outcome:
    """How a session ended: ``rc`` 0 with the ACK (and any ProxyDHCP packet), or an error."""

    rc: int
    ack: DhcpPacket | None = None
    proxy: DhcpPacket | None = None


class Session:
    """iPXE's DHCP session, driven from outside: ``tick(now)`` and ``receive(reply, now)``
    queue frames in ``outbox``; ``outcome`` is set when it ends. Time is injected, so the
    machine is tested without a network and without waiting."""

    def __init__(
        self, identity: Identity, xid: int, now: float, *, broadcast: bool = False
    ) -> None:
        self.identity = identity
        self.xid = xid
        self.broadcast = broadcast
        self.outbox: list[bytes] = []
        self.outcome: Outcome | None = None
        self.count = 0
        self.local = bytes(4)
        self.offer = bytes(4)
        self.server = bytes(4)
        self.priority = 0
        self.no_pxedhcp = 0
        self.proxy_server = bytes(4)
        self.proxy_offer: Reply | None = None
        self.proxy_priority = 0
        self.naks: list[Reply] = []
        self._ack: DhcpPacket | None = None
        self._proxy: DhcpPacket | None = None
        self.offers_seen = 0
        self.state = _DISCOVERY
        self.start = now
        self.timeout = 0.0
        self.expires = now
        self._enter(_DISCOVERY, now)

    # -- timer (net/retry.c) --

    def _enter(self, state: _State, now: float) -> None:
        self.state = state
        self.start = now
        self.timeout = 0.0
        self.expires = now  # start_timer_nodelay

    def _start_timer(self, now: float) -> None:
        minimum = self.state.min_timeout or DEFAULT_MIN_TIMEOUT
        self.timeout = max(self.timeout, minimum)
        self.expires = now + self.timeout

    def tick(self, now: float) -> None:
        """Run the retry timer if it is due."""
        if self.outcome is not None or now < self.expires:
            return
        self.timeout *= 2
        if self.timeout > self.state.max_timeout:
            self._finish(ETIMEDOUT_DHCP)
            return
        self.count += 1
        elapsed = now - self.start
        if self.state is _DISCOVERY and any(self.offer) and elapsed > DISC_PROXY_TIMEOUT:
            self._enter(_REQUEST, now)
            self.tick(now)
            return
        if self.state is _PROXY and elapsed > REQ_PROXY_TIMEOUT:
            self._finish(0)
            return
        self._transmit(now)

    def _finish(self, rc: int) -> None:
        self.outcome = Outcome(rc, self._ack, self._proxy) if rc == 0 else Outcome(rc)
        self.expires = float("inf")

    @property
    def ack(self) -> DhcpPacket | None:
        """The accepted DHCPACK, once there is one."""
        return self._ack

    # -- transmit --

    def _transmit(self, now: float) -> None:
        self._start_timer(now)
        secs = (self.count << 2) | (2 if any(self.offer) else 0) | (1 if self.proxy_offer else 0)
        state = self.state
        kwargs: dict[str, Any] = {"secs": secs & 0xFFFF, "broadcast": self.broadcast,
                                  "ciaddr": self.local}  # fmt: skip
        if state is _DISCOVERY:
            options = request_options(self.identity, DISCOVER)
        elif state is _REQUEST:
            options = request_options(self.identity, REQUEST, self.server, self.offer)
        else:
            assert self.proxy_offer is not None
            options = request_options(self.identity, REQUEST, self.proxy_server)
            kwargs |= {
                "dst_ip": socket.inet_ntoa(self.proxy_server),
                "dst_port": PXE_PORT,
                "dst_mac": self.proxy_offer.peer_mac,
            }
        self.outbox.append(build_frame(self.identity, self.xid, options, **kwargs))

    # -- receive --

    def receive(self, reply: Reply, now: float) -> None:
        if self.outcome is not None:
            return
        if self.state is _DISCOVERY:
            self._discovery_rx(reply, now)
        elif self.state is _REQUEST:
            self._request_rx(reply, now)
        else:
            self._proxy_rx(reply)

    def _discovery_rx(self, reply: Reply, now: float) -> None:
        packet = reply.packet
        ip = packet.yiaddr
        vci = packet.fetch(OPT_VENDOR_CLASS) or b""
        has_pxeclient = vci[:9] == b"PXEClient"
        priority = _int8(packet.fetch(EB_PRIORITY))
        no_pxedhcp = (packet.fetch(EB_NO_PXEDHCP) or b"\0")[0]
        msgtype = reply.msgtype
        if any(ip) and reply.peer_port == BOOTPS and msgtype in (OFFER, 0):
            self.offers_seen += 1
            if priority >= self.priority:
                self.offer, self.server = ip, reply.server_id
                self.priority, self.no_pxedhcp = priority, no_pxedhcp
        pseudo = reply.pseudo_id
        if any(pseudo) and has_pxeclient and priority >= self.proxy_priority:
            self.proxy_server, self.proxy_offer, self.proxy_priority = pseudo, reply, priority
        if not any(self.offer):
            return
        if not (self.no_pxedhcp or self.proxy_offer or now - self.start > DISC_PROXY_TIMEOUT):
            return
        self._enter(_REQUEST, now)
        self.tick(now)

    def _request_rx(self, reply: Reply, now: float) -> None:
        msgtype = reply.msgtype
        if reply.peer_port != BOOTPS:
            return
        if msgtype == NAK and reply.server_id == self.server:
            self.naks.append(reply)
        if msgtype and msgtype != ACK:
            return
        if reply.server_id != self.server or reply.packet.yiaddr != self.offer:
            return
        self.local = reply.packet.yiaddr
        self._ack = reply.packet
        proxy = self.proxy_offer
        if proxy is not None and not self.no_pxedhcp:
            if has_pxe_options(proxy.packet):
                self._proxy = proxy.packet
            else:
                self._enter(_PROXY, now)
                self.tick(now)
                return
        self._finish(0)

    def _proxy_rx(self, reply: Reply) -> None:
        if reply.peer_port != PXE_PORT or reply.msgtype not in (OFFER, ACK):
            return
        if reply.pseudo_id != self.proxy_server or not has_pxe_options(reply.packet):
            return
        self._proxy = reply.packet
        self._finish(0)


def _int8(value: bytes | None) -> int:
    if not value:
        return 0
    return value[0] - 256 if value[0] >= 0x80 else value[0]


# -- applying a configuration to the kernel --------------------------------------------------


@dataclass(frozen=True)
class Ipv4Route:
    """One netdev's IPv4 configuration as iPXE's ``ipv4_settings`` derive it."""

    address: str
    netmask: str
    gateway: str | None

    @property
    def prefixlen(self) -> int:
        """The mask's leading ones: a kernel route takes a prefix, while iPXE (and ``route``)
        keep any netmask as given, contiguous or not."""
        bits = int.from_bytes(socket.inet_aton(self.netmask), "big")
        return 32 - (~bits & 0xFFFFFFFF).bit_length()


def classful_netmask(address: str) -> str:
    first = int(address.split(".", 1)[0])
    if first < 128:
        return "255.0.0.0"
    if first < 192:
        return "255.255.0.0"
    return "255.255.255.0"


def ipv4_route(shell: Shell, name: str) -> Ipv4Route | None:
    """``netN``'s address, netmask and gateway from its settings (static ones first, then
    the DHCP lease below it), or None without an address; a missing or zero netmask is
    classful."""

    def fetch(setting: str) -> bytes | None:
        try:
            found = shell.settings.fetch(shell.settings.parse(f"{name}/{setting}"))
        except SettingsError:
            return None
        return found.raw if len(found.raw) >= 4 else None

    address = fetch("ip")
    if address is None or not any(address[:4]):
        return None
    ip = socket.inet_ntoa(address[:4])
    mask = fetch("netmask")
    # iPXE takes a zero netmask for a missing one: the classful default, never a /0 route.
    netmask = socket.inet_ntoa(mask[:4]) if mask and any(mask[:4]) else classful_netmask(ip)
    gateway = fetch("gateway")
    gw = socket.inet_ntoa(gateway[:4]) if gateway and any(gateway[:4]) else None
    return Ipv4Route(ip, netmask, gw)


def route_problem(route: Ipv4Route) -> str | None:
    """Why the kernel must not get ``route``, or None.

    iPXE takes any address and gateway and its routing copes; the kernel would take some of
    them (127.0.0.5 on a NIC) and refuse others half-way (the address accepted, then the
    route via a gateway it cannot reach refused): a lease is checked whole before any
    change, and anything the kernel still refuses is undone (``netlink.apply``).
    """
    address = ipaddress.IPv4Address(route.address)
    network = ipaddress.IPv4Network(f"{route.address}/{route.prefixlen}", strict=False)
    for what, value in (("address", address), ("gateway", route.gateway)):
        if value is None:
            continue
        ip = ipaddress.IPv4Address(value)
        if ip.is_loopback:
            return f"the {what} {ip} is a loopback address"
        if ip.is_multicast or ip.is_reserved or ip.is_unspecified or int(ip) >> 24 == 0:
            return f"the {what} {ip} is not a unicast address"
    if route.prefixlen < 31 and address == network.network_address:
        return f"the address {address} is the network address of {network}"
    if route.prefixlen < 31 and address == network.broadcast_address:
        return f"the address {address} is the broadcast address of {network}"
    if route.gateway is not None:
        gateway = ipaddress.IPv4Address(route.gateway)
        if gateway == address:
            return f"the gateway {gateway} is the lease's own address"
        if gateway not in network:
            return f"the gateway {gateway} is outside {route.address}/{route.prefixlen}"
    return None


_APPLIED_KEY = "bootsh.net.dhcp.applied"


def apply_to_kernel(shell: Shell, name: str, ifname: str) -> str | None:
    """Give the kernel interface ``netN``'s IPv4 configuration; the reason when it failed."""
    from bootsh.net import netlink

    applied = shell.state.setdefault(_APPLIED_KEY, {})
    assert isinstance(applied, dict)
    route = ipv4_route(shell, name)
    previous = applied.get(ifname)
    try:
        if route is None:
            if previous is not None:
                netlink.remove(ifname, previous)
                del applied[ifname]
            return None
        problem = route_problem(route)
        if problem is not None:
            return problem  # nothing changed: the kernel keeps what it had
        config = netlink.Ipv4Config(route.address, route.prefixlen, route.gateway)
        netlink.apply(ifname, config, previous)
    except (netlink.NetlinkError, OSError) as exc:
        if exc.errno in (errno.EPERM, errno.EACCES):
            return (
                f"{exc}: configuring {ifname} needs CAP_NET_ADMIN"
                " (run bootsh as root or grant it CAP_NET_ADMIN)"
            )
        return str(exc)
    applied[ifname] = config
    return None


# -- running a session on a netdev ---------------------------------------------------------------


def identity_for(shell: Shell, name: str, mac: bytes) -> Identity:
    def raw(setting: str) -> bytes | None:
        found = shell.settings.lookup(setting)
        return found.raw if found is not None else None

    parts = [*__version__.split("."), "0", "0", "0"][:3]
    version = tuple(int(p) & 0xFF if p.isdigit() else 0 for p in parts)
    return Identity(
        mac=mac,
        arch=CLIENT_ARCHES.get(buildarch(), 0x09),
        busid=(raw(f"{name}/busid") or b"\0\0\0\0\0")[:5].ljust(5, b"\0"),
        uuid=raw("uuid"),
        user_class=raw("user-class") or b"iPXE",
        version=(version[0], version[1], version[2]),
    )


def run_session(
    state: NetdevState,
    identity: Identity,
    *,
    deadline: float | None = None,
    on_second: Callable[[], None] | None = None,
    on_ack: Callable[[DhcpPacket], None] | None = None,
    broadcast: bool = False,
    clock: Callable[[], float] = time.monotonic,
    on_frame: Callable[[bool, bytes], None] | None = None,
) -> tuple[Outcome, Session]:
    """Run one DHCP session on an open netdev; ``deadline`` (monotonic) is ``-t``.

    ``on_second`` is called once a second (the progress dots); ``on_ack`` once, when the
    DHCPACK is accepted (before any ProxyDHCP request, which needs the address in place to
    get its unicast answer). ``on_frame(sent, frame)`` sees each frame sent and each reply to
    this session (``-v``'s trace). KeyboardInterrupt passes through; nothing else is applied
    here, so a session interrupted before its ACK leaves nothing behind.
    """
    assert state.sock is not None
    xid = int.from_bytes(os.urandom(4), "big")
    start = clock()
    session = Session(identity, xid, start, broadcast=broadcast)
    next_dot = start + 1.0
    sock = state.sock

    def transmit() -> None:
        for frame in session.outbox:
            state.send(frame)
            if on_frame is not None:
                on_frame(True, frame)
        session.outbox.clear()

    while True:
        now = clock()
        session.tick(now)
        transmit()
        if session.outcome is not None:
            return session.outcome, session
        if deadline is not None and now >= deadline:
            return Outcome(ETIMEDOUT_MONOJOB), session
        if now >= next_dot:
            if on_second is not None:
                on_second()
            next_dot += 1.0
            continue
        wake = min(session.expires, next_dot, deadline if deadline is not None else next_dot)
        with contextlib.suppress(InterruptedError):
            select.select([sock], [], [], max(0.0, wake - now))
        # A bounded batch: the deadline and the timers are looked at between batches, so a
        # flood of frames on the wire cannot hold the session past its -t.
        for frame in state.poll(FRAMES_PER_WAKE):
            reply = parse_frame(frame, identity.mac, xid)
            if reply is not None:
                if on_frame is not None:
                    on_frame(False, frame)
                session.receive(reply, clock())
                if on_ack is not None and session.ack is not None:
                    on_ack(session.ack)
                    on_ack = None
                transmit()
