"""bootsh.lab against the real tools: dnsmasq, busybox udhcpc, tftp-hpa, curl, iproute2.

One lab serves the whole module (it starts in a few tens of milliseconds, but every DHCP client
run leaves a lease behind); the teardown, crash and signal tests build their own.
"""

from __future__ import annotations

import ipaddress
import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bootsh.lab import (
    CLIENT_IF,
    NAME_PREFIX,
    SERVER_IF,
    Lab,
    LabError,
    cleanup_stale,
    netns_pids,
    stale_lock,
)
from tests.helpers import readline, started

CLIENT_TOOLS = ("busybox", "curl", "tftp")
IPXE_OPTION_175 = "0xaf:130101"  # encapsulated iPXE options: feature "HTTP" (0x13) = 1
IPXE_USER_CLASS = "0x4d:69505845"  # option 77, user class "iPXE"
LEASE_SCRIPT = """#!/bin/sh
# udhcpc calls this with the event as $1 and the lease in the environment.
[ "$1" = bound ] || exit 0
for var in interface ip mask subnet router dns domain boot_file siaddr serverid opt175; do
    eval "value=\\${$var-}"
    [ -n "$value" ] && echo "LEASE $var=$value"
done
if [ -n "${LAB_APPLY-}" ]; then
    ip address replace "$ip/$mask" dev "$interface"
fi
exit 0
"""


def _require_tools() -> None:
    missing = [t for t in CLIENT_TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"missing {', '.join(missing)}: run .ci/install-net.sh")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("served")
    (root / "hello.txt").write_text("hello from the lab\n")
    (root / "boot.ipxe").write_text("#!ipxe\necho booted\n")
    (root / "blob.bin").write_bytes(os.urandom(300_000))
    return root


@pytest.fixture(scope="module")
def lab(served: Path) -> Iterator[Lab]:
    _require_tools()
    with started(Lab(served)) as lab:
        yield lab


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("udhcpc") / "lease.sh"
    path.write_text(LEASE_SCRIPT)
    path.chmod(0o755)
    return path


def udhcpc(lab: Lab, script: Path, *extra: str, apply: bool = False) -> tuple[dict[str, str], str]:
    """Run busybox udhcpc once in the client; return the lease and dnsmasq's log of it."""
    before = len(lab.dnsmasq_log())
    env = {**os.environ, "LAB_APPLY": "1" if apply else ""}
    proc = lab.run_in_client(
        [
            *("busybox", "udhcpc", "-i", lab.client_if, "-q", "-n", "-t", "3", "-T", "1"),
            *("-s", str(script), "-O", "175", *extra),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    lease = dict(
        line.removeprefix("LEASE ").split("=", 1)
        for line in proc.stdout.splitlines()
        if line.startswith("LEASE ")
    )
    return lease, lab.dnsmasq_log()[before:]


@pytest.fixture(scope="module")
def leased(lab: Lab, script: Path) -> dict[str, str]:
    """The client as an iPXE client with its lease applied to veth-cli."""
    lease, _ = udhcpc(lab, script, "-x", IPXE_OPTION_175, apply=True)
    return lease


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _tags(log: str) -> list[str]:
    return re.findall(r" tags: (.*)$", log, re.MULTILINE)


def _links(netns: str | None = None) -> dict[str, dict[str, Any]]:
    argv = ["ip", "-j", "-d", "link", "show"]
    if netns:
        argv[1:1] = ["-n", netns]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=10).stdout
    return {link["ifname"]: link for link in json.loads(out)}


def _netns_list() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10)
    return {line.split()[0] for line in out.stdout.splitlines() if line.strip()}


def assert_gone(lab: Lab, root_links_before: set[str]) -> None:
    assert lab.server_ns not in _netns_list()
    assert lab.client_ns not in _netns_list()
    assert not (Path("/run/netns") / lab.server_ns).exists()
    assert set(_links()) == root_links_before
    assert not lab.tmpdir.exists()
    assert not Path("/etc/netns", lab.client_ns).exists()


