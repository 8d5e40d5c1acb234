"""DHCP packets as iPXE reads and writes them (``net/dhcpopts.c``, ``net/dhcppkt.c``).

The protocol numbers, the option walk (pads skipped, the end option or an option running past
the block ends it: never raises), ``DhcpPacket`` (the fixed header and the options, read and
written by setting tag, ``175.x`` style tags inside their encapsulating option) and
``DhcpBlock``, a packet as a settings block (``net0.dhcp``, ``proxydhcp``). No I/O and no
scapy: ``bootsh.net.dhcp`` builds and parses the frames and runs the state machine.
"""

from __future__ import annotations

from bootsh.lang import settings
from bootsh.lang.settings import Block, Setting, SettingsError
from bootsh.records import dataclass, field

TYPE_CHECKING = False  # a lease's path: no typing
if TYPE_CHECKING:
    from typing import ClassVar

# -- protocol numbers ------------------------------------------------------------------------

BOOTPS, BOOTPC, PXE_PORT = 67, 68, 4011
DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE, INFORM = range(1, 9)
MAGIC = b"\x63\x82\x53\x63"
HEADER_LEN = 236  # struct dhcphdr up to the magic cookie
OPT_PAD, OPT_END = 0, 255
OPT_NETMASK, OPT_ROUTERS, OPT_MSGTYPE, OPT_SERVER_ID = 1, 3, 53, 54
OPT_REQUESTED_IP, OPT_MESSAGE, OPT_VENDOR_CLASS, OPT_BOOTFILE = 50, 56, 60, 67
OPT_USER_CLASS, OPT_ARCH, OPT_NDI, OPT_CLIENT_ID, OPT_UUID = 77, 93, 94, 61, 97
OPT_EB_ENCAP = 175


def encap(encapsulator: int, encapsulated: int) -> int:
    """iPXE's ``DHCP_ENCAP_OPT``: the tag of an option inside another."""
    return (encapsulator << 8) | encapsulated


EB_PRIORITY = encap(OPT_EB_ENCAP, 0x01)
EB_YIADDR = encap(OPT_EB_ENCAP, 0x02)
EB_SIADDR = encap(OPT_EB_ENCAP, 0x03)
EB_NO_PXEDHCP = encap(OPT_EB_ENCAP, 0xB0)
EB_BUS_ID = 0xB1
EB_VERSION = 0xEB
PXE_BOOT_MENU = encap(43, 9)
OPT_TFTP_SERVER_NAME = 66


# -- options ---------------------------------------------------------------------------------


def walk_options(data: bytes) -> list[tuple[int, bytes]]:
    """The options of an option block, in order, as iPXE's ``dhcpopts.c`` reads them.

    Pads are skipped and the end option ends the block; an option whose length runs past
    the block ends it too (what precedes it is kept). Never raises.
    """
    options: list[tuple[int, bytes]] = []
    offset = 0
    end = len(data)
    while offset < end:
        tag = data[offset]
        if tag == OPT_PAD:
            offset += 1
            continue
        if tag == OPT_END or offset + 2 > end:
            break
        length = data[offset + 1]
        if offset + 2 + length > end:
            break
        options.append((tag, bytes(data[offset + 2 : offset + 2 + length])))
        offset += 2 + length
    return options


def encode_options(options: list[tuple[int, bytes]]) -> bytes:
    """Options back to bytes (without the end option); values longer than 255 are cut."""
    out = bytearray()
    for tag, value in options:
        value = value[:255]
        out += bytes([tag, len(value)]) + value
    return bytes(out)


def _first(options: list[tuple[int, bytes]], tag: int) -> bytes | None:
    return next((value for code, value in options if code == tag), None)


def tag_applies(tag: int) -> bool:
    """iPXE's ``dhcpopt_applies``: a numbered option, or one encapsulated in another."""
    if tag <= 0 or tag > encap(254, 254):
        return False
    low = tag & 0xFF
    return 0 < low < OPT_END and (tag >> 8) < OPT_END


