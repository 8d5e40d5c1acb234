"""The seed's scenario end to end: a Xen HVM guest's netfront vif, found through the REAL
xenstored, gets a REAL lease from dnsmasq.

The guest is a sysfs tree shaped like a Linux HVM guest on qemu-xen (``tests/sysfs_tree.py``):
vif 0 on the xen bus, whose kernel interface (``vif-0/net/<ifname>``) is the lab's client
veth, and its emulated rtl8139 twin at 00:04.0 with the same MAC. XenStore holds the guest's
layout as libxl writes it (``tests/xenstored.py``), with that MAC; the lab gives veth-cli that
MAC too, so the interface bootsh opens is the vif's. bootsh runs in the lab's client namespace
and reads XenStore over the daemon's socket: netfront finds vif/0 (net0), the twin policy
hides the emulated NIC, and ``ifopen``, ``ifstat`` and ``dhcp net0`` work on the vif.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bootsh.lab import CLIENT_IF, Lab
from tests import helpers
from tests.helpers import ROOT, SEND_FRAMES, bootsh_argv, started
from tests.sysfs_tree import Vif, xen_hvm_guest
from tests.xenstored import VifSpec, Xenstored, populate_guest

DOMID = 9
MAC = "00:16:3e:09:00:00"
CLOSED = f"net0: {MAC} using netfront on vif/0 (Ethernet) [closed]"
OPEN = f"net0: {MAC} using netfront on vif/0 (Ethernet) [open]"
HIDDEN_TWIN = f"(hidden): {MAC} using rtl8139 on 0000:00:04.0 (Ethernet) [closed]"
IDLE = "  [Link:up, TX:0 TXE:0 RX:0 RXE:0]"


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    # The client kernel stays silent on the veth (no IPv6): the counters are bootsh's alone.
    with started(Lab(client_mac=MAC, client_ipv6=False, tftp=False, http=False)) as lab:
        yield lab


@pytest.fixture(scope="module")
def guest(xsd: Xenstored, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The guest's sysfs tree; its vif 0 is bound to the lab's veth-cli."""
    root = tmp_path_factory.mktemp("hvm-guest")
    xen_hvm_guest(root, [Vif(0, MAC, ifname=CLIENT_IF, twin_ifname="eth0")])
    with xsd.client() as client:
        populate_guest(client, DOMID, [VifSpec(0, MAC)])
    return root


def on_guest(guest: Path) -> list[str]:
    """bootsh's options for the guest: its sysfs tree and its domain in XenStore; no --net,
    netfront finds the vif."""
    return ["--sysfs-root", str(guest), "--xen-domid", str(DOMID), "--xenstore-timeout", "2"]


def bootsh(lab: Lab, xsd: Xenstored, guest: Path, *lines: str) -> subprocess.CompletedProcess[str]:
    empty = guest / "empty.toml"
    empty.write_text("")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("BOOTSH_", "XENSTORED_"))},
        "XENSTORED_PATH": str(xsd.socket_path),
        "BOOTSH_CONFIG": str(empty),
        "HOME": "/nonexistent",
    }
    return helpers.bootsh(lab, *lines, net=(), options=on_guest(guest), env=env)


def test_the_vif_is_net0_and_its_twin_is_hidden(lab: Lab, xsd: Xenstored, guest: Path) -> None:
    proc = bootsh(lab, xsd, guest, "ifstat --all", "show net0/linux-ifname", "show net0/chip")
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.splitlines() == [
        CLOSED,
        IDLE,
        HIDDEN_TWIN,
        IDLE,
        "  [Hidden: emulated twin of net0 (policy hide-emulated, by policies)]",
        "net0/linux-ifname:string = veth-cli",
        "net0/chip:string = netfront",
    ]


def test_ifopen_and_counters_on_the_vif(lab: Lab, xsd: Xenstored, guest: Path) -> None:
    """Three frames from the server reach the vif's socket; bootsh sent nothing."""
    proc = bootsh(
        lab,
        xsd,
        guest,
        "ifopen net0",
        "ifstat",
        "echo ${netX/ifname} ${net0/mac}",
    )
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.splitlines() == [OPEN, IDLE, f"net0 {MAC}"]
    # The same, with traffic arriving while the socket is open (read before ifstat polls).
    script = "ifopen net0 && echo opened && read go && ifstat net0"  # read waits for stdin
    argv = bootsh_argv(script, net=(), options=on_guest(guest))
    env = {
        **os.environ,
        "XENSTORED_PATH": str(xsd.socket_path),
        "BOOTSH_CONFIG": str(guest / "empty.toml"),
        "PYTHONUNBUFFERED": "1",  # "opened" must reach us before bootsh waits in read
    }
    child = subprocess.Popen(
        lab.client_argv(argv),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline() == "opened\n"
        lab.run_in_server(
            [sys.executable, "-c", SEND_FRAMES, lab.server_if], check=True, capture_output=True
        )
        out, err = child.communicate("go\n", timeout=30)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == 0, err
    assert out.splitlines() == [OPEN, "  [Link:up, TX:0 TXE:0 RX:3 RXE:0]"]


def test_dhcp_on_the_netfront_nic_gets_a_real_lease(lab: Lab, xsd: Xenstored, guest: Path) -> None:
    before = len(lab.dnsmasq_log())
    proc = bootsh(
        lab,
        xsd,
        guest,
        "dhcp net0",
        "route",
        "show net0.dhcp/ip",
        "show net0.dhcp/dns",
        "ping -c 1 10.77.0.1",
        "nslookup srv server",
        "show srv",
        "ifstat net0",
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert re.fullmatch(rf"Configuring \(net0 {MAC}\)\.+ ok", lines[0]), lines
    address = re.fullmatch(r"net0: (10\.77\.0\.\d+)/255\.255\.255\.0 gw 10\.77\.0\.1", lines[1])
    assert address, lines
    assert lines[2:] == [
        lines[2],  # the IPv6 link-local route iPXE lists for every open netdev
        f"net0.dhcp/ip:ipv4 = {address[1]}",
        "net0.dhcp/dns:ipv4 = 10.77.0.1",
        "64 bytes from 10.77.0.1: seq=1",
        "srv:ipv4 = 10.77.0.1",
        OPEN,
        lines[-1],
    ]
    assert lines[2].startswith("net0: fe80::216:3eff:fe09:0/64"), lines
    counters = re.fullmatch(r"  \[Link:up, TX:(\d+) TXE:0 RX:(\d+) RXE:0\]", lines[-1])
    assert counters and int(counters[1]) >= 4 and int(counters[2]) >= 4, lines[-1]
    # dnsmasq leased to the vif's MAC, the address bootsh reports.
    log = lab.dnsmasq_log()[before:]
    assert re.search(rf"DHCPACK\(\S+\) {re.escape(address[1])} {MAC}", log), log
    assert f"{address[1]}" in lab.leases() and MAC in lab.leases()
