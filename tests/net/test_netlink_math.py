"""netlink's address arithmetic (no ipaddress import on a lease's path) is ipaddress's."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from bootsh.net.netlink import Ipv4Config, _overlap

ADDRESSES = st.integers(0, 0xFFFFFFFF).map(lambda v: str(ipaddress.IPv4Address(v)))
PREFIXES = st.integers(0, 32)


@given(ADDRESSES, PREFIXES, ADDRESSES, PREFIXES)
def test_overlap_is_ipaddress_overlaps(a: str, ap: int, b: str, bp: int) -> None:
    one = ipaddress.IPv4Network(f"{a}/{ap}", strict=False)
    two = ipaddress.IPv4Network(f"{b}/{bp}", strict=False)
    assert _overlap(a, ap, b, bp) == one.overlaps(two)


@given(ADDRESSES, PREFIXES)
def test_broadcast_is_ipaddress_broadcast(address: str, prefix: int) -> None:
    network = ipaddress.IPv4Network(f"{address}/{prefix}", strict=False)
    assert Ipv4Config(address, prefix).broadcast == str(network.broadcast_address)
