"""Reading PCI functions and their network interfaces from a sysfs tree.

Only what Linux puts there is read, under a root that defaults to ``/sys``:

* ``bus/pci/devices/DDDD:BB:SS.F`` -> ``../../../devices/pci0000:00/...`` (one per function)
* in each function's directory: ``vendor``, ``device``, ``subsystem_vendor``,
  ``subsystem_device`` (``0x10ec``), ``class`` (``0x020000``), ``revision`` (``0x20``), the
  ``driver`` symlink (its basename is the kernel driver), and the interface either in
  ``net/IF/`` or one level down (virtio: ``virtio2/net/IF/``), whose ``address`` is the MAC.

Nothing here raises for a bad tree: a file that cannot be read or holds garbage becomes a
problem text naming the file, attached to that function only.
"""

from __future__ import annotations

import errno
import os

from bootsh.api import dataclass, field, normalise_mac, read_bounded

#: sysfs attributes are at most a page; anything longer is not what the kernel wrote.
_MAX_READ = 4096
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_DIGITS = frozenset("0123456789")


class SysfsProblem(Exception):
    """One file that could not be used; the message names it and says what was wrong."""


def read_attr(path: str) -> str:
    """The text of one sysfs attribute, stripped; ``SysfsProblem`` if it cannot be read."""
    try:
        # A regular file only, opened without waiting: a FIFO planted in a sysfs tree
        # (--sysfs-root, --machine) blocked the probe forever.
        data = read_bounded(path, _MAX_READ, regular=True)
    except OSError as exc:
        if exc.errno == errno.EFBIG:
            raise SysfsProblem(
                f"{path}: longer than a sysfs attribute ({_MAX_READ} bytes)"
            ) from None
        raise SysfsProblem(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return data.decode("ascii").strip()
    except UnicodeDecodeError:
        raise SysfsProblem(f"{path}: not text ({data[:16]!r})") from None


def read_hex(path: str, digits: int) -> int:
    """A ``0x``-prefixed hex attribute of at most ``digits`` digits, as the kernel writes it."""
    text = read_attr(path)
    if not (
        text[:2] in ("0x", "0X")
        and 0 < len(text) - 2 <= digits
        and _HEX_DIGITS.issuperset(text[2:])
    ):
        shown = text if len(text) <= 40 else text[:37] + "..."
        example = "0x" + "0" * digits
        raise SysfsProblem(f"{path}: {shown!r} is not a hex value like {example}")
    return int(text, 16)


def natural_key(name: str) -> tuple[tuple[int, int, str], ...]:
    """``eth2`` before ``eth10``: a run of ASCII digits compares by length, then text
    (leading zeros dropped), so no ``int()`` of a name a hostile tree made up."""
    key: list[tuple[int, int, str]] = []
    start = 0
    for i in range(1, len(name) + 1):
        if i == len(name) or (name[i] in _DIGITS) != (name[start] in _DIGITS):
            part = name[start:i]
            if part[0] in _DIGITS:
                digits = part.lstrip("0") or "0"
                key.append((0, len(digits), digits))
            else:
                key.append((1, 0, part))
            start = i
    return tuple(key)


@dataclass(frozen=True)
class Interface:
    """A kernel network interface found under a PCI function."""

    name: str
    #: Relative to the function's directory: ``net/eth1`` or ``virtio2/net/eth0``.
    where: str
    mac: str | None
    problem: str | None = None


@dataclass
class PciFunction:
    """What sysfs says about one PCI function; ``None`` where it could not be read."""

    location: str
    path: str
    vendor: int | None = None
    device: int | None = None
    pci_class: int | None = None
    subsystem_vendor: int | None = None
    subsystem_device: int | None = None
    revision: int | None = None
    kernel_driver: str | None = None
    interfaces: list[Interface] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def read(self, name: str, digits: int) -> int | None:
        """Read one hex attribute; on failure record the problem and return None."""
        try:
            return read_hex(os.path.join(self.path, name), digits)
        except SysfsProblem as exc:
            self.problems.append(str(exc))
            return None


@dataclass
class Scan:
    """Every PCI function under a sysfs root, or why there are none."""

    functions: list[PciFunction] = field(default_factory=list)
    #: Set when the bus could not be listed at all (no sysfs, no PCI bus, ...).
    absent: str | None = None


def scan(root: str | os.PathLike[str]) -> Scan:
    """Identify every function on the PCI bus (vendor, device, class only)."""
    root = os.fspath(root)
    devices = os.path.join(root, "bus", "pci", "devices")
    if not os.path.isdir(root):
        return Scan(absent=f"no sysfs at {root}")
    if not os.path.isdir(devices):
        return Scan(absent=f"no PCI bus in sysfs ({devices} does not exist)")
    try:
        names = sorted(os.listdir(devices))
    except OSError as exc:
        return Scan(absent=f"cannot list {devices}: {exc.strerror or exc}")
    result = Scan()
    for name in names:
        fn = PciFunction(name, os.path.join(devices, name))
        fn.vendor = fn.read("vendor", 4)
        fn.device = fn.read("device", 4)
        fn.pci_class = fn.read("class", 6)
        result.functions.append(fn)
    return result


def read_details(fn: PciFunction) -> None:
    """Complete a (network) function: subsystem, revision, kernel driver, interfaces."""
    fn.subsystem_vendor = fn.read("subsystem_vendor", 4)
    fn.subsystem_device = fn.read("subsystem_device", 4)
    fn.revision = fn.read("revision", 2)
    fn.kernel_driver = _kernel_driver(fn)
    fn.interfaces = _interfaces(fn)


def _kernel_driver(fn: PciFunction) -> str | None:
    link = os.path.join(fn.path, "driver")
    try:
        target = os.readlink(link)
    except FileNotFoundError:
        return None  # no driver bound: not a problem in itself
    except OSError as exc:
        fn.problems.append(f"{link}: not a driver symlink ({exc.strerror or exc})")
        return None
    name = os.path.basename(target.rstrip("/"))
    return name or None


def _interfaces(fn: PciFunction) -> list[Interface]:
    """Interfaces in ``net/`` and, as virtio does it, in ``CHILD/net/``."""
    found: list[Interface] = []
    for net in [os.path.join(fn.path, "net"), *_child_net_dirs(fn)]:
        if not os.path.isdir(net):
            continue
        try:
            names = sorted(os.listdir(net), key=natural_key)
        except OSError as exc:
            fn.problems.append(f"cannot list {net}: {exc.strerror or exc}")
            continue
        where = os.path.relpath(net, fn.path)
        for name in names:
            found.append(_interface(os.path.join(net, name), f"{where}/{name}"))
    return found


def _child_net_dirs(fn: PciFunction) -> list[str]:
    try:
        children = sorted(os.scandir(fn.path), key=lambda e: natural_key(e.name))
    except OSError:
        return []  # the function's own files already reported what is wrong
    return [
        os.path.join(child.path, "net")
        for child in children
        if child.name != "net" and child.is_dir(follow_symlinks=False)
    ]


def _interface(path: str, where: str) -> Interface:
    name = os.path.basename(path)
    address = os.path.join(path, "address")
    try:
        text = read_attr(address)
    except SysfsProblem as exc:
        return Interface(name, where, None, str(exc))
    mac = normalise_mac(text)
    if mac is None:
        shown = text if len(text) <= 60 else text[:57] + "..."
        problem = f"{address}: {shown!r} is not an Ethernet MAC address"
        return Interface(name, where, None, problem)
    return Interface(name, where, mac)
