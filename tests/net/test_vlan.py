"""``vcreate`` / ``vdestroy`` in the lab: iPXE's syntax, errors and names.

The VLAN link is made in the kernel through rtnetlink. A kernel without 802.1Q support (this
project's CI machine's: CONFIG_VLAN_8021Q is not set) refuses it, and that refusal is checked
to be iPXE's error line with the kernel's reason on stderr; with 802.1Q the VLAN netdev is
checked end to end (ifstat, the kernel's link, vdestroy).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bootsh.lab import Lab
from bootsh.net.netlink import vlan_supported_here
from tests.helpers import bootsh, started

MAC = "02:00:00:00:42:01"


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with started(Lab(client_mac=MAC, client_ipv6=False, tftp=False, http=False)) as the_lab:
        yield the_lab


def test_vcreate_makes_net0_42_or_says_why_the_kernel_cannot(lab: Lab) -> None:
    proc = bootsh(lab, "vcreate --tag 42 net0 || echo failed", "ifstat")
    out = proc.stdout.splitlines()
    if not vlan_supported_here():
        assert out[:2] == [
            "Could not create VLAN device: Operation not supported (https://ipxe.org/3c30605f)",
            "failed",
        ]
        assert "creating VLAN 42 on veth-cli as veth-cli.42: Operation not supported" in (
            proc.stderr
        )
        assert "CONFIG_VLAN_8021Q" in proc.stderr
        assert out[2].startswith("net0: ") and len(out) == 4  # no net0-42 was registered
        return
    assert out[0].startswith("net0: ")
    assert out[2] == f"net0-42: {MAC} using af_packet on veth-cli (Ethernet) [closed]"
    proc = bootsh(lab, "vcreate -t 42 net0", "vdestroy net0-42", "ifstat net0-42 || echo gone")
    assert proc.stdout.splitlines()[-2:] == ['"net0-42": no such network device', "gone"]


def test_vlan_errors_are_ipxes(lab: Lab) -> None:
    proc = bootsh(
        lab,
        "vcreate -t 4095 net0 || echo ${errno}",
        "vcreate -t 1 -p 8 net0 || echo ${errno}",
        "vcreate -t 1 net9 || echo ${errno}",
        "vdestroy net0 || echo ${errno}",
        "vcreate || echo ${errno}",
        "vdestroy a b || echo ${errno}",
    )
    assert proc.stdout.splitlines() == [
        "Could not create VLAN device: Invalid argument (https://ipxe.org/1c306016)",
        "0x1c306016",
        "Could not create VLAN device: Invalid argument (https://ipxe.org/1c306016)",
        "0x1c306016",
        '"net9": no such network device',
        "0x2c162013",
        "Could not destroy VLAN device: Error 0x3d306019 (https://ipxe.org/3d306019)",
        "0x3d306019",
        "Usage:",
        "",
        "  vcreate [-t|--tag <tag>] [-p|--priority <priority>] <trunk interface>",
        "",
        "See https://ipxe.org/cmd/vcreate for further information",
        "0x46162022",
        "Usage:",
        "",
        "  vdestroy <VLAN interface>",
        "",
        "See https://ipxe.org/cmd/vdestroy for further information",
        "0x46162022",
    ]
