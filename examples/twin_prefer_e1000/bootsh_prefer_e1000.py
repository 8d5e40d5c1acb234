"""A third-party twin policy: when a vif's emulated twin is an e1000, keep the e1000.

Why someone would want this: an e1000 is the one emulated model every OS installer drives,
so a boot menu that hands over to an OS without Xen drivers should show the NIC that OS
will see, named by the bridge it sits on. rtl8139 twins are left to the built-in policy.

It decides under the policies ``hide-emulated`` and ``label`` (the built-in default and its
gentler sibling) and under its own ``prefer-e1000``; for anything else, or for groups without
a confirmed e1000 twin, it returns None and the built-in policy decides.
"""

from __future__ import annotations

from collections.abc import Callable

from bootsh import hookimpl
from bootsh.api import Context, Decision, Mark, TwinGroup, TwinPolicy

POLICY = "prefer-e1000"
TAKES_OVER = {"hide-emulated", "label", POLICY}


@hookimpl
def bootsh_register_twin_policies(register: Callable[[TwinPolicy], None]) -> None:
    register(TwinPolicy(POLICY, "keep an emulated e1000 and hide its netfront twin"))


@hookimpl
def bootsh_resolve_twins(group: TwinGroup, policy: str, context: Context) -> Decision | None:
    if policy not in TAKES_OVER:
        return None
    e1000 = [pair for pair in group.twins() if pair.other.driver == "e1000"]
    if not e1000:
        return None
    keep = e1000[0].other
    bridge = group.paravirtual.facts.get("backend/bridge", "an unknown bridge")
    return Decision(
        policy,
        hide={group.paravirtual.key: Mark("netfront twin of", keep.key)},
        label={keep.key: Mark(f"e1000 on {bridge}, preferred over its netfront twin")},
        summary=f"kept the e1000 on {bridge}",
    )
