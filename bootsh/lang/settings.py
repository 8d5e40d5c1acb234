"""The settings store: iPXE's tree of settings blocks holding raw bytes and a type each.

iPXE keeps settings in *blocks* (``settings.c``): the global root (name ""), and below it the
``builtin`` block, the ``netX`` redirect, one block per network device (``net0``) and the
blocks hanging under those (``net0.dhcp``). A setting is stored as raw bytes together with
the type it was stored with; a type given when reading (``${x:int32}``) only changes how the
same bytes are shown (``bootsh.lang.settypes``).

Names are ``[scope/]name[:type]`` (``parse``). The scope is split on ``.`` and looked up
child by child from the root; ``set`` creates missing scopes (iPXE's autovivification), every
other use fails with ``"nosuch/x": invalid setting``. An empty scope component means "this
block", so ``/x`` is the global ``x``.

Lookup (iPXE's ``fetch_setting``): a block is tried first, then each of its children in turn,
depth first, in priority order (a block's ``priority`` setting, int8, higher first; equal
priorities in registration order). A name without a scope therefore searches the root and
then every block below it: the global ``x`` first, then ``builtin``, ``smbios``, ``netX``,
``net0``, ``net0.dhcp``, ``net1``, ... So a global setting named like a builtin
(``set errno 5``) hides the builtin from then on, and ``show`` names the block that really
holds the value (``net0.dhcp/ip:ipv4 = 10.0.2.15``). The type shown is the one asked for,
else the predefined type of a known name (``mac`` is ``hex``), else the type it was stored
with, else ``string``.

Blocks, as in iPXE:

* the root and created scopes hold anything (``set nosuch/x 1`` creates ``nosuch``);
* ``builtin`` holds only the builtin settings and stores nothing: ``errno`` (uint32, the
  last error: ``errno_source``, absent until a shell attaches it), ``buildarch`` (iPXE's
  architecture name for ``os.uname()``: ``x86_64``, ``i386``, ``arm64``, ``arm32``,
  ``riscv64``, ``loong64``, else the machine name), ``platform`` (``linux``: iPXE's own
  name for its Linux user-space platform), ``version`` (bootsh's version: iPXE shows its
  product version there) and ``unixtime`` (uint32 seconds since 1970);
* ``smbios`` holds the firmware's ``uuid``, ``manufacturer``, ``product``, ``serial`` and
  ``asset`` (iPXE reads the SMBIOS tables; bootsh reads what Linux shows of them in
  ``/sys/class/dmi/id``, under ``sysfs_root``), absent where Linux shows none, read-only;
* ``netN`` is a network device (``netdevs_provider``, the shown netdevs of the twin
  resolution, read only when a lookup needs them): ``mac`` and ``hwaddr`` (hex), ``bustype``
  (``PCI``, ``XEN``, ...), ``busloc`` (uint32: PCI ``segment<<16 | bus<<8 | slot<<3 | fn``,
  0 on Xen), ``busid`` (hex: bus type, vendor, device; ``01:10:ec:81:39`` for an RTL8139,
  ``08:00:00:00:00`` for a Xen vif), ``linktype`` (``Ethernet``), ``chip`` (the driver name
  that ``ifstat`` shows) and ``ifname`` (the netdev's own name, ``net0``, as in iPXE). The
  kernel's interface name (``eth0``) is the bootsh extension ``linux-ifname``. ``mac`` can be
  set (six bytes) and cleared again; the others fail "Operation not supported". Anything
  else is stored in the block like in the root. iPXE has no fetchable ``mtu``: it is only a
  DHCP option (stored where DHCP puts it), so bootsh has none either;
* ``netX`` redirects to the most recently opened netdev that is still open (``last_opened``),
  and with none open it is an empty block that can neither fetch nor store ("Operation not
  supported"), as in iPXE (measured against the real one: ``show netX/mac`` before any
  ``ifopen`` fails). ``netx_fallback`` makes it ``net0`` until then instead (off by default).

Errors are ``SettingsError`` carrying iPXE's error number (``errno``) and its ``strerror``
text as the message, so that the commands print what iPXE prints:
``Could not find "x": No such file or directory (https://ipxe.org/2d0c2002)``.
A setting may also have a validator (``validators[name]``): ``set twins bogus`` fails at once
with the validator's ``BootshError`` instead of breaking the next ``ifstat``.
"""

from __future__ import annotations

import os
import time

from bootsh import __version__
from bootsh.errors import BootshError
from bootsh.ipxe_errors import ipxe_errno, strerror
from bootsh.lang.files import ATTR_SIZE, read_bounded
from bootsh.lang.settypes import DEFAULT_TYPE, DEFAULT_TYPES, INC_TYPE, TYPES, SettingTypeError
from bootsh.records import dataclass, replace

TYPE_CHECKING = False  # not typing's: the interpreter's start-up does not import typing
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Protocol

    Validator = Callable[[str], None]

# -- error numbers -------------------------------------------------------------------------
#
# iPXE's POSIX codes and the Linux build's platform byte (the kernel errno), and the source
# files that return them (include/ipxe/errfile.h).
_PLATFORM = {0x1C: 22, 0x2C: 19, 0x2D: 2, 0x3C: 95, 0x3D: 25, 0x46: 34}
EINVAL, ENODEV, ENOENT, ENOTSUP, ENOTTY, ERANGE = 0x1C, 0x2C, 0x2D, 0x3C, 0x3D, 0x46

