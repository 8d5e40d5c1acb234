"""``dhcp``/``ifconf``, ``route`` and ``iflinkwait`` in the lab, against real servers.

bootsh runs in the lab's client namespace on veth-cli (``--net af_packet,if=veth-cli``), with
the client kernel kept silent there (``client_ipv6=False``) so that counters are bootsh's
own. The servers: the lab's dnsmasq (which tags iPXE clients), dnsmasqs on extra hosts of the
link (a second server, a ProxyDHCP server), none at all (a silent network) and
tests/dhcp_responder.py for what no real server does on demand (a NAK, garbage).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import partial

import pytest

from bootsh.lab import Lab
from tests.helpers import ROOT, bootsh, bootsh_argv, started

MAC = "02:00:00:00:dc:01"
NET = "af_packet,if=veth-cli"
LINK_LOCAL = "net0: fe80::ff:fe00:dc01/64"
CONFIGURING = f"Configuring (net0 {MAC})..."


def addresses(lab: Lab) -> list[str]:
    out = lab.run_in_client(
        ["ip", "-4", "-o", "addr", "show", "dev", lab.client_if], capture_output=True, text=True
    ).stdout
    return re.findall(r"inet (\S+)", out)


def default_route(lab: Lab) -> str:
    proc = lab.run_in_client(["ip", "route", "show", "default"], capture_output=True, text=True)
    return str(proc.stdout).strip()


def forget(lab: Lab) -> None:
    """Take the lease off the client's kernel interface again (as before any ``dhcp``)."""
    lab.run_in_client(["ip", "addr", "flush", "dev", lab.client_if], check=True)


def counters(stdout: str) -> dict[str, int]:
    m = re.search(r"\[Link:\w+, TX:(\d+) TXE:(\d+) RX:(\d+) RXE:(\d+)\]", stdout)
    assert m, stdout
    return dict(zip(("TX", "TXE", "RX", "RXE"), map(int, m.groups()), strict=True))


def shown(stdout: str) -> dict[str, str]:
    """``show`` lines as {name: value} (name without the scope)."""
    values = {}
    for line in stdout.splitlines():
        m = re.match(r"^[\w.]+/([\w.-]+):\w+ = (.*)$", line)
        if m:
            values[m[1]] = m[2]
    return values


# -- the lab's dnsmasq ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    serve = tmp_path_factory.mktemp("serve")
    (serve / "hello.txt").write_text("hello from the lab\n")
    extra = [
        f"--dhcp-host={MAC},client1",
        "--dhcp-option=tag:ipxe,encap:175,190,alice",
        "--dhcp-option-force=225,01:02:03",
    ]
    with started(Lab(serve, client_mac=MAC, client_ipv6=False, dnsmasq_args=extra)) as lab:
        yield lab


def lease_of(lab: Lab) -> tuple[str, str]:
    """(ip, hostname) of the client's lease in dnsmasq's lease file."""
    for line in lab.leases().splitlines():
        fields = line.split()
        if fields[1] == MAC:
            return fields[2], fields[3]
    raise AssertionError(f"no lease for {MAC}: {lab.leases()!r}")


def test_dhcp_gets_dnsmasqs_lease_into_net0_dhcp(lab: Lab) -> None:
    forget(lab)
    names = ["ip", "netmask", "gateway", "dns", "domain", "hostname", "filename",
             "next-server", "dhcp-server", "username", "225:hex"]  # fmt: skip
    proc = bootsh(lab, "dhcp", "route", *(f"show net0.dhcp/{n}" for n in names), "ifstat")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    ip, hostname = lease_of(lab)
    assert lines[0] == f"{CONFIGURING} ok"
    assert lines[1:3] == [f"net0: {ip}/255.255.255.0 gw {lab.server_ip}", LINK_LOCAL]
    assert shown(proc.stdout) == {
        "ip": ip,
        "netmask": "255.255.255.0",
        "gateway": lab.server_ip,
        "dns": lab.server_ip,
        "domain": lab.domain,
        "hostname": hostname,
        "filename": lab.ipxe_bootfile,  # dnsmasq took us for iPXE (option 175, user class)
        "next-server": lab.server_ip,
        "dhcp-server": lab.server_ip,
        "username": "alice",  # 175.190, sent to iPXE-tagged clients only
        "225": "01:02:03",
    }
    assert hostname == "client1"
    # One DISCOVER and one REQUEST, one OFFER and one ACK: nothing else on the wire.
    assert counters(proc.stdout) == {"TX": 2, "TXE": 0, "RX": 2, "RXE": 0}
    log = lab.dnsmasq_log()
    assert re.search(r"tags: .*\bipxe\b", log) and "user class: iPXE" in log
    assert "vendor class: PXEClient:Arch:000" in log


