"""NIC discovery is linear in the number of NICs (issue 14, item 14), and NICs whose MAC no
card can have are unusable whatever driver reports them.

Linear, without a stopwatch: the test counts the work. It makes reads of ``Block.name`` (the
settings store's children) and ``Nic.mac`` (the twin grouping) count, then runs ``ifstat
--all`` and ``twins`` on N vifs with N emulated twins reported by an inline driver plugin
through the real plugin host, the built-in policies and the real shell. The list scans
made that N² reads (2.3 million for N = 1500); a bound of a few dozen per NIC holds only when
every step is linear. bench/nic_discovery.py measures the times.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence

import pytest

from bootsh import hookimpl
from bootsh.config import Choices, merge
from bootsh.context import Context
from bootsh.lang import settings as settings_module
from bootsh.nics import nic as nic_module
from bootsh.nics.nic import Nic, mac_problem, probe_order
from bootsh.nics.twins import Evidence
from bootsh.plugins import make_plugin_manager
from bootsh.shell import Shell

N = 1500
#: Only the inline driver reports NICs (the built-in ones would read this machine).
OTHER_DRIVERS = ("netfront", "pci_nics", "af_packet")


def mac(i: int) -> str:
    return f"00:16:3e:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}"


class Twins:
    """N vifs and N emulated NICs with their MACs, and evidence that makes them twins."""

    def __init__(self, n: int) -> None:
        self.nics = [
            *(Nic("netfront", f"vif/{i}", mac(i), "xen", paravirtual=True, order=10)
              for i in range(n)),
            *(Nic("e1000", f"0000:{(i >> 8) + 1:02x}:{(i >> 3) & 31:02x}.{i & 7}", mac(i), "pci",
                  order=50) for i in range(n)),
        ]  # fmt: skip

    @hookimpl
    def bootsh_probe_nics(self) -> Sequence[Nic]:
        return self.nics

    @hookimpl
    def bootsh_twin_evidence(self, paravirtual: Nic, other: Nic) -> Sequence[Evidence]:
        return (
            Evidence("backend-type", True, "type = vif_ioemu"),
            Evidence("xen-platform", True, "platform device"),
        )


class Counted:
    """A data descriptor that counts reads of one attribute of a class."""

    def __init__(self, attribute: str) -> None:
        self.slot = f"_counted_{attribute}"
        self.reads = 0

    def __get__(self, obj: object, owner: type | None = None) -> object:
        if obj is None:
            return self
        self.reads += 1
        return obj.__dict__[self.slot]

    def __set__(self, obj: object, value: object) -> None:
        obj.__dict__[self.slot] = value


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Counted, Counted]]:
    name, mac_reads = Counted("name"), Counted("mac")
    monkeypatch.setattr(settings_module.Block, "name", name, raising=False)
    monkeypatch.setattr(nic_module.Nic, "mac", mac_reads, raising=False)
    yield name, mac_reads


def test_discovery_and_naming_do_linear_work(counted: tuple[Counted, Counted]) -> None:
    name_reads, mac_reads = counted
    host = make_plugin_manager(OTHER_DRIVERS, lambda line: None, extra=[("scale", Twins(N))])
    config = merge(Choices(), {})
    out, err = io.StringIO(), io.StringIO()
    shell = Shell(host, Context(config, stderr=err), out=out, err=err)
    with shell:
        assert shell.run_line("ifstat --all") == 0
        assert shell.run_line("twins") == 0
        assert shell.run_line(f"echo ${{net{N - 1}/mac}}") == 0
    lines = out.getvalue().splitlines()
    assert lines[-1] == mac(N - 1)
    assert f"  [Hidden: emulated twin of net{N - 1} (policy hide-emulated, by policies)]" in lines
    assert name_reads.reads < 40 * N, name_reads.reads
    assert mac_reads.reads < 40 * N, mac_reads.reads


def test_probe_order_sorts_huge_and_non_ascii_numbers_without_int() -> None:
    huge = "9" * 5000
    nics = [
        Nic("netfront", f"vif/{huge}", mac(1), "xen"),
        Nic("netfront", "vif/10", mac(2), "xen"),
        Nic("netfront", "vif/9", mac(3), "xen"),
        Nic("af_packet", "eth\u00b2", mac(4), "tap"),  # a digit str.isdigit() takes, int() not
    ]
    assert [n.location for n in sorted(nics, key=probe_order)][:3] == [
        "eth\u00b2",
        "vif/9",
        "vif/10",
    ]


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("ff:ff:ff:ff:ff:ff", "its MAC ff:ff:ff:ff:ff:ff is the broadcast address"),
        ("01:00:5e:00:00:01", "its MAC 01:00:5e:00:00:01 is a multicast address"),
        ("33:33:00:00:00:01", "its MAC 33:33:00:00:00:01 is a multicast address"),
        ("00:00:00:00:00:00", "its MAC 00:00:00:00:00:00 is all zeros"),
    ],
)
def test_a_vif_with_a_mac_no_card_can_have_is_unusable(address: str, why: str) -> None:
    assert mac_problem(address) == why
    host = make_plugin_manager(OTHER_DRIVERS, lambda line: None, extra=[("scale", Twins(0))])
    plugin = host.registry.get_plugin("scale")
    assert isinstance(plugin, Twins)
    plugin.nics = [
        Nic("netfront", "vif/0", address, "xen", paravirtual=True, order=10),
        Nic("netfront", "vif/1", mac(7), "xen", paravirtual=True, order=10),
    ]
    config = merge(Choices(), {})
    out, err = io.StringIO(), io.StringIO()
    shell = Shell(host, Context(config, stderr=err), out=out, err=err)
    with shell:
        assert shell.run_line("ifstat net0") == 0
    # vif/1 is net0: vif/0 got no name and is said to be unusable, with the reason.
    assert out.getvalue().startswith(f"net0: {mac(7)} using netfront on vif/1")
    assert f"bootsh: netfront vif/0 is unusable: {why}" in err.getvalue().splitlines()
    assert mac_problem(mac(7)) is None and mac_problem("02:00:00:00:00:01") is None