def _dead(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


# ---------------------------------------------------------------------------------------------
# DHCP


def test_ipxe_client_by_option_175_is_tagged_and_gets_ipxe_options(lab: Lab, script: Path) -> None:
    lease, log = udhcpc(lab, script, "-x", IPXE_OPTION_175)
    assert lease["interface"] == CLIENT_IF
    first, last = (ipaddress.IPv4Address(a) for a in lab.dhcp_range)
    assert first <= ipaddress.IPv4Address(lease["ip"]) <= last
    assert lease["mask"] == "24"
    assert lease["router"] == lease["serverid"] == lease["dns"] == lab.server_ip
    assert lease["domain"] == "bootsh.test"
    assert lease["boot_file"] == f"http://{lab.server_ip}/boot.ipxe"
    assert lease["siaddr"] == lab.server_ip
    # Option 175 back, holding sub-option 176 (no-pxedhcp) = 1.
    assert lease["opt175"] == "b00101ff"
    assert _tags(log) and all("ipxe" in tags.split(", ") for tags in _tags(log))
    assert "DHCPACK(veth-srv)" in log


def test_ipxe_client_by_user_class_is_tagged(lab: Lab, script: Path) -> None:
    lease, log = udhcpc(lab, script, "-x", IPXE_USER_CLASS)
    assert "user class: iPXE" in log
    assert _tags(log) and all("ipxe" in tags.split(", ") for tags in _tags(log))
    assert lease["boot_file"] == f"http://{lab.server_ip}/boot.ipxe"


def test_plain_client_is_not_tagged(lab: Lab, script: Path) -> None:
    lease, log = udhcpc(lab, script)
    assert lease["ip"].startswith("10.77.0.")
    assert _tags(log) == ["veth-srv", "veth-srv"]  # DISCOVER and REQUEST, no ipxe tag
    assert "boot_file" not in lease
    assert "opt175" not in lease


def test_lease_file_records_the_client(lab: Lab, leased: dict[str, str]) -> None:
    mac = _links(lab.client_ns)[CLIENT_IF]["address"]
    assert f"{mac} {leased['ip']}" in lab.leases()


# ---------------------------------------------------------------------------------------------
# TFTP, HTTP, DNS from the client


def test_tftp_fetch(lab: Lab, leased: dict[str, str], served: Path, tmp_path: Path) -> None:
    target = tmp_path / "blob.bin"
    proc = lab.run_in_client(
        ["tftp", "-m", "binary", lab.server_ip, "-c", "get", "blob.bin", str(target)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert target.read_bytes() == (served / "blob.bin").read_bytes()
    # dnsmasq logs the transfer once the last ACK is in, maybe after tftp has exited.
    sent = f"sent {served / 'blob.bin'} to {leased['ip']}"
    assert wait_for(lambda: sent in lab.dnsmasq_log()), lab.dnsmasq_log()


def test_tftp_missing_file(lab: Lab, leased: dict[str, str], tmp_path: Path) -> None:
    # tftp-hpa exits 0 even then: the message is what tells.
    proc = lab.run_in_client(
        ["tftp", lab.server_ip, "-c", "get", "nothere", str(tmp_path / "x")],
        capture_output=True,
        text=True,
    )
    assert "not found" in proc.stdout + proc.stderr


def test_http_fetch(lab: Lab, leased: dict[str, str], served: Path) -> None:
    proc = lab.run_in_client(
        ["curl", "-fsS", "--max-time", "10", f"{lab.http_url}blob.bin"], capture_output=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (served / "blob.bin").read_bytes()
    assert f'{leased["ip"]} "GET /blob.bin HTTP/1.1" 200' in lab.http_log()


def test_http_by_name_through_the_lab_dns(lab: Lab, leased: dict[str, str]) -> None:
    proc = lab.run_in_client(
        ["curl", "-fsS", "--max-time", "10", "http://server.bootsh.test/hello.txt"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "hello from the lab\n"
    assert f"query[A] server.bootsh.test from {leased['ip']}" in lab.dnsmasq_log()


def test_http_missing_file(lab: Lab, leased: dict[str, str]) -> None:
    proc = lab.run_in_client(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", f"{lab.http_url}nothere"],
        capture_output=True,
        text=True,
    )
    assert proc.stdout == "404"


def test_dns(lab: Lab, leased: dict[str, str]) -> None:
    def lookup(name: str) -> subprocess.CompletedProcess[str]:
        return lab.run_in_client(
            ["busybox", "nslookup", name, lab.server_ip], capture_output=True, text=True
        )

    found = lookup("server.bootsh.test")
    assert found.returncode == 0
    assert f"Address: {lab.server_ip}" in found.stdout
    assert "NXDOMAIN" in lookup("nothere.bootsh.test").stdout
    # Nothing is forwarded anywhere: a name outside the lab's domain is refused.
    assert "REFUSED" in lookup("example.com").stdout


def test_client_resolver_is_the_lab_dns_only(lab: Lab, leased: dict[str, str]) -> None:
    etc = lab.run_in_client(
        ["sh", "-c", "cat /etc/resolv.conf; grep ^hosts: /etc/nsswitch.conf"],
        capture_output=True,
        text=True,
    )
    assert etc.stdout == f"nameserver {lab.server_ip}\nsearch bootsh.test\nhosts: files dns\n"
    # glibc's resolver (what curl and bootsh's getaddrinfo use), through the search domain.
    found = lab.run_in_client(["getent", "hosts", "server"], capture_output=True, text=True)
    assert found.stdout.split() == [lab.server_ip, "server.bootsh.test"]


# ---------------------------------------------------------------------------------------------
# Isolation


def test_no_traffic_can_leave(lab: Lab, leased: dict[str, str]) -> None:
    server, client = _links(lab.server_ns), _links(lab.client_ns)
    assert set(server) == {"lo", SERVER_IF}
    assert set(client) == {"lo", CLIENT_IF}
    # Each veth's only peer is the other one, in the other lab namespace.
    assert server[SERVER_IF]["link_index"] == client[CLIENT_IF]["ifindex"]
    assert client[CLIENT_IF]["link_index"] == server[SERVER_IF]["ifindex"]
    assert "link_netnsid" in server[SERVER_IF] and "link_netnsid" in client[CLIENT_IF]
    # The server speaks IPv4 only: no router solicitations or MLD reports towards the client.
    assert not [a for a in server[SERVER_IF].get("addr_info", []) if a["family"] == "inet6"]
    addrs = subprocess.run(
        ["ip", "-n", lab.server_ns, "-j", "-6", "address", "show"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert [a for a in json.loads(addrs.stdout) if a.get("addr_info")] == []
    # Neither end exists in the initial namespace.
    assert not {SERVER_IF, CLIENT_IF} & set(_links())
    # Only the lab subnet is routable; the server does not forward.
    for netns in (lab.server_ns, lab.client_ns):
        routes = subprocess.run(
            ["ip", "-n", netns, "-j", "route", "show"], capture_output=True, text=True, check=True
        )
        assert [r["dst"] for r in json.loads(routes.stdout)] == [str(lab.subnet)]
        out = subprocess.run(
            ["ip", "-n", netns, "route", "get", "192.0.2.1"], capture_output=True, text=True
        )
        assert out.returncode != 0 and "unreachable" in out.stderr
    forward = lab.run_in_server(["cat", "/proc/sys/net/ipv4/ip_forward"], capture_output=True)
    assert forward.stdout == b"0\n"


def test_server_veth_has_tx_checksum_offload_off(lab: Lab) -> None:
    proc = lab.run_in_server(["ethtool", "-k", SERVER_IF], capture_output=True, text=True)
    assert "tx-checksumming: off" in proc.stdout


def test_links_are_running_when_start_returns(lab: Lab) -> None:
    assert "LOWER_UP" in _links(lab.client_ns)[CLIENT_IF]["flags"]
    assert _links(lab.client_ns)[CLIENT_IF]["operstate"] == "UP"


# ---------------------------------------------------------------------------------------------
# Teardown


def test_teardown_leaves_nothing(served: Path) -> None:
    _require_tools()
    root_links = set(_links())
    lab = started(Lab(served, client_mac="02:00:00:00:00:42"))
    assert {lab.server_ns, lab.client_ns} <= _netns_list()
    assert _links(lab.client_ns)[CLIENT_IF]["address"] == "02:00:00:00:00:42"
    dnsmasq = lab.dnsmasq_pid
    assert dnsmasq is not None and netns_pids(lab.server_ns) == [dnsmasq]
    lab.close()
    lab.close()  # again: nothing to do
    assert_gone(lab, root_links)
    assert _dead(dnsmasq)
    with pytest.raises(LabError, match="not running"):
        lab.run_in_client(["true"])


def test_teardown_after_an_exception(served: Path) -> None:
    _require_tools()
    root_links = set(_links())
    lab = Lab(served)
    with pytest.raises(ZeroDivisionError), lab:
        # Left running: the teardown kills it by its namespace.
        sleeper = subprocess.Popen(lab.client_argv(["sleep", "60"]))
        raise ZeroDivisionError
    assert sleeper.wait(10) == -signal.SIGKILL
    assert_gone(lab, root_links)


def test_missing_served_directory(tmp_path: Path) -> None:
    _require_tools()
    root_links = set(_links())
    lab = Lab(tmp_path / "nothere")
    with pytest.raises(LabError, match="no such directory"):
        started(lab)
    assert_gone(lab, root_links)
    assert not (tmp_path / "nothere").exists()


def test_teardown_after_a_failed_start(served: Path) -> None:
    _require_tools()
    root_links = set(_links())
    lab = Lab(served, dnsmasq_args=["--no-such-option"])
    with pytest.raises(LabError, match="dnsmasq exited"):
        started(lab)
    assert_gone(lab, root_links)


def test_quiet_client_sends_nothing_of_its_own(served: Path) -> None:
    """With client_ipv6=False the kernel sends nothing on veth-cli: counters stay exact."""
    _require_tools()
    with started(Lab(served, client_ipv6=False, dns=False, http=False)) as lab:
        time.sleep(0.3)  # an IPv6 kernel would have sent MLD reports and DAD probes by now
        stats = _links(lab.client_ns)[CLIENT_IF]
        assert not [a for a in stats.get("addr_info", []) if a["family"] == "inet6"]
        counters = lab.run_in_client(
            ["cat", f"/sys/class/net/{CLIENT_IF}/statistics/tx_packets"], capture_output=True
        )
        assert counters.stdout == b"0\n"


def test_without_dns_dnsmasq_does_not_listen_on_53(served: Path) -> None:
    _require_tools()
    with started(Lab(served, dns=False, http=False)) as lab:
        udp = lab.run_in_server(["cat", "/proc/net/udp"], capture_output=True, text=True)
        ports = {int(line.split()[1].rsplit(":", 1)[1], 16) for line in udp.stdout.splitlines()[1:]}
        assert ports == {67, 69}
        assert not Path("/etc/netns", lab.client_ns).exists()


# ---------------------------------------------------------------------------------------------
# Command line, signals, crashes


def _lab_cli(*args: str, **kwargs: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bootsh.lab", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def _names_from(line: str) -> tuple[str, str]:
    server_ns, client_ns = line.split()
    assert server_ns.startswith(NAME_PREFIX) and client_ns.startswith(NAME_PREFIX)
    return server_ns, client_ns


PRINT_AND_SLEEP = 'echo "$BOOTSH_LAB_SERVER_NS $BOOTSH_LAB_CLIENT_NS"; exec sleep 60'


def test_cli_runs_the_command_in_the_client(served: Path) -> None:
    _require_tools()
    root_links = set(_links())
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "bootsh.lab", "--serve", str(served), "--"),
            *("sh", "-c", 'ip -br link; cat "$BOOTSH_LAB_SERVE/hello.txt"; exit 3'),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 3, proc.stderr
    assert "veth-cli@if10" in proc.stdout and "hello from the lab" in proc.stdout
    assert re.search(r"bootsh lab: up in [\d.]+ s: server 10\.77\.0\.1/24", proc.stderr)
    assert re.search(r"bootsh lab: down in [\d.]+ s", proc.stderr)
    assert set(_links()) == root_links
    server_ns = re.search(r"netns (\S+-srv)", proc.stderr)[1]  # type: ignore[index]
    assert server_ns not in _netns_list()


@pytest.mark.parametrize(
    ("signum", "status"), [(signal.SIGTERM, 128 + 15), (signal.SIGINT, 128 + 2)]
)
def test_cli_signal_ends_command_and_lab(served: Path, signum: int, status: int) -> None:
    _require_tools()
    root_links = set(_links())
    proc = _lab_cli("--serve", str(served), "--", "sh", "-c", PRINT_AND_SLEEP)
    try:
        server_ns, client_ns = _names_from(readline(proc.stdout))  # type: ignore[arg-type]
        assert {server_ns, client_ns} <= _netns_list()
        proc.send_signal(signum)
        assert proc.wait(30) == status
    finally:
        proc.kill()
        proc.wait()
    assert not {server_ns, client_ns} & _netns_list()
    assert set(_links()) == root_links


def test_cli_ctrl_c_at_a_terminal_goes_to_the_command_only(served: Path) -> None:
    """An interactive command (bootsh cancelling a dhcp) gets Ctrl-C; the lab stays up."""
    _require_tools()
    if shutil.which("setsid") is None:
        pytest.skip("setsid (util-linux) missing")
    master, slave = pty.openpty()
    trap = 'trap "echo got-int" INT; echo "$BOOTSH_LAB_SERVER_NS"; while :; do sleep 0.05; done'
    proc = subprocess.Popen(
        # setsid -c: a new session whose controlling terminal is the pty, as in a real terminal.
        [
            *("setsid", "-c", sys.executable, "-m", "bootsh.lab", "-q", "--serve", str(served)),
            *("--", "sh", "-c", trap),
        ],
        stdin=slave,
        stdout=slave,
        stderr=slave,
    )
    os.close(slave)
    output = b""

    def read_until(marker: bytes) -> bool:
        nonlocal output
        deadline = time.monotonic() + 15
        while marker not in output and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                output += os.read(master, 4096)
        return marker in output

    try:
        assert read_until(b"-srv"), output
        server_ns = re.search(rb"(\S+-srv)", output)[1].decode()  # type: ignore[index]
        os.write(master, b"\x03")  # Ctrl-C: the terminal signals its foreground process group
        assert read_until(b"got-int"), output
        time.sleep(0.3)
        output += os.read(master, 4096) if select.select([master], [], [], 0)[0] else b""
        assert output.count(b"got-int") == 1, output  # not passed on by the lab a second time
        assert proc.poll() is None
        assert server_ns in _netns_list()
        proc.terminate()
        assert proc.wait(30) == 128 + signal.SIGTERM
    finally:
        proc.kill()
        proc.wait()
        os.close(master)
    assert server_ns not in _netns_list()


def test_cli_without_command_serves_until_sigint(served: Path) -> None:
    _require_tools()
    proc = _lab_cli("--serve", str(served))
    try:
        line = readline(proc.stderr)  # type: ignore[arg-type]
        assert "up in" in line
        server_ns = re.search(r"netns (\S+-srv)", line)[1]  # type: ignore[index]
        assert server_ns in _netns_list()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        proc.kill()
        proc.wait()
    assert server_ns not in _netns_list()


def test_stale_lab_of_a_killed_owner_is_cleaned(lab: Lab, served: Path) -> None:
    root_links = set(_links())
    proc = _lab_cli("--serve", str(served), "--", "sh", "-c", PRINT_AND_SLEEP)
    try:
        server_ns, client_ns = _names_from(readline(proc.stdout))  # type: ignore[arg-type]
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    # The lock keeps the labs of test runs in parallel from cleaning up this one first.
    with stale_lock():
        proc.kill()  # SIGKILL: no teardown at all
        proc.wait()
        name = server_ns.removesuffix("-srv")
        left = netns_pids(server_ns) + netns_pids(client_ns)
        assert len(left) == 2  # dnsmasq and the sleep outlive their owner
        assert {server_ns, client_ns} <= _netns_list()
        assert Path(tempfile.gettempdir(), name).exists()
        assert name in cleanup_stale()
    assert not {server_ns, client_ns} & _netns_list()
    assert all(_dead(pid) for pid in left)
    assert not Path(tempfile.gettempdir(), name).exists()
    assert not Path("/etc/netns", client_ns).exists()
    assert set(_links()) == root_links
    # A lab whose owner lives (this module's) is left alone.
    assert {lab.server_ns, lab.client_ns} <= _netns_list()
    assert name not in cleanup_stale()


def test_a_new_lab_cleans_stale_ones_first(served: Path) -> None:
    _require_tools()
    proc = _lab_cli("--serve", str(served), "--", "sh", "-c", PRINT_AND_SLEEP)
    try:
        server_ns, client_ns = _names_from(readline(proc.stdout))  # type: ignore[arg-type]
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    with stale_lock():
        proc.kill()
        proc.wait()
        assert server_ns in _netns_list()
    with started(Lab(served)):
        assert not {server_ns, client_ns} & _netns_list()


def test_lab_up_and_down_are_fast(served: Path) -> None:
    """Up and down stay fast: a lab per test module costs next to nothing."""
    _require_tools()
    ups, downs = [], []
    for _ in range(3):
        with started(Lab(served)) as lab:
            pass
        ups.append(lab.timings["up"])
        downs.append(lab.timings["down"])
    assert min(ups) < 1.0 and min(downs) < 1.0
