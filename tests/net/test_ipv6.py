"""IPv6 as iPXE has it, against dnsmasq's router advertisements and DHCPv6 in the lab.

bootsh runs in the lab's client namespace on veth-cli; the lab's server side has IPv6 only
when asked (``Lab(ipv6=...)``), so these labs are the only ones where a router answers.
Expected lines are iPXE's (``usr/route_ipv6.c``, ``usr/ifmgmt.c``): the SLAAC address of the
MAC 02:00:00:00:66:01 in fd77::/64 is fd77::ff:fe00:6601, its link-local fe80::ff:fe00:6601.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from bootsh.lab import Lab
from bootsh.net import dhcpv6, ipv6, linklocal
from tests.helpers import bootsh, started

MAC = "02:00:00:00:66:01"
SLAAC = "fd77::ff:fe00:6601"
LINK = "fe80::ff:fe00:6601"
ROUTER = re.compile(r"fe80::[0-9a-f:]+")


def lab(tmp_path: Path, mode: str, ipv4: bool = True) -> Lab:
    (tmp_path / "boot.ipxe").write_text("#!ipxe\necho chained over IPv6\n")
    return started(Lab(tmp_path, client_mac=MAC, ipv6=mode, ipv4=ipv4))


def test_slaac_route_settings_ping_and_dns(tmp_path: Path) -> None:
    with lab(tmp_path, "slaac") as server:
        proc = bootsh(
            server, "route", "ifconf -c ipv6", "route", "show net0/ip6", "show net0.ndp.0/len6",
            "show net0.link/ip6", "ping -c 2 fd77::1", "set dns6 fd77::1",
            "nslookup a server.bootsh.test", "show a",
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    gw = ROUTER.search(out[2])
    assert gw, out
    assert out == [
        f"net0: {LINK}/64 (inaccessible)",  # every netdev has its link-local, open or not
        f"Configuring [ipv6] (net0 {MAC})... ok",
        f"net0: {SLAAC}/64 gw {gw[0]}",
        f"net0: {LINK}/64",
        f"net0.ndp.0/ip6:ipv6 = {SLAAC}",  # router discovery's block comes before link's
        "net0.ndp.0/len6:int8 = 64",
        f"net0.link/ip6:ipv6 = {LINK}",
        "64 bytes from fd77::1: seq=1",
        "64 bytes from fd77::1: seq=2",
        "a:ipv6 = fd77::1",  # asked AAAA first: the server is IPv6
    ]


def test_stateful_dhcpv6_with_ipv4_off_chains_over_http6(tmp_path: Path) -> None:
    with lab(tmp_path, "stateful", ipv4=False) as server:
        proc = bootsh(
            server, "ifconf -c ipv6", "route", "show net0.dhcpv6/ip6", "show dns6",
            "show filename", "chain ${filename}",
        )  # fmt: skip
        log = server.dnsmasq_log()
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    lease = re.fullmatch(r"net0\.dhcpv6/ip6:ipv6 = (fd77::1[0-9a-f]{2})", out[3])
    assert lease, out
    gw = ROUTER.search(out[1])
    assert gw, out
    assert out == [
        f"Configuring [ipv6] (net0 {MAC})... ok",
        # The /128 lease joins the advertised prefix's route, as iPXE merges them.
        f"net0: {lease[1]}/64 gw {gw[0]}",
        f"net0: {LINK}/64",
        out[3],
        "net0.dhcpv6/dns6:ipv6 = fd77::1",
        "net0.dhcpv6/filename:string = http://[fd77::1]/boot.ipxe",
        "http://[fd77::1]/boot.ipxe... ok",
        "chained over IPv6",
    ]
    # What an iPXE client sends: vendor class PXEClient with enterprise 343, user class iPXE.
    assert "DHCPSOLICIT" in log and "DHCPREQUEST" in log and "vendor class: 343" in log


def test_stateless_dhcpv6_gives_options_not_addresses(tmp_path: Path) -> None:
    with lab(tmp_path, "stateless") as server:
        proc = bootsh(
            server,
            "ifconf -c ipv6",
            "route",
            "show dns6",
            "isset ${net0.dhcpv6/ip6} || echo no lease",
        )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert out[0] == f"Configuring [ipv6] (net0 {MAC})... ok"
    assert out[1].startswith(f"net0: {SLAAC}/64 gw fe80::")
    assert out[2:] == [f"net0: {LINK}/64", "net0.dhcpv6/dns6:ipv6 = fd77::1", "no lease"]


def test_dhcp_waits_for_both_configurators_as_ipxe(tmp_path: Path) -> None:
    """``dhcp`` runs ipv6 and dhcp together and ends when both have: with IPv4 off the DHCPv4
    part gives up after iPXE's ~15 s, and the result is still ok (IPv6 succeeded)."""
    with lab(tmp_path, "slaac", ipv4=False) as server:
        started_at = time.monotonic()
        proc = bootsh(server, "dhcp", "route")
        took = time.monotonic() - started_at
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert re.fullmatch(rf"Configuring \(net0 {MAC}\)\.{{3}}\.{{10,20}} ok", out[0]), out
    assert out[1].startswith(f"net0: {SLAAC}/64 gw fe80::")
    assert took > 14  # the DHCPv4 timers ran out, as iPXE's do


