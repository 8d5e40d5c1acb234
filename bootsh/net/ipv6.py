"""IPv6 as iPXE has it: link-local addresses, router discovery (``net/ndp.c``), the settings
those give, the routing table built from settings (``net/ipv6.c``) and ``route``'s lines.

* Every netdev has a ``link`` block (``net0.link/ip6``, ``len6``): the EUI-64 link-local
  address (RFC 2464), iPXE's ``ipv6_register_settings``.
* The ``ipv6`` configurator (``Ipv6Conf``) sends router solicitations from that address,
  timed by iPXE's retry timer (1/8 s doubling to 3 s: sent at 0, 0.125, 0.375, 0.875 and
  1.875 s, given up at 3.875 s with "Connection timed out"), takes the *first* router
  advertisement and registers it as the ``ndp`` block (``net0.ndp/dns6`` from RDNSS,
  ``dnssl``, ``mtu``; options without a known name by number, as hex) with one child per
  prefix (``net0.ndp.0/ip6`` the SLAAC address when the prefix is autonomous and /64,
  ``len6`` the prefix length for an on-link prefix, else 128, ``gateway6`` the router when
  its lifetime is not 0). The managed (M) or other (O) flag starts stateful or stateless
  DHCPv6 (``bootsh.net.dhcpv6``), which the configurator waits for.
* ``miniroutes`` is iPXE's ``ipv6_create_all_routes``: for each netdev, depth first and in
  reverse block order, every block's own ``ip6``/``len6``/``gateway6`` is merged into a
  route (an address inside a known prefix updates that prefix's route). ``route`` prints
  them as ``net0: 2001:db8::5054:ff:fe12:3456/64 gw fe80::1``; ``apply_to_kernel`` gives the
  kernel interface those addresses and the default route (``bootsh.net.netlink.apply6``).

Frames are built and parsed here with ``struct``: the raw socket of the netdev carries them,
as DHCP's; hostile bytes are ignored, never raised.
"""

from __future__ import annotations

import _socket as socket  # the C module: socket.py would import enum and selectors
import struct

from bootsh.ipxe_errors import error_number
from bootsh.lang.settings import Block, Setting
from bootsh.net.inet import checksum
from bootsh.net.linklocal import (
    ORDER_PREFIX_ONLY,
    ORDER_SLAAC,
    OrderedBlock,
    eui64,
    link_local,
)
from bootsh.records import dataclass, field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from bootsh.shell import Shell

ETH_P_IPV6 = 0x86DD
IPPROTO_ICMPV6 = 58
IPPROTO_UDP = 17
ICMPV6_ROUTER_SOLICITATION = 133
ICMPV6_ROUTER_ADVERTISEMENT = 134
NDP_OPT_LL_SOURCE = 1
NDP_OPT_PREFIX = 3
NDP_OPT_MTU = 5
NDP_OPT_RDNSS = 25
NDP_OPT_DNSSL = 31
NDP_ROUTER_MANAGED = 0x80
NDP_ROUTER_OTHER = 0x40
NDP_PREFIX_ON_LINK = 0x80
NDP_PREFIX_AUTONOMOUS = 0x40
ALL_ROUTERS = "ff02::2"


#: The ipv6 configurator's retry timer (net/ndp.c): 1/8 s, doubling, failing past 3 s.
IPV6CONF_MIN_TIMEOUT = 0.125
IPV6CONF_MAX_TIMEOUT = 3.0
_ERRFILE_NDP = 0x00076000  # net/ndp.c (ERRFILE_ndp)
#: No router answered: "Connection timed out".
ETIMEDOUT_NDP = error_number("ETIMEDOUT", _ERRFILE_NDP)

IP6 = Setting("ip6", "ipv6")
LEN6 = Setting("len6", "int8")
GATEWAY6 = Setting("gateway6", "ipv6")


def ntoa(raw: bytes) -> str:
    """iPXE's ``inet6_ntoa`` (RFC 5952, as Python's): ``fe80::5054:ff:fe12:3456``."""
    import ipaddress

    return str(ipaddress.IPv6Address(raw[:16]))


def checksum6(src: bytes, dst: bytes, proto: int, payload: bytes) -> int:
    """The ICMPv6/UDP checksum over the IPv6 pseudo-header (RFC 8200 section 8.1)."""
    return checksum(src + dst + struct.pack("!IxxxB", len(payload), proto) + payload)


