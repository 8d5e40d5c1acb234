"""The built-in twin policies, a plugin like any other (entry point ``policies``).

Every implementation here is ``trylast``, so a third-party plugin's decision always comes
first. Only confirmed twins are hidden; a *possible* twin (equal MAC, too little else) is
labelled, because hiding on a MAC alone would hide a real card that happens to share it.
"""

from __future__ import annotations

from bootsh import hookimpl

TYPE_CHECKING = False  # bootsh's start-up imports this module: no typing, no twins module
if TYPE_CHECKING:
    from collections.abc import Callable

    from bootsh.api import Context, Decision, TwinGroup, TwinPolicy

POLICIES = {
    "hide-emulated": "show the netfront vif, hide its emulated twin (untouched for the next OS)",
    "label": "show both, label the emulated NIC as the twin of the netfront vif",
    "both": "show both and say nothing (iPXE's first cut)",
    "hide-netfront": "show the emulated NIC, hide the netfront vif",
}
DEFAULT_POLICY = "hide-emulated"


@hookimpl(trylast=True)
def bootsh_register_twin_policies(register: Callable[[TwinPolicy], None]) -> None:
    from bootsh.api import TwinPolicy

    for name, summary in POLICIES.items():
        register(TwinPolicy(name, summary))


def hide_emulated(group: TwinGroup, policy: str, why: str = "emulated twin of") -> Decision:
    from bootsh.api import Decision, Mark, possible_labels

    twins = group.twins()
    return Decision(
        policy,
        hide={p.other.key: Mark(why, p.paravirtual.key) for p in twins},
        label=possible_labels(group),
        summary=f"hid {len(twins)} emulated twin(s)" if twins else "no confirmed twin",
    )


@hookimpl(trylast=True)
def bootsh_resolve_twins(group: TwinGroup, policy: str, context: Context) -> Decision | None:
    from bootsh.api import Decision, Mark, possible_labels

    twins = group.twins()
    if policy == "hide-emulated":
        return hide_emulated(group, policy)
    if policy == "label":
        labels = possible_labels(group)
        labels.update({p.other.key: Mark("emulated twin of", p.paravirtual.key) for p in twins})
        summary = "both shown, emulated twin labelled" if twins else "no confirmed twin"
        return Decision(policy, label=labels, summary=summary)
    if policy == "both":
        return Decision(policy, summary="both shown")
    if policy == "hide-netfront":
        hide = {}
        if twins:
            hide[group.paravirtual.key] = Mark("netfront twin of", twins[0].other.key)
        return Decision(
            policy,
            hide=hide,
            label=possible_labels(group),
            summary="hid the netfront vif" if twins else "no confirmed twin",
        )
    return None
