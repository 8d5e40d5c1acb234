"""From probed NICs to named netdevs: group twins, gather evidence, decide, name.

Probing is done once per shell (it reads XenStore and sysfs); resolution is cheap and is
redone whenever the twin policy changes, so ``set twins label`` takes effect at once.
"""

from __future__ import annotations

from bootsh.nics.nic import Nic, probe_order
from bootsh.nics.twins import (
    Decision,
    Mark,
    Pair,
    TwinGroup,
    candidate_groups,
    mac_evidence,
    ordered,
    weigh,
)
from bootsh.records import dataclass, field

TYPE_CHECKING = False  # on every ifstat's path: no typing
if TYPE_CHECKING:
    from collections.abc import Sequence

    from bootsh.context import Context
    from bootsh.plugins import PluginHost  # the host calls resolve(); only its type here


@dataclass(frozen=True)
class Netdev:
    """A NIC as the shell presents it: named (``net0``) or hidden, with any label."""

    nic: Nic
    name: str | None
    hidden: Mark | None = None
    label: Mark | None = None
    decided_by: str = ""


@dataclass
class Resolution:
    policy: str
    netdevs: list[Netdev] = field(default_factory=list)
    unusable: list[Nic] = field(default_factory=list)
    groups: list[tuple[TwinGroup, Decision]] = field(default_factory=list)
    _by_key: dict[str, Netdev] | None = field(default=None, repr=False, compare=False)
    _by_name: dict[str, Netdev] = field(default_factory=dict, repr=False, compare=False)
    _indexed: int = field(default=-1, repr=False, compare=False)

    @property
    def shown(self) -> list[Netdev]:
        return [n for n in self.netdevs if n.name is not None]

    @property
    def hidden(self) -> list[Netdev]:
        return [n for n in self.netdevs if n.name is None]

    def by_key(self, key: str) -> Netdev | None:
        return self._index()[0].get(key)

    def by_name(self, name: str) -> Netdev | None:
        return self._index()[1].get(name)

    def _index(self) -> tuple[dict[str, Netdev], dict[str, Netdev]]:
        """The netdevs by NIC key and by name, built once: ``refer`` for every hidden NIC of
        ``ifstat --all`` or ``twins`` scanned the whole list each time (quadratic)."""
        if self._by_key is None or self._indexed != len(self.netdevs):
            self._by_key = {}
            for netdev in self.netdevs:
                self._by_key.setdefault(netdev.nic.key, netdev)
            self._by_name = {n.name: n for n in reversed(self.netdevs) if n.name is not None}
            self._indexed = len(self.netdevs)
        return self._by_key, self._by_name

    def refer(self, key: str) -> str:
        """How to name a NIC in a message: ``net0``, or its description when hidden."""
        netdev = self.by_key(key)
        if netdev is None:
            return key
        if netdev.name is not None:
            return netdev.name
        return f"{netdev.nic.describe()} (hidden)"

    def render(self, mark: Mark) -> str:
        return f"{mark.text} {self.refer(mark.peer)}" if mark.peer else mark.text


def build_groups(host: PluginHost, nics: Sequence[Nic], context: Context) -> list[TwinGroup]:
    groups: list[TwinGroup] = []
    for pv, others in candidate_groups(nics):
        pairs = []
        for other in others:
            evidence = ordered((mac_evidence(pv, other), *host.twin_evidence(pv, other, context)))
            pairs.append(Pair(pv, other, evidence, weigh(evidence)))
        groups.append(TwinGroup(pv.mac or "", pv, tuple(pairs)))
    return groups


def resolve(host: PluginHost, nics: Sequence[Nic], policy: str, context: Context) -> Resolution:
    """Decide every twin group under ``policy`` and give ``netN`` names to what is shown."""
    result = Resolution(policy)
    hide: dict[str, tuple[Mark, str]] = {}
    label: dict[str, tuple[Mark, str]] = {}
    for group in build_groups(host, nics, context):
        decision = host.resolve_twins(group, policy, context)
        if decision is None:
            # Nobody decided (the policies plugin may be disabled): show everything, which
            # loses nothing, and say so in `twins`.
            decision = Decision(policy, summary="no plugin took a decision: all shown")
        result.groups.append((group, decision))
        members = {n.key for n in group.nics}
        # A plugin may only mark NICs of the group it was asked about.
        hide.update((k, (m, decision.by)) for k, m in decision.hide.items() if k in members)
        label.update((k, (m, decision.by)) for k, m in decision.label.items() if k in members)
    index = 0
    for nic in sorted(nics, key=probe_order):
        if not nic.usable:
            result.unusable.append(nic)
            continue
        if nic.key in hide:
            mark, by = hide[nic.key]
            result.netdevs.append(Netdev(nic, None, hidden=mark, decided_by=by))
            continue
        mark_by = label.get(nic.key)
        result.netdevs.append(
            Netdev(
                nic,
                f"net{index}",
                label=mark_by[0] if mark_by else None,
                decided_by=mark_by[1] if mark_by else "",
            )
        )
        index += 1
    return result