def test_the_lease_is_applied_so_kernel_tcp_and_udp_work(lab: Lab) -> None:
    forget(lab)
    curl = ["curl", "-sS", "--max-time", "5", f"{lab.http_url}hello.txt"]
    before = lab.run_in_client(curl, capture_output=True, text=True)
    assert before.returncode != 0  # no address, no route: the kernel cannot reach the server
    proc = bootsh(lab, "dhcp")
    assert proc.returncode == 0, proc.stderr
    ip, _ = lease_of(lab)
    assert addresses(lab) == [f"{ip}/24"]
    assert default_route(lab).startswith(f"default via {lab.server_ip} dev {lab.client_if}")
    after = lab.run_in_client(curl, capture_output=True, text=True)
    assert after.stdout == "hello from the lab\n", after.stderr  # TCP (HTTP)
    resolve = lab.run_in_client(
        [sys.executable, "-c", f"import socket; print(socket.gethostbyname('{lab.server_name}'))"],
        capture_output=True,
        text=True,
    )
    assert resolve.stdout.strip() == lab.server_ip, resolve.stderr  # UDP (DNS to dnsmasq)


def test_dhcp_again_replaces_the_lease_and_the_address(lab: Lab) -> None:
    forget(lab)
    proc = bootsh(lab, "dhcp", "dhcp net0", "ifconf -c dhcp netX", "show net0.dhcp/ip")
    assert proc.returncode == 0, proc.stderr
    ip, _ = lease_of(lab)
    assert proc.stdout.splitlines() == [
        f"{CONFIGURING} ok",
        f"{CONFIGURING} ok",
        f"Configuring [dhcp] (net0 {MAC})... ok",
        f"net0.dhcp/ip:ipv4 = {ip}",
    ]
    assert addresses(lab) == [f"{ip}/24"]


def test_unknown_netdevs_are_skipped_and_the_first_success_ends(lab: Lab) -> None:
    proc = bootsh(lab, "dhcp nosuch net0 net0", "iflinkwait net0")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        '"nosuch": no such network device',
        f"{CONFIGURING} ok",
        "Waiting for link-up on net0... ok",
    ]


def test_scapy_is_not_loaded_by_route_or_iflinkwait(lab: Lab) -> None:
    code = (
        "import sys; from bootsh.cli import main; status = main(['--net', '" + NET + "', "
        "'-c', 'iflinkwait', '-c', 'route']); "
        "print('scapy' in sys.modules); sys.exit(status)"
    )
    proc = lab.run_in_client([sys.executable, "-c", code], capture_output=True, text=True,
                             cwd=ROOT)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "False"


