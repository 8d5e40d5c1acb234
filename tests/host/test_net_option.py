"""``--net`` checked when bootsh starts, and "no network devices" said with its reason
(issue 14, item 4): one line each, naming the forms that work; status 2 for a bad ``--net``."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bootsh.cli import main
from bootsh.hookspecs import hookimpl
from bootsh.nics.nic import Nic
from bootsh.plugins import make_plugin_manager
from bootsh.shell import Shell
from tests.helpers import MACHINE, make_shell

FORMS = "the forms are: --net af_packet,if=IFACE[,key=value...]"


@pytest.fixture
def sysfs(tmp_path: Path) -> Path:
    """A sysfs tree with two interfaces and no PCI bus."""
    for name, mac in (("eth0", "52:54:00:12:34:56"), ("lo", "00:00:00:00:00:00")):
        (tmp_path / "class" / "net" / name).mkdir(parents=True)
        (tmp_path / "class" / "net" / name / "address").write_text(mac + "\n")
    return tmp_path


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), env={}, stdin=io.StringIO(), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "eth0",
            f"unknown driver 'eth0' (eth0 is an interface: --net af_packet,if=eth0?); {FORMS}",
        ),
        ("foo,if=eth0", f"unknown driver 'foo'; {FORMS}"),
        ("af_packet", "no if=IFACE; the form is --net af_packet,if=IFACE[,key=value...]"),
        ("af_packet,if=", "no if=IFACE; the form is --net af_packet,if=IFACE[,key=value...]"),
        ("af_packet,if=eth9", "no interface 'eth9' here (interfaces: eth0, lo)"),
        ("af_packet,if=eth0,mtu", "'mtu' is not key=value (the form is DRIVER,key=value,...)"),
    ],
)
def test_a_bad_net_is_one_line_and_status_2(sysfs: Path, spec: str, message: str) -> None:
    status, out, err = run("--sysfs-root", str(sysfs), "--net", spec, "-c", "echo ran")
    assert (status, out) == (2, "")
    assert err == f"bootsh: --net {spec}: {message}\n"


def test_a_net_of_a_disabled_driver_plugin_is_refused(sysfs: Path) -> None:
    status, _, err = run(
        "--sysfs-root", str(sysfs), "--no-plugin", "af_packet", "--net", "af_packet,if=eth0"
    )
    assert status == 2
    assert err == (
        "bootsh: --net af_packet,if=eth0: unknown driver 'af_packet';"
        " the forms are: none (no plugin has one)\n"
    )


def test_a_good_net_runs(sysfs: Path) -> None:
    status, out, err = run("--sysfs-root", str(sysfs), "--net", "af_packet,if=eth0", "-c", "ifstat")
    assert (status, err) == (0, "")
    assert out.startswith("net0: 52:54:00:12:34:56 using af_packet on eth0 (Ethernet) [closed]")


def test_no_network_devices_says_who_was_asked_and_what_they_found(tmp_path: Path) -> None:
    dump = tmp_path / "xenstore.txt"
    dump.write_text("")
    options = ("--sysfs-root", str(tmp_path), "--xenstore-dump", str(dump))
    status, out, err = run(*options, "-c", "ifstat")
    assert (status, out) == (1, "")
    assert err.splitlines() == [
        "bootsh: no network devices: asked pci_nics, netfront, af_packet (no --net given);"
        " they found no NIC; -v says why each found none",
        "bootsh: -c:1: failed: ifstat",
    ]
    # With -v the drivers' reasons come first, and the line points at nothing more.
    status, out, err = run("-v", *options, "-c", "dhcp")
    lines = err.splitlines()
    assert lines[0].startswith("bootsh: pci_nics: no PCI NICs: no PCI bus in sysfs")
    assert lines[1].startswith("bootsh: netfront: no guest with vifs in XenStore dump")
    assert lines[2] == (
        "bootsh: no network devices: asked pci_nics, netfront, af_packet (no --net given);"
        " they found no NIC"
    )


class Unusable:
    """A driver that finds one NIC it cannot use."""

    @hookimpl
    def bootsh_probe_nics(self) -> list[Nic]:
        return [Nic("toy", "toy/0", None, "toy", problem="no MAC")]


def test_nics_found_but_none_a_netdev_are_counted() -> None:
    host = make_plugin_manager(entry_points=False, extra=[("toy", Unusable())])
    shell: Shell = make_shell(host)
    assert shell.explain_no_netdevs() == (
        "no network devices: asked toy; they found 1 NIC(s), none usable as a netdev:"
        " 1 unusable (ifstat --all lists them with the reason)"
    )


def test_no_driver_plugin_at_all() -> None:
    shell = make_shell(make_plugin_manager(entry_points=False))
    assert shell.explain_no_netdevs() == (
        "no network devices: no driver plugin is loaded (bootsh --plugins lists them)"
    )


def test_the_example_machine_is_unchanged() -> None:
    status, out, err = run("--machine", str(MACHINE), "-c", "ifstat")
    assert (status, err) == (0, "")
    assert out.count("using netfront") == 2
