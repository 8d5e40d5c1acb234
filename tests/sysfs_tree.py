"""Build sysfs trees shaped like a real Linux guest's, in an ordinary directory.

Shapes follow ``shared/XEN.md`` and a real kernel's ``/sys``: real files with the kernel's
formats (``0x10ec\\n``, ``0x020000\\n``, ``00:16:3e:5f:48:e4\\n``) and relative symlinks
(``bus/pci/devices/0000:00:04.0 -> ../../../devices/pci0000:00/0000:00:04.0``)::

    tree = SysfsTree(tmp_path)
    tree.add_pci("0000:00:04.0", 0x10EC, 0x8139, revision=0x20, driver="8139cp",
                 ifname="eth1", mac="00:16:3e:5f:48:e4")
    tree.add_nic("0000:00:05.0", "virtio-net-pci", ifname="eth0", mac="52:54:00:12:34:56")
    tree.add_vif(0, "eth2", "00:16:3e:5f:48:e4")

    xen_hvm_guest(tmp_path, ["00:16:3e:5f:48:e4", Vif(1, "00:16:3e:1a:2b:3c", model="e1000")])

Used by the tests and by ``examples/machines/build_xen_hvm.py`` (which imports this file by
path, so that the committed example machine and the tests share one set of shapes).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "MODELS",
    "QEMU_SUBSYSTEM",
    "NicModel",
    "SysfsTree",
    "Vif",
    "nic_addresses",
    "xen_hvm_guest",
]

#: "QEMU Virtual Machine": the subsystem QEMU gives the devices it emulates.
QEMU_SUBSYSTEM = (0x1AF4, 0x1100)

_ADDRESS = re.compile(r"^([0-9a-f]{4}):([0-9a-f]{2}):([0-1][0-9a-f])\.([0-7])$")


@dataclass(frozen=True)
class NicModel:
    """What one QEMU NIC model looks like to a Linux guest."""

    vendor: int
    device: int
    revision: int
    kernel_driver: str
    subsystem: tuple[int, int] = QEMU_SUBSYSTEM
    #: virtio-net: the interface sits under a ``virtioN`` child device.
    virtio: bool = False


#: QEMU model names (Xen's ``model=``) -> ids, as QEMU presents them.
MODELS: dict[str, NicModel] = {
    "rtl8139": NicModel(0x10EC, 0x8139, 0x20, "8139cp"),
    "e1000": NicModel(0x8086, 0x100E, 0x03, "e1000"),
    "ne2k_pci": NicModel(0x10EC, 0x8029, 0x00, "ne2k-pci"),
    "pcnet": NicModel(0x1022, 0x2000, 0x10, "pcnet32"),
    "vmxnet3": NicModel(0x15AD, 0x07B0, 0x01, "vmxnet3", subsystem=(0x15AD, 0x07B0)),
    "i82557b": NicModel(0x8086, 0x1229, 0x02, "e100"),
    # Transitional (legacy) virtio-net: subsystem device = virtio device type 1.
    "virtio-net-pci": NicModel(
        0x1AF4, 0x1000, 0x00, "virtio-pci", subsystem=(0x1AF4, 0x0001), virtio=True
    ),
    # Modern-only virtio-net (disable-legacy=on).
    "virtio-net-pci-modern": NicModel(0x1AF4, 0x1041, 0x01, "virtio-pci", virtio=True),
}
MODELS["virtio-net"] = MODELS["virtio-net-pci"]


@dataclass(frozen=True)
class Vif:
    """One vif of a Xen HVM guest and, optionally, its emulated twin."""

    index: int
    mac: str
    #: QEMU model of the emulated twin; None = the guest's default model.
    model: str | None = None
    #: False: a paravirtual-only vif (``type = vif``), no emulated NIC.
    twin: bool = True
    ifname: str | None = None
    twin_ifname: str | None = None


def _rel(target: Path, link: Path) -> str:
    """The relative target the kernel writes for ``link -> target``.

    Like ``os.path.relpath``, except that the kernel climbs to the common ancestor of the
    link's directory and the target's *parent*, so a link to an ancestor still names it:
    ``virtio2/net/eth0/device -> ../../../virtio2``, not ``../..``.
    """
    base, above = link.parent, target.parent
    ups = 0
    while base != above and base not in above.parents:
        base = base.parent
        ups += 1
    return "../" * ups + str(target.relative_to(base))


def _parse_address(address: str) -> tuple[int, int, int, int]:
    m = _ADDRESS.match(address)
    if not m:
        raise ValueError(f"not a PCI address like 0000:00:04.0: {address!r}")
    domain, bus, slot, function = (int(g, 16) for g in m.groups())
    if slot > 0x1F:
        raise ValueError(f"PCI slot out of range (0-1f): {address!r}")
    return domain, bus, slot, function


class SysfsTree:
    """A sysfs tree under ``root``; each ``add_*`` writes real files and symlinks at once."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        for sub in ("devices", "bus/pci/devices", "bus/pci/drivers", "class/net"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        #: PCI bus number -> directory its devices live in (root buses and bridges).
        self._bus_dirs: dict[tuple[int, int], Path] = {}
        self._next_ifindex = 2  # 1 is lo
        self._next_virtio = 0

    # -- low level -----------------------------------------------------------------------

    def write(self, path: str | os.PathLike[str], text: str) -> Path:
        """Write one attribute (a newline is added as the kernel does)."""
        full = self.root / path
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_text(text if text.endswith("\n") else text + "\n")
        return full

    def symlink(self, link: str | os.PathLike[str], target: str | os.PathLike[str]) -> Path:
        """A relative symlink ``link -> target``, both given relative to the root."""
        link_path = self.root / link
        link_path.parent.mkdir(parents=True, exist_ok=True)
        link_path.symlink_to(_rel(self.root / target, link_path))
        return link_path

    def _bind(self, device: Path, bus: str, driver: str) -> None:
        drivers = self.root / "bus" / bus / "drivers" / driver
        drivers.mkdir(parents=True, exist_ok=True)
        (device / "driver").symlink_to(_rel(drivers, device / "driver"))
        back = drivers / device.name
        if not back.is_symlink():
            back.symlink_to(_rel(device, back))

    def _subsystem(self, device: Path, bus: str) -> None:
        target = self.root / "bus" / bus
        target.mkdir(parents=True, exist_ok=True)
        (device / "subsystem").symlink_to(_rel(target, device / "subsystem"))

    # -- PCI -----------------------------------------------------------------------------

    def pci_parent(self, address: str) -> Path:
        """The directory a function at ``address`` lives in (root bus or behind a bridge)."""
        domain, bus, _, _ = _parse_address(address)
        known = self._bus_dirs.get((domain, bus))
        if known is not None:
            return known
        root_bus = self.root / "devices" / f"pci{domain:04x}:{bus:02x}"
        if not root_bus.is_dir():
            root_bus.mkdir(parents=True)
            (root_bus / "uevent").write_text("")
            self._add_pci_bus(root_bus, domain, bus)
        self._bus_dirs[(domain, bus)] = root_bus
        return root_bus

    def device_dir(self, address: str) -> Path:
        return self.pci_parent(address) / address

    def add_pci(
        self,
        address: str,
        vendor: int,
        device: int,
        *,
        pci_class: int = 0x020000,
        revision: int = 0x00,
        subsystem: tuple[int, int] = QEMU_SUBSYSTEM,
        driver: str | None = None,
        ifname: str | None = None,
        mac: str | None = None,
        virtio: int | None = None,
        operstate: str = "up",
        carrier: int | None = 1,
        mtu: int = 1500,
    ) -> Path:
        """One PCI function; with ``ifname`` and ``mac`` also its network interface.

        ``virtio=N`` puts the interface under a ``virtioN`` child as virtio-net does. Leave
        ``driver`` None for a function no kernel driver is bound to (then give no ``ifname``,
        as Linux creates no interface for it). Returns the function's directory.
        """
        dev = self.device_dir(address)
        if dev.exists():
            raise ValueError(f"{address} already exists in {self.root}")
        dev.mkdir(parents=True)
        sub_vendor, sub_device = subsystem
        for name, text in (
            ("vendor", f"0x{vendor:04x}"),
            ("device", f"0x{device:04x}"),
            ("class", f"0x{pci_class:06x}"),
            ("revision", f"0x{revision:02x}"),
            ("subsystem_vendor", f"0x{sub_vendor:04x}"),
            ("subsystem_device", f"0x{sub_device:04x}"),
            ("modalias", _modalias(vendor, device, sub_vendor, sub_device, pci_class)),
        ):
            (dev / name).write_text(text + "\n")
        uevent = [] if driver is None else [f"DRIVER={driver}"]
        uevent += [
            f"PCI_CLASS={pci_class:X}",
            f"PCI_ID={vendor:04X}:{device:04X}",
            f"PCI_SUBSYS_ID={sub_vendor:04X}:{sub_device:04X}",
            f"PCI_SLOT_NAME={address}",
            f"MODALIAS={_modalias(vendor, device, sub_vendor, sub_device, pci_class)}",
        ]
        (dev / "uevent").write_text("\n".join(uevent) + "\n")
        self._subsystem(dev, "pci")
        if driver is not None:
            self._bind(dev, "pci", driver)
        link = self.root / "bus" / "pci" / "devices" / address
        link.symlink_to(_rel(dev, link))

        holder = dev
        if virtio is not None and driver is not None:
            holder = self.add_virtio_child(dev, virtio, bound=ifname is not None)
        if ifname is not None:
            if mac is None:
                raise ValueError("an interface needs a mac")
            self.add_net(holder, ifname, mac, operstate=operstate, carrier=carrier, mtu=mtu)
        return dev

    def add_virtio_child(self, dev: Path, index: int, *, bound: bool = True) -> Path:
        """The ``virtioN`` device virtio-pci creates under its PCI function."""
        child = dev / f"virtio{index}"
        child.mkdir()
        (child / "vendor").write_text("0x1af4\n")
        (child / "device").write_text("0x0001\n")  # virtio device type 1: network
        (child / "modalias").write_text("virtio:d00000001v00001AF4\n")
        self._subsystem(child, "virtio")
        if bound:
            self._bind(child, "virtio", "virtio_net")
        link = self.root / "bus" / "virtio" / "devices" / child.name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(_rel(child, link))
        self._next_virtio = max(self._next_virtio, index + 1)
        return child

    def add_nic(
        self,
        address: str,
        model: str = "rtl8139",
        *,
        ifname: str | None,
        mac: str | None,
        bound: bool = True,
    ) -> Path:
        """A NIC as QEMU emulates ``model`` (see ``MODELS``), bound to its Linux driver."""
        spec = MODELS[model]
        virtio = None
        if spec.virtio:
            virtio = self._next_virtio
        return self.add_pci(
            address,
            spec.vendor,
            spec.device,
            revision=spec.revision,
            subsystem=spec.subsystem,
            driver=spec.kernel_driver if bound else None,
            ifname=ifname if bound else None,
            mac=mac,
            virtio=virtio,
        )

    def add_bridge(self, address: str, secondary_bus: int) -> Path:
        """A PCI-PCI bridge (QEMU's ``pci-bridge``, 1b36:0001); devices on ``secondary_bus``
        then live in its directory, as in ``devices/pci0000:00/0000:00:1f.0/0000:01:00.0``."""
        dev = self.add_pci(
            address, 0x1B36, 0x0001, pci_class=0x060400, revision=0x00, subsystem=(0, 0)
        )
        domain, _, _, _ = _parse_address(address)
        self._add_pci_bus(dev, domain, secondary_bus)
        self._bus_dirs[(domain, secondary_bus)] = dev
        return dev

    def _add_pci_bus(self, owner: Path, domain: int, bus: int) -> None:
        """``OWNER/pci_bus/DDDD:BB`` (class ``pci_bus``), which root buses and bridges have."""
        name = f"{domain:04x}:{bus:02x}"
        node = owner / "pci_bus" / name
        node.mkdir(parents=True)
        (node / "uevent").write_text("")
        (node / "device").symlink_to(_rel(owner, node / "device"))
        cls = self.root / "class" / "pci_bus"
        cls.mkdir(parents=True, exist_ok=True)
        (node / "subsystem").symlink_to(_rel(cls, node / "subsystem"))
        (cls / name).symlink_to(_rel(node, cls / name))

    def add_xen_platform(
        self, address: str = "0000:00:02.0", device: int = 0x0001, driver: str | None = None
    ) -> Path:
        """The Xen platform device (5853:0001; XenServer: 5853:0002), class 0xff8000."""
        return self.add_pci(
            address,
            0x5853,
            device,
            pci_class=0xFF8000,
            revision=0x01,
            subsystem=(0x5853, 0x0001),
            driver=driver if driver is not None else "xen-platform-pci",
        )

    # -- network interfaces ---------------------------------------------------------------

    def add_net(
        self,
        parent: Path,
        ifname: str,
        mac: str,
        *,
        operstate: str = "up",
        carrier: int | None = 1,
        mtu: int = 1500,
    ) -> Path:
        """``parent/net/IF`` with its attributes, ``device`` link and ``class/net/IF``.

        ``carrier=None`` leaves the file out (the kernel refuses to read it while the
        interface is down).
        """
        iface = parent / "net" / ifname
        iface.mkdir(parents=True)
        ifindex = self._next_ifindex
        self._next_ifindex += 1
        attrs = {
            "address": mac,
            "operstate": operstate,
            "mtu": str(mtu),
            "ifindex": str(ifindex),
            "type": "1",
            "addr_len": "6",
            "uevent": f"INTERFACE={ifname}\nIFINDEX={ifindex}",
        }
        if carrier is not None:
            attrs["carrier"] = str(carrier)
        for name, text in attrs.items():
            (iface / name).write_text(text + "\n")
        (iface / "statistics").mkdir()
        for counter in ("rx_bytes", "rx_packets", "tx_bytes", "tx_packets"):
            (iface / "statistics" / counter).write_text("0\n")
        (iface / "device").symlink_to(_rel(parent, iface / "device"))
        subsystem = self.root / "class" / "net"
        (iface / "subsystem").symlink_to(_rel(subsystem, iface / "subsystem"))
        link = subsystem / ifname
        if link.is_symlink():
            raise ValueError(f"interface {ifname} already exists in {self.root}")
        link.symlink_to(_rel(iface, link))
        return iface

    def add_loopback(self) -> Path:
        lo = self.root / "devices" / "virtual" / "net" / "lo"
        lo.mkdir(parents=True)
        for name, text in (
            ("address", "00:00:00:00:00:00"),
            ("operstate", "unknown"),
            ("carrier", "1"),
            ("mtu", "65536"),
            ("ifindex", "1"),
            ("type", "772"),
        ):
            (lo / name).write_text(text + "\n")
        subsystem = self.root / "class" / "net"
        (lo / "subsystem").symlink_to(_rel(subsystem, lo / "subsystem"))
        link = subsystem / "lo"
        link.symlink_to(_rel(lo, link))
        return lo

    # -- Xen -----------------------------------------------------------------------------

    def add_vif(
        self, index: int, ifname: str | None, mac: str | None, *, bound: bool = True
    ) -> Path:
        """A netfront device ``vif-N`` on the xen bus, with interface ``ifname`` if bound."""
        dev = self.root / "devices" / f"vif-{index}"
        dev.mkdir(parents=True)
        (dev / "nodename").write_text(f"device/vif/{index}\n")
        (dev / "devtype").write_text("vif\n")
        (dev / "modalias").write_text("xen:vif\n")
        (dev / "uevent").write_text(
            ("DRIVER=vif\n" if bound else "") + f"XENBUS_TYPE=vif\nXENBUS_PATH=device/vif/{index}\n"
            "MODALIAS=xen:vif\n"
        )
        self._subsystem(dev, "xen")
        if bound:
            self._bind(dev, "xen", "vif")
        link = self.root / "bus" / "xen" / "devices" / dev.name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(_rel(dev, link))
        if bound and ifname is not None:
            if mac is None:
                raise ValueError("an interface needs a mac")
            self.add_net(dev, ifname, mac)
        return dev

    def set_hypervisor(self, kind: str = "xen") -> Path:
        return self.write("hypervisor/type", kind)


