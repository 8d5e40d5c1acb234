"""What the PCI side knows about "is this PCI NIC the emulated twin of that vif?"."""

from __future__ import annotations

from bootsh.api import Context, Evidence, Nic

from . import ids

XEN_PLATFORM = "xen-platform"
QEMU_SUBSYSTEM = "qemu-subsystem"


def twin_evidence(paravirtual: Nic, other: Nic, context: Context) -> list[Evidence]:
    if other.bus != "pci":
        return []
    found: list[Evidence] = []
    platform = context.machine.xen_platform
    if platform is not None:
        found.append(
            Evidence(
                XEN_PLATFORM,
                True,
                f"Xen platform device {platform.vendor}:{platform.device} at "
                f"{platform.location}: an HVM guest, whose emulated NICs sit beside netfront",
            )
        )
    subsystem = _subsystem_evidence(other)
    if subsystem is not None:
        found.append(subsystem)
    return found


def _parse_id(text: str) -> tuple[int, int] | None:
    vendor, sep, device = text.partition(":")
    try:
        return (int(vendor, 16), int(device, 16)) if sep else None
    except ValueError:
        return None


def _subsystem_evidence(other: Nic) -> Evidence | None:
    text = other.facts.get("subsystem")
    subsystem = _parse_id(text) if text else None
    if text is None or subsystem is None:
        return None  # not read (or not ours): no opinion
    where = other.describe()
    if subsystem == ids.QEMU_SUBSYSTEM:
        return Evidence(
            QEMU_SUBSYSTEM, True, f"{where} has subsystem {text} (QEMU Virtual Machine): emulated"
        )
    if subsystem == ids.QEMU_TRADITIONAL_SUBSYSTEM:
        return Evidence(
            QEMU_SUBSYSTEM,
            True,
            f"{where} has subsystem {text}, which qemu-traditional gives emulated devices",
        )
    if subsystem[0] == ids.QEMU_VENDOR:
        return Evidence(
            QEMU_SUBSYSTEM,
            True,
            f"{where} has subsystem {text} (Red Hat/Qumranet, QEMU's virtual devices): emulated",
        )
    pci_id = _parse_id(other.facts.get("pci-id", ""))
    model = ids.VIRTUAL_ONLY.get(pci_id) if pci_id is not None else None
    if model is not None and pci_id == subsystem:
        return Evidence(
            QEMU_SUBSYSTEM,
            True,
            f"{where} is a {model} (subsystem {text}, as QEMU's {model} model carries); "
            "no physical card has these ids",
        )
    return Evidence(
        QEMU_SUBSYSTEM,
        False,
        f"{where} has subsystem {text}, not QEMU's {ids.hex_id(*ids.QEMU_SUBSYSTEM)}: "
        "looks like real hardware",
    )
