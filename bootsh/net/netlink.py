"""rtnetlink written by hand: IPv4 and IPv6 addresses and routes, VLAN links.

A DHCP lease (or a static ``set net0/ip``) only helps the kernel's own TCP and UDP (HTTP,
TFTP, DNS fetches) once the interface has the address and the default route. This module
sends the rtnetlink requests that ``ip addr replace`` / ``ip route replace`` would send:
``RTM_NEWADDR`` (with ``NLM_F_REPLACE``), ``RTM_DELADDR`` for an address bootsh put there
before (or, the first time, any other address the interface has in that network:
``RTM_GETADDR`` lists them), and ``RTM_NEWROUTE``/``RTM_DELROUTE`` for the default route.
No subprocess, no dependency: the messages are packed with ``struct`` from ``linux/netlink.h``,
``linux/rtnetlink.h`` and ``linux/if_addr.h``, and every request asks for an ACK so that a
failure comes back as an errno (``NetlinkError``) instead of being lost.

Routes bootsh adds carry ``RTPROT_DHCP`` as their protocol, so that ``ip route`` shows where
they came from, and a metric of their own per interface, so that they never replace the
host's default route (nor another netdev's).

IPv6 (``apply6``) is the same for the addresses iPXE derives from router advertisements and
DHCPv6 (``bootsh.net.ipv6``): ``IFA_F_NODAD`` so that an address is usable at once (iPXE does
no duplicate address detection either), and a default route through the router's link-local
address. VLANs (``create_vlan``/``delete_link``) are ``RTM_NEWLINK``/``RTM_DELLINK`` with the
nested ``IFLA_LINKINFO`` of ``ip link add link TRUNK name NAME type vlan id N``.

Why not pyroute2 (0.9.7): ``from pyroute2 import IPRoute`` costs a median 180 ms on the
development machine against 34 ms for this module *including* bootsh's own package import
(``bench/netlink.py``, 5 pairs), while bootsh's whole ``dhcp`` takes 4 ms; the messages
bootsh needs are a dozen, each checked against the kernel by the tests
(``tests/net/test_netlink.py`` reads the result back with iproute2).
"""

from __future__ import annotations

import _socket as socket  # the C module: socket.py would import enum and selectors
import errno
import os
import struct

from bootsh.errors import BootshError
from bootsh.records import dataclass

TYPE_CHECKING = False  # a lease's path: no typing
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

NETLINK_ROUTE = 0
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_DELROUTE = 24, 25
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_DUMP = 0x300
NLM_F_REQUEST, NLM_F_ACK, NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x100, 0x200, 0x400
IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST, IFA_FLAGS = 1, 2, 4, 8
#: No duplicate address detection: the address is usable at once, as iPXE uses its own.
IFA_F_NODAD = 0x02
IFLA_IFNAME, IFLA_LINK, IFLA_LINKINFO = 3, 5, 18
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
IFLA_VLAN_ID = 1
IFF_UP = 0x1
RT_SCOPE_LINK = 253
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY = 1, 4, 5, 6
#: bootsh's default routes have a metric of their own, one per interface: a replace matches
#: routes by (destination, metric) whatever their device, so with metric 0 the lease of one
#: interface would replace the host's default route through another (or another netdev's).
ROUTE_METRIC_BASE = 0x4000
RT_TABLE_MAIN = 254
RTPROT_DHCP = 16
RT_SCOPE_UNIVERSE = 0
RTN_UNICAST = 1
_NLMSG = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
_IFINFOMSG = struct.Struct("=BxHiII")  # family, type, index, flags, change
_RTMSG = struct.Struct(
    "=BBBBBBBBI"
)  # family, dst_len, src_len, tos, table, proto, scope, type, flags


class NetlinkError(BootshError):
    """The kernel refused a request: ``errno`` is the kernel's, the message says which."""

    def __init__(self, number: int, what: str) -> None:
        super().__init__(f"{what}: {os.strerror(number)}")
        self.errno = number


@dataclass(frozen=True)
class Ipv4Config:
    """What the kernel interface gets: an address with its prefix, maybe a default gateway."""

    address: str
    prefixlen: int
    gateway: str | None = None

    @property
    def broadcast(self) -> str:
        host_bits = (1 << (32 - self.prefixlen)) - 1
        value = int.from_bytes(socket.inet_aton(self.address), "big") | host_bits
        return socket.inet_ntoa(value.to_bytes(4, "big"))