def _modalias(vendor: int, device: int, sub_vendor: int, sub_device: int, cls: int) -> str:
    return (
        f"pci:v{vendor:08X}d{device:08X}sv{sub_vendor:08X}sd{sub_device:08X}"
        f"bc{cls >> 16:02X}sc{(cls >> 8) & 0xFF:02X}i{cls & 0xFF:02X}"
    )


def nic_addresses(tree: SysfsTree | None = None) -> Iterator[str]:
    """PCI addresses for emulated NICs: 00:04.0 .. 00:1e.0, then behind chained bridges.

    Slot 0x1f of each bus holds the bridge to the next bus (created in ``tree`` when the
    generator gets there), so bus 1 has 01:00.0 .. 01:1e.0 and a bridge at 01:1f.0, and so
    on: 27 NICs on bus 0, 31 on each further bus, every address fixed whatever the count.
    """
    bus, first = 0, 4
    while bus < 0xFF:
        for slot in range(first, 0x1F):
            yield f"0000:{bus:02x}:{slot:02x}.0"
        if tree is not None:
            tree.add_bridge(f"0000:{bus:02x}:1f.0", bus + 1)
        bus, first = bus + 1, 0
    raise ValueError("out of PCI buses")


def xen_hvm_guest(
    root: str | os.PathLike[str],
    vifs: Sequence[str | Vif] = (),
    *,
    model: str = "rtl8139",
    platform_device: int = 0x0001,
    netfront: bool = True,
) -> SysfsTree:
    """The sysfs of a Linux HVM guest on qemu-xen (i440FX), as in XEN.md.

    00:00.0 host bridge, 00:01.0/1/3 PIIX3 ISA, IDE, PIIX4 ACPI, 00:02.0 Xen platform device,
    00:03.0 Cirrus VGA, then one emulated NIC per vif (``model`` unless the vif says) from
    00:04.0 with the vif's MAC, and the vifs themselves on the xen bus (unless ``netfront``
    is False: a guest booted without PV drivers). A vif given as a bare MAC is vif N for its
    position N. Emulated NICs are named eth0.. in slot order, the vifs' interfaces after them.
    """
    tree = SysfsTree(root)
    tree.set_hypervisor("xen")
    tree.add_loopback()
    tree.add_pci("0000:00:00.0", 0x8086, 0x1237, pci_class=0x060000, revision=0x02)
    tree.add_pci("0000:00:01.0", 0x8086, 0x7000, pci_class=0x060100)
    tree.add_pci("0000:00:01.1", 0x8086, 0x7010, pci_class=0x010180, driver="ata_piix")
    tree.add_pci(
        "0000:00:01.3", 0x8086, 0x7113, pci_class=0x068000, revision=0x03, driver="piix4_smbus"
    )
    tree.add_xen_platform("0000:00:02.0", platform_device)
    tree.add_pci("0000:00:03.0", 0x1013, 0x00B8, pci_class=0x030000, driver="cirrus")

    specs = [v if isinstance(v, Vif) else Vif(i, v) for i, v in enumerate(vifs)]
    twins = [v for v in specs if v.twin]
    addresses = nic_addresses(tree)
    for n, vif in enumerate(twins):
        tree.add_nic(
            next(addresses),
            vif.model or model,
            ifname=vif.twin_ifname or f"eth{n}",
            mac=vif.mac,
        )
    if netfront:
        for n, vif in enumerate(specs):
            tree.add_vif(vif.index, vif.ifname or f"eth{len(twins) + n}", vif.mac)
    return tree