ERRFILE_SETTINGS = 0x000C2000  # core/settings.c
ERRFILE_NETDEV_SETTINGS = 0x00146000  # net/netdev_settings.c
ERRFILE_PARSEOPT = 0x00162000  # core/parseopt.c
#: Where each type's parse/format errors come from (the file holding its parser).
_TYPE_ERRFILE = {
    "ipv4": 0x00056000,  # net/ipv4.c
    "ipv6": 0x00066000,  # net/ipv6.c
    "hex": 0x00112000,  # core/base16.c
    "hexhyp": 0x00112000,
    "hexraw": 0x00112000,
    "base64": 0x00102000,  # core/base64.c
    "dnssl": 0x00116000,  # net/dns.c
}


def error_number(posix: int, errfile: int = ERRFILE_SETTINGS, uniq: int = 0) -> int:
    """An iPXE error number of the Linux build."""
    return ipxe_errno(posix, errfile, uniq, _PLATFORM[posix])


#: ``Could not find "x"``: no block holds it.
ENOENT_SETTING = error_number(ENOENT)
#: ``"nosuch/x": invalid setting``: no such scope.
ENODEV_SCOPE = error_number(ENODEV)
#: ``"x:bogus": invalid setting``: no such type; also a block that cannot fetch or store.
ENOTSUP_SETTING = error_number(ENOTSUP)
#: A setting stored into a block it does not apply to (``set builtin/x 1``).
ENOTTY_SETTING = error_number(ENOTTY)
#: ``"x": invalid integer value`` (``inc x y``).
EINVAL_INTEGER = error_number(EINVAL, ERRFILE_PARSEOPT, 0x01)


def split_setting_name(text: str) -> tuple[str | None, str, str | None]:
    """``[scope/]name[:type]`` as iPXE's ``parse_setting_name`` splits it: the scope ends at
    the first ``/``, the type starts at the first ``:`` after it. The interpreter and
    ``--check`` both use this, so that they agree on what a name means."""
    slash = text.find("/")
    scope, rest = (text[:slash], text[slash + 1 :]) if slash >= 0 else (None, text)
    colon = rest.find(":")
    name, type_name = (rest[:colon], rest[colon + 1 :]) if colon >= 0 else (rest, None)
    return scope, name, type_name


class SettingsError(BootshError):
    """A setting that cannot be found, parsed or stored; ``str()`` is iPXE's strerror text."""

    def __init__(self, errno: int, detail: str = "") -> None:
        self.errno = errno
        self.detail = detail
        super().__init__(strerror(errno))


class InvalidSetting(SettingsError):
    """A name iPXE cannot parse: no such scope (ENODEV) or no such type (ENOTSUP)."""


def _type_error(exc: SettingTypeError, type_name: str) -> SettingsError:
    errfile = exc.errfile or _TYPE_ERRFILE.get(type_name, ERRFILE_SETTINGS)
    if exc.posix == ENOTSUP:  # setting_parse/setting_numerate without a method
        errfile = ERRFILE_SETTINGS
    return SettingsError(error_number(exc.posix, errfile), exc.detail)


# -- settings (what a name means) ----------------------------------------------------------

#: At most this many entries in each of the store's caches of parsed names.
_PARSED_CACHE = 4096

BUILTIN = "builtin"
#: bootsh's bound on the levels of a scope name (``a.b.c/x`` has 3): deeper ones are invalid
#: settings (iPXE has no bound, but real scripts use two or three).
MAX_SCOPE_DEPTH = 32
SMBIOS = "smbios"


@dataclass(frozen=True)
class Setting:
    """iPXE's ``struct setting``: a name, a type (None: not given) and a scope."""

    name: str
    type: str | None = None
    #: ``"builtin"`` for the settings only the builtin block holds; None for the others.
    scope: str | None = None
    #: The DHCP option number (``175.2`` is ``(175 << 8) | 2``); 0 for none.
    tag: int = 0


#: DHCP ``encapsulated`` option inside iPXE's own option 175 (``DHCP_EB_ENCAP``).
def _eb(encapsulated: int) -> int:
    return (175 << 8) | encapsulated


#: The DHCP option numbers of iPXE's predefined settings (``include/ipxe/dhcp.h``): a
#: numeric name (``set 12 x``) is the predefined setting with that tag (``hostname``).
SETTING_TAGS: dict[str, int] = {
    "netmask": 1,
    "gateway": 3,
    "dns": 6,
    "hostname": 12,
    "domain": 15,
    "root-path": 17,
    "mtu": 26,
    "dhcp-server": 54,
    "filename": 67,
    "user-class": 77,
    "dnssl": 119,
    "initiator-iqn": 203,
    "priority": _eb(0x01),
    "ip": _eb(0x02),
    "next-server": _eb(0x03),
    "keep-san": _eb(0x08),
    "skip-san-boot": _eb(0x09),
    "username": _eb(0xBE),
    "password": _eb(0xBF),
    "reverse-username": _eb(0xC0),
    "reverse-password": _eb(0xC1),
    "trust": _eb(0x5A),
    "cert": _eb(0x5B),
    "crosscert": _eb(0x5D),
}