def test_verbose_traces_each_frame_as_scapy_decodes_it(lab: Lab) -> None:
    """-v: the four frames of the exchange, one stderr line each, decoded by scapy; the
    exchange and its output stay what they are without -v."""
    forget(lab)
    proc = bootsh(lab, "dhcp", options=["-v"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == f"{CONFIGURING} ok"
    ip, _ = lease_of(lab)
    trace = [line for line in proc.stderr.splitlines() if line.startswith("bootsh: net0: ")]
    kinds = [re.match(r"bootsh: net0: (sent|received) DHCP (\w+) xid 0x", line) for line in trace]
    assert [(m[1], m[2]) for m in kinds if m] == [
        ("sent", "Discover"),
        ("received", "Offer"),
        ("sent", "Request"),
        ("received", "Ack"),
    ], proc.stderr
    discover, offer, request, ack = trace
    assert f"({MAC} -> ff:ff:ff:ff:ff:ff)" in discover and "message-type=discover" in discover
    assert "user_class=b'iPXE'" in discover and "vendor_class_id=b'PXEClient:Arch:" in discover
    assert f"yiaddr {ip}" in offer and f"server_id={lab.server_ip}" in offer
    assert f"requested_addr={ip}" in request
    assert f"yiaddr {ip}" in ack and f"router={lab.server_ip}" in ack
    assert len({line.split(" xid ")[1].split()[0] for line in trace}) == 1  # one session


# -- a network where nobody answers ------------------------------------------------------------


@pytest.fixture(scope="module")
def silent() -> Iterator[Lab]:
    with started(Lab(dhcp=False, tftp=False, dns=False, http=False, client_mac=MAC,
                     client_ipv6=False)) as lab:  # fmt: skip
        yield lab


def test_silence_times_out_as_ipxe_does(silent: Lab) -> None:
    t0 = time.monotonic()
    proc = bootsh(silent, "dhcp || echo ${errno}", "ifstat")
    took = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    m = re.fullmatch(re.escape(CONFIGURING) + r"(\.*) (.*)", lines[0])
    assert m, lines[0]
    assert m[2] == "No configuration methods succeeded (https://ipxe.org/040ee163)"
    # A dot a second; DISCOVERs at 0, 1, 3 and 7 s, given up at 15. The dots count the
    # session's own seconds; the whole run's time also holds Python's start-up (a lower
    # bound only: a busy machine makes it longer, never shorter).
    assert 13 <= len(m[1]) <= 16
    assert took > 14.5
    assert lines[1] == "0x40ee163"
    assert lines[2].endswith("[closed]")  # iPXE closes a netdev it could not configure
    assert counters(proc.stdout) == {"TX": 4, "TXE": 0, "RX": 0, "RXE": 0}
    assert "net0: no DHCP server answered" in proc.stderr
    assert addresses(silent) == []


def test_timeout_option_ends_the_wait(silent: Lab) -> None:
    t0 = time.monotonic()
    proc = bootsh(silent, "ifconf -c dhcp -t 2000 net0")
    took = time.monotonic() - t0
    assert proc.returncode != 0
    assert proc.stdout == (
        f"Configuring [dhcp] (net0 {MAC}).... Connection timed out (https://ipxe.org/4c07206e)\n"
    )
    # Well before DHCP's own give-up (about 15 s): -t ended the wait. (The bound is loose on
    # purpose: bootsh's start-up and its scapy import, before the clock starts, come on top.)
    assert took < 12
    assert addresses(silent) == []


def test_ctrl_c_cancels_and_leaves_the_interface_alone(silent: Lab) -> None:
    argv = silent.client_argv([sys.executable, "-u", "-m", "bootsh", "--net", NET, "-c", "dhcp"])
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout is not None
    seen = b""
    deadline = time.monotonic() + 20
    while b"Configuring" not in seen and time.monotonic() < deadline:
        seen += os.read(proc.stdout.fileno(), 100)
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    text = (seen + out).decode()
    assert re.fullmatch(
        re.escape(CONFIGURING) + r"\.* Operation canceled \(https://ipxe.org/0b07207d\)\n", text
    ), text
    assert proc.returncode != 0
    assert b"Traceback" not in err
    assert addresses(silent) == []


# -- a server that says no, a server that sends garbage ----------------------------------------


def responder(lab: Lab, mode: str, ip: str) -> subprocess.Popen[str]:
    ns = lab.add_host(ip)
    argv = lab.host_argv(ns, [sys.executable, "-u", str(ROOT / "tests" / "dhcp_responder.py"),
                              mode, "eth0", ip, "10.77.0.150"])  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n", proc.stderr and proc.stderr.read()
    return proc


def stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    out, _ = proc.communicate(timeout=10)
    return out


@pytest.fixture
def bare() -> Iterator[Lab]:
    with started(Lab(dhcp=False, tftp=False, dns=False, http=False, client_mac=MAC,
                     client_ipv6=False)) as lab:  # fmt: skip
        yield lab


def assert_timed_out(proc: subprocess.CompletedProcess[str]) -> None:
    """The -t ran out: iPXE's line, dots, then monojob's Connection timed out."""
    assert re.fullmatch(
        re.escape(CONFIGURING) + r"\.+ Connection timed out \(https://ipxe.org/4c07206e\)\n",
        proc.stdout,
    ), proc.stdout


def test_a_nak_is_ignored_like_ipxe_and_reported(bare: Lab) -> None:
    server = responder(bare, "nak", "10.77.0.2")
    proc = bootsh(bare, "ifconf -t 3000")
    said = stop(server)
    assert proc.returncode != 0
    assert_timed_out(proc)
    assert "refused the request (DHCPNAK: address not available (bootsh test))" in proc.stderr
    assert said.count("nak") >= 3  # the REQUEST was retransmitted: 0, 0.25, 0.75, 1.75 s
    assert addresses(bare) == []


def test_an_offer_without_an_ack_is_reported(bare: Lab) -> None:
    """A server that offers and then never acknowledges: iPXE retransmits the request until
    it times out; bootsh says which server offered which address and that no ACK came."""
    server = responder(bare, "no-ack", "10.77.0.2")
    proc = bootsh(bare, "ifconf -t 5000")
    said = stop(server)
    assert proc.returncode != 0
    assert_timed_out(proc)
    assert said.count("request") >= 2
    assert proc.stderr.startswith(
        "bootsh: net0: 10.77.0.2 offered 10.77.0.150 but sent no DHCPACK for it\n"
    ), proc.stderr
    assert addresses(bare) == []


def test_garbage_is_ignored_and_the_good_answer_taken(bare: Lab) -> None:
    server = responder(bare, "garbage", "10.77.0.2")
    proc = bootsh(bare, "dhcp", "show net0.dhcp/ip", "show net0.dhcp/dhcp-server", "ifstat")
    stop(server)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stdout.splitlines()
    assert re.fullmatch(re.escape(CONFIGURING) + r"\.* ok", lines[0]), lines[0]
    assert lines[1:3] == [
        "net0.dhcp/ip:ipv4 = 10.77.0.150",
        "net0.dhcp/dhcp-server:ipv4 = 10.77.0.2",
    ]
    assert counters(proc.stdout)["RX"] >= 2 * 9  # every piece of junk arrived, and was dropped
    assert addresses(bare) == ["10.77.0.150/24"]


# -- two servers, ProxyDHCP -----------------------------------------------------------------------


def dnsmasq_range(first: str, last: str, *extra: str) -> list[str]:
    return [f"--dhcp-range={first},{last},255.255.255.0,1h", "--no-ping",
            "--dhcp-option=3,10.77.0.1", *extra]  # fmt: skip


def test_the_higher_priority_offer_wins_after_waiting_for_proxydhcp(bare: Lab) -> None:
    low = bare.add_host("10.77.0.2")
    high = bare.add_host("10.77.0.3")
    log_low = bare.start_host_dnsmasq(low, dnsmasq_range("10.77.0.100", "10.77.0.149"))
    bare.start_host_dnsmasq(
        high, dnsmasq_range("10.77.0.150", "10.77.0.199", "--dhcp-option=encap:175,1,5")
    )
    t0 = time.monotonic()
    proc = bootsh(bare, "dhcp", "show net0.dhcp/dhcp-server", "show net0.dhcp/175.1:int8")
    took = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    # No server said no-pxedhcp: iPXE listens for ProxyDHCP offers until more than 2 s passed.
    assert lines[0] == f"{CONFIGURING}... ok"
    assert lines[1:] == ["net0.dhcp/dhcp-server:ipv4 = 10.77.0.3", "net0.dhcp/priority:int8 = 5"]
    # The dots above are the 3 s waited for ProxyDHCP offers (decided at the retry after
    # more than 2 s); the run's time is only bounded below (it holds Python's start-up).
    assert took >= 3
    low_log = log_low.read_text()
    assert "DHCPOFFER" in low_log and "DHCPACK" not in low_log
    assert addresses(bare)[0].startswith("10.77.0.1")


def test_proxydhcp_answers_land_in_proxydhcp(bare: Lab) -> None:
    dhcp_host = bare.add_host("10.77.0.2")
    pxe_host = bare.add_host("10.77.0.3")
    bare.start_host_dnsmasq(dhcp_host, dnsmasq_range("10.77.0.100", "10.77.0.149"))
    pxe_log = bare.start_host_dnsmasq(
        pxe_host,
        ["--dhcp-range=10.77.0.0,proxy,255.255.255.0", '--pxe-service=9,"bootsh",boot.efi'],
        ports=(67, 4011),
    )
    shows = ("net0.dhcp/dhcp-server", "proxydhcp/filename", "proxydhcp/next-server",
             "proxydhcp/dhcp-server", "filename", "net0.proxydhcp/filename")  # fmt: skip
    proc = bootsh(bare, "dhcp", *(f"show {name}" for name in shows))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"{CONFIGURING} ok",
        "net0.dhcp/dhcp-server:ipv4 = 10.77.0.2",
        "proxydhcp/filename:string = boot.efi",
        "proxydhcp/next-server:ipv4 = 10.77.0.3",
        "proxydhcp/dhcp-server:ipv4 = 10.77.0.3",
        "proxydhcp/filename:string = boot.efi",
        "proxydhcp/filename:string = boot.efi",
    ]
    assert "proxy" in pxe_log.read_text()


# -- the link ----------------------------------------------------------------------------------


def test_iflinkwait_reports_a_down_link_and_sees_it_come_up(bare: Lab) -> None:
    down = ["ip", "-n", bare.server_ns, "link", "set", bare.server_if, "down"]
    subprocess.run(down, check=True)
    proc = bootsh(bare, "iflinkwait -t 1500 || echo ${errno}", "ifstat")
    first, errno = proc.stdout.splitlines()[:2]
    # "..." then a dot at 1 s; a process stalled past 1.5 s by a busy machine reaches the
    # timeout before that dot is due, as iPXE's monojob would (the timeout is checked first).
    assert re.fullmatch(
        r"Waiting for link-up on net0\.{3,4} Down \(https://ipxe.org/3808616b\)", first
    )
    assert errno == "0x3808616b"
    assert "[closed]" in proc.stdout  # closed again, as iPXE does after a failed wait
    argv = bare.client_argv(bootsh_argv("iflinkwait"))
    unbuffered = {**os.environ, "PYTHONUNBUFFERED": "1"}  # its dots as they are printed
    waiting = subprocess.Popen(argv, stdout=subprocess.PIPE, cwd=ROOT, env=unbuffered)
    assert waiting.stdout is not None
    # The link comes up once bootsh has waited a second (its first dot), not after a guess at
    # how long it takes to start.
    seen = b""
    deadline = time.monotonic() + 30
    while b"net0...." not in seen and time.monotonic() < deadline:
        seen += os.read(waiting.stdout.fileno(), 100)
    subprocess.run(["ip", "-n", bare.server_ns, "link", "set", bare.server_if, "up"], check=True)
    rest, _ = waiting.communicate(timeout=20)
    out = (seen + rest).decode()
    assert waiting.returncode == 0
    assert re.fullmatch(r"Waiting for link-up on net0\.\.\.\.+ ok\n", out), out


def test_static_settings_of_an_open_netdev_reach_the_kernel(lab: Lab) -> None:
    forget(lab)
    lines = ("set net0/ip 10.77.0.60", "route", "ifopen net0", "set net0/ip 10.77.0.61",
             "set net0/netmask 255.255.255.0", "set net0/gateway 10.77.0.1", "route")  # fmt: skip
    proc = bootsh(lab, *lines)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "net0: 10.77.0.60/255.0.0.0 (inaccessible)",  # classful without a netmask, as iPXE
        f"{LINK_LOCAL} (inaccessible)",
        "net0: 10.77.0.61/255.255.255.0 gw 10.77.0.1",
        LINK_LOCAL,
    ]
    assert addresses(lab) == ["10.77.0.61/24"]  # set while closed: not applied; then replaced
    assert default_route(lab).startswith(f"default via {lab.server_ip} dev {lab.client_if}")
    curl = ["curl", "-sS", "--max-time", "5", f"{lab.http_url}hello.txt"]
    assert lab.run_in_client(curl, capture_output=True, text=True).stdout == "hello from the lab\n"


