"""PCI ids: which iPXE driver name a network function gets, and the Xen/QEMU ids we recognise.

The names are the ``PCI_ROM`` names of iPXE's drivers (``src/drivers/net/*.c``): iPXE sets
``dev.driver_name = id->name`` when it binds a PCI device, so that name is what ``ifstat``
prints after "using". One deliberate exception, by project decision: the Intel e1000 family
that QEMU emulates is called ``e1000`` (QEMU's model name, and Linux's driver), where iPXE's
``intel`` driver says ``82540em`` / ``82544gc`` / ``82545em``; the iPXE name is kept in the
``ipxe-name`` fact.
"""

from __future__ import annotations

from bootsh.api import dataclass


@dataclass(frozen=True)
class IpxeId:
    """How one vendor:device id is named."""

    #: The name bootsh shows (``Nic.driver``).
    driver: str
    #: iPXE's ``PCI_ROM`` name for the id.
    ipxe_name: str
    #: The iPXE source file (without ``.c``) whose table has the id.
    ipxe_source: str


def _same(name: str, source: str) -> IpxeId:
    return IpxeId(name, name, source)


#: (vendor, device) -> naming. Every entry was checked against iPXE's ``PCI_ROM`` tables.
IPXE_IDS: dict[tuple[int, int], IpxeId] = {
    # --- devices QEMU emulates (and so may be a netfront vif's emulated twin) ---
    (0x10EC, 0x8139): _same("rtl8139", "realtek"),
    (0x8086, 0x100C): IpxeId("e1000", "82544gc", "intel"),
    (0x8086, 0x100E): IpxeId("e1000", "82540em", "intel"),
    (0x8086, 0x100F): IpxeId("e1000", "82545em", "intel"),
    (0x1AF4, 0x1000): _same("virtio-net", "virtio-net"),
    (0x1AF4, 0x1041): _same("virtio-net", "virtio-net"),
    (0x10EC, 0x8029): _same("rtl8029", "ns8390"),  # QEMU's ne2k_pci
    (0x1022, 0x2000): _same("pcnet32", "pcnet32"),
    (0x15AD, 0x07B0): _same("vmxnet3", "vmxnet3"),
    (0x8086, 0x1229): _same("eepro100", "eepro100"),  # QEMU's i82557b and friends
    # --- common real hardware (what a passed-through NIC usually is) ---
    (0x10EC, 0x8168): _same("rtl8168", "realtek"),
    (0x10EC, 0x8169): _same("rtl8169", "realtek"),
    (0x10EC, 0x8125): _same("rtl8125", "realtek"),
    (0x8086, 0x10D3): _same("82574l", "intel"),
    (0x8086, 0x10C9): _same("82576", "intel"),
    (0x8086, 0x1502): _same("82579lm", "intel"),
    (0x8086, 0x1521): _same("i350", "intel"),
    (0x8086, 0x1533): _same("i210", "intel"),
    (0x8086, 0x153A): _same("i217lm", "intel"),
    (0x8086, 0x155A): _same("i218lm", "intel"),
}

#: PCI base class of network controllers (``class`` is 0x02xxxx).
NETWORK_BASE_CLASS = 0x02

#: The Xen platform device: 5853:0001, or XenServer's 5853:0002.
XEN_VENDOR = 0x5853
XEN_PLATFORM_DEVICES = frozenset({0x0001, 0x0002})

#: Subsystem ids QEMU gives the devices it emulates.
QEMU_SUBSYSTEM = (0x1AF4, 0x1100)  # "QEMU Virtual Machine" (qemu-xen, upstream QEMU)
QEMU_TRADITIONAL_SUBSYSTEM = (0x5853, 0x0001)  # qemu-traditional (old Xen device model)
#: Red Hat / Qumranet: the vendor id of QEMU's virtual devices (virtio uses it as subsystem
#: vendor with the virtio device type as subsystem id, e.g. 1af4:0001 for legacy virtio-net).
QEMU_VENDOR = 0x1AF4
#: Models QEMU emulates with the real product's own subsystem ids, where no physical card
#: exists: the ids alone say "virtual".
VIRTUAL_ONLY = {
    (0x15AD, 0x07B0): "vmxnet3",
}


def ipxe_id(vendor: int, device: int) -> IpxeId | None:
    return IPXE_IDS.get((vendor, device))


def is_xen_platform(vendor: int, device: int) -> bool:
    return vendor == XEN_VENDOR and device in XEN_PLATFORM_DEVICES


def hex_id(vendor: int, device: int) -> str:
    """``10ec:8139``: the form lspci prints and the facts use."""
    return f"{vendor:04x}:{device:04x}"
