"""Every netdev's ``link`` block: the EUI-64 link-local address iPXE gives it (RFC 2464,
iPXE's ``ipv6_register_settings``): ``net0.link/ip6``, ``net0.link/len6``.

Apart from ``bootsh.net.ipv6`` because every netdev has one, so ``ifstat`` needs it, and
nothing of router discovery, sockets or packing.
"""

from __future__ import annotations

from bootsh.lang.settings import Block, Setting

# iPXE's settings orders (include/ipxe/ipv6.h): a higher order comes first among siblings.
ORDER_PREFIX_ONLY, ORDER_LINK_LOCAL, ORDER_SLAAC, ORDER_DHCPV6 = -4, -3, -2, -1


def eui64(mac: bytes) -> bytes:
    """The interface identifier of a 6-byte MAC (RFC 2464): U/L bit flipped, ff:fe inside."""
    return bytes([mac[0] ^ 0x02, *mac[1:3], 0xFF, 0xFE, *mac[3:6]])


def link_local(mac: bytes) -> bytes:
    return b"\xfe\x80" + bytes(6) + eui64(mac)


class OrderedBlock(Block):
    """A block that answers only the settings it knows by name (iPXE's ``applies``)."""

    names: frozenset[str] = frozenset()
    can_store = False

    def applies(self, setting: Setting) -> bool:
        return setting.name in self.names

    def answer(self, name: str) -> tuple[bytes, str] | None:
        raise NotImplementedError

    def fetch_here(self, setting: Setting) -> tuple[bytes, str | None] | None:
        return self.answer(setting.name) if self.applies(setting) else None


class LinkBlock(OrderedBlock):
    """``net0.link``: the EUI-64 link-local address iPXE gives every netdev."""

    names = frozenset({"ip6", "len6"})

    def __init__(self, mac: bytes) -> None:
        super().__init__("link")
        self.order = ORDER_LINK_LOCAL
        self.mac = mac

    def answer(self, name: str) -> tuple[bytes, str] | None:
        if name == "ip6":
            return link_local(self.mac), "ipv6"
        return bytes([64]), "int8"