def test_a_zero_netmask_is_no_netmask(lab: Lab) -> None:
    """iPXE's ``ipv4_settings``: a netmask of 0.0.0.0 counts as missing, so the classful
    default applies (in ``route`` and on the kernel interface), never a /0 route."""
    forget(lab)
    proc = bootsh(lab, "ifopen", "set net0/netmask 0.0.0.0", "set net0/ip 10.77.0.62", "route")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["net0: 10.77.0.62/255.0.0.0", LINK_LOCAL]
    assert addresses(lab) == ["10.77.0.62/8"]
    forget(lab)


def test_ifopen_ifclose_ifstat_skip_a_bad_name_and_go_on(lab: Lab) -> None:
    """iPXE's ``ifcommon_exec`` without stop-on-first-success: a name that is no netdev is
    reported and skipped, the others are still acted on; the status is the last one's.
    ``netX`` is the last opened netdev, and no netdev at all when none is open."""
    proc = bootsh(
        lab,
        "ifopen nosuch net0 && echo 1 ${errno}",
        "ifstat nosuch net0 && echo 2 ${errno}",
        "ifclose netX nosuch || echo 3 ${errno}",
        "ifstat net0",
        "ifopen netX || echo 4 ${errno}",
    )
    lines = proc.stdout.splitlines()
    status = f"net0: {MAC} using af_packet on veth-cli (Ethernet)"
    OPEN, CLOSED = f"{status} [open]", f"{status} [closed]"
    nodev = '"nosuch": no such network device'
    assert [line for line in lines if not line.startswith("  [")] == [
        nodev,
        "1 0x0",
        nodev,
        OPEN,
        "2 0x0",
        nodev,
        "3 0x2c162013",
        CLOSED,
        '"netX": no such network device',
        "4 0x2c162013",
    ], proc.stderr


