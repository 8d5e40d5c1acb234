"""The DHCPv6 client iPXE's ipv6 configurator starts (``net/udp/dhcpv6.c``), on the netdev's
raw socket.

Stateful (the router advertisement's M flag): SOLICIT until an ADVERTISE for our identity
association, then REQUEST until a REPLY; stateless (O flag): INFORMATION-REQUEST until a
REPLY. Each state retransmits on iPXE's default retry timer (0.25 s doubling, given up past
10 s: sent at 0, 0.25, 0.75, 1.75, 3.75 and 7.75 s, failed at 15.75 s). A reply must carry
our client id (and the server id once one is recorded), the expected type, no error status;
anything else is ignored (the error status is kept as the result if nothing better comes).
The REPLY becomes the ``dhcpv6`` block (``Dhcpv6Block``): ``ip6`` the leased address (/128:
``len6`` is 128, so that it joins a known prefix's route), ``gateway6`` the router,
``dns6`` (23), ``dnssl`` (24), ``filename`` (59, the boot file URL) and every option by
number (``net0.dhcpv6/60``).

Requests carry what iPXE's do: client id, server id (REQUEST), IA_NA (IAID = CRC-32 of the
MAC, iPXE's ``crc32_le`` with seed 0), the option request for 23, 24, 59 and 60, the vendor
class ``PXEClient:Arch:xxxxx:UNDI:yyyzzz`` (enterprise 343), client architecture (61) and
NDI (62), user class ``iPXE`` and the elapsed time. The client id is iPXE's DUID-UUID from
the SMBIOS UUID; where the machine has none (a container, some VMs) iPXE could not run
DHCPv6 at all, and bootsh uses a DUID-LL of the MAC instead (a documented difference).
"""

from __future__ import annotations

import os
import socket
import struct
import zlib

from bootsh.ipxe_errors import error_number
from bootsh.lang.settings import Setting
from bootsh.net.ipv6 import IPPROTO_UDP, checksum6, ipv6_frame, multicast_mac, parse_ipv6
from bootsh.net.linklocal import ORDER_DHCPV6, OrderedBlock, link_local
from bootsh.records import dataclass, field

CLIENT_PORT, SERVER_PORT = 546, 547
ALL_SERVERS = socket.inet_pton(socket.AF_INET6, "ff02::1:2")
SOLICIT, ADVERTISE, REQUEST, REPLY, INFORMATION_REQUEST = 1, 2, 3, 7, 11
OPT_CLIENT_ID, OPT_SERVER_ID, OPT_IA_NA, OPT_IAADDR = 1, 2, 3, 5
OPT_ORO, OPT_ELAPSED, OPT_STATUS, OPT_USER_CLASS, OPT_VENDOR_CLASS = 6, 8, 13, 15, 16
OPT_DNS, OPT_DOMAINS, OPT_BOOTFILE_URL, OPT_BOOTFILE_PARAM = 23, 24, 59, 60
OPT_ARCH, OPT_NDI = 61, 62
PXE_ENTERPRISE = 343

MIN_TIMEOUT, MAX_TIMEOUT = 0.25, 10.0
_ERRFILE_DHCPV6 = 0x003B6000  # net/udp/dhcpv6.c (ERRFILE_dhcpv6)
ETIMEDOUT_DHCPV6 = error_number("ETIMEDOUT", _ERRFILE_DHCPV6)
#: A server's error status (``dhcpv6_status_code``'s EPROTO family, simplified to one).
EPROTO_STATUS = error_number("EPROTO", _ERRFILE_DHCPV6)


def option(code: int, data: bytes) -> bytes:
    return struct.pack("!HH", code, len(data)) + data


def options(data: bytes) -> list[tuple[int, bytes]]:
    """The (code, data) of each option; a truncated one ends the list."""
    found = []
    offset = 0
    while offset + 4 <= len(data):
        code, size = struct.unpack_from("!HH", data, offset)
        if offset + 4 + size > len(data):
            break
        found.append((code, data[offset + 4 : offset + 4 + size]))
        offset += 4 + size
    return found