def setting_tag(name: str) -> int:
    """iPXE's ``parse_setting_tag``: ``12`` is 12, ``175.2`` is 0xaf02, ``x`` is 0."""
    tag = 0
    for part in name.split("."):
        try:
            value = TYPES["uint32"].numerate(TYPES["uint32"].parse(part))
        except SettingTypeError:
            return 0
        tag = ((tag << 8) | value) & 0xFFFFFFFF
    return tag


#: Settings only the builtin block holds, with their types.
BUILTIN_TYPES: dict[str, str] = {
    "errno": "uint32",
    "buildarch": "string",
    "platform": "string",
    "version": "string",
    "unixtime": "uint32",
}

#: The SMBIOS settings iPXE predefines, and the Linux DMI file (``/sys/class/dmi/id``) that
#: holds each: system manufacturer, product, serial and UUID, the enclosure's asset tag.
SMBIOS_FILES: dict[str, str] = {
    "uuid": "product_uuid",
    "manufacturer": "sys_vendor",
    "product": "product_name",
    "serial": "product_serial",
    "asset": "chassis_asset_tag",
}

#: The settings bootsh adds to a netdev's block.
EXTRA_NETDEV_TYPES: dict[str, str] = {"linux-ifname": "string"}

#: iPXE's predefined settings: a known name brings its type (and scope) along.
PREDEFINED: dict[str, Setting] = {
    **{
        name: Setting(name, type_, tag=SETTING_TAGS.get(name, 0))
        for name, type_ in DEFAULT_TYPES.items()
    },
    **{name: Setting(name, type_) for name, type_ in EXTRA_NETDEV_TYPES.items()},
    **{name: Setting(name, type_, BUILTIN) for name, type_ in BUILTIN_TYPES.items()},
    **{name: Setting(name, DEFAULT_TYPES[name], SMBIOS) for name in SMBIOS_FILES},
}

_PRIORITY = PREDEFINED["priority"]

#: ``netdev_fetch_bustype``'s names, by bootsh's ``Nic.bus``; the index is iPXE's BUS_TYPE_*.
BUS_TYPES: dict[str, tuple[int, str]] = {
    "pci": (1, "PCI"),
    "isapnp": (2, "ISAPNP"),
    "eisa": (3, "EISA"),
    "mca": (4, "MCA"),
    "isa": (5, "ISA"),
    "tap": (6, "TAP"),
    "efi": (7, "EFI"),
    "xen": (8, "XEN"),
    "hv": (9, "HV"),
    "usb": (10, "USB"),
    "dt": (11, "DT"),
}

#: iPXE's ARCH names for ``os.uname().machine``.
_ARCHES = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "i386": "i386",
    "i486": "i386",
    "i586": "i386",
    "i686": "i386",
    "aarch64": "arm64",
    "arm64": "arm64",
    "riscv64": "riscv64",
    "riscv32": "riscv32",
    "loongarch64": "loong64",
}


#: ``buildarch()`` of this machine, once (``os.uname()`` is a system call each time).
_BUILDARCH: dict[str, bytes] = {}


def buildarch(machine: str | None = None) -> str:
    machine = machine if machine is not None else os.uname().machine
    if machine in _ARCHES:
        return _ARCHES[machine]
    if machine.startswith("arm"):
        return "arm32"
    return machine


# -- the netdev records the provider hands over ----------------------------------------------


if TYPE_CHECKING:

    class NicLike(Protocol):
        @property
        def driver(self) -> str: ...
        @property
        def location(self) -> str: ...
        @property
        def mac(self) -> str | None: ...
        @property
        def bus(self) -> str: ...
        @property
        def ifname(self) -> str | None: ...
        @property
        def ll_protocol(self) -> str: ...
        @property
        def facts(self) -> Mapping[str, str]: ...
        @property
        def key(self) -> str: ...

    class NetdevLike(Protocol):
        """What ``bootsh.nics.netdevs.Netdev`` offers: a name (``net0``) and the NIC record."""

        @property
        def name(self) -> str | None: ...
        @property
        def nic(self) -> NicLike: ...

    NetdevProvider = Callable[[], Sequence[NetdevLike]]


# -- blocks ----------------------------------------------------------------------------------