def test_without_cap_net_admin_the_missing_capability_is_named(lab: Lab) -> None:
    """The lease is taken (a raw socket needs only CAP_NET_RAW) but the kernel interface
    cannot be configured: the error says which capability is missing, and nothing changes."""
    forget(lab)
    drop = ["setpriv", "--bounding-set=-net_admin", "--inh-caps=-all"]
    proc = bootsh(lab, "dhcp", prefix=drop)
    assert proc.returncode == 0, proc.stderr
    assert re.fullmatch(re.escape(CONFIGURING) + r"\.* ok\n", proc.stdout), proc.stdout
    assert proc.stderr.startswith(f"bootsh: net0: the lease is not applied to {lab.client_if}")
    assert "needs CAP_NET_ADMIN" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert addresses(lab) == []


def test_the_lease_is_the_interfaces_only_ipv4_address(lab: Lab) -> None:
    """An address left on the kernel interface (by an earlier bootsh, a static ``set
    net0/ip`` that outlived its shell) would stay primary and be the source of the kernel's
    TCP and UDP; like an iPXE netdev, the interface keeps only the address bootsh gives it
    in that network. An address in another network is the host's business and stays."""
    forget(lab)
    lab.run_in_client(["ip", "addr", "add", "10.77.0.99/24", "dev", lab.client_if], check=True)
    lab.run_in_client(["ip", "addr", "add", "192.0.2.7/28", "dev", lab.client_if], check=True)
    proc = bootsh(lab, "dhcp")
    assert proc.returncode == 0, proc.stderr
    ip, _ = lease_of(lab)
    assert addresses(lab) == ["192.0.2.7/28", f"{ip}/24"]
    src = lab.run_in_client(["ip", "route", "get", lab.server_ip], capture_output=True, text=True)
    assert f"src {ip} " in src.stdout, src.stdout