def first(found: list[tuple[int, bytes]], code: int) -> bytes | None:
    return next((data for c, data in found if c == code), None)


def iaid(mac: bytes) -> int:
    """iPXE's ``crc32_le(0, mac)``: the reflected CRC-32 without zlib's inversions."""
    return zlib.crc32(mac, 0xFFFFFFFF) ^ 0xFFFFFFFF


def duid(uuid: bytes | None, mac: bytes) -> bytes:
    """DUID-UUID (type 4) of the SMBIOS UUID, else DUID-LL (type 3, Ethernet) of the MAC."""
    if uuid is not None and len(uuid) == 16:
        return struct.pack("!H", 4) + uuid
    return struct.pack("!HH", 3, 1) + mac


@dataclass
class Dhcpv6:
    """One DHCPv6 session, driven like ``bootsh.net.dhcp.Session`` (``tick``/``receive``,
    ``outbox``); ``rc`` is set when it ends, ``reply`` holds the final REPLY's options."""

    mac: bytes
    router: bytes
    stateful: bool
    now: float
    client_id: bytes
    arch: int = 0x09
    user_class: bytes = b"iPXE"
    outbox: list[bytes] = field(default_factory=list)
    rc: int | None = None
    lease: bytes = bytes(16)
    reply: list[tuple[int, bytes]] = field(default_factory=list)
    server_id: bytes | None = None
    xid: bytes = field(default_factory=lambda: os.urandom(3))
    state: int = 0
    timeout: float = 0.0
    expires: float = 0.0
    error: int = ETIMEDOUT_DHCPV6

    def __post_init__(self) -> None:
        self.start = self.now
        self._enter(SOLICIT if self.stateful else INFORMATION_REQUEST, self.now)

    def _enter(self, state: int, now: float) -> None:
        self.state = state
        self.error = ETIMEDOUT_DHCPV6
        self.timeout = 0.0
        self.expires = now

    @property
    def expected(self) -> int:
        return ADVERTISE if self.state == SOLICIT else REPLY

    def tick(self, now: float) -> None:
        if self.rc is not None or now < self.expires:
            return
        self.timeout *= 2
        if self.timeout > MAX_TIMEOUT:
            self.rc = self.error
            self.expires = float("inf")
            return
        self.timeout = max(self.timeout, MIN_TIMEOUT)
        self.expires = now + self.timeout
        self.outbox.append(self.frame(now))

    def frame(self, now: float) -> bytes:
        body = bytes([self.state]) + self.xid + option(OPT_CLIENT_ID, self.client_id)
        if self.server_id is not None:
            body += option(OPT_SERVER_ID, self.server_id)
        if self.state in (SOLICIT, REQUEST):
            ia = struct.pack("!III", iaid(self.mac), 0, 0)
            if self.state == REQUEST:
                ia += option(OPT_IAADDR, self.lease + struct.pack("!II", 0, 0))
            body += option(OPT_IA_NA, ia)
        oro = struct.pack("!4H", OPT_DNS, OPT_DOMAINS, OPT_BOOTFILE_URL, OPT_BOOTFILE_PARAM)
        vendor = f"PXEClient:Arch:{self.arch:05d}:UNDI:003010".encode()
        body += option(OPT_ORO, oro)
        body += option(OPT_VENDOR_CLASS, struct.pack("!IH", PXE_ENTERPRISE, len(vendor)) + vendor)
        body += option(OPT_ARCH, struct.pack("!H", self.arch)) + option(OPT_NDI, b"\x01\x03\x0a")
        body += option(OPT_USER_CLASS, struct.pack("!H", len(self.user_class)) + self.user_class)
        elapsed = min(int((now - self.start) * 100), 0xFFFF)
        body += option(OPT_ELAPSED, struct.pack("!H", elapsed))
        src = link_local(self.mac)
        udp = struct.pack("!HHHH", CLIENT_PORT, SERVER_PORT, 8 + len(body), 0) + body
        udp = udp[:6] + struct.pack("!H", checksum6(src, ALL_SERVERS, IPPROTO_UDP, udp)) + udp[8:]
        return ipv6_frame(
            self.mac, multicast_mac(ALL_SERVERS), src, ALL_SERVERS, IPPROTO_UDP, udp, 1
        )

    def receive(self, frame: bytes, now: float) -> None:
        if self.rc is not None:
            return
        packet = parse_ipv6(frame)
        if packet is None or packet.proto != IPPROTO_UDP or len(packet.payload) < 12:
            return
        sport, dport = struct.unpack_from("!HH", packet.payload)
        if sport != SERVER_PORT or dport != CLIENT_PORT:
            return
        message = packet.payload[8:]
        if message[1:4] != self.xid:
            return
        found = options(message[4:])
        if first(found, OPT_CLIENT_ID) != self.client_id:
            return
        if self.server_id is not None and first(found, OPT_SERVER_ID) != self.server_id:
            return
        if message[0] != self.expected:
            return
        status = first(found, OPT_STATUS)
        if status is not None and len(status) >= 2 and struct.unpack_from("!H", status)[0]:
            self.error = EPROTO_STATUS
            return
        if self.state in (SOLICIT, REQUEST):
            lease = self._iaaddr(found)
            if lease is None:
                self.error = EPROTO_STATUS
                return
            self.lease = lease
        if self.state == SOLICIT:
            server = first(found, OPT_SERVER_ID)
            if server is None:
                return
            self.server_id = server
            self._enter(REQUEST, now)
            self.tick(now)
            return
        self.reply = found
        self.rc = 0
        self.expires = float("inf")

    def _iaaddr(self, found: list[tuple[int, bytes]]) -> bytes | None:
        for code, data in found:
            if code != OPT_IA_NA or len(data) < 12:
                continue
            if struct.unpack_from("!I", data)[0] != iaid(self.mac):
                continue
            inner = options(data[12:])
            status = first(inner, OPT_STATUS)
            if status is not None and len(status) >= 2 and struct.unpack_from("!H", status)[0]:
                return None
            address = first(inner, OPT_IAADDR)
            if address is not None and len(address) >= 24:
                return address[:16]
        return None


