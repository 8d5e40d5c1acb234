"""Xen netfront vifs from XenStore, a plugin like any other (entry point ``netfront``).

Modules: ``store`` (the read-only XenStore interface), ``live`` (xenstored or XenBus through
pyxs, with timeouts), ``dump`` (``xenstore-ls -f`` dumps), ``connect`` (which one to use),
``probe`` (vifs and passed-through PCI devices), ``evidence`` (twin evidence) and ``unplug``
(the ``unplug`` twin policy).
"""

from __future__ import annotations

from bootsh import hookimpl

TYPE_CHECKING = False  # bootsh's start-up imports this module: its parts load when used
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from bootsh.api import Context, Decision, Evidence, Nic, TwinGroup, TwinPolicy


@hookimpl
def bootsh_probe_nics(context: Context) -> Sequence[Nic] | None:
    if context.config.nets:
        context.debug("netfront: --net given: not discovering")
        return []
    from .connect import open_guest
    from .probe import probe

    opened = open_guest(context.config)
    if opened.guest is None:
        context.debug(f"netfront: {opened.reason}")
        return []
    guest = opened.guest
    try:
        result = probe(guest, context.config.path_text("sysfs_root") or "/sys")
    finally:
        guest.store.close()
    for note in result.notes:
        context.debug(f"netfront: {note}")
    context.machine.passthrough.update(result.passthrough)
    return result.nics


@hookimpl
def bootsh_twin_evidence(paravirtual: Nic, other: Nic, context: Context) -> Sequence[Evidence]:
    from . import evidence

    return evidence.twin_evidence(paravirtual, other, context)


@hookimpl
def bootsh_register_twin_policies(register: Callable[[TwinPolicy], None]) -> None:
    from . import unplug

    register(unplug.POLICY_RECORD)


@hookimpl
def bootsh_resolve_twins(group: TwinGroup, policy: str, context: Context) -> Decision | None:
    if policy != UNPLUG:
        return None
    from . import unplug

    return unplug.resolve(group, context)


#: ``unplug.POLICY``, known without importing the module (a test checks they agree).
UNPLUG = "unplug"