class Block:
    """A generic settings block (``generic_settings``): holds any setting."""

    can_fetch = True
    can_store = True
    #: iPXE's ``settings->order``: among siblings of equal priority a higher order comes
    #: first (a DHCP lease, 0, before DHCPv6, -1, router discovery, -2, the link-local, -3).
    order = 0
    #: iPXE's ``default_scope``: the scope a numbered name asked of this block gets
    #: (``net0.dhcpv6/59`` is DHCPv6 option 59, not DHCP option 59).
    default_scope: str | None = None
    #: Who wrote this block's values when that is not the user: a DHCP server, say
    #: (``DhcpBlock``). A URI read from such a block came from the network and may not
    #: reach local files (``bootsh.boot.fetch``); None for the user's own settings.
    network_source: str | None = None

    def __init__(self, name: str) -> None:
        self.name = name
        self.parent: Block | None = None
        #: By name, in lookup order (a name is unique among siblings: registering a block
        #: replaces the one of that name). A dict, not a list: with thousands of netdevs,
        #: finding, replacing and moving a child by scanning a list made discovery quadratic.
        self.children: dict[str, Block] = {}
        #: Whether a child with an ``order`` other than 0 (IPv6's blocks) was ever registered
        #: here: only then must a new child look for its place among its siblings.
        self.ordered_children = False
        self.values: dict[str, tuple[bytes, str]] = {}
        self.tags: dict[int, str] = {}

    def target(self) -> Block:
        return self

    def applies(self, setting: Setting) -> bool:
        return True

    def _key(self, setting: Setting) -> str | None:
        """The stored name ``setting`` matches (iPXE's ``setting_cmp``: tag, else name)."""
        if setting.tag and setting.tag in self.tags:
            return self.tags[setting.tag]
        return setting.name if setting.name in self.values else None

    def fetch_here(self, setting: Setting) -> tuple[bytes, str | None] | None:
        """The raw value and the type it was stored with, or None (not here)."""
        key = self._key(setting)
        return self.values[key] if key is not None else None

    def store_here(self, setting: Setting, raw: bytes | None) -> None:
        old = self._key(setting)
        if old is not None:
            del self.values[old]
            if self.tags:
                self.tags = {tag: name for tag, name in self.tags.items() if name != old}
        if raw and setting.name:  # iPXE stores an empty name, but never finds it again
            self.values[setting.name] = (raw, setting.type or DEFAULT_TYPE)
            if setting.tag:
                self.tags[setting.tag] = setting.name

    def path(self) -> str:
        """iPXE's ``settings_name()``: ``net0.dhcp`` ("" for the root), at most 15 chars."""
        parts: list[str] = []
        block: Block | None = self.target()
        while block is not None and block.parent is not None:
            parts.append(block.name)
            block = block.parent
        return ".".join(reversed(parts))[:15]


class BuiltinBlock(Block):
    """``builtin``: computed values, nothing stored."""

    can_store = False

    def __init__(self, fetchers: Mapping[str, Callable[[], bytes | None]]) -> None:
        super().__init__(BUILTIN)
        self.fetchers = fetchers

    def applies(self, setting: Setting) -> bool:
        return setting.scope == BUILTIN

    def fetch_here(self, setting: Setting) -> tuple[bytes, str | None] | None:
        fetch = self.fetchers.get(setting.name)
        raw = fetch() if fetch is not None else None
        return (raw, None) if raw is not None else None


class NetdevBlock(Block):
    """``netN``: the device's own settings from its NIC record, plus stored ones."""

    def __init__(self, name: str, nic: NicLike) -> None:
        super().__init__(name)
        self.nic = nic
        self.mac_override: bytes | None = None
        for key, raw, type_name in driver_settings(nic.facts):
            self.store_here(Setting(key, type_name, tag=SETTING_TAGS.get(key, 0)), raw)

    def _mac(self) -> bytes:
        return bytes.fromhex((self.nic.mac or "").replace(":", ""))

    def _bus(self) -> tuple[int, str | None]:
        number, text = BUS_TYPES.get(self.nic.bus.lower(), (0, None))
        return number, text

    def _busloc(self) -> int:
        if self.nic.bus.lower() != "pci":
            return 0
        try:
            segment, bus, rest = self.nic.location.split(":")
            slot, function = rest.split(".")
            return (
                (int(segment, 16) << 16)
                | (int(bus, 16) << 8)
                | (int(slot, 16) << 3)
                | int(function, 16)
            )
        except ValueError:
            return 0

    def _busid(self) -> bytes:
        number, _ = self._bus()
        vendor = device = 0
        pci_id = self.nic.facts.get("pci-id", "")
        if number == 1 and ":" in pci_id:
            try:
                vendor, device = (int(part, 16) for part in pci_id.split(":", 1))
            except ValueError:
                vendor = device = 0
        return bytes([number]) + vendor.to_bytes(2, "big") + device.to_bytes(2, "big")

    OWN = frozenset(
        {"mac", "hwaddr", "bustype", "busloc", "busid", "linktype", "chip", "ifname"}
        | set(EXTRA_NETDEV_TYPES)
    )

    def own(self, name: str) -> bytes | None:
        """The device's own value of one of ``OWN``; None when it has none."""
        if name == "mac":
            return self.mac_override if self.mac_override is not None else self._mac()
        if name == "hwaddr":
            return self._mac()
        if name == "bustype":
            text = self._bus()[1]
            return text.encode() if text is not None else None
        if name == "busloc":
            return self._busloc().to_bytes(4, "big")
        if name == "busid":
            return self._busid()
        if name == "linktype":
            return self.nic.ll_protocol.encode()
        if name == "chip":
            return self.nic.driver.encode()
        if name == "ifname":
            return self.name.encode()
        if name == "linux-ifname":
            return self.nic.ifname.encode() if self.nic.ifname else None
        return None

    def fetch_here(self, setting: Setting) -> tuple[bytes, str | None] | None:
        if setting.name not in self.OWN:
            return super().fetch_here(setting)
        value = self.own(setting.name)
        return (value, None) if value is not None else None

    def store_here(self, setting: Setting, raw: bytes | None) -> None:
        if setting.name == "mac":
            if raw is not None and len(raw) != 6:
                raise SettingsError(error_number(EINVAL, ERRFILE_NETDEV_SETTINGS))
            self.mac_override = raw or None
            return
        if setting.name in self.OWN:
            raise SettingsError(error_number(ENOTSUP, ERRFILE_NETDEV_SETTINGS))
        super().store_here(setting, raw)