#: The DHCPv6 options with a setting name (type) besides the address settings.
DHCPV6_NAMES = {"dns6": (OPT_DNS, "ipv6"), "dnssl": (OPT_DOMAINS, "dnssl"),
                "filename": (OPT_BOOTFILE_URL, "string")}  # fmt: skip


class Dhcpv6Block(OrderedBlock):
    """``net0.dhcpv6``: iPXE's ``dhcpv6_settings``."""

    names = frozenset({"ip6", "len6", "gateway6", *DHCPV6_NAMES})

    def __init__(self, lease: bytes, router: bytes, found: list[tuple[int, bytes]]) -> None:
        super().__init__("dhcpv6")
        self.order = ORDER_DHCPV6
        self.default_scope = "dhcpv6"
        self.lease = lease
        self.router = router
        self.found = found

    def applies(self, setting: Setting) -> bool:
        # Numbered options apply only when asked of this block (``net0.dhcpv6/60``): a bare
        # ``60`` names a DHCPv4 option, as iPXE's scopes keep them apart.
        return setting.name in self.names or setting.scope == "dhcpv6"

    def answer(self, name: str) -> tuple[bytes, str] | None:
        if name in ("ip6", "len6", "gateway6"):
            if not any(self.lease):
                return None
            if name == "ip6":
                return self.lease, "ipv6"
            if name == "len6":
                return bytes([128]), "int8"
            return self.router, "ipv6"
        code, type_name = DHCPV6_NAMES.get(name, (0, "hex"))
        if not code:
            try:
                code = int(name, 0)
            except ValueError:
                return None
        data = first(self.found, code)
        return (data, type_name) if data is not None else None