def _overlap(a: str, a_prefix: int, b: str, b_prefix: int) -> bool:
    """Whether the networks ``a/a_prefix`` and ``b/b_prefix`` overlap (one holds the other)."""
    shorter = min(a_prefix, b_prefix)
    mask = (0xFFFFFFFF << (32 - shorter)) & 0xFFFFFFFF
    a_value = int.from_bytes(socket.inet_aton(a), "big")
    b_value = int.from_bytes(socket.inet_aton(b), "big")
    return (a_value & mask) == (b_value & mask)


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _ip(text: str) -> bytes:
    return socket.inet_aton(text)


def _attrs(message: bytes, offset: int) -> dict[int, bytes]:
    """The attributes of a message from ``offset`` on, by type (the last of each kind)."""
    found: dict[int, bytes] = {}
    while offset + 4 <= len(message):
        length, kind = struct.unpack_from("=HH", message, offset)
        if length < 4:
            break
        found[kind & 0x3FFF] = message[offset + 4 : offset + length]  # NLA_F_* bits off
        offset += (length + 3) & ~3
    return found


@dataclass(frozen=True)
class Ipv6Config:
    """IPv6 addresses for a kernel interface (address, prefix length) and a default router."""

    addresses: tuple[tuple[str, int], ...]
    gateway: str | None = None


@dataclass(frozen=True)
class Link:
    """One kernel interface as ``RTM_GETLINK`` shows it; ``vlan`` is its id if a VLAN."""

    index: int
    name: str
    parent: int = 0
    kind: str = ""
    vlan: int | None = None


class Rtnetlink:
    """One NETLINK_ROUTE socket; each request waits for its ACK."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self.sock.settimeout(5.0)
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Rtnetlink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _exchange(
        self, kind: int, flags: int, body: bytes, what: str
    ) -> Iterator[tuple[int, bytes]]:
        """Send one request; yield (type, payload) of each message answering it, for as long
        as the caller reads. Raises ``NetlinkError`` when it cannot be sent, a reply is
        malformed or none comes within the socket's timeout."""
        self.seq += 1
        header = _NLMSG.pack(_NLMSG.size + len(body), kind, flags | NLM_F_REQUEST, self.seq, 0)
        try:
            self.sock.send(header + body)
        except OSError as exc:
            raise NetlinkError(exc.errno or errno.EIO, what) from None
        while True:
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                raise NetlinkError(errno.ETIMEDOUT, what) from None
            offset = 0
            while offset + _NLMSG.size <= len(data):
                length, msg_type, _, seq, _ = _NLMSG.unpack_from(data, offset)
                if length < _NLMSG.size:
                    raise NetlinkError(errno.EPROTO, what)
                if seq == self.seq:
                    yield msg_type, data[offset + _NLMSG.size : offset + length]
                offset += (length + 3) & ~3

    def request(self, kind: int, flags: int, body: bytes, what: str) -> None:
        """One change, acknowledged; the kernel's refusal is a ``NetlinkError``."""
        for msg_type, payload in self._exchange(kind, flags | NLM_F_ACK, body, what):
            if msg_type == NLMSG_ERROR:
                _raise_error(payload, what)
                return

    def ipv4_addresses(self, index: int, what: str) -> list[tuple[str, int]]:
        """The IPv4 addresses (address, prefix length) of interface ``index``: a dump."""
        body = _IFADDRMSG.pack(socket.AF_INET, 0, 0, 0, 0)
        found: list[tuple[str, int]] = []
        for msg_type, payload in self._exchange(RTM_GETADDR, NLM_F_DUMP, body, what):
            if msg_type == NLMSG_DONE:
                break
            if msg_type == NLMSG_ERROR:
                _raise_error(payload, what)
                break  # an ACK ends a dump too
            if msg_type == RTM_NEWADDR:
                found += _local_address(payload, index)
        return found

    def _dump(self, kind: int, body: bytes, what: str) -> Iterator[bytes]:
        for msg_type, payload in self._exchange(kind, NLM_F_DUMP, body, what):
            if msg_type == NLMSG_DONE:
                return
            if msg_type == NLMSG_ERROR:
                _raise_error(payload, what)
                return
            yield payload

    def ipv6_addresses(self, index: int, what: str) -> list[tuple[str, int, int]]:
        """The IPv6 addresses of interface ``index``: (address, prefix length, scope)."""
        body = _IFADDRMSG.pack(socket.AF_INET6, 0, 0, 0, 0)
        found = []
        for payload in self._dump(RTM_GETADDR, body, what):
            if len(payload) < _IFADDRMSG.size:
                continue
            family, prefixlen, _, scope, where = _IFADDRMSG.unpack_from(payload)
            address = _attrs(payload, _IFADDRMSG.size).get(IFA_ADDRESS, b"")
            if family == socket.AF_INET6 and where == index and len(address) == 16:
                found.append((socket.inet_ntop(socket.AF_INET6, address), prefixlen, scope))
        return found

    def links(self, what: str = "listing interfaces") -> list[Link]:
        """Every interface of this network namespace, VLANs with their parent and id."""
        body = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
        found = []
        for payload in self._dump(RTM_GETLINK, body, what):
            if len(payload) < _IFINFOMSG.size:
                continue
            index = _IFINFOMSG.unpack_from(payload)[2]
            attrs = _attrs(payload, _IFINFOMSG.size)
            name = attrs.get(IFLA_IFNAME, b"").split(b"\0", 1)[0].decode(errors="replace")
            parent = attrs.get(IFLA_LINK, b"")
            info = _attrs(attrs.get(IFLA_LINKINFO, b""), 0)
            kind = info.get(IFLA_INFO_KIND, b"").split(b"\0", 1)[0].decode(errors="replace")
            vid = _attrs(info.get(IFLA_INFO_DATA, b""), 0).get(IFLA_VLAN_ID, b"")
            found.append(
                Link(
                    index,
                    name,
                    struct.unpack("=I", parent)[0] if len(parent) == 4 else 0,
                    kind,
                    struct.unpack("=H", vid)[0] if kind == "vlan" and len(vid) == 2 else None,
                )
            )
        return found