def test_a_non_contiguous_netmask_is_shown_as_set(lab: Lab) -> None:
    """iPXE's ``route`` prints the netmask it was given, whatever its bits; the kernel takes
    only a prefix, so the interface gets the mask's leading ones (/8 for 255.0.255.0)."""
    forget(lab)
    lines = ("ifopen", "set net0/netmask 255.0.255.0", "set net0/ip 10.77.0.63", "route")
    proc = bootsh(lab, *lines)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["net0: 10.77.0.63/255.0.255.0", LINK_LOCAL]
    assert addresses(lab) == ["10.77.0.63/8"]
    forget(lab)


def test_the_lease_leaves_another_interfaces_default_route_alone(lab: Lab) -> None:
    """The host's own default route (here through another interface of the namespace) is
    not replaced by the netdev's: each netdev's gateway is its own, as in iPXE, and bootsh's
    sockets are bound to the netdev's interface, so they use the netdev's route."""
    forget(lab)
    run = partial(lab.run_in_client, check=True, capture_output=True)
    run(["ip", "link", "add", "oth0", "type", "veth", "peer", "name", "oth1"])
    try:
        run(["ip", "link", "set", "oth0", "up"])
        run(["ip", "link", "set", "oth1", "up"])
        run(["ip", "addr", "add", "192.0.2.1/24", "dev", "oth0"])
        run(["ip", "route", "add", "default", "via", "192.0.2.254", "dev", "oth0"])
        proc = bootsh(lab, "dhcp", f"ping -c 1 {lab.server_ip}", f"nslookup x {lab.server_name}")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        routes = default_route(lab).splitlines()
        assert any(r.startswith("default via 192.0.2.254 dev oth0") for r in routes), routes
        mine = f"default via {lab.server_ip} dev {lab.client_if}"
        assert any(r.startswith(mine) for r in routes), routes
    finally:
        lab.run_in_client(["ip", "link", "del", "oth0"])
        forget(lab)