def multicast_mac(address: bytes) -> bytes:
    return b"\x33\x33" + address[12:16]


def ipv6_frame(
    src_mac: bytes, dst_mac: bytes, src: bytes, dst: bytes, proto: int, payload: bytes, hops: int
) -> bytes:
    """An Ethernet frame with an IPv6 header around ``payload`` (whose checksum is set)."""
    header = struct.pack("!IHBB", 6 << 28, len(payload), proto, hops) + src + dst
    return dst_mac + src_mac + struct.pack("!H", ETH_P_IPV6) + header + payload


def router_solicitation(mac: bytes) -> bytes:
    """iPXE's ``ndp_tx_router_solicitation``: from the link-local address, to all routers,
    with the source link-layer address option."""
    src, dst = link_local(mac), socket.inet_pton(socket.AF_INET6, ALL_ROUTERS)
    icmp = struct.pack("!BBHI", ICMPV6_ROUTER_SOLICITATION, 0, 0, 0)
    icmp += bytes([NDP_OPT_LL_SOURCE, 1]) + mac
    icmp = icmp[:2] + struct.pack("!H", checksum6(src, dst, IPPROTO_ICMPV6, icmp)) + icmp[4:]
    return ipv6_frame(mac, multicast_mac(dst), src, dst, IPPROTO_ICMPV6, icmp, 255)


@dataclass(frozen=True)
class Packet6:
    """An IPv6 packet from a frame: addresses, next header (no extension headers) and payload."""

    src: bytes
    dst: bytes
    proto: int
    hops: int
    payload: bytes


def parse_ipv6(frame: bytes) -> Packet6 | None:
    """The IPv6 packet of an Ethernet frame with a good upper-layer checksum, else None."""
    if len(frame) < 54 or frame[12:14] != b"\x86\xdd" or frame[14] >> 4 != 6:
        return None
    length, proto, hops = struct.unpack_from("!HBB", frame, 18)
    src, dst = frame[22:38], frame[38:54]
    payload = frame[54 : 54 + length]
    if len(payload) != length or proto not in (IPPROTO_ICMPV6, IPPROTO_UDP):
        return None
    if checksum6(src, dst, proto, payload) != 0:
        return None
    return Packet6(src, dst, proto, hops, payload)


@dataclass(frozen=True)
class RouterAdvert:
    router: bytes
    flags: int
    lifetime: int
    options: bytes


def parse_router_advert(frame: bytes) -> RouterAdvert | None:
    """A router advertisement (RFC 4861 6.1.2 checks: hop limit 255, link-local source, code
    0, well-formed options), else None."""
    packet = parse_ipv6(frame)
    if packet is None or packet.proto != IPPROTO_ICMPV6 or packet.hops != 255:
        return None
    icmp = packet.payload
    if len(icmp) < 16 or icmp[0] != ICMPV6_ROUTER_ADVERTISEMENT or icmp[1] != 0:
        return None
    if packet.src[:2] != b"\xfe\x80":
        return None
    options = icmp[16:]
    offset = 0
    while offset < len(options):
        if offset + 2 > len(options) or options[offset + 1] == 0:
            return None  # a zero-length or truncated option: the whole RA is invalid
        offset += options[offset + 1] * 8
    if offset != len(options):
        return None
    flags, lifetime = icmp[5], struct.unpack_from("!H", icmp, 6)[0]
    return RouterAdvert(packet.src, flags, lifetime, options)


def ndp_options(options: bytes) -> list[tuple[int, bytes]]:
    """(type, whole option) of each option, in order."""
    found = []
    offset = 0
    while offset + 2 <= len(options) and options[offset + 1]:
        size = options[offset + 1] * 8
        found.append((options[offset], options[offset : offset + size]))
        offset += size
    return found


# -- settings blocks ---------------------------------------------------------------------------


#: NDP options by setting name: (option type, offset of the data, length or 0 for the rest).
NDP_SETTINGS = {
    "mtu": (NDP_OPT_MTU, 4, 4, "int16"),
    "dns6": (NDP_OPT_RDNSS, 8, 0, "ipv6"),
    "dnssl": (NDP_OPT_DNSSL, 8, 0, "dnssl"),
}