def _raise_error(payload: bytes, what: str) -> None:
    """An ``NLMSG_ERROR``: an ACK when its code is 0, else the kernel's errno."""
    (code,) = struct.unpack_from("=i", payload) if len(payload) >= 4 else (-errno.EPROTO,)
    if code:
        raise NetlinkError(-code, what)


def _local_address(message: bytes, index: int) -> list[tuple[str, int]]:
    """The ``IFA_LOCAL`` of one ``RTM_NEWADDR`` message when it is of interface ``index``."""
    if len(message) < _IFADDRMSG.size:
        return []
    family, prefixlen, _, _, where = _IFADDRMSG.unpack_from(message)
    if family != socket.AF_INET or where != index:
        return []
    offset = _IFADDRMSG.size
    while offset + 4 <= len(message):
        length, kind = struct.unpack_from("=HH", message, offset)
        if length < 4:
            break
        if kind == IFA_LOCAL and length == 8:
            return [(socket.inet_ntoa(message[offset + 4 : offset + 8]), prefixlen)]
        offset += (length + 3) & ~3
    return []


def _addr_body(index: int, config: Ipv4Config) -> bytes:
    return (
        _IFADDRMSG.pack(socket.AF_INET, config.prefixlen, 0, RT_SCOPE_UNIVERSE, index)
        + _attr(IFA_LOCAL, _ip(config.address))
        + _attr(IFA_ADDRESS, _ip(config.address))
        + _attr(IFA_BROADCAST, _ip(config.broadcast))
    )


def _default_route_body(index: int, gateway: str | None) -> bytes:
    body = _RTMSG.pack(socket.AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_DHCP, RT_SCOPE_UNIVERSE,
                       RTN_UNICAST, 0)  # fmt: skip
    body += _attr(RTA_OIF, struct.pack("=I", index))
    body += _attr(RTA_PRIORITY, struct.pack("=I", ROUTE_METRIC_BASE + index))
    if gateway:
        body += _attr(RTA_GATEWAY, _ip(gateway))
    return body


def apply(ifname: str, config: Ipv4Config, previous: Ipv4Config | None = None) -> None:
    """Give ``ifname`` the address of ``config`` and its default route.

    ``previous`` is what bootsh applied to this interface before: its address is removed
    when it differs, and its default route when ``config`` has none (or another one).
    Without one (the first time this shell configures the interface), the interface's other
    IPv4 addresses in that network go: one left there (by an earlier bootsh, say) would stay
    primary and be the source of the kernel's traffic to the network and its gateway.
    Addresses in other networks are the host's and stay.

    All or nothing: when the kernel refuses a step (a gateway it cannot reach, say), the
    steps already taken are undone in reverse (the new address removed, what was removed put
    back), so the interface is as it was and the error says why. Raises ``NetlinkError``.
    """
    index = socket.if_nametoindex(ifname)
    undo: list[Callable[[], None]] = []
    with Rtnetlink() as nl:
        try:
            _apply(nl, ifname, index, config, previous, undo)
        except NetlinkError:
            import contextlib  # only when a step failed

            for step in reversed(undo):
                with contextlib.suppress(NetlinkError, OSError):  # best effort, said above
                    step()
            raise


