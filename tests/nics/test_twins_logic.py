"""Twin grouping, the verdict rule, the built-in policies and naming, with inline plugins.

These are unit tests of pure logic; the same behaviour is tested end to end against a real
xenstored and real sysfs trees elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

import bootsh_policies as policies
from bootsh import hookimpl
from bootsh.context import Config, Context
from bootsh.nics.netdevs import Resolution, resolve
from bootsh.nics.nic import Nic
from bootsh.nics.twins import Decision, Evidence, Mark, TwinGroup, Verdict, weigh
from bootsh.plugins import make_plugin_manager

MAC0 = "00:16:3e:00:00:01"
MAC1 = "00:16:3e:00:00:02"


def vif(n: int, mac: str) -> Nic:
    return Nic("netfront", f"vif/{n}", mac, "xen", paravirtual=True, order=10)


def pci(slot: int, mac: str, driver: str = "rtl8139") -> Nic:
    return Nic(driver, f"0000:00:{slot:02x}.0", mac, "pci", order=50)


class Driver:
    def __init__(self, nics: Sequence[Nic]) -> None:
        self.nics = list(nics)

    @hookimpl
    def bootsh_probe_nics(self) -> Sequence[Nic]:
        return self.nics


class Evidencer:
    """Gives fixed evidence for every pair, standing in for netfront + pci_nics."""

    def __init__(self, *items: Evidence) -> None:
        self.items = items

    @hookimpl
    def bootsh_twin_evidence(self, paravirtual: Nic, other: Nic) -> Sequence[Evidence]:
        return self.items


STRONG = (
    Evidence("backend-type", True, "type = vif_ioemu"),
    Evidence("xen-platform", True, "platform device at 0000:00:02.0"),
)


def run(
    nics: Sequence[Nic], policy: str, *evidence: Evidence, extra: Sequence[tuple[str, object]] = ()
) -> Resolution:
    host = make_plugin_manager(
        entry_points=False,
        extra=[
            ("policies", policies),
            ("driver", Driver(nics)),
            ("evidence", Evidencer(*evidence)),
            *extra,
        ],
    )
    context = Context(Config())
    return resolve(host, host.probe_nics(context), policy, context)


def names(res: Resolution) -> list[tuple[str | None, str]]:
    return [(n.name, n.nic.location) for n in res.netdevs]


def test_weigh_rule() -> None:
    mac = Evidence("mac-match", True, "")
    assert weigh([mac]) is Verdict.POSSIBLE
    assert weigh([mac, STRONG[0]]) is Verdict.POSSIBLE
    assert weigh([mac, *STRONG]) is Verdict.TWIN
    assert weigh([mac, *STRONG, Evidence("qemu-subsystem", False, "real")]) is Verdict.POSSIBLE
    assert (
        weigh([mac, *STRONG, Evidence("passthrough", False, "", decisive=True)]) is Verdict.NOT_TWIN
    )
    # The same supporting key twice is still one fact.
    assert weigh([mac, STRONG[0], STRONG[0]]) is Verdict.POSSIBLE


def test_hide_emulated_names_netfront_first() -> None:
    res = run([pci(4, MAC0), vif(0, MAC0), pci(5, MAC1), vif(1, MAC1)], "hide-emulated", *STRONG)
    assert names(res) == [
        ("net0", "vif/0"),
        ("net1", "vif/1"),
        (None, "0000:00:04.0"),
        (None, "0000:00:05.0"),
    ]
    hidden = res.by_key("pci:0000:00:04.0")
    assert hidden is not None and hidden.hidden is not None
    assert res.render(hidden.hidden) == "emulated twin of net0"
    assert hidden.decided_by == "policies"


@pytest.mark.parametrize(
    ("policy", "expected", "labelled"),
    [
        ("label", [("net0", "vif/0"), ("net1", "0000:00:04.0")], {"net1": "emulated twin of net0"}),
        ("both", [("net0", "vif/0"), ("net1", "0000:00:04.0")], {}),
        ("hide-netfront", [(None, "vif/0"), ("net0", "0000:00:04.0")], {}),
    ],
)
def test_other_policies(
    policy: str, expected: list[tuple[str | None, str]], labelled: dict[str, str]
) -> None:
    res = run([vif(0, MAC0), pci(4, MAC0)], policy, *STRONG)
    assert names(res) == expected
    assert {n.name: res.render(n.label) for n in res.shown if n.label} == labelled


def test_mac_alone_is_only_a_possible_twin_under_every_policy() -> None:
    for policy in ("hide-emulated", "label", "hide-netfront"):
        res = run([vif(0, MAC0), pci(4, MAC0)], policy)
        assert names(res) == [("net0", "vif/0"), ("net1", "0000:00:04.0")], policy
        net1 = res.by_name("net1")
        assert net1 is not None and net1.label is not None
        assert res.render(net1.label) == "possible twin of net0"
        group, _ = res.groups[0]
        assert group.pairs[0].verdict is Verdict.POSSIBLE


def test_passthrough_is_never_a_twin() -> None:
    against = Evidence("passthrough", False, "0000:00:04.0 is host 0000:03:00.0", decisive=True)
    res = run([vif(0, MAC0), pci(4, MAC0)], "hide-emulated", *STRONG, against)
    assert names(res) == [("net0", "vif/0"), ("net1", "0000:00:04.0")]
    assert all(n.label is None for n in res.netdevs)
    assert res.groups[0][0].pairs[0].verdict is Verdict.NOT_TWIN


def test_unusable_nics_are_listed_not_named() -> None:
    broken = Nic(
        "netfront", "vif/2", None, "xen", paravirtual=True, order=10, problem="bad MAC 'zz'"
    )
    res = run([vif(0, MAC0), broken, pci(4, MAC1)], "hide-emulated")
    assert names(res) == [("net0", "vif/0"), ("net1", "0000:00:04.0")]
    assert [n.location for n in res.unusable] == ["vif/2"]


def test_natural_order_of_many_vifs() -> None:
    res = run([vif(n, f"00:16:3e:00:01:{n:02x}") for n in (10, 2, 1, 0)], "both")
    assert [(n.name, n.nic.location) for n in res.shown][:4] == [
        ("net0", "vif/0"),
        ("net1", "vif/1"),
        ("net2", "vif/2"),
        ("net3", "vif/10"),
    ]


class Overrider:
    @hookimpl
    def bootsh_resolve_twins(self, group: TwinGroup, policy: str) -> Decision | None:
        return Decision(policy, label={group.paravirtual.key: Mark("chosen by a plugin")})


class Greedy:
    """Tries to hide a NIC outside the group it was asked about."""

    @hookimpl
    def bootsh_resolve_twins(self, group: TwinGroup, policy: str) -> Decision | None:
        return Decision(policy, hide={"pci:0000:00:09.0": Mark("not yours")})


def test_a_plugin_decides_before_the_builtin_policy() -> None:
    res = run([vif(0, MAC0), pci(4, MAC0)], "hide-emulated", *STRONG, extra=[("mine", Overrider())])
    assert names(res) == [("net0", "vif/0"), ("net1", "0000:00:04.0")]
    assert res.groups[0][1].by == "mine"


def test_a_decision_cannot_touch_nics_outside_its_group() -> None:
    res = run(
        [vif(0, MAC0), pci(4, MAC0), pci(9, MAC1)],
        "hide-emulated",
        *STRONG,
        extra=[("greedy", Greedy())],
    )
    assert (res.by_key("pci:0000:00:09.0") or pytest.fail()).name == "net2"


def test_without_a_policy_plugin_everything_is_shown() -> None:
    host = make_plugin_manager(
        entry_points=False,
        extra=[("driver", Driver([vif(0, MAC0), pci(4, MAC0)])), ("evidence", Evidencer(*STRONG))],
    )
    context = Context(Config())
    res = resolve(host, host.probe_nics(context), "hide-emulated", context)
    assert names(res) == [("net0", "vif/0"), ("net1", "0000:00:04.0")]
    assert res.groups[0][1].summary == "no plugin took a decision: all shown"
