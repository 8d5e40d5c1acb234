"""End to end: the real ``bootsh`` command against a REAL xenstored and Linux-shaped sysfs trees.

Every test runs the CLI itself (``bootsh.cli.main`` in-process, a few through
``python -m bootsh``): netfront reads the vifs from the C xenstored of Xen 4.17 over its socket
(``XENSTORED_PATH`` plus ``--xen-domid``), pci_nics reads a sysfs tree from
``tests/sysfs_tree.py`` whose emulated NICs carry the vifs' MACs. One daemon serves the
module; the tests in which XenStore dies start daemons of their own.

The expected output is built from the specification (DESIGN.md section 3, the README's
``ifstat``/``twins`` formats and policy table), not copied from what the program prints:
``expected_ifstat`` and ``expected_twins`` derive names, notes and decisions from a small
model of the machine (``Twin``).
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from bootsh.cli import main
from tests.sysfs_tree import SysfsTree, Vif, nic_addresses, xen_hvm_guest
from tests.xenstored import (
    PassSpec,
    VifSpec,
    Xenstored,
    populate_guest,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = "examples/machines/xen-hvm"
POLICIES = ("hide-emulated", "label", "both", "hide-netfront")
#: XenStore requests are bounded; a healthy daemon answers in well under a millisecond.
TIMEOUT = "2"

LINK_UP = "  [Link:up, TX:0 TXE:0 RX:0 RXE:0]"
PLATFORM = "Xen platform device: 0000:00:02.0 (5853:0001)"
NO_GROUPS = "No twin groups: no NIC shares its MAC with a netfront vif."
NO_ALLOW = "--allow-unplug was not given (unplugging is irreversible)"
REFUSED_LINE = f"bootsh: unplug refused: {NO_ALLOW}; emulated twins are hidden, not unplugged\n"
#: The decision summaries of the built-in policies (plugins/policies), per confirmed twin.
SUMMARY = {
    "hide-emulated": "hid 1 emulated twin(s)",
    "label": "both shown, emulated twin labelled",
    "both": "both shown",
    "hide-netfront": "hid the netfront vif",
}
NOBODY = "no plugin took a decision: all shown"


# -- running bootsh --------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    status: int
    out: str
    err: str
    seconds: float

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


def bootsh(argv: Sequence[str], env: Mapping[str, str], stdin: io.StringIO | None = None) -> Run:
    """``bootsh ARGV`` in-process, with its own environment and captured output."""
    out, err = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    status = main(list(argv), env=dict(env), stdin=stdin or io.StringIO(), stdout=out, stderr=err)
    return Run(status, out.getvalue(), err.getvalue(), time.perf_counter() - t0)


def script(*lines: str) -> list[str]:
    """``-c LINE`` for each line: ``script("ifstat", "twins")`` is ``-c ifstat -c twins``."""
    return [arg for line in lines for arg in ("-c", line)]


def bootsh_process(argv: Sequence[str], env: Mapping[str, str]) -> Run:
    """``python -m bootsh ARGV`` as a new process, from the repository root."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "bootsh", *argv],
        env=dict(env),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - t0)


def process_env(home: Path, **extra: str) -> dict[str, str]:
    """A user's environment without any bootsh or xenstored variable of the caller's."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BOOTSH_", "XENSTORED_")) and k != "XDG_CONFIG_HOME"
    }
    env["HOME"] = str(home)
    env.update(extra)
    return env


# -- the expected output, from the specification ----------------------------------------------


def mac_of(domid: int, n: int) -> str:
    return f"00:16:3e:{domid:02x}:{n >> 8:02x}:{n & 0xFF:02x}"


@dataclass(frozen=True)
class Twin:
    """A ``vif_ioemu`` vif and the emulated NIC QEMU gave it (same MAC): confirmed twins."""

    vif: int
    mac: str
    model: str
    address: str
    #: The backend names the model (libxl does not write it; another toolstack might).
    backend_model: bool = False

    @property
    def pci(self) -> str:
        return f"{self.model} {self.address}"

    @property
    def netfront(self) -> str:
        return f"netfront vif/{self.vif}"


def block(name: str | None, mac: str, driver: str, location: str, *notes: str) -> list[str]:
    """One NIC in iPXE's ifstat format; hidden NICs (``ifstat --all``) say ``(hidden)``."""
    head = name if name is not None else "(hidden)"
    return [f"{head}: {mac} using {driver} on {location} (Ethernet) [closed]", LINK_UP, *notes]


def hidden(text: str, peer: str, policy: str, by: str = "policies") -> str:
    return f"  [Hidden: {text} {peer} (policy {policy}, by {by})]"


def label(text: str, peer: str) -> str:
    return f"  [Twin: {text} {peer}]"


def evidence(sign: str, key: str, detail: str, source: str) -> str:
    return f"    {sign} {key}: {detail} [{source}]"


def mac_match(other: str, vif: str, mac: str) -> str:
    return evidence("+", "mac-match", f"{other} has the MAC of {vif} ({mac})", "bootsh")


XEN_PLATFORM = evidence(
    "+",
    "xen-platform",
    "Xen platform device 5853:0001 at 0000:00:02.0: an HVM guest, whose emulated NICs sit"
    " beside netfront",
    "pci_nics",
)


def qemu_subsystem(other: str) -> str:
    detail = f"{other} has subsystem 1af4:1100 (QEMU Virtual Machine): emulated"
    return evidence("+", "qemu-subsystem", detail, "pci_nics")


def real_subsystem(other: str, subsystem: str) -> str:
    detail = f"{other} has subsystem {subsystem}, not QEMU's 1af4:1100: looks like real hardware"
    return evidence("-", "qemu-subsystem", detail, "pci_nics")


def backend_ioemu(vif: str) -> str:
    detail = f"{vif} has backend type vif_ioemu: the toolstack gave this vif an emulated twin"
    return evidence("+", "backend-type", detail, "netfront")


def backend_pv_only(vif: str) -> str:
    detail = f"{vif} has backend type vif: paravirtual only, no emulated twin"
    return evidence("-", "backend-type", detail, "netfront")


def backend_model(vif: str, model: str, other: str) -> str:
    return evidence(
        "+", "backend-model", f"{vif}'s backend names model {model}: {other}", "netfront"
    )


def passthrough(other: str, host: str) -> str:
    detail = (
        f"{other} is passed through from host device {host}: real hardware, never an emulated twin"
    )
    return evidence("!", "passthrough", detail, "netfront")