class NdpBlock(OrderedBlock):
    """``net0.ndp``: the router advertisement's options (``ndp_fetch``)."""

    names = frozenset(NDP_SETTINGS)

    def __init__(self, advert: RouterAdvert, order: int) -> None:
        super().__init__("ndp")
        self.advert = advert
        self.order = order

    def answer(self, name: str) -> tuple[bytes, str] | None:
        kind, offset, length, type_name = NDP_SETTINGS[name]
        for option_type, option in ndp_options(self.advert.options):
            if option_type != kind:
                continue
            if offset + length > len(option):
                return None
            data = option[offset : offset + length] if length else option[offset:]
            if name == "mtu":
                data = data[2:]  # int16 of the 32-bit MTU field, as iPXE's tag reads it
            return data, type_name
        return None


class NdpPrefixBlock(OrderedBlock):
    """``net0.ndp.N``: one prefix information option (``ndp_prefix_fetch``)."""

    names = frozenset({"ip6", "len6", "gateway6"})

    def __init__(self, name: str, option: bytes, advert: RouterAdvert, mac: bytes) -> None:
        super().__init__(name)
        self.option = option
        self.advert = advert
        self.mac = mac
        self.order = ORDER_SLAAC if option[3] & NDP_PREFIX_AUTONOMOUS else ORDER_PREFIX_ONLY

    def answer(self, name: str) -> tuple[bytes, str] | None:
        prefix_len, flags = self.option[2], self.option[3]
        valid = struct.unpack_from("!I", self.option, 4)[0]
        if name == "ip6":
            if not valid:
                return None  # a dead prefix
            prefix = self.option[16:32]
            if flags & NDP_PREFIX_AUTONOMOUS and prefix_len == 64:
                return prefix[:8] + eui64(self.mac), "ipv6"
            return prefix, "ipv6"
        if name == "len6":
            return bytes([prefix_len if flags & NDP_PREFIX_ON_LINK else 0xFF]), "int8"
        if not self.advert.lifetime:
            return None  # a router that does not route
        return self.advert.router, "ipv6"


def ndp_blocks(advert: RouterAdvert, mac: bytes) -> tuple[NdpBlock, list[NdpPrefixBlock]]:
    """iPXE's ``ndp_register_settings``: the ``ndp`` block and one child per prefix."""
    prefixes = [o for t, o in ndp_options(advert.options) if t == NDP_OPT_PREFIX and len(o) == 32]
    slaac = any(o[3] & NDP_PREFIX_AUTONOMOUS for o in prefixes)
    block = NdpBlock(advert, ORDER_SLAAC if slaac else ORDER_PREFIX_ONLY)
    children = [NdpPrefixBlock(str(i), o, advert, mac) for i, o in enumerate(prefixes)]
    return block, children


# -- the ipv6 configurator -------------------------------------------------------------------


@dataclass
class Ipv6Conf:
    """iPXE's ``ipv6conf``, driven from outside like ``bootsh.net.dhcp.Session``: ``tick(now)``
    and ``receive(frame, now)`` queue frames in ``outbox``; ``advert`` is the router
    advertisement taken (the caller registers its settings and starts DHCPv6 when its M or
    O flag says so); ``rc`` is set when router discovery has ended without one."""

    mac: bytes
    now: float
    outbox: list[bytes] = field(default_factory=list)
    advert: RouterAdvert | None = None
    rc: int | None = None
    timeout: float = 0.0
    expires: float = 0.0

    def __post_init__(self) -> None:
        self.expires = self.now  # start_timer_nodelay

    @property
    def running(self) -> bool:
        return self.advert is None and self.rc is None

    def tick(self, now: float) -> None:
        if not self.running or now < self.expires:
            return
        self.timeout *= 2
        if self.timeout > IPV6CONF_MAX_TIMEOUT:
            self.rc = ETIMEDOUT_NDP
            self.expires = float("inf")
            return
        self.timeout = max(self.timeout, IPV6CONF_MIN_TIMEOUT)
        self.expires = now + self.timeout
        self.outbox.append(router_solicitation(self.mac))

    def receive(self, frame: bytes, now: float) -> bool:
        """Take ``frame`` if it is the first router advertisement; True when taken."""
        if not self.running:
            return False
        advert = parse_router_advert(frame)
        if advert is None:
            return False
        self.advert = advert
        self.expires = float("inf")
        return True


# -- the routing table (net/ipv6.c) -------------------------------------------------------------


