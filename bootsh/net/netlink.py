"""Apply an IPv4 configuration to a kernel interface through rtnetlink, written by hand.

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
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import socket
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from bootsh.errors import BootshError

NETLINK_ROUTE = 0
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_DELROUTE = 24, 25
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_DUMP = 0x300
NLM_F_REQUEST, NLM_F_ACK, NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x100, 0x200, 0x400
IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST = 1, 2, 4
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
        network = ipaddress.IPv4Network(f"{self.address}/{self.prefixlen}", strict=False)
        return str(network.broadcast_address)


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _ip(text: str) -> bytes:
    return socket.inet_aton(text)


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
        network = ipaddress.IPv4Network(f"{config.address}/{config.prefixlen}", strict=False)
        present = nl.ipv4_addresses(index, f"listing {ifname}'s addresses")
        for address, prefixlen in present:
            other = ipaddress.IPv4Network(f"{address}/{prefixlen}", strict=False)
            if (address, prefixlen) != (config.address, config.prefixlen) and (
                other.overlaps(network)
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