#: The prefix of the facts a driver gives as settings of its netdev (``--net af_packet,if=X,
#: ip=10.0.0.5`` gives ``setting/ip``): iPXE's Linux build stores them in the netdev's block.
DRIVER_SETTING = "setting/"


def driver_setting(key: str, value: str) -> tuple[bytes, str]:
    """iPXE's ``linux_apply_settings`` for one pair: only a predefined setting is stored,
    parsed in its type. Raises ``SettingsError`` (unknown name: ENOENT; a value the type
    cannot parse: the type's error)."""
    known = PREDEFINED.get(key)
    if known is None or known.scope is not None:
        raise SettingsError(ENOENT_SETTING, f"{key!r} is not a setting iPXE knows")
    if key in NetdevBlock.OWN and key != "mac":
        raise SettingsError(
            error_number(ENOTSUP, ERRFILE_NETDEV_SETTINGS), f"{key!r} is the NIC's own"
        )
    type_name = known.type or DEFAULT_TYPE
    try:
        raw = TYPES[type_name].parse(value)
    except SettingTypeError as exc:
        raise _type_error(exc, type_name) from None
    if key == "mac" and len(raw) != 6:
        raise SettingsError(error_number(EINVAL, ERRFILE_NETDEV_SETTINGS), "not six bytes")
    return raw, type_name


def driver_settings(facts: Mapping[str, str]) -> list[tuple[str, bytes, str]]:
    """The driver's settings that parse (the driver reported the others when probing)."""
    found = []
    for fact, value in facts.items():
        if fact.startswith(DRIVER_SETTING):
            key = fact[len(DRIVER_SETTING) :]
            try:
                raw, type_name = driver_setting(key, value)
            except SettingsError:
                continue
            if raw:
                found.append((key, raw, type_name))
    return found


class SmbiosBlock(Block):
    """``smbios``: the firmware's SMBIOS strings and UUID, as Linux shows them, read-only."""

    can_store = False

    def __init__(self, sysfs_root: Callable[[], str | os.PathLike[str]]) -> None:
        super().__init__(SMBIOS)
        self.sysfs_root = sysfs_root

    def applies(self, setting: Setting) -> bool:
        return setting.scope == SMBIOS

    def fetch_here(self, setting: Setting) -> tuple[bytes, str | None] | None:
        filename = SMBIOS_FILES.get(setting.name)
        if filename is None:
            return None
        try:
            # Bounded and never waiting (a FIFO in a --sysfs-root tree blocked ${serial}).
            path = os.path.join(self.sysfs_root(), "class", "dmi", "id", filename)
            text = read_bounded(path, ATTR_SIZE, regular=True)
        except OSError:  # no DMI (not x86, a container), or not root for the serial
            return None
        text = text.rstrip(b"\n")
        if setting.name == "uuid":
            try:
                raw = bytes.fromhex(text.decode("ascii").replace("-", ""))
            except (UnicodeDecodeError, ValueError):
                return None
            return (raw, None) if len(raw) == 16 else None
        return (text, None) if text else None


class RedirectBlock(Block):
    """``netX``: the most recently opened netdev, or an empty block without one."""

    can_fetch = False
    can_store = False

    def __init__(self, name: str, resolve: Callable[[], Block | None]) -> None:
        super().__init__(name)
        self.resolve = resolve

    def target(self) -> Block:
        return self.resolve() or self


# -- results -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NamedSetting:
    """A parsed ``[scope/]name[:type]``: the block named (root by default) and the setting."""

    text: str
    block: Block
    setting: Setting


@dataclass(frozen=True)
class Fetched:
    """A value found: the block that holds it, the setting as fetched (type known), bytes."""

    origin: Block
    setting: Setting
    raw: bytes

    @property
    def type(self) -> str:
        return self.setting.type or DEFAULT_TYPE

    @property
    def label(self) -> str:
        """What ``show`` prints before `` = ``: ``net0.dhcp/ip:ipv4`` (iPXE: 31 chars max)."""
        scope = self.origin.path()
        text = f"{scope}{'/' if scope else ''}{self.setting.name}:{self.type}"
        return text[:31]

    def format(self) -> str:
        """The value in its type; ``SettingsError`` where iPXE's format fails."""
        try:
            return TYPES[self.type].format(self.raw)
        except SettingTypeError as exc:
            raise _type_error(exc, self.type) from None


# -- the store -----------------------------------------------------------------------------------


