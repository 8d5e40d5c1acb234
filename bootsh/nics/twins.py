"""Twin groups: a netfront vif and the NICs that may be the same vif seen again through QEMU.

The core only groups and weighs; plugins bring the evidence (``bootsh_twin_evidence``) and
take the decision (``bootsh_resolve_twins``). The verdict rule is deliberately simple so that
``twins`` can explain it in one line:

* any *decisive* evidence against (the PCI device is passed through) -> not a twin;
* at least two supporting facts besides the equal MAC and nothing against -> a twin;
* otherwise (equal MAC, too little else, or something against) -> a *possible* twin,
  which the built-in policies label but never hide.
"""

from __future__ import annotations

from bootsh.nics.nic import Nic, probe_order
from bootsh.records import dataclass, field

TYPE_CHECKING = False  # on every ifstat's path: no typing
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import ClassVar


@dataclass(frozen=True)
class Evidence:
    """One fact for or against "these two NICs are one vif seen twice"."""

    key: str
    supports: bool
    detail: str
    #: Decisive evidence against settles the matter: the pair is never treated as twins.
    decisive: bool = False
    #: The plugin that gave it; filled in by the plugin host.
    source: str = ""


class Verdict:
    """The three verdicts, compared by identity (``verdict is Verdict.TWIN``); ``value`` is
    the text ``twins`` shows. A plain class: ``enum`` costs more to import than ``ifstat``
    spends on its whole twin resolution."""

    __slots__ = ("name", "value")

    TWIN: ClassVar[Verdict]
    POSSIBLE: ClassVar[Verdict]
    NOT_TWIN: ClassVar[Verdict]

    def __init__(self, name: str, value: str) -> None:
        self.name = name
        self.value = value

    def __repr__(self) -> str:
        return f"<Verdict.{self.name}: {self.value!r}>"


Verdict.TWIN = Verdict("TWIN", "twin")
Verdict.POSSIBLE = Verdict("POSSIBLE", "possible twin")
Verdict.NOT_TWIN = Verdict("NOT_TWIN", "not a twin")


MAC_MATCH = "mac-match"

#: Display order of the built-in evidence, strongest first (DESIGN.md section 3); evidence
#: with other keys (a third-party plugin's) follows in the order it was given.
EVIDENCE_ORDER = ("backend-type", "backend-model", "xen-platform", "qemu-subsystem", MAC_MATCH)


def ordered(evidence: Iterable[Evidence]) -> tuple[Evidence, ...]:
    rank = {key: i for i, key in enumerate(EVIDENCE_ORDER)}
    return tuple(sorted(evidence, key=lambda e: rank.get(e.key, len(rank))))


def weigh(evidence: Iterable[Evidence]) -> Verdict:
    """Apply the verdict rule of this module's docstring."""
    items = list(evidence)
    if any(not e.supports and e.decisive for e in items):
        return Verdict.NOT_TWIN
    against = [e for e in items if not e.supports]
    support = {e.key for e in items if e.supports and e.key != MAC_MATCH}
    if not against and len(support) >= 2:
        return Verdict.TWIN
    return Verdict.POSSIBLE


@dataclass(frozen=True)
class Pair:
    """The paravirtual NIC and one candidate twin, with what was found about them."""

    paravirtual: Nic
    other: Nic
    evidence: tuple[Evidence, ...]
    verdict: Verdict


@dataclass(frozen=True)
class TwinGroup:
    """A paravirtual NIC and every other usable NIC that has its MAC."""

    mac: str
    paravirtual: Nic
    pairs: tuple[Pair, ...]

    @property
    def nics(self) -> tuple[Nic, ...]:
        return (self.paravirtual, *(p.other for p in self.pairs))

    def twins(self) -> tuple[Pair, ...]:
        """The pairs whose verdict is a confirmed twin."""
        return tuple(p for p in self.pairs if p.verdict is Verdict.TWIN)


def candidate_groups(nics: Iterable[Nic]) -> list[tuple[Nic, list[Nic]]]:
    """Pair each paravirtual NIC with the usable non-paravirtual NICs that share its MAC.

    A NIC is claimed by at most one paravirtual NIC (the first in probe order), so that two
    groups never decide about the same card.
    """
    ordered = sorted((n for n in nics if n.usable), key=probe_order)
    # The others by MAC, in probe order: one pass, then a lookup per paravirtual NIC (a scan
    # of every NIC for each vif made thousands of vifs quadratic).
    by_mac: dict[str | None, list[Nic]] = {}
    for nic in ordered:
        if not nic.paravirtual:
            by_mac.setdefault(nic.mac, []).append(nic)
    claimed: set[str] = set()
    groups: list[tuple[Nic, list[Nic]]] = []
    for pv in (n for n in ordered if n.paravirtual):
        others = [n for n in by_mac.get(pv.mac, ()) if n.key not in claimed]
        if others:
            claimed.update(n.key for n in others)
            groups.append((pv, others))
    return groups


def mac_evidence(pv: Nic, other: Nic) -> Evidence:
    return Evidence(
        MAC_MATCH,
        True,
        f"{other.describe()} has the MAC of {pv.describe()} ({pv.mac})",
        source="bootsh",
    )


@dataclass(frozen=True)
class Mark:
    """What a decision does to one NIC: a text, optionally naming the NIC it refers to.

    The peer is given by key and rendered at display time as ``net0`` (or as its description
    when it is hidden itself), because names are only given after every decision is taken.
    """

    text: str
    peer: str | None = None


def possible_labels(group: TwinGroup) -> dict[str, Mark]:
    """Labels for the pairs that share a MAC but are not proven twins.

    Every policy that hides something labels these instead: hiding on a MAC alone would hide
    a real card that happens to share it (a passed-through NIC, a laptop's pass-through MAC).
    """
    return {
        p.other.key: Mark("possible twin of", p.paravirtual.key)
        for p in group.pairs
        if p.verdict is Verdict.POSSIBLE
    }


@dataclass(frozen=True)
class Decision:
    """A resolution plugin's answer for one group."""

    policy: str
    hide: Mapping[str, Mark] = field(default_factory=dict)
    label: Mapping[str, Mark] = field(default_factory=dict)
    summary: str = ""
    #: Filled in by the plugin host: which plugin took the decision.
    by: str = ""


@dataclass(frozen=True)
class TwinPolicy:
    """A policy name a plugin understands, for validation, help and completion."""

    name: str
    summary: str
    source: str = ""