@dataclass
class DhcpPacket:
    """A DHCP packet as iPXE's ``dhcppkt``: the fixed header and the option list.

    ``fetch(tag)`` reads a setting by its tag as ``dhcppkt_fetch`` does: ``yiaddr``,
    ``siaddr``, ``sname`` and ``file`` for their tags when they are filled in, else the
    first option with that tag (inside its encapsulating option for ``175.x`` style tags).
    """

    header: bytearray
    options: list[tuple[int, bytes]] = field(default_factory=list)

    @classmethod
    def parse(cls, payload: bytes) -> DhcpPacket | None:
        """A BOOTP/DHCP payload; None unless it has the header and the magic cookie."""
        if len(payload) < HEADER_LEN + 4 or payload[HEADER_LEN : HEADER_LEN + 4] != MAGIC:
            return None
        return cls(bytearray(payload[:HEADER_LEN]), walk_options(payload[HEADER_LEN + 4 :]))

    @property
    def op(self) -> int:
        return self.header[0]

    @property
    def xid(self) -> int:
        return int.from_bytes(self.header[4:8], "big")

    @property
    def chaddr(self) -> bytes:
        return bytes(self.header[28:44])

    @property
    def yiaddr(self) -> bytes:
        return bytes(self.header[16:20])

    @property
    def siaddr(self) -> bytes:
        return bytes(self.header[20:24])

    @property
    def msgtype(self) -> int:
        value = self.fetch(OPT_MSGTYPE)
        return value[0] if value else 0

    #: The header fields iPXE reads for these tags: offset and size.
    _FIELDS: ClassVar[dict[int, tuple[int, int]]] = {
        EB_YIADDR: (16, 4),
        EB_SIADDR: (20, 4),
        OPT_TFTP_SERVER_NAME: (44, 64),
        OPT_BOOTFILE: (108, 128),
    }

    def _field(self, tag: int) -> bytes | None:
        place = self._FIELDS.get(tag)
        if place is None:
            return None
        start, length = place
        data = bytes(self.header[start : start + length])
        if length == 4:
            return data if any(data) else None
        used = data.split(b"\0", 1)[0]
        return used or None

    def fetch(self, tag: int) -> bytes | None:
        value = self._field(tag)
        if value is not None:
            return value
        if tag <= 0xFF:
            return _first(self.options, tag)
        outer = _first(self.options, tag >> 8)
        if outer is None:
            return None
        return _first(walk_options(outer), tag & 0xFF)

    def store(self, tag: int, value: bytes | None) -> None:
        """``dhcppkt_store``: a header field for its tags, else the option (None deletes)."""
        place = self._FIELDS.get(tag)
        if place is not None:
            start, length = place
            if value is not None and len(value) > length:
                raise ValueError(f"at most {length} bytes fit in that field")
            self.header[start : start + length] = (value or b"").ljust(length, b"\0")
            self._store_option(tag, None)
            return
        self._store_option(tag, value)

    def _store_option(self, tag: int, value: bytes | None) -> None:
        if tag <= 0xFF:
            self.options = _replace(self.options, tag, value)
            return
        outer_tag, inner_tag = tag >> 8, tag & 0xFF
        inner = walk_options(_first(self.options, outer_tag) or b"")
        inner = _replace(inner, inner_tag, value)
        encoded = encode_options(inner)
        self.options = _replace(self.options, outer_tag, encoded if inner else None)

    def to_bytes(self) -> bytes:
        return bytes(self.header) + MAGIC + encode_options(self.options) + bytes([OPT_END])


def _replace(
    options: list[tuple[int, bytes]], tag: int, value: bytes | None
) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []
    done = False
    for code, old in options:
        if code != tag:
            out.append((code, old))
        elif value is not None and not done:
            out.append((code, value))
            done = True
    if value is not None and not done:
        out.append((tag, value))
    return out


def has_pxe_options(packet: DhcpPacket) -> bool:
    """iPXE's ``dhcp_has_pxeopts``: a next-server with a boot file, or a PXE boot menu."""
    if any(packet.siaddr) and packet.fetch(OPT_BOOTFILE):
        return True
    return bool(packet.fetch(PXE_BOOT_MENU))


# -- settings blocks ---------------------------------------------------------------------------

DHCP_SETTINGS_NAME = "dhcp"
PROXYDHCP_SETTINGS_NAME = "proxydhcp"
#: A PXE boot server's answer (``pxebs``), also at the root.
PXEBS_SETTINGS_NAME = "pxebs"


class DhcpBlock(Block):
    """A DHCP packet as a settings block (iPXE's ``dhcppkt`` settings): numbered settings
    only, read from the header fields and options; stores change the packet."""

    def __init__(self, name: str, packet: DhcpPacket) -> None:
        super().__init__(name)
        self.packet = packet
        # Everything in it came from the network: a filename here may not name a local
        # file (bootsh.boot.fetch). Named by the server identifier, else siaddr.
        server = packet.fetch(OPT_SERVER_ID) or b""
        if len(server) != 4 or not any(server):
            server = packet.siaddr
        self.network_source = f"the DHCP server {'.'.join(str(b) for b in server)}"

    def applies(self, setting: Setting) -> bool:
        return setting.scope is None and tag_applies(setting.tag)

    def fetch_here(self, setting: Setting) -> tuple[bytes, str | None] | None:
        value = self.packet.fetch(setting.tag)
        return (value, None) if value is not None else None

    def store_here(self, setting: Setting, raw: bytes | None) -> None:
        try:
            self.packet.store(setting.tag, raw)
        except ValueError:
            raise SettingsError(
                settings.error_number(0x1C), "too long for the DHCP packet"
            ) from None
