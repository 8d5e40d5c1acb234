"""The record a driver plugin returns for each network card it finds."""

from __future__ import annotations

from bootsh.records import dataclass, field, replace

TYPE_CHECKING = False  # on every ifstat's path: no typing, no re
if TYPE_CHECKING:
    from collections.abc import Mapping

_HEX = frozenset("0123456789abcdef")


def _is_mac(text: str) -> bool:
    """``xx:xx:xx:xx:xx:xx`` in lower-case hex (what ``^[0-9a-f]{2}(:[0-9a-f]{2}){5}$`` said)."""
    parts = text.split(":")
    return len(parts) == 6 and all(len(p) == 2 and _HEX.issuperset(p) for p in parts)


def _is_pci_address(text: str) -> bool:
    """A PCI address as sysfs names it, fixed-width lower-case hex (``0000:00:1f.6``)."""
    return (
        len(text) == 12
        and text[4] == ":"
        and text[7] == ":"
        and text[10] == "."
        and _HEX.issuperset(text[0:4] + text[5:7] + text[8:10])
        and text[11] in "01234567"
    )


def normalise_mac(text: str) -> str | None:
    """Return ``text`` as a lower-case colon-separated MAC, or None if it is not one.

    Xen writes MACs as ``00:16:3e:xx:xx:xx``; sysfs as lower case; dumps pasted by users may be
    upper case or use dashes. Anything else (wrong length, non-hex) is rejected, never guessed.
    """
    candidate = text.strip().lower().replace("-", ":")
    return candidate if _is_mac(candidate) else None


def mac_problem(mac: str) -> str | None:
    """Why ``mac`` (normalised) cannot be a NIC's own address, or None.

    A station address is unicast and not zero: frames to the broadcast or a multicast
    address reach every host that listens, and no NIC sends from all zeros. iPXE's
    ``is_valid_ether_addr`` refuses the same, for every driver.
    """
    first = int(mac[:2], 16)
    if mac == "ff:ff:ff:ff:ff:ff":
        return f"its MAC {mac} is the broadcast address"
    if first & 0x01:
        return f"its MAC {mac} is a multicast address"
    if mac == "00:00:00:00:00:00":
        return f"its MAC {mac} is all zeros"
    return None


@dataclass(frozen=True)
class Nic:
    """One network card as a driver plugin saw it.

    ``driver`` and ``location`` are what iPXE's ``ifstat`` prints after "using" and "on"
    (``netfront`` on ``vif/0``, ``rtl8139`` on ``0000:00:04.0``). ``facts`` holds what the
    driver read (XenStore keys, PCI ids) so that evidence hooks and ``twins`` can show it.
    A NIC with a ``problem`` was found but cannot be used; it is listed, never named.
    """

    driver: str
    location: str
    mac: str | None
    bus: str
    ifname: str | None = None
    paravirtual: bool = False
    ll_protocol: str = "Ethernet"
    #: Probe order between drivers: iPXE finds netfront vifs through the Xen platform device,
    #: which enumerates before the PCI NICs, so netfront uses a smaller number.
    order: int = 50
    facts: Mapping[str, str] = field(default_factory=dict)
    problem: str | None = None
    #: The plugin that reported this NIC; filled in by the plugin host, not by the driver.
    source: str = ""

    @property
    def key(self) -> str:
        """A stable identity across probes: bus plus location."""
        return f"{self.bus}:{self.location}"

    @property
    def usable(self) -> bool:
        return self.problem is None and self.mac is not None

    def describe(self) -> str:
        return f"{self.driver} {self.location}"

    def with_source(self, source: str) -> Nic:
        return replace(self, source=source)


def _natural(text: str) -> tuple[tuple[int, int, str], ...]:
    # "vif/10" after "vif/9". PCI addresses are fixed-width hex, so their text order is address
    # order; splitting them on decimal digits would put 00:0a.0 and 00:1f.6 before 00:04.0.
    # A run of ASCII digits compares by its length, then its text, without leading zeros:
    # numeric order without int(), which raised ValueError past 4300 digits (a hostile vif
    # id) and for digits that are not ASCII.
    if _is_pci_address(text):
        return ((1, 0, text),)
    key: list[tuple[int, int, str]] = []
    for part in _digit_runs(text):
        if part[0] in _DIGITS:  # runs of ASCII digits only
            digits = part.lstrip("0") or "0"
            key.append((0, len(digits), digits))
        else:
            key.append((1, 0, part))
    return tuple(key)


_DIGITS = frozenset("0123456789")


def _digit_runs(text: str) -> list[str]:
    """``text`` cut into runs of ASCII digits and runs of anything else (``re.split(r"([0-9]+)")``
    without the empty pieces)."""
    runs: list[str] = []
    start = 0
    for i in range(1, len(text) + 1):
        if i == len(text) or (text[i] in _DIGITS) != (text[start] in _DIGITS):
            runs.append(text[start:i])
            start = i
    return runs


def probe_order(nic: Nic) -> tuple[object, ...]:
    """Sort key giving the order in which NICs receive ``netN`` names."""
    return (nic.order, nic.bus, _natural(nic.location))