def test_dhcp_without_a_router_waits_for_router_discovery_as_ipxe(tmp_path: Path) -> None:
    """The default lab (DHCPv4, no IPv6 router) with IPv6 in the client's kernel: ``dhcp`` runs
    iPXE's two configurators, gets the lease at once and still waits until router discovery
    gives up (3.875 s), then says ok because one configurator succeeded, as iPXE's ``ifconf``
    (usr/ifmgmt.c: it waits while any configuration is in progress): three dots, at 1, 2 and
    3 s, after the "..." (one more or less only if this machine stalls bootsh for long)."""
    with started(Lab(tmp_path, client_mac=MAC, tftp=False, http=False)) as server:
        started_at = time.monotonic()
        proc = bootsh(server, "dhcp", "route")
        took = time.monotonic() - started_at
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert re.fullmatch(rf"Configuring \(net0 {MAC}\)\.{{3}}\.{{2,4}} ok", out[0]), out
    assert re.fullmatch(r"net0: 10\.77\.0\.1\d\d/255\.255\.255\.0 gw 10\.77\.0\.1", out[1]), out
    assert out[2:] == [f"net0: {LINK}/64"]  # no router: only the link-local route
    assert took > ipv6.IPV6CONF_MIN_TIMEOUT * 31  # 3.875 s: the solicitation timer ran out
    assert "no IPv6 router answered" not in proc.stderr  # dhcp succeeded: nothing to explain


def test_no_router_fails_ipv6_after_ipxes_timers(tmp_path: Path) -> None:
    with started(Lab(tmp_path, client_mac=MAC, dhcp=False, tftp=False, dns=False)) as server:
        started_at = time.monotonic()
        proc = bootsh(server, "ifconf -c ipv6")
        took = time.monotonic() - started_at
    assert proc.returncode == 1
    assert proc.stdout == (
        f"Configuring [ipv6] (net0 {MAC})...... Connection timed out (https://ipxe.org/4c07606e)\n"
    )
    assert "no IPv6 router answered" in proc.stderr
    assert 3.8 < took < 30


def test_no_server_of_either_kind_says_both(tmp_path: Path) -> None:
    # A bare ifconf (autoboot's) runs DHCP and IPv6 together: with neither server there, the
    # reason names both (a missing DHCP server must not read as an IPv6 problem).
    with started(Lab(tmp_path, client_mac=MAC, dhcp=False, tftp=False, dns=False)) as server:
        proc = bootsh(server, "ifconf")
    assert proc.returncode == 1
    assert proc.stdout.startswith(f"Configuring (net0 {MAC})")
    assert "net0: no DHCP server and no IPv6 router answered" in proc.stderr


def test_ipv6_configurator_needs_the_kernels_ipv6(tmp_path: Path) -> None:
    with started(Lab(tmp_path, client_mac=MAC, client_ipv6=False, tftp=False)) as server:
        proc = bootsh(server, "ifconf -c ipv6 || echo failed", "dhcp")
    assert proc.stdout.splitlines() == [
        "Could not configure net0 via ipv6: Operation not supported (https://ipxe.org/3c08605f)",
        "failed",
        f"Configuring (net0 {MAC})... ok",  # plain dhcp: the dhcp configurator alone, no wait
    ]
    assert "the kernel does no IPv6 on veth-cli" in proc.stderr