def twin_evidence(t: Twin) -> list[str]:
    # Strongest first, as bootsh.nics.twins.EVIDENCE_ORDER and DESIGN.md section 3 say.
    lines = [backend_ioemu(t.netfront)]
    if t.backend_model:
        lines.append(backend_model(t.netfront, t.model, t.pci))
    return [*lines, XEN_PLATFORM, qemu_subsystem(t.pci), mac_match(t.pci, t.netfront, t.mac)]


@dataclass(frozen=True)
class Outcome:
    """How a policy treats confirmed twins (DESIGN.md section 3) and who decides."""

    policy: str
    hide: str | None = None  # "emulated" | "netfront" | None
    labels: bool = False
    by: str = "policies"
    summary: str = ""
    hidden_text: str = ""
    refusal: str | None = None


def outcome(policy: str) -> Outcome:
    if policy == "hide-emulated":
        return Outcome(policy, "emulated", summary=SUMMARY[policy], hidden_text="emulated twin of")
    if policy == "label":
        return Outcome(policy, labels=True, summary=SUMMARY[policy])
    if policy == "both":
        return Outcome(policy, summary=SUMMARY[policy])
    if policy == "hide-netfront":
        return Outcome(policy, "netfront", summary=SUMMARY[policy], hidden_text="netfront twin of")
    if policy == "unplug":
        # Refused without --allow-unplug: hidden as with hide-emulated, nothing touched.
        return Outcome(
            policy,
            "emulated",
            by="netfront",
            summary=f"unplug refused: {NO_ALLOW}; hid 1 emulated twin(s), untouched",
            hidden_text="emulated twin (unplug refused) of",
            refusal=NO_ALLOW,
        )
    if policy == "nobody":  # the policies plugin is disabled: everything shown
        return Outcome("hide-emulated", by="nobody", summary=NOBODY)
    raise ValueError(policy)


def names(
    twins: Sequence[Twin], how: Outcome
) -> tuple[dict[int, str | None], dict[str, str | None]]:
    """netN for shown NICs in probe order: netfront vifs by number, then PCI by address."""
    vif_names: dict[int, str | None] = {}
    pci_names: dict[str, str | None] = {}
    n = 0
    for t in sorted(twins, key=lambda t: t.vif):
        vif_names[t.vif] = None if how.hide == "netfront" else f"net{n}"
        n += vif_names[t.vif] is not None
    for t in sorted(twins, key=lambda t: t.address):
        pci_names[t.address] = None if how.hide == "emulated" else f"net{n}"
        n += pci_names[t.address] is not None
    return vif_names, pci_names


def expected_ifstat(twins: Sequence[Twin], policy: str, *, all_: bool = False) -> list[str]:
    how = outcome(policy)
    vif_names, pci_names = names(twins, how)
    lines: list[str] = []
    for t in sorted(twins, key=lambda t: t.vif):
        name, peer = vif_names[t.vif], pci_names[t.address]
        if name is None and not all_:
            continue
        notes = [] if name is not None else [hidden(how.hidden_text, str(peer), how.policy, how.by)]
        lines += block(name, t.mac, "netfront", f"vif/{t.vif}", *notes)
    for t in sorted(twins, key=lambda t: t.address):
        name, peer = pci_names[t.address], vif_names[t.vif]
        if name is None and not all_:
            continue
        if name is None:
            notes = [hidden(how.hidden_text, str(peer), how.policy, how.by)]
        else:
            notes = [label("emulated twin of", str(peer))] if how.labels else []
        lines += block(name, t.mac, t.model, t.address, *notes)
    return lines


def expected_twins(twins: Sequence[Twin], policy: str) -> list[str]:
    how = outcome(policy)
    vif_names, pci_names = names(twins, how)
    lines = [f"Twin policy: {how.policy}", PLATFORM]
    for t in sorted(twins, key=lambda t: t.vif):
        vif_name, pci_name = vif_names[t.vif], pci_names[t.address]
        lines += [
            "",
            f"{t.mac}: {t.netfront} ({vif_name or 'hidden'})",
            f"  {t.pci} ({pci_name or 'hidden'}): twin",
            *twin_evidence(t),
            f"  decision: {how.summary} (policy {how.policy}, by {how.by})",
        ]
        if how.hide == "emulated":
            lines.append(f"    hide {t.pci} (hidden): {how.hidden_text} {vif_name}")
        elif how.hide == "netfront":
            lines.append(f"    hide {t.netfront} (hidden): {how.hidden_text} {pci_name}")
        elif how.labels:
            lines.append(f"    label {pci_name}: emulated twin of {vif_name}")
    return lines


# -- the machines ------------------------------------------------------------------------------


def build_sysfs(root: Path, twins: Sequence[Twin], slot_order: Sequence[int]) -> SysfsTree:
    """A Linux HVM guest whose emulated NICs are placed in ``slot_order`` of the vifs."""
    by_vif = {t.vif: t for t in twins}
    # rtl8139 is the default model: leave it unsaid so that the default is exercised.
    vifs = [
        Vif(v, by_vif[v].mac, model=None if by_vif[v].model == "rtl8139" else by_vif[v].model)
        for v in slot_order
    ]
    return xen_hvm_guest(root, vifs)


def make_twins(domid: int, count: int, slot_order: Sequence[int]) -> list[Twin]:
    """``count`` vifs; every third one's twin is an e1000, vif 1's backend names its model."""
    addresses = dict(zip(slot_order, nic_addresses(), strict=False))
    return [
        Twin(
            n,
            mac_of(domid, n),
            "e1000" if n % 3 == 1 else "rtl8139",
            addresses[n],
            backend_model=n == 1 and count == 4,
        )
        for n in range(count)
    ]


@dataclass(frozen=True)
class Guest:
    domid: int
    sysfs: Path
    twins: tuple[Twin, ...]

    def argv(self, *more: str) -> list[str]:
        return [
            "--sysfs-root",
            str(self.sysfs),
            "--xen-domid",
            str(self.domid),
            "--xenstore-timeout",
            TIMEOUT,
            *more,
        ]


