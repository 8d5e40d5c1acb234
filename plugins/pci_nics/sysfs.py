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
import re
from pathlib import Path

from bootsh.api import dataclass, field, normalise_mac, read_bounded

#: sysfs attributes are at most a page; anything longer is not what the kernel wrote.
_MAX_READ = 4096

_NATURAL = re.compile(r"(\d+)")


class SysfsProblem(Exception):
    """One file that could not be used; the message names it and says what was wrong."""


def read_attr(path: Path) -> str:
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


def read_hex(path: Path, digits: int) -> int:
    """A ``0x``-prefixed hex attribute of at most ``digits`` digits, as the kernel writes it."""
    text = read_attr(path)
    if not re.fullmatch(rf"0[xX][0-9a-fA-F]{{1,{digits}}}", text):
        shown = text if len(text) <= 40 else text[:37] + "..."
        example = "0x" + "0" * digits
        raise SysfsProblem(f"{path}: {shown!r} is not a hex value like {example}")
    return int(text, 16)


def natural_key(name: str) -> tuple[tuple[int, int, str], ...]:
    """``eth2`` before ``eth10``: a run of ASCII digits compares by length, then text
    (leading zeros dropped), so no ``int()`` of a name a hostile tree made up."""
    key: list[tuple[int, int, str]] = []
    for part in _NATURAL.split(name):
        if not part:
            continue
        if part.isascii() and part.isdigit():
            digits = part.lstrip("0") or "0"
            key.append((0, len(digits), digits))
        else:
            key.append((1, 0, part))
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
    path: Path
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
            return read_hex(self.path / name, digits)
        except SysfsProblem as exc:
            self.problems.append(str(exc))
            return None


@dataclass
class Scan:
    """Every PCI function under a sysfs root, or why there are none."""

    functions: list[PciFunction] = field(default_factory=list)
    #: Set when the bus could not be listed at all (no sysfs, no PCI bus, ...).
    absent: str | None = None


def scan(root: Path) -> Scan:
    """Identify every function on the PCI bus (vendor, device, class only)."""
    devices = root / "bus" / "pci" / "devices"
    if not root.is_dir():
        return Scan(absent=f"no sysfs at {root}")
    if not devices.is_dir():
        return Scan(absent=f"no PCI bus in sysfs ({devices} does not exist)")
    try:
        names = sorted(os.listdir(devices))
    except OSError as exc:
        return Scan(absent=f"cannot list {devices}: {exc.strerror or exc}")
    result = Scan()
    for name in names:
        fn = PciFunction(name, devices / name)
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
    link = fn.path / "driver"
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
    for net in [fn.path / "net", *_child_net_dirs(fn)]:
        if not net.is_dir():
            continue
        try:
            names = sorted(os.listdir(net), key=natural_key)
        except OSError as exc:
            fn.problems.append(f"cannot list {net}: {exc.strerror or exc}")
            continue
        where = os.path.relpath(net, fn.path)
        for name in names:
            found.append(_interface(net / name, f"{where}/{name}"))
    return found


def _child_net_dirs(fn: PciFunction) -> list[Path]:
    try:
        children = sorted(os.scandir(fn.path), key=lambda e: natural_key(e.name))
    except OSError:
        return []  # the function's own files already reported what is wrong
    return [
        Path(child.path) / "net"
        for child in children
        if child.name != "net" and child.is_dir(follow_symlinks=False)
    ]


def _interface(path: Path, where: str) -> Interface:
    name = path.name
    try:
        text = read_attr(path / "address")
    except SysfsProblem as exc:
        return Interface(name, where, None, str(exc))
    mac = normalise_mac(text)
    if mac is None:
        shown = text if len(text) <= 60 else text[:57] + "..."
        problem = f"{path / 'address'}: {shown!r} is not an Ethernet MAC address"
        return Interface(name, where, None, problem)
    return Interface(name, where, mac)