def _apply(
    nl: Rtnetlink,
    ifname: str,
    index: int,
    config: Ipv4Config,
    previous: Ipv4Config | None,
    undo: list[Callable[[], None]],
) -> None:
    def add(old: Ipv4Config) -> Callable[[], None]:
        def step() -> None:
            what = f"putting {old.address}/{old.prefixlen} back on {ifname}"
            nl.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, _addr_body(index, old), what)
            if old.gateway:
                route = _default_route_body(index, old.gateway)
                what = f"putting the default route via {old.gateway} back on {ifname}"
                nl.request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, route, what)

        return step

    present: list[tuple[str, int]] = []
    if previous is None:
        present = nl.ipv4_addresses(index, f"listing {ifname}'s addresses")
        for address, prefixlen in present:
            if (address, prefixlen) != (config.address, config.prefixlen) and _overlap(
                address, prefixlen, config.address, config.prefixlen
            ):
                gone = Ipv4Config(address, prefixlen)
                remove(ifname, gone, nl=nl, index=index)
                undo.append(add(gone))
    if previous is not None and (previous.address, previous.prefixlen) != (
        config.address,
        config.prefixlen,
    ):
        remove(ifname, previous, nl=nl, index=index)
        undo.append(add(previous))
        previous = None
    nl.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, _addr_body(index, config),
               f"adding {config.address}/{config.prefixlen} to {ifname}")  # fmt: skip
    # A new address (neither bootsh's previous one, kept above, nor one already there) is
    # taken off again if a later step fails.
    if previous is None and (config.address, config.prefixlen) not in present:
        added = Ipv4Config(config.address, config.prefixlen)
        undo.append(lambda: remove(ifname, added, nl=nl, index=index))
    if config.gateway:
        # REPLACE: the kernel keeps the old default route when it refuses the new one.
        nl.request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE,
                   _default_route_body(index, config.gateway),
                   f"default route via {config.gateway} on {ifname}")  # fmt: skip
    elif previous is not None and previous.gateway:
        _delete_default_route(nl, index, previous.gateway, ifname)


def _delete_default_route(nl: Rtnetlink, index: int, gateway: str, ifname: str) -> None:
    try:
        nl.request(RTM_DELROUTE, 0, _default_route_body(index, gateway),
                   f"removing the default route via {gateway} on {ifname}")  # fmt: skip
    except NetlinkError as exc:
        if exc.errno != errno.ESRCH:
            raise


def remove(
    ifname: str, config: Ipv4Config, *, nl: Rtnetlink | None = None, index: int | None = None
) -> None:
    """Remove an address (and the default route) bootsh applied; already gone is fine."""
    if index is None:
        index = socket.if_nametoindex(ifname)
    own = nl is None
    link = nl or Rtnetlink()
    try:
        if config.gateway:
            _delete_default_route(link, index, config.gateway, ifname)
        try:
            link.request(RTM_DELADDR, 0, _addr_body(index, config),
                         f"removing {config.address}/{config.prefixlen} from {ifname}")  # fmt: skip
        except NetlinkError as exc:
            if exc.errno not in (errno.EADDRNOTAVAIL, errno.ENOENT, errno.ESRCH):
                raise
    finally:
        if own:
            link.close()


# -- IPv6 ---------------------------------------------------------------------------------------


def _ip6(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6, text)


def _addr6_body(index: int, address: str, prefixlen: int) -> bytes:
    scope = RT_SCOPE_LINK if address.lower().startswith("fe80:") else RT_SCOPE_UNIVERSE
    return (
        _IFADDRMSG.pack(socket.AF_INET6, prefixlen, IFA_F_NODAD, scope, index)
        + _attr(IFA_ADDRESS, _ip6(address))
        + _attr(IFA_FLAGS, struct.pack("=I", IFA_F_NODAD))
    )