@pytest.fixture(scope="module")
def env(xsd: Xenstored, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """What main() sees: the daemon's socket, and an empty config file so that no user's or
    /etc's config file can change the outcome."""
    empty = tmp_path_factory.mktemp("config") / "empty.toml"
    empty.write_text("")
    return {
        "HOME": "/nonexistent",
        "BOOTSH_CONFIG": str(empty),
        "XENSTORED_PATH": str(xsd.socket_path),
    }


def populate(
    daemon: Xenstored, domid: int, vifs: Sequence[VifSpec], passed: Sequence[PassSpec] = ()
) -> None:
    with daemon.client() as client:
        populate_guest(client, domid, vifs, passed)


#: vif count -> (domain id, order of the emulated NICs' slots). The 4-vif guest has its
#: emulated NICs in reverse order, so that PCI naming by address differs from vif order; the
#: 64-vif guest's NICs continue behind a PCI bridge on bus 01.
SIZES = {1: (1, [0]), 4: (4, [3, 2, 1, 0]), 64: (64, list(range(64)))}


@pytest.fixture(scope="module")
def guests(xsd: Xenstored, tmp_path_factory: pytest.TempPathFactory) -> dict[int, Guest]:
    made: dict[int, Guest] = {}
    for count, (domid, order) in SIZES.items():
        twins = make_twins(domid, count, order)
        root = tmp_path_factory.mktemp(f"sysfs{count}")
        build_sysfs(root, twins, order)
        specs = [
            VifSpec(t.vif, t.mac, overrides={"back/model": t.model} if t.backend_model else {})
            for t in twins
        ]
        populate(xsd, domid, specs)
        made[count] = Guest(domid, root, tuple(twins))
    return made


# -- 1, 4 and 64 vifs with their emulated twins, under each policy ------------------------------


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("count", [1, 4])
def test_ifstat_and_twins_exactly(
    guests: dict[int, Guest], env: dict[str, str], count: int, policy: str
) -> None:
    guest = guests[count]
    for argv, expected in (
        (["-c", "ifstat"], expected_ifstat(guest.twins, policy)),
        (["-c", "ifstat --all"], expected_ifstat(guest.twins, policy, all_=True)),
        (["-c", "twins"], expected_twins(guest.twins, policy)),
    ):
        run = bootsh(guest.argv("--twins", policy, *argv), env)
        assert (run.status, run.err) == (0, ""), argv
        assert run.lines == expected, argv


def test_one_vif_literally(guests: dict[int, Guest], env: dict[str, str]) -> None:
    """The smallest case spelt out by hand, as a check on the expectation builders."""
    guest = guests[1]
    mac = mac_of(1, 0)
    run = bootsh(guest.argv("-c", "ifstat --all", "-c", "twins"), env)
    assert run.status == 0
    assert run.out == (
        f"net0: {mac} using netfront on vif/0 (Ethernet) [closed]\n"
        "  [Link:up, TX:0 TXE:0 RX:0 RXE:0]\n"
        f"(hidden): {mac} using rtl8139 on 0000:00:04.0 (Ethernet) [closed]\n"
        "  [Link:up, TX:0 TXE:0 RX:0 RXE:0]\n"
        "  [Hidden: emulated twin of net0 (policy hide-emulated, by policies)]\n"
        "Twin policy: hide-emulated\n"
        "Xen platform device: 0000:00:02.0 (5853:0001)\n"
        "\n"
        f"{mac}: netfront vif/0 (net0)\n"
        "  rtl8139 0000:00:04.0 (hidden): twin\n"
        "    + backend-type: netfront vif/0 has backend type vif_ioemu: the toolstack gave"
        " this vif an emulated twin [netfront]\n"
        "    + xen-platform: Xen platform device 5853:0001 at 0000:00:02.0: an HVM guest,"
        " whose emulated NICs sit beside netfront [pci_nics]\n"
        "    + qemu-subsystem: rtl8139 0000:00:04.0 has subsystem 1af4:1100"
        " (QEMU Virtual Machine): emulated [pci_nics]\n"
        f"    + mac-match: rtl8139 0000:00:04.0 has the MAC of netfront vif/0 ({mac}) [bootsh]\n"
        "  decision: hid 1 emulated twin(s) (policy hide-emulated, by policies)\n"
        "    hide rtl8139 0000:00:04.0 (hidden): emulated twin of net0\n"
    )


def test_four_vifs_pci_named_by_address_not_by_vif(
    guests: dict[int, Guest], env: dict[str, str]
) -> None:
    """The emulated NICs sit in reverse vif order: under ``label`` net4 is vif 3's twin."""
    m = {n: mac_of(4, n) for n in range(4)}
    run = bootsh(guests[4].argv("--twins", "label", "-c", "ifstat"), env)
    heads = [line for line in run.lines if not line.startswith(" ")]
    assert heads == [
        f"net0: {m[0]} using netfront on vif/0 (Ethernet) [closed]",
        f"net1: {m[1]} using netfront on vif/1 (Ethernet) [closed]",
        f"net2: {m[2]} using netfront on vif/2 (Ethernet) [closed]",
        f"net3: {m[3]} using netfront on vif/3 (Ethernet) [closed]",
        f"net4: {m[3]} using rtl8139 on 0000:00:04.0 (Ethernet) [closed]",
        f"net5: {m[2]} using rtl8139 on 0000:00:05.0 (Ethernet) [closed]",
        f"net6: {m[1]} using e1000 on 0000:00:06.0 (Ethernet) [closed]",
        f"net7: {m[0]} using rtl8139 on 0000:00:07.0 (Ethernet) [closed]",
    ]
    assert [line for line in run.lines if line.startswith("  [Twin")] == [
        "  [Twin: emulated twin of net3]",
        "  [Twin: emulated twin of net2]",
        "  [Twin: emulated twin of net1]",
        "  [Twin: emulated twin of net0]",
    ]
    twins = bootsh(guests[4].argv("-c", "twins"), env).lines
    # vif 1's backend names its model, which is one more fact for the twin.
    assert (
        "    + backend-model: netfront vif/1's backend names model e1000: e1000 0000:00:06.0"
        " [netfront]"
    ) in twins


@pytest.mark.parametrize("policy", POLICIES)
def test_sixty_four_vifs(guests: dict[int, Guest], env: dict[str, str], policy: str) -> None:
    guest = guests[64]
    ifstat = bootsh(guest.argv("--twins", policy, "-c", "ifstat"), env)
    every = bootsh(guest.argv("--twins", policy, "-c", "ifstat --all"), env)
    twins = bootsh(guest.argv("--twins", policy, "-c", "twins"), env)
    for run in (ifstat, every, twins):
        assert (run.status, run.err) == (0, "")

    shown = 128 if policy in ("label", "both") else 64
    heads = [line for line in ifstat.lines if not line.startswith(" ")]
    assert [h.split(":", 1)[0] for h in heads] == [f"net{n}" for n in range(shown)]
    all_heads = [line for line in every.lines if not line.startswith(" ")]
    assert len(all_heads) == 128
    assert sum(h.startswith("(hidden): ") for h in all_heads) == 128 - shown
    assert twins.out.count("\n  decision: ") == 64
    assert twins.out.count("): twin\n") == 64

    # A few lines exactly: the vifs in numeric order (vif/10 after vif/9); the PCI NICs in
    # address order, which is hex (00:09.0, 00:0a.0, ..., 00:1e.0) and goes on behind the
    # bridges to buses 01 and 02 (vif n's twin is in slot 4 + n of bus 00 for n < 27).
    def head(name: int, vif: int, driver: str, location: str) -> str:
        return f"net{name}: {mac_of(64, vif)} using {driver} on {location} (Ethernet) [closed]"

    def model(vif: int) -> str:
        return "e1000" if vif % 3 == 1 else "rtl8139"

    if policy != "hide-netfront":
        for n in (0, 9, 10, 63):
            assert heads[n] == head(n, n, "netfront", f"vif/{n}")
    if policy != "hide-emulated":
        first = 0 if policy == "hide-netfront" else 64
        for n, location in (
            (0, "0000:00:04.0"),
            (5, "0000:00:09.0"),
            (6, "0000:00:0a.0"),
            (11, "0000:00:0f.0"),
            (12, "0000:00:10.0"),
            (26, "0000:00:1e.0"),
            (27, "0000:01:00.0"),
            (57, "0000:01:1e.0"),
            (58, "0000:02:00.0"),
            (63, "0000:02:05.0"),
        ):
            assert heads[first + n] == head(first + n, n, model(n), location)
    # And the whole of it against the specification's model.
    assert ifstat.lines == expected_ifstat(guest.twins, policy)
    assert every.lines == expected_ifstat(guest.twins, policy, all_=True)
    assert twins.lines == expected_twins(guest.twins, policy)


# -- a passed-through NIC with a vif's MAC ------------------------------------------------------

PASS_A, PASS_B = "00:16:3e:14:00:0a", "00:16:3e:14:00:0b"
I350_SUBSYSTEM = (0x8086, 0x0001)


@pytest.fixture(scope="module")
def passed_through(xsd: Xenstored, tmp_path_factory: pytest.TempPathFactory) -> tuple[Guest, Guest]:
    """vif 0 has an emulated rtl8139 at 00:04.0 *and* a passed-through i350 at 00:05.0 with
    its MAC; vif 1 has no emulated NIC but a passed-through i350 at 00:06.0 with its MAC.
    Domain 20 lists both i350s in its PCI backend (vdevfn 0x28, 0x30); domain 21 is the same
    guest with the PCI backend missing, to show what the passthrough evidence decides."""
    root = tmp_path_factory.mktemp("sysfs-pass")
    tree = xen_hvm_guest(root, [Vif(0, PASS_A), Vif(1, PASS_B, twin=False)])
    for address, ifname, mac in (
        ("0000:00:05.0", "eth5", PASS_A),
        ("0000:00:06.0", "eth6", PASS_B),
    ):
        tree.add_pci(
            address, 0x8086, 0x1521, subsystem=I350_SUBSYSTEM, driver="igb", ifname=ifname, mac=mac
        )
    vifs = [VifSpec(0, PASS_A), VifSpec(1, PASS_B)]
    populate(xsd, 20, vifs, [PassSpec("0000:03:00.0", 0x28), PassSpec("0000:03:00.1", 0x30)])
    populate(xsd, 21, vifs)
    return Guest(20, root, ()), Guest(21, root, ())


RTL = "rtl8139 0000:00:04.0"
I350_A, I350_B = "i350 0000:00:05.0", "i350 0000:00:06.0"


def i350_not_a_twin(other: str, vif: str, mac: str, host: str) -> list[str]:
    return [
        backend_ioemu(vif),
        XEN_PLATFORM,
        real_subsystem(other, "8086:0001"),
        mac_match(other, vif, mac),
        passthrough(other, host),
    ]


@pytest.mark.parametrize("policy", [*POLICIES, "unplug"])
def test_passed_through_nic_is_never_a_twin(
    passed_through: tuple[Guest, Guest], env: dict[str, str], policy: str
) -> None:
    guest = passed_through[0]
    how = outcome(policy)
    # Names: the rtl8139 is vif 0's confirmed twin; the i350s are real and always shown.
    if policy == "hide-netfront":
        vif0, vif1, rtl, a, b = None, "net0", "net1", "net2", "net3"
    elif how.hide == "emulated":
        vif0, vif1, rtl, a, b = "net0", "net1", None, "net2", "net3"
    else:
        vif0, vif1, rtl, a, b = "net0", "net1", "net2", "net3", "net4"
    rtl_notes: list[str] = []
    vif0_notes: list[str] = []
    if how.hide == "emulated":
        rtl_notes = [hidden(how.hidden_text, "net0", policy, how.by)]
    elif how.hide == "netfront":
        vif0_notes = [hidden(how.hidden_text, "net1", policy)]
    elif how.labels:
        rtl_notes = [label("emulated twin of", "net0")]
    every = [
        *block(vif0, PASS_A, "netfront", "vif/0", *vif0_notes),
        *block(vif1, PASS_B, "netfront", "vif/1"),
        *block(rtl, PASS_A, "rtl8139", "0000:00:04.0", *rtl_notes),
        *block(a, PASS_A, "i350", "0000:00:05.0"),
        *block(b, PASS_B, "i350", "0000:00:06.0"),
    ]
    run = bootsh(guest.argv("--twins", policy, "-c", "ifstat --all", "-c", "twins"), env)
    assert run.status == 0
    assert run.err == (REFUSED_LINE if how.refusal else "")
    twins_at = run.lines.index(f"Twin policy: {policy}")
    assert run.lines[:twins_at] == every

    if how.hide == "emulated":
        action0 = [f"    hide {RTL} (hidden): {how.hidden_text} net0"]
    elif how.hide == "netfront":
        action0 = [f"    hide netfront vif/0 (hidden): {how.hidden_text} net1"]
    else:
        action0 = ["    label net2: emulated twin of net0"] if how.labels else []
    no_twin = {
        "hide-emulated": "no confirmed twin",
        "label": "no confirmed twin",
        "both": SUMMARY["both"],
        "hide-netfront": "no confirmed twin",
        "unplug": "no confirmed twin: nothing to unplug",
    }[policy]
    assert run.lines[twins_at:] == [
        f"Twin policy: {policy}",
        PLATFORM,
        "Passed-through PCI devices: 0000:00:05.0 (host 0000:03:00.0),"
        " 0000:00:06.0 (host 0000:03:00.1)",
        "",
        f"{PASS_A}: netfront vif/0 ({vif0 or 'hidden'})",
        f"  {RTL} ({rtl or 'hidden'}): twin",
        backend_ioemu("netfront vif/0"),
        XEN_PLATFORM,
        qemu_subsystem(RTL),
        mac_match(RTL, "netfront vif/0", PASS_A),
        f"  {I350_A} ({a}): not a twin",
        *i350_not_a_twin(I350_A, "netfront vif/0", PASS_A, "0000:03:00.0"),
        f"  decision: {how.summary} (policy {policy}, by {how.by})",
        *action0,
        "",
        f"{PASS_B}: netfront vif/1 ({vif1})",
        f"  {I350_B} ({b}): not a twin",
        *i350_not_a_twin(I350_B, "netfront vif/1", PASS_B, "0000:03:00.1"),
        f"  decision: {no_twin} (policy {policy}, by {how.by})",
    ]


def test_without_the_pci_backend_the_same_nics_are_only_possible_twins(
    passed_through: tuple[Guest, Guest], env: dict[str, str]
) -> None:
    """Domain 21: nothing says the i350s are passed through, so the real-hardware subsystem
    alone keeps them from being twins: possible twins, labelled, still never hidden."""
    run = bootsh(passed_through[1].argv("-c", "ifstat", "-c", "twins"), env)
    assert (run.status, run.err) == (0, "")
    twins_at = run.lines.index("Twin policy: hide-emulated")
    assert run.lines[:twins_at] == [
        *block("net0", PASS_A, "netfront", "vif/0"),
        *block("net1", PASS_B, "netfront", "vif/1"),
        *block("net2", PASS_A, "i350", "0000:00:05.0", label("possible twin of", "net0")),
        *block("net3", PASS_B, "i350", "0000:00:06.0", label("possible twin of", "net1")),
    ]
    report = run.lines[twins_at:]
    assert "Passed-through PCI devices" not in run.out
    assert f"  {I350_A} (net2): possible twin" in report
    assert f"  {I350_B} (net3): possible twin" in report
    assert not any(line.startswith("    ! ") for line in report)
    assert report[-2:] == [
        "  decision: no confirmed twin (policy hide-emulated, by policies)",
        "    label net3: possible twin of net1",
    ]


# -- a paravirtual-only vif (type = vif) with a same-MAC PCI NIC --------------------------------

PV_A, PV_B = "00:16:3e:1e:00:0a", "00:16:3e:1e:00:0b"


@pytest.fixture(scope="module")
def pv_only(xsd: Xenstored, tmp_path_factory: pytest.TempPathFactory) -> Guest:
    """vif 0 is ``type = vif`` yet an emulated rtl8139 at 00:04.0 has its MAC; vif 1 is an
    ordinary vif_ioemu vif with its e1000 twin at 00:05.0."""
    root = tmp_path_factory.mktemp("sysfs-pv")
    xen_hvm_guest(root, [Vif(0, PV_A), Vif(1, PV_B, model="e1000")])
    populate(xsd, 30, [VifSpec(0, PV_A, type="vif"), VifSpec(1, PV_B)])
    return Guest(30, root, ())


@pytest.mark.parametrize("policy", [*POLICIES, "unplug"])
def test_pv_only_vif_has_only_a_possible_twin(
    pv_only: Guest, env: dict[str, str], policy: str
) -> None:
    how = outcome(policy)
    e1000 = "e1000 0000:00:05.0"
    possible = [] if policy == "both" else [label("possible twin of", "net0")]
    if policy == "hide-netfront":
        # vif 1 is hidden behind its e1000; vif 0 and the rtl8139 stay, the rtl8139 labelled.
        every = [
            *block("net0", PV_A, "netfront", "vif/0"),
            *block(None, PV_B, "netfront", "vif/1", hidden(how.hidden_text, "net2", policy)),
            *block("net1", PV_A, "rtl8139", "0000:00:04.0", *possible),
            *block("net2", PV_B, "e1000", "0000:00:05.0"),
        ]
        vif1, rtl, e1k = "hidden", "net1", "net2"
    else:
        if how.hide == "emulated":
            e1000_block = block(
                None, PV_B, "e1000", "0000:00:05.0", hidden(how.hidden_text, "net1", policy, how.by)
            )
        else:
            twin_note = [label("emulated twin of", "net1")] if how.labels else []
            e1000_block = block("net3", PV_B, "e1000", "0000:00:05.0", *twin_note)
        every = [
            *block("net0", PV_A, "netfront", "vif/0"),
            *block("net1", PV_B, "netfront", "vif/1"),
            *block("net2", PV_A, "rtl8139", "0000:00:04.0", *possible),
            *e1000_block,
        ]
        vif1, rtl, e1k = "net1", "net2", ("hidden" if how.hide == "emulated" else "net3")
    run = bootsh(pv_only.argv("--twins", policy, "-c", "ifstat --all", "-c", "twins"), env)
    assert run.status == 0
    assert run.err == (REFUSED_LINE if how.refusal else "")
    twins_at = run.lines.index(f"Twin policy: {policy}")
    assert run.lines[:twins_at] == every

    summary0 = {
        "hide-emulated": "no confirmed twin",
        "label": "no confirmed twin",
        "both": SUMMARY["both"],
        "hide-netfront": "no confirmed twin",
        "unplug": "no confirmed twin: nothing to unplug",
    }[policy]
    possible_action = [] if policy == "both" else [f"    label {rtl}: possible twin of net0"]
    if how.hide == "emulated":
        action1 = [f"    hide {e1000} (hidden): {how.hidden_text} net1"]
    elif how.hide == "netfront":
        action1 = [f"    hide netfront vif/1 (hidden): {how.hidden_text} net2"]
    else:
        action1 = ["    label net3: emulated twin of net1"] if how.labels else []
    assert run.lines[twins_at:] == [
        f"Twin policy: {policy}",
        PLATFORM,
        "",
        f"{PV_A}: netfront vif/0 (net0)",
        f"  {RTL} ({rtl}): possible twin",
        backend_pv_only("netfront vif/0"),
        XEN_PLATFORM,
        qemu_subsystem(RTL),
        mac_match(RTL, "netfront vif/0", PV_A),
        f"  decision: {summary0} (policy {policy}, by {how.by})",
        *possible_action,
        "",
        f"{PV_B}: netfront vif/1 ({vif1})",
        f"  {e1000} ({e1k}): twin",
        backend_ioemu("netfront vif/1"),
        XEN_PLATFORM,
        qemu_subsystem(e1000),
        mac_match(e1000, "netfront vif/1", PV_B),
        f"  decision: {how.summary} (policy {policy}, by {how.by})",
        *action1,
    ]


# -- malformed vifs next to good ones -----------------------------------------------------------

BAD = {n: mac_of(0x28, n) for n in range(5)}
BAD_MAC = "00:16:3e:zz:00:01"
PROBLEMS = {
    1: f"invalid MAC '{BAD_MAC}'",
    2: "state 'connected' is not a XenbusState number",
    3: "no backend path",
}


@pytest.fixture(scope="module")
def malformed(xsd: Xenstored, tmp_path_factory: pytest.TempPathFactory) -> Guest:
    """vifs 0 and 4 are good (rtl8139 twins at 00:04.0 and 00:06.0); vif 1 has a garbage MAC,
    vif 2 a state that is no number (its e1000 at 00:05.0 is real enough), vif 3 no backend."""
    root = tmp_path_factory.mktemp("sysfs-bad")
    xen_hvm_guest(
        root,
        [
            Vif(0, BAD[0]),
            Vif(1, BAD[1], twin=False),
            Vif(2, BAD[2], model="e1000"),
            Vif(3, BAD[3], twin=False),
            Vif(4, BAD[4]),
        ],
    )
    populate(
        xsd,
        40,
        [
            VifSpec(0, BAD[0]),
            VifSpec(1, BAD_MAC),
            VifSpec(2, BAD[2], state="connected"),
            VifSpec(3, BAD[3], omit=("front/backend",)),
            VifSpec(4, BAD[4]),
        ],
    )
    return Guest(40, root, ())


def test_malformed_vifs_are_reported_once_and_never_named(
    malformed: Guest, env: dict[str, str]
) -> None:
    run = bootsh(
        malformed.argv(
            *script("ifstat", "ifstat --all", "twins", "set twins label", "ifstat", "ifstat net5")
        ),
        env,
    )
    # One line per bad vif, however many commands look at the NICs.
    assert run.err == (
        f"bootsh: netfront vif/1 is unusable: {PROBLEMS[1]}\n"
        f"bootsh: netfront vif/2 is unusable: {PROBLEMS[2]}\n"
        f"bootsh: netfront vif/3 is unusable: {PROBLEMS[3]}\n"
        "bootsh: -c:6: failed: ifstat net5\n"
    )
    assert run.status == 1  # the last line asks for a name no NIC has
    hide = hidden("emulated twin of", "net0", "hide-emulated")
    hide4 = hidden("emulated twin of", "net1", "hide-emulated")
    shown = [
        *block("net0", BAD[0], "netfront", "vif/0"),
        *block("net1", BAD[4], "netfront", "vif/4"),
        # The emulated NIC of the unusable vif 2 is grouped with nothing: shown, as it is.
        *block("net2", BAD[2], "e1000", "0000:00:05.0"),
    ]
    every = [
        *block("net0", BAD[0], "netfront", "vif/0"),
        *block("net1", BAD[4], "netfront", "vif/4"),
        *block(None, BAD[0], "rtl8139", "0000:00:04.0", hide),
        *block("net2", BAD[2], "e1000", "0000:00:05.0"),
        *block(None, BAD[4], "rtl8139", "0000:00:06.0", hide4),
        "(unusable): - using netfront on vif/1",
        f"  [Unusable: {PROBLEMS[1]}]",
        f"(unusable): {BAD[2]} using netfront on vif/2",
        f"  [Unusable: {PROBLEMS[2]}]",
        f"(unusable): {BAD[3]} using netfront on vif/3",
        f"  [Unusable: {PROBLEMS[3]}]",
    ]
    twins = [
        "Twin policy: hide-emulated",
        PLATFORM,
        "",
        f"{BAD[0]}: netfront vif/0 (net0)",
        f"  {RTL} (hidden): twin",
        backend_ioemu("netfront vif/0"),
        XEN_PLATFORM,
        qemu_subsystem(RTL),
        mac_match(RTL, "netfront vif/0", BAD[0]),
        "  decision: hid 1 emulated twin(s) (policy hide-emulated, by policies)",
        f"    hide {RTL} (hidden): emulated twin of net0",
        "",
        f"{BAD[4]}: netfront vif/4 (net1)",
        "  rtl8139 0000:00:06.0 (hidden): twin",
        backend_ioemu("netfront vif/4"),
        XEN_PLATFORM,
        qemu_subsystem("rtl8139 0000:00:06.0"),
        mac_match("rtl8139 0000:00:06.0", "netfront vif/4", BAD[4]),
        "  decision: hid 1 emulated twin(s) (policy hide-emulated, by policies)",
        "    hide rtl8139 0000:00:06.0 (hidden): emulated twin of net1",
    ]
    labelled = [
        *block("net0", BAD[0], "netfront", "vif/0"),
        *block("net1", BAD[4], "netfront", "vif/4"),
        *block("net2", BAD[0], "rtl8139", "0000:00:04.0", label("emulated twin of", "net0")),
        *block("net3", BAD[2], "e1000", "0000:00:05.0"),
        *block("net4", BAD[4], "rtl8139", "0000:00:06.0", label("emulated twin of", "net1")),
    ]
    assert run.lines == [*shown, *every, *twins, *labelled, '"net5": no such network device']


# -- where the policy comes from -----------------------------------------------------------------


def policy_in_effect(guest: Guest, env: Mapping[str, str], *argv: str) -> str:
    run = bootsh(guest.argv(*argv, "-c", "ifstat", "-c", "twins"), env)
    assert (run.status, run.err) == (0, "")
    twins_at = next(i for i, line in enumerate(run.lines) if line.startswith("Twin policy: "))
    policy = run.lines[twins_at].removeprefix("Twin policy: ")
    # The naming is the one that policy gives, not just the name in the report.
    assert run.lines[:twins_at] == expected_ifstat(guest.twins, policy)
    return policy


def test_policy_precedence_cli_env_config_default(
    guests: dict[int, Guest], env: dict[str, str], tmp_path: Path
) -> None:
    guest = guests[4]
    config = tmp_path / "bootsh.toml"
    config.write_text('twins = "both"\n')
    with_config = {**env, "BOOTSH_CONFIG": str(config)}
    with_env = {**with_config, "BOOTSH_TWINS": "hide-netfront"}
    assert policy_in_effect(guest, env) == "hide-emulated"
    assert policy_in_effect(guest, with_config) == "both"
    assert policy_in_effect(guest, with_env) == "hide-netfront"
    assert policy_in_effect(guest, with_env, "--twins", "label") == "label"
    assert policy_in_effect(guest, {**env, "BOOTSH_TWINS": "label"}) == "label"
    # --config beats $BOOTSH_CONFIG (the first file found is read, not merged).
    other = tmp_path / "other.toml"
    other.write_text('twins = "hide-netfront"\n')
    assert policy_in_effect(guest, with_config, "--config", str(other)) == "hide-netfront"


def test_config_file_names_the_guest_too(
    guests: dict[int, Guest], env: dict[str, str], tmp_path: Path
) -> None:
    """A config file alone (no --xen-domid, no --twins) picks the guest and the policy."""
    guest = guests[1]
    config = tmp_path / "bootsh.toml"
    config.write_text(f'twins = "label"\nxen-domid = {guest.domid}\nxenstore-timeout = 2.5\n')
    run = bootsh(
        ["--sysfs-root", str(guest.sysfs), "-c", "ifstat"], {**env, "BOOTSH_CONFIG": str(config)}
    )
    assert (run.status, run.err) == (0, "")
    assert run.lines == expected_ifstat(guest.twins, "label")


def test_set_twins_in_the_script_changes_the_naming_at_once(
    guests: dict[int, Guest], env: dict[str, str]
) -> None:
    guest = guests[4]
    run = bootsh(
        guest.argv(
            "--twins",
            "both",
            *script(
                "ifstat",
                "set twins label",
                "ifstat",
                "twins",
                "set twins hide-netfront",
                "ifstat",
                "clear twins",
                "ifstat",
            ),
        ),
        {**env, "BOOTSH_TWINS": "hide-emulated"},
    )
    assert (run.status, run.err) == (0, "")
    assert run.lines == [
        *expected_ifstat(guest.twins, "both"),  # --twins beats BOOTSH_TWINS
        *expected_ifstat(guest.twins, "label"),  # the setting beats --twins
        *expected_twins(guest.twins, "label"),
        *expected_ifstat(guest.twins, "hide-netfront"),
        *expected_ifstat(guest.twins, "both"),  # cleared: back to the command line's choice
    ]


def test_several_guests_and_no_domid_is_one_clear_line(
    guests: dict[int, Guest], env: dict[str, str]
) -> None:
    """The module's daemon holds several guests: bootsh never guesses which one it is."""
    guest = guests[1]
    run = bootsh(["--sysfs-root", str(guest.sysfs), "-c", "ifstat"], env)
    assert run.status == 0
    assert re.fullmatch(
        r"bootsh: netfront: xenstored socket \S+ holds vifs of several guests"
        r" \(domains [0-9]+(, [0-9]+)+\); choose one with --xen-domid\n",
        run.err,
    ), run.err
    t = guest.twins[0]
    assert run.lines == block("net0", t.mac, "rtl8139", t.address)


# -- plugins switched off -----------------------------------------------------------------------


def test_without_netfront_only_pci_nics_and_no_groups(
    guests: dict[int, Guest], env: dict[str, str]
) -> None:
    guest = guests[4]
    run = bootsh(guest.argv("--no-plugin", "netfront", "-c", "ifstat --all", "-c", "twins"), env)
    assert (run.status, run.err) == (0, "")
    pcis = sorted(guest.twins, key=lambda t: t.address)
    listed = [
        line for n, t in enumerate(pcis) for line in block(f"net{n}", t.mac, t.model, t.address)
    ]
    assert run.lines == [*listed, "Twin policy: hide-emulated", PLATFORM, NO_GROUPS]


def test_without_pci_nics_only_vifs(guests: dict[int, Guest], env: dict[str, str]) -> None:
    guest = guests[4]
    run = bootsh(guest.argv("--no-plugin", "pci-nics", "-c", "ifstat --all", "-c", "twins"), env)
    assert (run.status, run.err) == (0, "")
    listed = [
        line
        for t in guest.twins
        for line in block(f"net{t.vif}", t.mac, "netfront", f"vif/{t.vif}")
    ]
    assert run.lines == [
        *listed,
        "Twin policy: hide-emulated",
        "Xen platform device: none",
        NO_GROUPS,
    ]


def test_without_policies_all_shown_and_nobody_decided(
    guests: dict[int, Guest], env: dict[str, str]
) -> None:
    guest = guests[4]
    run = bootsh(guest.argv("--no-plugin", "policies", "-c", "ifstat --all"), env)
    assert (run.status, run.err) == (0, "")
    assert run.lines == expected_ifstat(guest.twins, "nobody", all_=True)
    assert run.lines == expected_ifstat(guest.twins, "both", all_=True)
    run = bootsh(guest.argv("--no-plugin", "policies", "-c", "twins"), env)
    assert (run.status, run.err) == (0, "")
    assert run.lines == expected_twins(guest.twins, "nobody")
    assert run.out.count(f"  decision: {NOBODY} (policy hide-emulated, by nobody)\n") == 4
    # A policy only the disabled plugin knows is an error that names what is known.
    run = bootsh(guest.argv("--no-plugin", "policies", "--twins", "label", "-c", "ifstat"), env)
    assert (run.status, run.out) == (2, "")
    assert run.err == "bootsh: unknown twin policy 'label' (known: hide-emulated, unplug)\n"


# -- XenStore dies ---------------------------------------------------------------------------------

DEAD = [mac_of(0x32, 0), mac_of(0x32, 1)]


class _OnRead(io.StringIO):
    """Standard input that does something to the daemon when bootsh reads the script: the
    session (plugins, shell) is up by then, and nothing has been probed yet."""

    def __init__(self, text: str, action: Callable[[], object]) -> None:
        super().__init__(text)
        self.action = action
        self.read_at: float | None = None

    def read(self, size: int | None = -1, /) -> str:
        # bootsh reads standard input in blocks (a bounded read): act on the first one only.
        if self.read_at is None:
            self.action()
            self.read_at = time.perf_counter()
        return super().read(size)


@pytest.fixture
def dying(stub: Path, tmp_path: Path) -> Iterator[tuple[Xenstored, Guest]]:
    """A daemon of this test's own, with one guest (two vifs with twins)."""
    xen_hvm_guest(tmp_path, [Vif(0, DEAD[0]), Vif(1, DEAD[1], model="e1000")])
    with Xenstored(stub=stub) as daemon:
        populate(daemon, 50, [VifSpec(0, DEAD[0]), VifSpec(1, DEAD[1])])
        yield daemon, Guest(50, tmp_path, ())


def dead_store_run(daemon: Xenstored, guest: Guest, action: Callable[[], object]) -> Run:
    """The script ``echo before; ifstat; twins; echo after`` on stdin, ``action`` done to the
    daemon as the script is read. ``Run.seconds`` counts from then: the script's own time."""
    env = {"HOME": "/nonexistent", "XENSTORED_PATH": str(daemon.socket_path)}
    argv = ["--sysfs-root", str(guest.sysfs), "--xen-domid", "50", "--xenstore-timeout", "0.5"]
    stdin = _OnRead("echo before\nifstat\ntwins\necho after\n", action)
    run = bootsh(argv, env, stdin=stdin)
    ended = time.perf_counter()
    assert stdin.read_at is not None
    return replace(run, seconds=ended - stdin.read_at)


def pci_only_output() -> list[str]:
    return [
        "before",
        *block("net0", DEAD[0], "rtl8139", "0000:00:04.0"),
        *block("net1", DEAD[1], "e1000", "0000:00:05.0"),
        "Twin policy: hide-emulated",
        PLATFORM,
        NO_GROUPS,
        "after",
    ]


def test_xenstore_killed_before_ifstat(dying: tuple[Xenstored, Guest]) -> None:
    daemon, guest = dying
    assert daemon.ping()
    run = dead_store_run(daemon, guest, daemon.kill)
    assert not daemon.running
    assert run.status == 0
    assert run.lines == pci_only_output()
    assert run.err == (
        f"bootsh: netfront: cannot connect to xenstored socket {daemon.socket_path}:"
        " Connection refused\n"
    )
    assert run.seconds < 0.5


def test_xenstore_hung_gives_one_line_after_the_timeout(dying: tuple[Xenstored, Guest]) -> None:
    daemon, guest = dying
    run = dead_store_run(daemon, guest, daemon.pause)
    assert run.status == 0
    assert run.lines == pci_only_output()
    assert run.err == (
        "bootsh: netfront: XenStore did not answer within 0.5 s while listing"
        f" /local/domain/50/device/vif (xenstored socket {daemon.socket_path})\n"
    )
    assert 0.5 <= run.seconds < 2.0


def test_xenstore_killed_with_a_request_in_flight(dying: tuple[Xenstored, Guest]) -> None:
    """Stopped, then killed 0.2 s later while bootsh waits for its first answer."""
    daemon, guest = dying
    timer = threading.Timer(0.2, daemon.kill)

    def stop_then_kill() -> None:
        daemon.pause()
        timer.start()

    try:
        run = dead_store_run(daemon, guest, stop_then_kill)
    finally:
        timer.join()
    assert run.status == 0
    assert run.lines == pci_only_output()
    assert re.fullmatch(
        "bootsh: netfront: XenStore connection lost while listing /local/domain/50/device/vif"
        rf" \(xenstored socket {re.escape(str(daemon.socket_path))}\): [^\n]+\n",
        run.err,
    ), run.err
    assert run.seconds < 0.5


# -- through a real process ---------------------------------------------------------------------


def test_python_dash_m_bootsh_against_the_live_daemon(
    guests: dict[int, Guest], xsd: Xenstored, tmp_path: Path
) -> None:
    guest = guests[4]
    env = process_env(tmp_path, XENSTORED_PATH=str(xsd.socket_path), BOOTSH_TWINS="label")
    run = bootsh_process(guest.argv("-c", "ifstat --all", "-c", "twins"), env)
    assert (run.status, run.err) == (0, "")
    assert run.lines == [
        *expected_ifstat(guest.twins, "label", all_=True),
        *expected_twins(guest.twins, "label"),
    ]


# -- the built-in example machine, as a new user runs it ----------------------------------------

EXAMPLE_TWINS = (
    Twin(0, "00:16:3e:5f:48:e4", "rtl8139", "0000:00:04.0"),
    Twin(1, "00:16:3e:1a:2b:3c", "e1000", "0000:00:05.0"),
)


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """The repository as the working directory, and a user with no config file."""
    monkeypatch.chdir(REPO)
    return {"HOME": str(tmp_path), "PATH": os.environ.get("PATH", "")}


def test_example_machine_as_in_the_readme(tmp_path: Path) -> None:
    run = bootsh_process(["--machine", EXAMPLE, "-c", "ifstat"], process_env(tmp_path))
    assert (run.status, run.err) == (0, "")
    # The README's first example, character for character.
    assert run.out == (
        "net0: 00:16:3e:5f:48:e4 using netfront on vif/0 (Ethernet) [closed]\n"
        "  [Link:up, TX:0 TXE:0 RX:0 RXE:0]\n"
        "net1: 00:16:3e:1a:2b:3c using netfront on vif/1 (Ethernet) [closed]\n"
        "  [Link:up, TX:0 TXE:0 RX:0 RXE:0]\n"
    )


@pytest.mark.parametrize("policy", [*POLICIES, "unplug"])
def test_example_machine_each_policy(in_repo: dict[str, str], policy: str) -> None:
    ifstat = bootsh(["--machine", EXAMPLE, "--twins", policy, "-c", "ifstat"], in_repo)
    every = bootsh(["--machine", EXAMPLE, "--twins", policy, "-c", "ifstat --all"], in_repo)
    twins = bootsh(["--machine", EXAMPLE, "--twins", policy, "-c", "twins"], in_repo)
    for run in (ifstat, every, twins):
        assert run.status == 0
        # unplug: one clear line per session, whatever the number of twin groups.
        assert run.err == (REFUSED_LINE if policy == "unplug" else "")
    assert ifstat.lines == expected_ifstat(EXAMPLE_TWINS, policy)
    assert every.lines == expected_ifstat(EXAMPLE_TWINS, policy, all_=True)
    assert twins.lines == expected_twins(EXAMPLE_TWINS, policy)
    if policy == "unplug":
        # Refused, the twins are hidden exactly as hide-emulated hides them.
        assert ifstat.lines == expected_ifstat(EXAMPLE_TWINS, "hide-emulated")


def test_example_machine_unplug_even_allowed_is_refused_for_a_picture(
    in_repo: dict[str, str],
) -> None:
    """--allow-unplug as root still touches nothing: the machine is a picture, not this one."""
    run = bootsh(
        ["--machine", EXAMPLE, "--twins", "unplug", "--allow-unplug", "-c", "ifstat"], in_repo
    )
    assert run.status == 0
    reason = (
        "the NICs were read from examples/machines/xen-hvm/sysfs, not this machine's /sys"
        if os.geteuid() == 0
        else f"not running as root (effective uid {os.geteuid()})"
    )
    assert run.err == (
        f"bootsh: unplug refused: {reason}; emulated twins are hidden, not unplugged\n"
    )
    assert run.lines == expected_ifstat(EXAMPLE_TWINS, "hide-emulated")
