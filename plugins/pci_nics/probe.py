"""Turning the PCI functions sysfs shows into ``Nic`` records and machine facts."""

from __future__ import annotations

from bootsh.api import Context, Nic, XenPlatform

from . import ids
from .sysfs import PciFunction, read_details, scan

BUS = "pci"
#: PCI NICs enumerate after the Xen platform device's netfront vifs (see ``Nic.order``).
ORDER = 50


def probe(context: Context) -> list[Nic]:
    """Every network function on the PCI bus, usable or not; records the Xen platform device."""
    found = scan(context.config.path_text("sysfs_root") or "/sys")
    if found.absent is not None:
        context.debug(f"pci_nics: no PCI NICs: {found.absent}")
        return []
    nics: list[Nic] = []
    for fn in found.functions:
        if _is_platform(fn):
            _record_platform(context, fn)
        if _is_network(fn):
            read_details(fn)
            nics.append(_nic(fn))
        elif fn.pci_class is None:
            context.debug(
                f"pci_nics: {fn.location} skipped: cannot tell whether it is a network "
                f"function ({'; '.join(fn.problems)})"
            )
    total = len(found.functions)
    context.debug(
        f"pci_nics: {len(nics)} network function{'s' if len(nics) != 1 else ''} among "
        f"{total} PCI function{'s' if total != 1 else ''}"
    )
    return nics


def _is_platform(fn: PciFunction) -> bool:
    return (
        fn.vendor is not None
        and fn.device is not None
        and ids.is_xen_platform(fn.vendor, fn.device)
    )


def _record_platform(context: Context, fn: PciFunction) -> None:
    if context.machine.xen_platform is None:
        context.machine.xen_platform = XenPlatform(
            location=fn.location, vendor=f"{fn.vendor or 0:04x}", device=f"{fn.device or 0:04x}"
        )
    context.machine.hvm_guest = True


def _is_network(fn: PciFunction) -> bool:
    if fn.pci_class is not None:
        return fn.pci_class >> 16 == ids.NETWORK_BASE_CLASS
    # The class is unreadable: report it as a (broken) NIC only if its ids are a known NIC's,
    # rather than listing every function with a damaged class file as a network card.
    return (
        fn.vendor is not None
        and fn.device is not None
        and ids.ipxe_id(fn.vendor, fn.device) is not None
    )


def _nic(fn: PciFunction) -> Nic:
    facts: dict[str, str] = {}
    known = None
    if fn.vendor is not None and fn.device is not None:
        facts["pci-id"] = ids.hex_id(fn.vendor, fn.device)
        known = ids.ipxe_id(fn.vendor, fn.device)
    if fn.subsystem_vendor is not None and fn.subsystem_device is not None:
        facts["subsystem"] = ids.hex_id(fn.subsystem_vendor, fn.subsystem_device)
    if fn.pci_class is not None:
        facts["class"] = f"0x{fn.pci_class:06x}"
    if fn.revision is not None:
        facts["revision"] = f"0x{fn.revision:02x}"
    if fn.kernel_driver is not None:
        facts["kernel-driver"] = fn.kernel_driver
    if known is not None:
        facts["ipxe-name"] = known.ipxe_name

    if known is not None:
        driver = known.driver
    elif fn.kernel_driver is not None:
        driver = fn.kernel_driver
    else:
        driver = BUS

    problems = list(fn.problems)
    iface = fn.interfaces[0] if fn.interfaces else None
    if iface is not None:
        facts["interface"] = iface.where
        if len(fn.interfaces) > 1:
            facts["other-interfaces"] = ",".join(i.name for i in fn.interfaces[1:])
        if iface.problem is not None:
            problems.append(iface.problem)
    elif fn.kernel_driver is None:
        problems.append("no kernel driver is bound to it, so it has no interface and no MAC")
    else:
        problems.append(
            f"kernel driver {fn.kernel_driver} is bound but shows no network interface "
            "(no net/ directory), so its MAC is unknown"
        )

    return Nic(
        driver=driver,
        location=fn.location,
        mac=iface.mac if iface is not None else None,
        bus=BUS,
        ifname=iface.name if iface is not None else None,
        order=ORDER,
        facts=facts,
        problem="; ".join(problems) if problems else None,
    )
