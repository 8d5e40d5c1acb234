"""``ping``, ``nslookup``, ``ipstat`` and ``nstat`` in the lab, against dnsmasq's DNS.

bootsh runs in the lab's client namespace on veth-cli (``--net af_packet,if=veth-cli``) and
takes its lease with its own ``dhcp``; the lab's dnsmasq answers DNS for bootsh.test
(``server.bootsh.test`` is 10.77.0.1) and refuses everything else. Expected lines are iPXE's
formats (``usr/pingmgmt.c``, ``usr/nslookup.c``) with the error numbers of its Linux build.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from bootsh.lab import Lab
from tests.helpers import ROOT, bootsh, started

CLIENT_MAC = "02:00:00:00:ab:05"
NET = "af_packet,if=veth-cli"
SERVER = "10.77.0.1"
NAME = "server.bootsh.test"
TIMED_OUT = "Connection timed out (https://ipxe.org/4c1b206e)"
NO_RECORD = "Error 0x3e116106 (https://ipxe.org/3e116106)"
NO_SERVER = "Error 0x3e116206 (https://ipxe.org/3e116206)"
CONFIGURED = re.compile(r"^Configuring \(net0 02:00:00:00:ab:05\)\.+ ok$")


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    # IPv4 only: dhcp does not wait for an IPv6 router (tests/net/test_ipv6.py does IPv6).
    with started(Lab(client_mac=CLIENT_MAC, client_ipv6=False)) as lab:
        yield lab


def leased(lab: Lab, *lines: str) -> tuple[list[str], subprocess.CompletedProcess[str]]:
    """Run ``dhcp`` then ``lines``; return the output after the dhcp line."""
    proc = bootsh(lab, "dhcp", *lines)
    out = proc.stdout.splitlines()
    assert out and CONFIGURED.match(out[0]), (proc.stdout, proc.stderr)
    return out[1:], proc


def test_dhcp_then_ping_and_nslookup_end_to_end(lab: Lab) -> None:
    before = len(lab.dnsmasq_log())
    out, proc = leased(
        lab,
        f"ping -c 3 {SERVER}",
        f"nslookup addr {NAME}",
        "show addr",
        f"ping --count 1 {NAME}",
        "nslookup net0/short server",  # no dot: the DHCP domain (bootsh.test) is tried first
        "show net0/short",
        "ifstat",
    )
    assert proc.returncode == 0, proc.stderr
    assert out[:8] == [
        "64 bytes from 10.77.0.1: seq=1",
        "64 bytes from 10.77.0.1: seq=2",
        "64 bytes from 10.77.0.1: seq=3",
        "addr:ipv4 = 10.77.0.1",
        "64 bytes from 10.77.0.1: seq=1",
        "net0/short:ipv4 = 10.77.0.1",
        "net0: 02:00:00:00:ab:05 using af_packet on veth-cli (Ethernet) [open]",
        out[7],
    ]
    counters = re.fullmatch(r"  \[Link:up, TX:(\d+) TXE:0 RX:(\d+) RXE:0\]", out[7])
    assert counters, out[7]
    # DHCP (2) + 4 echo requests + DNS queries (2 A queries at least) went out through net0.
    assert int(counters[1]) >= 8 and int(counters[2]) >= 8
    assert proc.stderr == ""
    log = lab.dnsmasq_log()[before:]
    assert re.search(r"query\[A\] server\.bootsh\.test from 10\.77\.0\.\d+", log), log
    assert "query[A] server from" not in log  # the search domain came first and answered


def test_ping_of_an_unreachable_host_times_out_per_packet(lab: Lab) -> None:
    out, proc = leased(lab, "ping -c 2 -t 300 10.77.0.99 || echo status ${errno}")
    assert out == [
        f"0 bytes from <none>: seq=1: {TIMED_OUT}",
        f"0 bytes from <none>: seq=2: {TIMED_OUT}",
        f"Finished: {TIMED_OUT}",
        "status 0x4c1b206e",
    ]
    assert proc.returncode == 0


def test_ping_quiet_prints_nothing_either_way(lab: Lab) -> None:
    out, proc = leased(
        lab,
        f"ping -q -c 2 -t 300 {SERVER}",
        "echo after good",
        "ping -q -c 1 -t 300 10.77.0.99 || echo failed ${errno}",
    )
    assert out == ["after good", "failed 0x4c1b206e"]
    assert proc.stderr == ""


def test_ping_size_is_the_payload_length(lab: Lab) -> None:
    out, _ = leased(lab, f"ping -s 1000 -c 1 {SERVER}", f"ping -s0 -c1 {SERVER}")
    assert out == ["1000 bytes from 10.77.0.1: seq=1", "0 bytes from 10.77.0.1: seq=1"]


def test_nslookup_of_an_unknown_name(lab: Lab) -> None:
    before = len(lab.dnsmasq_log())
    out, proc = leased(
        lab,
        "nslookup x nosuch.bootsh.test || echo status ${errno}",
        "isset ${x} || echo x unset",
        "ping -c 1 nosuch.bootsh.test || echo ping ${errno}",
    )
    assert out == [
        f"Could not resolve nosuch.bootsh.test: {NO_RECORD}",
        "status 0x3e116106",
        "x unset",
        f"Finished: {NO_RECORD}",
        "ping 0x3e116106",
    ]
    assert "nosuch.bootsh.test: DNS name does not exist" in proc.stderr
    log = lab.dnsmasq_log()[before:]
    # iPXE ignores the NXDOMAIN code: A, then AAAA, then CNAME, then it gives up.
    queries = re.findall(r"query\[(\w+)\] nosuch\.bootsh\.test from", log)
    assert queries[:3] == ["A", "AAAA", "CNAME"], log


def test_without_dns_server_nothing_is_asked(lab: Lab) -> None:
    """No lease, so no ``dns`` setting: iPXE fails at once with "No DNS servers available"."""
    proc = bootsh(
        lab,
        "ifopen",
        f"nslookup x {NAME} || echo status ${{errno}}",
        f"ping -c 1 {NAME} || echo ping ${{errno}}",
        f"nslookup y {SERVER}",  # a literal needs no server
        "show y",
    )
    assert proc.stdout.splitlines() == [
        f"Could not resolve {NAME}: {NO_SERVER}",
        "status 0x3e116206",
        f"Finished: {NO_SERVER}",
        "ping 0x3e116206",
        "y:ipv4 = 10.77.0.1",
    ]
    assert f"{NAME}: No DNS servers available" in proc.stderr


def test_ping_without_an_address_sends_nothing(lab: Lab) -> None:
    """Open but unconfigured: no route through net0, so no packet leaves; only timeouts."""
    # The kernel keeps what an earlier test's dhcp applied: start from a bare interface.
    lab.run_in_client(["ip", "address", "flush", "dev", lab.client_if], check=True)
    proc = bootsh(lab, "ifopen", f"ping -c 1 -t 200 {SERVER} ||", "ifstat")
    lines = proc.stdout.splitlines()
    assert lines[:2] == [f"0 bytes from <none>: seq=1: {TIMED_OUT}", f"Finished: {TIMED_OUT}"]
    assert re.fullmatch(r"  \[Link:up, TX:0 TXE:0 RX:\d+ RXE:0\]", lines[3]), lines


def test_bad_arguments(lab: Lab) -> None:
    out, _ = leased(
        lab,
        "ping || echo 1 ${errno}",
        f"ping -t 0 {SERVER} || echo 2 ${{errno}}",
        f"ping -c x {SERVER} || echo 3 ${{errno}}",
        f"ping --bogus {SERVER} || echo 4 ${{errno}}",
        "nslookup onlyone || echo 5 ${errno}",
        "nslookup x bad..name || echo 6 ${errno}",
        f"nslookup x:nosuchtype {NAME} || echo 7 ${{errno}}",
    )
    usage_ping = [
        "Usage:",
        "",
        "  ping [-s|--size <size>] [-t|--timeout <timeout>] [-c|--count <count>]"
        " [-q|--quiet] <host>",
        "",
        "See https://ipxe.org/cmd/ping for further information",
    ]
    usage_nslookup = [
        "Usage:",
        "",
        "  nslookup <setting> <name>",
        "",
        "See https://ipxe.org/cmd/nslookup for further information",
    ]
    assert out == [
        *usage_ping,
        "1 0x46162022",
        "Could not start ping: Invalid argument (https://ipxe.org/1c1b2016)",
        "2 0x1c1b2016",
        '"x": invalid integer value',
        "3 0x1c162116",
        'Unrecognised option "--bogus"',
        *usage_ping,
        "4 0x1c162216",
        *usage_nslookup,
        "5 0x46162022",
        "Could not resolve bad..name: Invalid argument (https://ipxe.org/1c116016)",
        "6 0x1c116016",
        f"Could not resolve {NAME}: Operation not supported (https://ipxe.org/3c0c205f)",
        "7 0x3c0c205f",
    ]


def test_nstat_lists_the_servers_mac_after_a_ping(lab: Lab) -> None:
    links = json.loads(
        lab.run_in_server(["ip", "-j", "link", "show", lab.server_if], capture_output=True).stdout
    )
    server_mac = links[0]["address"]
    # The table is the kernel's (the namespace's), so earlier tests' entries are in it.
    lab.run_in_client(["ip", "neigh", "flush", "dev", lab.client_if], check=True)
    out, _ = leased(lab, f"ping -c 1 {SERVER}", "nstat")
    assert out == [
        "64 bytes from 10.77.0.1: seq=1",
        f"net0 IPv4 10.77.0.1 is Ethernet {server_mac}",
    ]


def test_nstat_lists_only_the_neighbours_of_open_netdevs(lab: Lab) -> None:
    """iPXE's neighbour table holds what its own open netdevs learned: the kernel's entries
    for an interface bootsh has not opened (the host's own traffic) are not its."""
    leased(lab)  # the kernel interface gets an address, so the kernel itself can ping
    curl = ["curl", "-sS", "-o", "/dev/null", "--max-time", "5", lab.http_url]
    lab.run_in_client(curl, check=True, capture_output=True)  # the kernel's own ARP entry
    proc = bootsh(lab, "nstat", "echo ==", "ifopen", "nstat")
    lines = proc.stdout.splitlines()
    assert lines[0] == "==", lines
    assert [line.split(" is ")[0] for line in lines[1:]] == ["net0 IPv4 10.77.0.1"]


def test_ipstat_format(lab: Lab) -> None:
    out, _ = leased(lab, f"ping -c 1 {SERVER}", "ipstat")
    assert out[0] == "64 bytes from 10.77.0.1: seq=1"
    numbers = r"\d+"
    v4 = [
        "IP version 4:",
        f"  InReceives:{numbers} InMcastPkts:{numbers} InBcastPkts:{numbers} InOctets:{numbers}",
        f"  InHdrErrors:{numbers} InAddrErrors:{numbers} InUnknownProtos:{numbers}"
        f" InTruncatedPkts:{numbers}",
        f"  ReasmReqds:{numbers} ReasmOKs:{numbers} ReasmFails:{numbers}",
        f"  InDelivers:{numbers} OutRequests:{numbers} OutNoRoutes:{numbers}",
        f"  OutTransmits:{numbers} OutMcastPkts:{numbers} OutBcastPkts:{numbers}"
        f" OutOctets:{numbers}",
    ]
    assert len(out) == 13
    for line, pattern in zip(out[1:7], v4, strict=True):
        assert re.fullmatch(pattern, line), line
    assert out[7] == "IP version 6:"
    # The ping's reply was received and delivered by this namespace's IPv4.
    received = int(re.search(r"InReceives:(\d+)", out[2])[1])  # type: ignore[index]
    assert received >= 1


# -- ntp: a small SNTP server of the test's own in the server namespace -------------------

SNTP_SERVER = """
import socket, struct, sys
address, offset, stratum = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((address, 123))
print("ready", flush=True)
while True:
    data, peer = s.recvfrom(512)
    if len(data) < 48:
        continue
    seconds, fraction = struct.unpack_from("!II", data, 40)
    reply = bytearray(48)
    reply[0] = 0x24  # version 4, server
    reply[1] = stratum
    reply[12:16] = b"RATE" if stratum == 0 else b"LOCL"
    struct.pack_into("!IIII", reply, 24, seconds, fraction, (seconds + offset) & 0xFFFFFFFF, 0)
    s.sendto(b"garbage", peer)  # too short: ignored
    s.sendto(bytes(reply), peer)
"""


@pytest.fixture
def sntp(lab: Lab) -> Iterator[Callable[[int, int], None]]:
    started: list[subprocess.Popen[str]] = []

    def start(offset: int, stratum: int = 2) -> None:
        proc = subprocess.Popen(
            lab.server_argv([sys.executable, "-c", SNTP_SERVER, SERVER, str(offset), str(stratum)]),
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(10)


def test_ntp_adjusts_the_shells_clock_not_the_machines(
    lab: Lab, sntp: Callable[[int, int], None]
) -> None:
    sntp(86400, 2)  # the server is a day ahead
    before = int(time.time())
    out, proc = leased(lab, f"ntp {SERVER}", "echo ${unixtime:int32}", f"ntp {SERVER}")
    after = int(time.time())
    assert proc.returncode == 0, proc.stderr
    shown = int(out[0])
    assert before + 86400 <= shown <= after + 86400
    assert out[1:] == []  # silent on success, as iPXE
    assert abs(time.time() - after) < 5  # the machine's clock did not move


def test_ntp_kiss_of_death_and_no_server(lab: Lab, sntp: Callable[[int, int], None]) -> None:
    sntp(0, 0)
    out, proc = leased(lab, f"ntp {SERVER} || echo ${{errno}}", "ntp nosuch || echo ${errno}")
    assert out == [
        "Could not get time and date: Error 0x43496047 (https://ipxe.org/43496047)",
        "0x43496047",
        f"Could not get time and date: {NO_RECORD}",
        "0x3e116106",
    ]
    assert "kiss-o'-death (RATE)" in proc.stderr


def test_ping_without_cap_net_raw_says_what_is_missing() -> None:
    """Root, but without CAP_NET_RAW in the bounding set (setpriv): no raw ICMP socket."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) missing")
    proc = subprocess.run(
        [
            *("setpriv", "--bounding-set=-net_raw", sys.executable, "-m", "bootsh"),
            *("-c", "ping -c 1 127.0.0.1 || echo ${errno}"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
    )
    assert proc.stdout.splitlines() == [
        "Could not start ping: Operation not permitted (https://ipxe.org/413a6001)",
        "0x413a6001",
    ]
    assert "ping needs CAP_NET_RAW" in proc.stderr


def test_static_settings_from_the_net_option_without_dhcp(lab: Lab) -> None:
    """``--net af_packet,if=veth-cli,ip=...,dns=...``: settings of net0 (iPXE's Linux build)
    that ``ifopen`` gives to the kernel interface, so ping and DNS work with no lease."""
    lab.run_in_client(["ip", "address", "flush", "dev", lab.client_if], check=True)
    spec = f"{NET},ip=10.77.0.55,netmask=255.255.255.0,dns=10.77.0.1,domain=bootsh.test"
    proc = bootsh(
        lab,
        "show net0/ip",
        "ifopen",
        "route",
        f"ping -c 1 {SERVER}",
        "nslookup a server",
        "show a",
        net=(spec,),
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:2] == ["net0/ip:ipv4 = 10.77.0.55", "net0: 10.77.0.55/255.255.255.0"]
    assert lines[3:] == ["64 bytes from 10.77.0.1: seq=1", "a:ipv4 = 10.77.0.1"]
    addresses = lab.run_in_client(
        ["ip", "-4", "-o", "address", "show", "dev", lab.client_if], capture_output=True, text=True
    ).stdout
    assert "inet 10.77.0.55/24" in addresses


def test_nslookup_checks_the_setting_before_asking_dns(lab: Lab) -> None:
    """iPXE's ``resolv_setting`` parses the setting name first: a bad one fails at once with
    its own error, whatever DNS would have said (no server, a silent one)."""
    before = len(lab.dnsmasq_log())
    start = time.monotonic()
    proc = bootsh(
        lab,
        f"nslookup x:nosuchtype {NAME} || echo 1 ${{errno}}",
        "set dns 10.77.0.200",  # nobody answers there: a query would wait 15 s
        f"nslookup x:nosuchtype {NAME} || echo 2 ${{errno}}",
    )
    elapsed = time.monotonic() - start
    assert proc.stdout.splitlines() == [
        f"Could not resolve {NAME}: Operation not supported (https://ipxe.org/3c0c205f)",
        "1 0x3c0c205f",
        f"Could not resolve {NAME}: Operation not supported (https://ipxe.org/3c0c205f)",
        "2 0x3c0c205f",
    ], proc.stderr
    assert elapsed < 10, elapsed
    assert not any("query[" in line for line in lab.dnsmasq_log()[before:])


#: A DNS server that answers every query at once with bytes no resolver can read.
GARBAGE_DNS = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
print("ready", flush=True)
while True:
    query, peer = s.recvfrom(2048)
    s.sendto(query[:2] + b"garbage", peer)
"""


def test_a_dns_server_that_answers_garbage_is_named_as_such(lab: Lab) -> None:
    """Every answer is unreadable: iPXE ignores them and times out; bootsh says on stderr
    that answers came but none was usable (a server that is down would say nothing)."""
    ns = lab.add_host("10.77.0.30")
    server = subprocess.Popen(lab.host_argv(ns, [sys.executable, "-c", GARBAGE_DNS, "10.77.0.30"]),
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert server.stdout is not None and server.stdout.readline() == "ready\n"
        out, proc = leased(lab, "set dns 10.77.0.30", f"nslookup x {NAME} || echo ${{errno}}")
    finally:
        server.terminate()
        server.wait(10)
    assert out == [f"Could not resolve {NAME}: Connection timed out (https://ipxe.org/4c11606e)",
                   "0x4c11606e"]  # fmt: skip
    assert f"{NAME}: no usable answer from 10.77.0.30" in proc.stderr, proc.stderr
    assert "shorter than a DNS header" in proc.stderr or "not exactly one question" in proc.stderr
