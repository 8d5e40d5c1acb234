"""bootsh's hand-written rtnetlink against the real kernel, read back with iproute2.

Each test gets a network namespace of its own holding a dummy-free veth pair; the calls run in
a thread that joined it (``bootsh.lab.in_netns``), and ``ip -n NS -j`` says what the kernel
made of them: VLAN links with their parent and id, IPv6 addresses without DAD, IPv6 default
routes with bootsh's metric, and their removal.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from bootsh.lab import in_netns
from bootsh.net import netlink


def ip(ns: str, *args: str) -> Any:
    proc = subprocess.run(
        ["ip", "-n", ns, "-j", *args], capture_output=True, text=True, timeout=10, check=True
    )
    return json.loads(proc.stdout or "[]")


@pytest.fixture
def ns() -> Iterator[str]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 to make a network namespace")
    name = f"bootsh-nltest-{os.getpid()}-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=10)
    try:
        run = ["ip", "-n", name]
        subprocess.run([*run, "link", "add", "t0", "type", "veth", "peer", "name", "t1"],
                       check=True, timeout=10)  # fmt: skip
        subprocess.run([*run, "link", "set", "t0", "up"], check=True, timeout=10)
        subprocess.run([*run, "link", "set", "t1", "up"], check=True, timeout=10)
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False, timeout=10)


def test_vlan_created_listed_and_deleted(ns: str) -> None:
    try:
        in_netns(ns, lambda: netlink.create_vlan("t0", "t0.42", 42))
    except netlink.NetlinkError as exc:
        # A kernel built without 802.1Q (CONFIG_VLAN_8021Q, as this project's CI machine's):
        # the refusal is the kernel's EOPNOTSUPP, said with what was asked.
        assert exc.errno == 95, exc
        assert str(exc) == "creating VLAN 42 on t0 as t0.42: Operation not supported"
        assert not netlink.vlan_supported_here(), "EOPNOTSUPP from a kernel with 802.1Q"
        return
    (link,) = ip(ns, "-d", "link", "show", "t0.42")
    assert link["linkinfo"]["info_kind"] == "vlan"
    assert link["linkinfo"]["info_data"]["id"] == 42
    assert link["link"] == "t0"
    assert "UP" in link["flags"]
    listed = {x.name: x for x in in_netns(ns, netlink.links)}
    assert listed["t0.42"].vlan == 42 and listed["t0.42"].kind == "vlan"
    assert listed["t0.42"].parent == listed["t0"].index
    assert listed["t0"].vlan is None
    with pytest.raises(netlink.NetlinkError) as exists:
        in_netns(ns, lambda: netlink.create_vlan("t0", "t0.42", 42))
    assert exists.value.errno == 17  # EEXIST, with what was asked
    assert "creating VLAN 42 on t0 as t0.42" in str(exists.value)
    in_netns(ns, lambda: netlink.delete_link("t0.42"))
    in_netns(ns, lambda: netlink.delete_link("t0.42"))  # already gone: fine
    assert "t0.42" not in {x["ifname"] for x in ip(ns, "link")}


def test_vlan_refused_by_the_kernel_is_an_error_naming_it(ns: str) -> None:
    with pytest.raises(netlink.NetlinkError) as bad:
        in_netns(ns, lambda: netlink.create_vlan("t0", "t0.x", 4095))
    # ERANGE: the kernel's own check of the id; EOPNOTSUPP without 802.1Q at all.
    assert bad.value.errno in (34, 95)
    assert "VLAN 4095 on t0" in str(bad.value)


def addresses(ns: str, ifname: str) -> set[tuple[str, int]]:
    (entry,) = ip(ns, "-6", "addr", "show", "dev", ifname)
    return {(a["local"], a["prefixlen"]) for a in entry["addr_info"] if a["scope"] != "link"}


def test_ipv6_addresses_and_default_route_applied_replaced_removed(ns: str) -> None:
    first = netlink.Ipv6Config((("fd77::5054:ff:fe12:3456", 64),), "fe80::1")
    in_netns(ns, lambda: netlink.apply6("t0", first))
    assert addresses(ns, "t0") == {("fd77::5054:ff:fe12:3456", 64)}
    (entry,) = ip(ns, "-6", "addr", "show", "dev", "t0")
    flags = next(a for a in entry["addr_info"] if a["local"].startswith("fd77"))
    assert not flags.get("tentative")  # usable at once (no DAD), as iPXE's
    routes = ip(ns, "-6", "route", "show", "default")
    assert [(r["gateway"], r["dev"], r["protocol"]) for r in routes] == [("fe80::1", "t0", "dhcp")]
    index = in_netns(ns, lambda: __import__("socket").if_nametoindex("t0"))
    assert routes[0]["metric"] == netlink.ROUTE_METRIC_BASE + index
    second = netlink.Ipv6Config((("fd77::100", 128),), None)
    in_netns(ns, lambda: netlink.apply6("t0", second, first))
    assert addresses(ns, "t0") == {("fd77::100", 128)}
    assert ip(ns, "-6", "route", "show", "default") == []
    got = in_netns(ns, lambda: netlink.Rtnetlink().ipv6_addresses(index, "x"))
    assert ("fd77::100", 128, 0) in got
    in_netns(ns, lambda: netlink.remove6("t0", second))
    in_netns(ns, lambda: netlink.remove6("t0", second))  # twice: already gone is fine
    assert addresses(ns, "t0") == set()


def test_ipv4_apply_unchanged(ns: str) -> None:
    config = netlink.Ipv4Config("10.99.0.5", 24, "10.99.0.1")
    in_netns(ns, lambda: netlink.apply("t0", config))
    (entry,) = ip(ns, "-4", "addr", "show", "dev", "t0")
    assert [(a["local"], a["prefixlen"]) for a in entry["addr_info"]] == [("10.99.0.5", 24)]
    assert [r["gateway"] for r in ip(ns, "-4", "route", "show", "default")] == ["10.99.0.1"]