@dataclass
class Miniroute:
    netdev: str
    address: bytes
    prefix_len: int
    router: bytes | None = None
    has_address: bool = False

    def matches(self, address: bytes) -> bool:
        mask = ((1 << 128) - 1) ^ ((1 << (128 - self.prefix_len)) - 1)
        here = int.from_bytes(self.address, "big")
        return (here ^ int.from_bytes(address, "big")) & mask == 0


def add_miniroute(
    table: list[Miniroute], netdev: str, address: bytes, prefix_len: int, router: bytes | None
) -> None:
    """iPXE's ``ipv6_add_miniroute``: find the route whose prefix holds ``address`` (or make
    one, /64 by default), move it to the front, set its address when ``address`` has host
    bits (or is a /128) and its router when one is given."""
    route = next((r for r in table if r.netdev == netdev and r.matches(address)), None)
    if route is not None:
        table.remove(route)
    else:
        route = Miniroute(netdev, address, prefix_len or 64)
    table.insert(0, route)
    host = int.from_bytes(address, "big") & ((1 << (128 - route.prefix_len)) - 1)
    if host or route.prefix_len == 128:
        route.address = address
        route.has_address = True
    if router is not None:
        route.router = router


def _own(block: Block, setting: Setting) -> bytes | None:
    if not block.applies(setting):
        return None
    found = block.fetch_here(setting)
    return found[0] if found is not None else None


def create_routes(table: list[Miniroute], netdev: str, block: Block) -> None:
    """iPXE's ``ipv6_create_routes`` for one block: its children first (reversed), then the
    block's own ``ip6``, ``len6`` and ``gateway6``."""
    for child in reversed(block.children.values()):
        if child.target() is child:
            create_routes(table, netdev, child)
    ip6 = _own(block, IP6)
    if ip6 is None or len(ip6) != 16:
        return
    len6 = _own(block, LEN6)
    prefix_len = min(len6[0], 128) if len6 is not None and len(len6) == 1 else 0
    gateway = _own(block, GATEWAY6)
    add_miniroute(
        table, netdev, ip6, prefix_len, gateway if gateway and len(gateway) == 16 else None
    )


def miniroutes(shell: Shell) -> list[Miniroute]:
    """The IPv6 routing table of every shown netdev, as iPXE builds it from settings."""
    table: list[Miniroute] = []
    for netdev in shell.netdevs().shown:
        block = shell.settings.find_block(str(netdev.name))
        if block is not None:
            create_routes(table, str(netdev.name), block)
    return table


def route_line(route: Miniroute, is_open: bool) -> str:
    """``route_ipv6_print``'s line."""
    line = f"{route.netdev}: {ntoa(route.address)}/{route.prefix_len}"
    if route.router is not None:
        line += f" gw {ntoa(route.router)}"
    if not route.has_address:
        line += " (no address)"
    if not is_open:
        line += " (inaccessible)"
    return line


# -- the kernel ----------------------------------------------------------------------------


def kernel_has_ipv6(ifname: str | None) -> bool:
    """Whether the kernel does IPv6 on ``ifname``: bootsh's IPv6 is the kernel's, so without
    it (``disable_ipv6``, or a kernel without IPv6) the ipv6 configurator does not apply."""
    if not ifname:
        return False
    try:
        with open(f"/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6") as f:
            return f.read().strip() == "0"
    except OSError:
        return False


_APPLIED_KEY = "bootsh.net.ipv6.applied"


def apply_to_kernel(shell: Shell, name: str, ifname: str, mac: bytes) -> str | None:
    """Give the kernel interface ``name``'s IPv6 routes (its addresses and first router) and
    the link-local address iPXE uses; the reason when it failed."""
    from bootsh.net import netlink

    applied = shell.state.setdefault(_APPLIED_KEY, {})
    assert isinstance(applied, dict)
    routes = [r for r in miniroutes(shell) if r.netdev == name]
    addresses = [(ntoa(r.address), r.prefix_len) for r in routes if r.has_address]
    local = (ntoa(link_local(mac)), 64)
    if local not in addresses:
        addresses.append(local)
    router = next((ntoa(r.router) for r in routes if r.router is not None), None)
    config = netlink.Ipv6Config(tuple(addresses), router)
    try:
        netlink.apply6(ifname, config, applied.get(ifname))
    except (netlink.NetlinkError, OSError) as exc:
        return str(exc)
    applied[ifname] = config
    return None


if TYPE_CHECKING:
    RegisterBlock = Callable[[Block, str], None]