# -- without a network ---------------------------------------------------------------------


def advert(flags: int = 0, lifetime: int = 600, prefix_flags: int = 0xC0) -> bytes:
    import struct

    mac = bytes.fromhex("020000000001")
    router = linklocal.link_local(mac)
    prefix = bytes([3, 4, 64, prefix_flags]) + struct.pack("!III", 3600, 1800, 0)
    prefix += bytes.fromhex("fd770000000000000000000000000000")
    icmp = struct.pack("!BBHBBHII", 134, 0, 0, 64, flags, lifetime, 0, 0) + prefix
    dst = bytes.fromhex("ff020000000000000000000000000001")
    icmp = icmp[:2] + struct.pack("!H", ipv6.checksum6(router, dst, 58, icmp)) + icmp[4:]
    return ipv6.ipv6_frame(mac, ipv6.multicast_mac(dst), router, dst, 58, icmp, 255)


def test_router_advert_parsing_checks_what_rfc_4861_asks() -> None:
    good = ipv6.parse_router_advert(advert(flags=0x80))
    assert good is not None and good.flags == 0x80 and good.lifetime == 600
    frame = bytearray(advert())
    frame[21] = 64  # hop limit not 255: not from the link
    assert ipv6.parse_router_advert(bytes(frame)) is None
    frame = bytearray(advert())
    frame[-1] ^= 1  # a bad checksum
    assert ipv6.parse_router_advert(bytes(frame)) is None
    for cut in range(0, len(advert()), 7):  # truncated anywhere: ignored, never raised
        assert ipv6.parse_router_advert(advert()[:cut]) is None


def test_ipv6conf_timers_are_ipxes() -> None:
    conf = ipv6.Ipv6Conf(bytes.fromhex("020000006601"), 0.0)
    sent = []
    now = 0.0
    while conf.rc is None:
        conf.tick(now)
        if conf.outbox:
            sent.append(now)
            conf.outbox.clear()
        now = conf.expires if conf.rc is None else now
    assert sent == [0.0, 0.125, 0.375, 0.875, 1.875]
    assert now == 3.875 and conf.rc == ipv6.ETIMEDOUT_NDP


def test_miniroutes_merge_as_ipxe() -> None:
    table: list[ipv6.Miniroute] = []
    prefix = bytes.fromhex("fd770000000000000000000000000000")
    lease = bytes.fromhex("fd7700000000000000000000000001d9")
    router = linklocal.link_local(bytes.fromhex("020000000001"))
    ipv6.add_miniroute(table, "net0", prefix, 64, router)
    assert not table[0].has_address
    assert ipv6.route_line(table[0], True) == "net0: fd77::/64 gw fe80::ff:fe00:1 (no address)"
    ipv6.add_miniroute(table, "net0", lease, 128, None)
    assert len(table) == 1
    assert (
        ipv6.route_line(table[0], False) == "net0: fd77::1d9/64 gw fe80::ff:fe00:1 (inaccessible)"
    )


def test_dhcpv6_ignores_replies_not_for_it() -> None:
    mac = bytes.fromhex("020000006601")
    session = dhcpv6.Dhcpv6(mac, bytes(16), True, 0.0, dhcpv6.duid(None, mac))
    session.tick(0.0)
    (solicit,) = session.outbox
    assert solicit[12:14] == b"\x86\xdd" and solicit[0:2] == b"\x33\x33"
    for junk in (b"", solicit, solicit[:60], b"\xff" * 200):
        session.receive(junk, 0.1)
    assert session.rc is None and session.state == dhcpv6.SOLICIT
    # iPXE's crc32_le(0, mac): the reflected CRC-32 without the initial/final inversion.
    crc = 0
    for byte in mac:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    assert dhcpv6.iaid(mac) == crc


@pytest.mark.parametrize("uuid", [None, bytes(range(16))])
def test_duid_is_uuid_when_the_machine_has_one(uuid: bytes | None) -> None:
    mac = bytes.fromhex("020000006601")
    got = dhcpv6.duid(uuid, mac)
    assert got == (b"\x00\x04" + uuid if uuid else b"\x00\x03\x00\x01" + mac)