def _default_route6_body(index: int, gateway: str) -> bytes:
    body = _RTMSG.pack(socket.AF_INET6, 0, 0, 0, RT_TABLE_MAIN, RTPROT_DHCP, RT_SCOPE_UNIVERSE,
                       RTN_UNICAST, 0)  # fmt: skip
    body += _attr(RTA_OIF, struct.pack("=I", index))
    body += _attr(RTA_PRIORITY, struct.pack("=I", ROUTE_METRIC_BASE + index))
    return body + _attr(RTA_GATEWAY, _ip6(gateway))


def apply6(ifname: str, config: Ipv6Config, previous: Ipv6Config | None = None) -> None:
    """Give ``ifname`` the IPv6 addresses of ``config`` and its default route; what
    ``previous`` (bootsh's last configuration of it) had and ``config`` has not goes.
    Raises ``NetlinkError``."""
    index = socket.if_nametoindex(ifname)
    with Rtnetlink() as nl:
        if previous is not None:
            for address, prefixlen in previous.addresses:
                if (address, prefixlen) not in config.addresses:
                    _delete6(nl, index, address, prefixlen, ifname)
            if previous.gateway and previous.gateway != config.gateway:
                _delete_route6(nl, index, previous.gateway, ifname)
        for address, prefixlen in config.addresses:
            nl.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE,
                       _addr6_body(index, address, prefixlen),
                       f"adding {address}/{prefixlen} to {ifname}")  # fmt: skip
        if config.gateway:
            nl.request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE,
                       _default_route6_body(index, config.gateway),
                       f"default route via {config.gateway} on {ifname}")  # fmt: skip


def _delete6(nl: Rtnetlink, index: int, address: str, prefixlen: int, ifname: str) -> None:
    try:
        nl.request(RTM_DELADDR, 0, _addr6_body(index, address, prefixlen),
                   f"removing {address}/{prefixlen} from {ifname}")  # fmt: skip
    except NetlinkError as exc:
        if exc.errno not in (errno.EADDRNOTAVAIL, errno.ENOENT, errno.ESRCH):
            raise


def _delete_route6(nl: Rtnetlink, index: int, gateway: str, ifname: str) -> None:
    try:
        nl.request(RTM_DELROUTE, 0, _default_route6_body(index, gateway),
                   f"removing the default route via {gateway} on {ifname}")  # fmt: skip
    except NetlinkError as exc:
        if exc.errno != errno.ESRCH:
            raise


def remove6(ifname: str, config: Ipv6Config) -> None:
    """Remove what ``apply6`` gave ``ifname``; already gone is fine."""
    index = socket.if_nametoindex(ifname)
    with Rtnetlink() as nl:
        if config.gateway:
            _delete_route6(nl, index, config.gateway, ifname)
        for address, prefixlen in config.addresses:
            _delete6(nl, index, address, prefixlen, ifname)


# -- links (VLANs) -------------------------------------------------------------------------------


def create_vlan(trunk: str, name: str, vid: int) -> None:
    """``ip link add link TRUNK name NAME type vlan id VID`` and set it up; ``EEXIST``
    when NAME exists. Raises ``NetlinkError``."""
    index = socket.if_nametoindex(trunk)
    data = _attr(IFLA_VLAN_ID, struct.pack("=H", vid))
    info = _attr(IFLA_INFO_KIND, b"vlan") + _attr(IFLA_INFO_DATA, data)
    body = (
        _IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, IFF_UP, IFF_UP)
        + _attr(IFLA_LINK, struct.pack("=I", index))
        + _attr(IFLA_IFNAME, name.encode() + b"\0")
        + _attr(IFLA_LINKINFO, info)
    )
    with Rtnetlink() as nl:
        nl.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body,
                   f"creating VLAN {vid} on {trunk} as {name}")  # fmt: skip


def delete_link(name: str) -> None:
    """``ip link delete NAME``; already gone is fine. Raises ``NetlinkError``."""
    try:
        index = socket.if_nametoindex(name)
    except OSError:
        return
    body = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, 0, 0)
    with Rtnetlink() as nl:
        try:
            nl.request(RTM_DELLINK, 0, body, f"deleting {name}")
        except NetlinkError as exc:
            if exc.errno != errno.ENODEV:
                raise


def links() -> list[Link]:
    """The interfaces of this network namespace (``ip link``)."""
    with Rtnetlink() as nl:
        return nl.links()


def vlan_supported_here() -> bool:
    """Whether this kernel can make 802.1Q links (``/proc/net/vlan`` exists once the 8021q
    code is in, built in or loaded); False for a kernel built without it."""
    return os.path.exists("/proc/net/vlan/config")