class Settings:
    """The tree of settings blocks; see the module documentation.

    The simple API (what ``${...}`` expansion and the shell use): ``get(name)`` -> formatted
    text or None, ``set(name, value)`` (empty deletes), ``clear(name)``, ``validators``.
    The commands use ``parse``, ``fetch``, ``store`` and ``increment``, which raise
    ``SettingsError`` with iPXE's error numbers.
    """

    def __init__(self, netdevs: NetdevProvider | None = None) -> None:
        self.validators: dict[str, Validator] = {}
        #: Called after every store with the block and the setting (iPXE's settings
        #: applicators: routes are recomputed when ``net0/ip`` changes).
        self.applicators: list[Callable[[Block, Setting], None]] = []
        #: The shown netdevs (``Resolution.shown``); called only when a lookup needs them.
        self.netdevs_provider: NetdevProvider | None = netdevs
        #: Where ``builtin/errno`` comes from (the shell's last error); without it the
        #: builtin block has no ``errno``.
        self.errno_source: Callable[[], int] | None = None
        #: The most recently opened netdev's name (``netX``); ``ifopen`` sets it.
        self.last_opened: str | None = None
        #: Makes a netdev's ``link`` block (the IPv6 link-local address) from its NIC, or
        #: None for a NIC without one; set by the network layer (``bootsh.net``).
        self.link_block: Callable[[NicLike], Block | None] | None = None
        #: Until a netdev has been opened, ``netX`` is the first one (``net0``); iPXE has no
        #: such fallback, so it is off unless a caller asks for it.
        self.netx_fallback = False
        self._netdevs: dict[str, NetdevBlock] = {}
        #: Counts what changes a value: stores and blocks (un)registered. A reader that
        #: derives something from values (the shell's twin policy) keeps it for a generation.
        self.generation = 0
        #: ``parse`` of names without a scope, and ``_typed``'s records (bounded caches).
        self._unscoped: dict[str, NamedSetting] = {}
        self._typed_cache: dict[tuple[int, str], tuple[Setting, Setting]] = {}
        self._seen: tuple[tuple[str, str], ...] | None = None
        self._syncing = False
        #: Whether any block ever held a ``priority``; until then all are 0 (a fast path).
        self._any_priority = False
        self.root = Block("")
        self.builtin = BuiltinBlock(
            {
                "errno": self._builtin_errno,
                "buildarch": lambda: _BUILDARCH.setdefault("", buildarch().encode()),
                "platform": lambda: b"linux",
                "version": lambda: __version__.encode(),
                "unixtime": lambda: (int(time.time()) & 0xFFFFFFFF).to_bytes(4, "big"),
            }
        )
        self._register(self.builtin, self.root)
        #: The sysfs tree the SMBIOS values come from (``--sysfs-root``): a path or its text.
        self.sysfs_root: str | os.PathLike[str] = "/sys"
        self._register(SmbiosBlock(lambda: self.sysfs_root), self.root)
        self._register(RedirectBlock("netX", self._netx), self.root)

    # -- builtins and netdevs ------------------------------------------------------------------

    def _builtin_errno(self) -> bytes | None:
        if self.errno_source is None:
            return None  # no shell attached: the shell answers ${errno} itself
        return (self.errno_source() & 0xFFFFFFFF).to_bytes(4, "big")

    def _sync(self) -> None:
        """Register a block per shown netdev (again when the naming has changed)."""
        if self.netdevs_provider is None or self._syncing:
            return
        self._syncing = True
        try:
            try:
                records = [r for r in self.netdevs_provider() if r.name]
            except BootshError:
                records = []
            seen = tuple((str(r.name), r.nic.key) for r in records)
            if seen == self._seen:
                return
            self._seen = seen
            for record in records:
                name = str(record.name)
                block = self._netdevs.get(name)
                if block is None or block.nic.key != record.nic.key:
                    block = NetdevBlock(name, record.nic)
                    self._netdevs[name] = block
                    self._register(block, self.root)
                    if self.link_block is not None:
                        link = self.link_block(record.nic)
                        if link is not None:  # iPXE's IPv6 link-local block, ``net0.link``
                            self._register(link, block)
                else:
                    block.nic = record.nic
            names = {name for name, _ in seen}
            for name in [n for n in self._netdevs if n not in names]:
                self._unregister(self._netdevs.pop(name))
        finally:
            self._syncing = False

    def netdev_names(self) -> list[str]:
        self._sync()
        return list(self._netdevs)

    def find_block(self, scope: str) -> Block | None:
        """The block named ``scope`` (``net0``, ``net0.dhcp``; "" is the root), or None."""
        self._sync()  # the netdevs' blocks, before anyone lists the root's children
        block: Block | None = self.root
        for part in scope.split(".") if scope else []:
            assert block is not None
            block = self._child(block, part, create=False)
            if block is None:
                return None
        return block

    def register_block(self, block: Block, scope: str = "") -> None:
        """iPXE's ``register_settings``: hang ``block`` under the block named ``scope`` (the
        root by default), replacing a child of the same name (a new DHCP lease replaces the
        old ``net0.dhcp``). Raises ``InvalidSetting`` when ``scope`` does not exist."""
        parent = self.find_block(scope)
        if parent is None:
            raise InvalidSetting(ENODEV_SCOPE, f"no settings block {scope!r}")
        if block.fetch_here(_PRIORITY) is not None:
            self._any_priority = True  # a DHCP server's 175.1 orders its block, as in iPXE
        self._register(block, parent)

    def unregister_block(self, scope: str) -> None:
        """Remove the block named ``scope`` and everything below it (no-op when absent)."""
        block = self.find_block(scope) if scope else None
        if block is not None and block is not self.root:
            self._unregister(block)

    def _netx(self) -> Block | None:
        self._sync()
        if self.last_opened is not None and self.last_opened in self._netdevs:
            return self._netdevs[self.last_opened]
        if self.netx_fallback and self._netdevs:
            return next(iter(self._netdevs.values()))
        return None

    # -- the tree ------------------------------------------------------------------------------

    def _register(self, block: Block, parent: Block) -> None:
        self.generation += 1
        parent = parent.target()
        old = parent.children.get(block.name)
        if old is not None:
            self._unregister(old)
        block.parent = parent
        parent.children[block.name] = block
        if block.order != 0:
            parent.ordered_children = True
        self._reprioritise(block)

    def _unregister(self, block: Block) -> None:
        self.generation += 1
        parent = block.parent
        if parent is not None and parent.children.get(block.name) is block:
            del parent.children[block.name]
        stack = [block]
        while stack:
            gone = stack.pop()
            stack.extend(gone.children.values())
            gone.children = {}
            gone.parent = None

    def _reprioritise(self, block: Block) -> None:
        """iPXE's ``reprioritise_settings``: the block moves after every sibling of equal or
        higher priority, then its parent among its own siblings, up to the root (so a new
        ``net0.dhcp`` moves ``net0`` after ``net1``, as in iPXE)."""
        parent = block.parent
        while parent is not None:
            del parent.children[block.name]
            if not self._any_priority and not parent.ordered_children:
                # Every priority and every sibling's order is 0: the end is the place, in O(1)
                # (thousands of netdevs under the root must not scan each other).
                parent.children[block.name] = block
            else:
                siblings = list(parent.children.values())
                index = len(siblings)
                priority = self._intz(block, _PRIORITY) if self._any_priority else 0
                for position, sibling in enumerate(siblings):
                    # iPXE: before the first sibling of lower priority, or of lower order.
                    if self._any_priority and priority > self._intz(sibling, _PRIORITY):
                        index = position
                        break
                    if block.order > sibling.order:
                        index = position
                        break
                siblings.insert(index, block)
                parent.children = {b.name: b for b in siblings}
            block, parent = parent, parent.parent

    def _intz(self, block: Block, setting: Setting) -> int:
        found = self._search(block, setting)
        if found is None:
            return 0
        try:
            return TYPES["int8"].numerate(found.raw)
        except SettingTypeError:
            return 0

    def _child(self, parent: Block, name: str, create: bool) -> Block | None:
        parent = parent.target()
        if not name:
            return parent
        if parent is self.root:
            self._sync()
        child = parent.children.get(name)
        if child is not None:
            return child.target()
        if not create:
            return None
        block = Block(name)
        self._register(block, parent)
        return block

    # -- names -----------------------------------------------------------------------------------

    def parse(self, text: str, create: bool = False) -> NamedSetting:
        """iPXE's ``parse_setting_name``; ``create`` makes missing scopes (``set``).

        Raises ``InvalidSetting``: ENODEV for a scope that does not exist, ENOTSUP for an
        unknown type (scopes are created before the type is checked, as in iPXE).
        A name without a scope means the same setting of the root block whatever the tree
        holds: it is parsed once (a loop's ``inc i`` and ``${i}``).
        """
        named = self._unscoped.get(text)
        if named is not None:
            return named
        scope, name, type_name = split_setting_name(text)
        block: Block | None = self.root
        if scope is not None:
            parts = scope.split(".")
            if len(parts) > MAX_SCOPE_DEPTH:
                raise InvalidSetting(ENODEV_SCOPE, f"more than {MAX_SCOPE_DEPTH} scope levels")
            for part in parts:
                assert block is not None
                block = self._child(block, part, create)
                if block is None:
                    raise InvalidSetting(ENODEV_SCOPE, f"no settings block {scope!r}")
        assert block is not None
        setting = PREDEFINED.get(name) or self._numbered(name)
        scope_of_block = block.target().default_scope
        if scope_of_block is not None and setting.name == name and name not in PREDEFINED:
            setting = replace(setting, scope=scope_of_block)
        if type_name is not None:
            if type_name not in TYPES:
                raise InvalidSetting(ENOTSUP_SETTING, f"no setting type {type_name!r}")
            setting = replace(setting, type=type_name)
        named = NamedSetting(text, block, setting)
        if scope is None and len(self._unscoped) < _PARSED_CACHE:
            self._unscoped[text] = named
        return named

    @staticmethod
    def _numbered(name: str) -> Setting:
        tag = setting_tag(name)
        if tag:
            for predefined in PREDEFINED.values():
                if predefined.tag == tag:
                    return predefined
        return Setting(name, tag=tag)

    # -- fetching ----------------------------------------------------------------------------------

    def _search(self, start: Block, setting: Setting) -> Fetched | None:
        """Depth first from ``start``: each block, then its children in order."""
        stack = [start]
        while stack:
            block = stack.pop().target()
            if not block.can_fetch:
                continue
            if block.applies(setting):
                found = block.fetch_here(setting)
                if found is not None:
                    raw, stored_type = found
                    type_ = setting.type or stored_type or DEFAULT_TYPE
                    return Fetched(block, self._typed(setting, type_), raw)
            if block is self.root:
                # The netdev blocks are the root's children: bring them up to date before
                # descending (a value the root holds itself needs no probe for NICs).
                self._sync()
            stack.extend(reversed(block.children.values()))
        return None

    def _typed(self, setting: Setting, type_: str) -> Setting:
        """``setting`` with its type known (the same few records again and again)."""
        if setting.type == type_:
            return setting
        # By identity: the parsed names' records are long-lived (and kept alive here), and
        # hashing a record field by field costs as much as the replace it saves.
        key = (id(setting), type_)
        entry = self._typed_cache.get(key)
        if entry is not None and entry[0] is setting:
            return entry[1]
        typed = replace(setting, type=type_)
        if len(self._typed_cache) < _PARSED_CACHE:
            self._typed_cache[key] = (setting, typed)
        return typed

    def fetch(self, named: NamedSetting) -> Fetched:
        """iPXE's ``fetch_setting``: the block itself, then its children in order."""
        target = named.block.target()
        if not target.can_fetch:
            raise SettingsError(ENOTSUP_SETTING, "this block holds nothing")
        if target is self.root:  # the search's first step, without its stack
            here = target.fetch_here(named.setting)
            if here is not None:
                setting = named.setting
                typed = self._typed(setting, setting.type or here[1] or DEFAULT_TYPE)
                return Fetched(target, typed, here[0])
        found = self._search(target, named.setting)
        if found is None:
            raise SettingsError(ENOENT_SETTING, f"{named.setting.name!r} is not set")
        return found

    def lookup(self, name: str) -> Fetched | None:
        """The value ``${name}`` would show, unformatted; None when there is none."""
        try:
            return self.fetch(self.parse(name))
        except SettingsError:
            return None

    def get(self, name: str) -> str | None:
        """``${name}``: the formatted value of ``[scope/]name[:type]``, or None.

        None for a bad name or type, a scope that does not exist, an unset setting and a
        value the type cannot show (``${x:ipv4}`` of a one-byte value): all expand to "".
        """
        named = self._unscoped.get(name)
        if named is not None:
            # The root holds most of what scripts expand (``${i}`` in a loop): look there
            # first, as the search below would, without building its records.
            setting = named.setting
            if setting.tag:
                here = self.root.fetch_here(setting)
            else:  # Block.fetch_here by name, inline: this is every ${i} of a loop
                here = self.root.values.get(setting.name)
            if here is not None:
                type_ = setting.type or here[1] or DEFAULT_TYPE
                try:
                    return TYPES[type_].format(here[0])
                except SettingTypeError:
                    return None
        found = self.lookup(name)
        if found is None:
            return None
        try:
            return found.format()
        except SettingsError:
            return None

    # -- storing ---------------------------------------------------------------------------------

    def _store(self, block: Block, setting: Setting, raw: bytes | None) -> None:
        block = block.target()
        if not block.applies(setting):
            raise SettingsError(ENOTTY_SETTING, f"{setting.name!r} does not belong here")
        if not block.can_store:
            raise SettingsError(ENOTSUP_SETTING, "this block stores nothing")
        validator = self.validators.get(setting.name)
        if validator is not None and raw:
            validator(TYPES[setting.type or DEFAULT_TYPE].expand(raw))
        block.store_here(setting, raw)
        self.generation += 1
        if setting.name == _PRIORITY.name:
            self._any_priority = self._any_priority or bool(raw)
            self._reprioritise(block)
        for applicator in self.applicators:
            applicator(block, setting)

    def store(self, named: NamedSetting, value: str | None) -> None:
        """iPXE's ``storef_setting``: parse ``value`` in the setting's type (string if it
        has none) and store it; None or "" deletes."""
        setting = named.setting
        if setting.type is None:
            setting = replace(setting, type=DEFAULT_TYPE)
        if not value:
            self._store(named.block, setting, None)
            return
        type_name = setting.type or DEFAULT_TYPE
        try:
            raw = TYPES[type_name].parse(value)
        except SettingTypeError as exc:
            raise _type_error(exc, type_name) from None
        self._store(named.block, setting, raw)

    def store_raw(self, named: NamedSetting, raw: bytes, default_type: str) -> None:
        """Store bytes as they are (``nslookup``): in the name's type, else ``default_type``."""
        setting = named.setting
        self._store(named.block, replace(setting, type=setting.type or default_type), raw)

    def increment(self, named: NamedSetting, increment: int) -> None:
        """``inc``: a missing value counts as an int32 zero; a value of a non-numeric type
        cannot be stored back ("Operation not supported")."""
        setting = named.setting
        value = 0
        try:
            found = self.fetch(named)
        except SettingsError:
            found = None
            setting = replace(setting, type=setting.type or INC_TYPE)
        if found is not None:
            setting = found.setting
            try:
                value = TYPES[found.type].numerate(found.raw)
            except SettingTypeError:
                value = 0
        type_name = setting.type or INC_TYPE
        try:
            raw = TYPES[type_name].denumerate(value + increment)
        except SettingTypeError as exc:
            raise _type_error(exc, type_name) from None
        if setting.name != named.setting.name:
            setting = replace(setting, name=named.setting.name)
        self._store(named.block, setting, raw)

    # -- the simple API ----------------------------------------------------------------------------

    def set(self, name: str, value: str) -> None:
        """Store ``value`` (text in the setting's type); an empty value deletes, as in iPXE.

        Raises ``SettingsError`` (or a validator's ``BootshError``).
        """
        self.store(self.parse(name, create=True), value)

    def clear(self, name: str) -> None:
        self.store(self.parse(name, create=True), None)

    def names(self) -> list[str]:
        """The stored settings' full names (``x``, ``net0.dhcp/ip``), in lookup order."""
        self._sync()
        found: list[str] = []

        def walk(block: Block) -> None:
            scope = block.path()
            prefix = f"{scope}/" if scope else ""
            found.extend(f"{prefix}{key}" for key in block.values)
            for child in block.children.values():
                if child.target() is child:
                    walk(child)

        walk(self.root)
        return found
