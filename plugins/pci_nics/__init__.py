"""bootsh plugin ``pci_nics``: network cards on the PCI bus, read from sysfs.

It reports every PCI network function (class 0x02xxxx) under ``{sysfs_root}/bus/pci``, named
as iPXE names it (``rtl8139``, ``e1000``, ``virtio-net``, ...; else the kernel driver, else
``pci``), records the Xen platform device in ``context.machine``, and gives twin evidence
from the PCI side (platform device present, QEMU's subsystem ids). Link state is read live by
the core, not here.
"""

from __future__ import annotations

from bootsh import hookimpl

TYPE_CHECKING = False  # bootsh's start-up imports this module: its parts load when used
if TYPE_CHECKING:
    from collections.abc import Sequence

    from bootsh.api import Context, Evidence, Nic


@hookimpl
def bootsh_probe_nics(context: Context) -> Sequence[Nic]:
    if context.config.nets:
        context.debug("pci_nics: --net given: not discovering")
        return []
    from .probe import probe

    return probe(context)


@hookimpl
def bootsh_twin_evidence(paravirtual: Nic, other: Nic, context: Context) -> Sequence[Evidence]:
    from .evidence import twin_evidence

    return twin_evidence(paravirtual, other, context)
