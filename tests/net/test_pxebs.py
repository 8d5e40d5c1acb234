"""``pxebs``: PXE boot server discovery against dnsmasq's ``pxe-service`` in the lab, and its
pure parts (the server lists, the timers, what a reply must be, the request) with an injected
clock.

The expected behaviour is iPXE's, observed with Debian's iPXE (1.21.1) in QEMU against this
lab's dnsmasq: ``pxebs net0 128`` asks for type 32768 (the type goes out little-endian); a
client with an address ignores dnsmasq's answer to a broadcast discovery (dnsmasq broadcasts
it, iPXE's socket is bound to the client's address) and takes its unicast answer from a listed
server on port 4011; two requests per server, given up after 3 s; no server to ask is EINVAL
with the error on the ``PXEBS (...)`` line itself.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bootsh.lab import Lab
from bootsh.lang.settings import buildarch
from bootsh.net import dhcp, ifmgmt, pxebs
from bootsh.net.dhcppkt import ACK, OFFER, DhcpBlock, DhcpPacket, encap
from bootsh.plugins import PluginHost
from tests.helpers import bootsh, make_shell, started

MAC = "02:00:00:00:b5:01"
SERVER = "10.77.0.1"
#: What dnsmasq's lab services are listed for: the architecture bootsh says it is.
ARCH = dhcp.CLIENT_ARCHES.get(buildarch(), 0x09)
TIMED_OUT = "Connection timed out (https://ipxe.org/4c10606e)"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pxebs-served")
    (root / "bootsh-a.0").write_text("#!ipxe\necho booted by boot server A\n")
    return root


@pytest.fixture(scope="module")
def lab(served: Path) -> Iterator[Lab]:
    # IPv4 only: dhcp runs its DHCP configurator alone (no router discovery wait).
    with started(Lab(served, client_mac=MAC, client_ipv6=False, pxe_arch=ARCH)) as the_lab:
        yield the_lab


def test_listed_boot_servers_answer_on_4011_and_a_new_lease_forgets_them(lab: Lab) -> None:
    proc = bootsh(
        lab, "dhcp", "show 43.6:uint8", "show 43.8:hex", "pxebs net0 128", "show pxebs/filename",
        "show pxebs/next-server", "chain tftp://${pxebs/next-server}/${pxebs/filename}",
        "pxebs net0 384", "show pxebs/filename", "show net0.pxebs/filename || echo ${errno}",
        "dhcp", "show pxebs/filename || echo ${errno}",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    for configured in (out.pop(12), out.pop(0)):  # the two leases (their dots are timing)
        assert re.fullmatch(rf"Configuring \(net0 {MAC}\)\.{{3,}} ok", configured), out
    assert out == [
        "net0.dhcp/43.6:uint8 = 0x3",  # dnsmasq: no broadcast, no multicast, ask the list
        # 32768 and 32769 at the lab's server, 5 at an address where nothing answers
        "net0.dhcp/43.8:hex = 80:00:01:0a:4d:00:01:80:01:01:0a:4d:00:01:00:05:01:0a:4d:00:fe",
        "PXEBS (net0 type 128)... ok",
        "pxebs/filename:string = bootsh-a.0",
        f"pxebs/next-server:ipv4 = {SERVER}",
        f"tftp://{SERVER}/bootsh-a.0... ok",
        "booted by boot server A",
        "PXEBS (net0 type 384)... ok",  # 384 is 0x0180: 0x8001 on the wire, 32769
        "pxebs/filename:string = bootsh-b.0",
        '"net0.pxebs/filename": invalid setting',  # the root's, as in iPXE
        "0x2c0c2013",
        '"pxebs/filename": invalid setting',  # the new lease removed it
        "0x2c0c2013",
    ]
    log = lab.dnsmasq_log()
    assert "PXE(veth-srv) 10.77.0." in log and "bootsh-a.0" in log and "bootsh-b.0" in log


def test_pxebs_errors_are_ipxes(lab: Lab) -> None:
    proc = bootsh(
        lab, "dhcp", "pxebs net0 1 || echo ${errno}", "pxebs net9 1 || echo ${errno}",
        "pxebs net0 abc || echo ${errno}", "pxebs net0 || echo ${errno}",
    )  # fmt: skip
    out = proc.stdout.splitlines()[1:]
    assert out == [
        # Type 1 is not listed and dnsmasq said not to broadcast: nobody to ask, at once.
        "PXEBS (net0 type 1)Could not discover boot server on net0: "
        "Invalid argument (https://ipxe.org/1c106016)",
        "0x1c106016",
        '"net9": no such network device',
        "0x2c162013",
        '"abc": invalid integer value',
        "0x1c162116",
        "Usage:",
        "",
        "  pxebs <interface> <server type>",
        "",
        "See https://ipxe.org/cmd/pxebs for further information",
        "0x46162022",
    ]
    assert "no PXE boot server to ask for type 1" in proc.stderr


def test_a_silent_server_is_given_up_after_3_s(lab: Lab) -> None:
    started_at = time.monotonic()
    proc = bootsh(lab, "dhcp", "pxebs net0 1280 || echo ${errno}")  # type 5, at .254 only
    took = time.monotonic() - started_at
    out = proc.stdout.splitlines()[1:]
    assert re.fullmatch(rf"PXEBS \(net0 type 1280\)\.{{3}}\.{{2,3}} {re.escape(TIMED_OUT)}", out[0])
    assert out[1:] == [f"Could not discover boot server on net0: {TIMED_OUT}", "0x4c10606e"]
    assert took > pxebs.MAX_TIMEOUT


def test_a_broadcast_answer_is_not_taken_with_an_address(lab: Lab) -> None:
    """With broadcast allowed (a ``set 43.6`` at the top wins over the lease's), the broadcast
    goes first; dnsmasq answers it, broadcast, and bootsh (bound to its address, as iPXE)
    does not take it: after 3 s the listed server answers on port 4011."""
    before = lab.dnsmasq_log().count("bootsh-a.0")
    started_at = time.monotonic()
    proc = bootsh(lab, "dhcp", "set 43.6:uint8 0", "pxebs net0 128", "show pxebs/filename")
    took = time.monotonic() - started_at
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()[1:]
    assert re.fullmatch(r"PXEBS \(net0 type 128\)\.{3}\.{2,4} ok", out[0]), out
    assert out[1:] == ["pxebs/filename:string = bootsh-a.0"]
    assert took > pxebs.MAX_TIMEOUT
    # dnsmasq answered both broadcasts (at 0 and 1 s) and then the request on port 4011.
    assert lab.dnsmasq_log().count("bootsh-a.0") - before >= 3 * 2  # "PXE(...)" and "bootfile"


def test_a_closed_netdev_sends_nothing_and_times_out(lab: Lab) -> None:
    proc = bootsh(lab, "pxebs net0 128 || echo ${errno}", "ifstat net0")
    out = proc.stdout.splitlines()
    assert re.fullmatch(rf"PXEBS \(net0 type 128\)\.{{3}}\.{{2,3}} {re.escape(TIMED_OUT)}", out[0])
    assert out[1:4] == [f"Could not discover boot server on net0: {TIMED_OUT}", "0x4c10606e",
                        f"net0: {MAC} using af_packet on veth-cli (Ethernet) [closed]"]  # fmt: skip
    assert out[4].startswith("  [Link:") and " TX:0 TXE:0 " in out[4]


# -- without a network --------------------------------------------------------------------


def test_the_type_goes_out_little_endian() -> None:
    assert pxebs.wire_type(128) == b"\x80\x00"  # dnsmasq reads 32768
    assert pxebs.wire_type(0x10080) == b"\x80\x00"  # an unsigned int, cut to 16 bits


def test_boot_server_lists_as_ipxe_reads_them() -> None:
    a, b, c = (socket.inet_aton(f"10.0.0.{i}") for i in (1, 2, 3))
    raw = b"\x80\x00\x02" + a + b + b"\x00\x05\x01" + c + b"\x80\x00\x01" + c
    assert pxebs.boot_servers(raw, b"\x80\x00") == [a, b, c]
    assert pxebs.boot_servers(raw, b"\x00\x05") == [c]
    assert pxebs.boot_servers(raw[:-2], b"\x80\x00") == [a, b]  # truncated entry: ends it
    assert pxebs.boot_servers(b"\x80", b"\x80\x00") == []
    listed = b"\x80\x00\x01" + a
    assert pxebs.plan(0, None, listed, b"\x80\x00") == pxebs.Plan((pxebs.BROADCAST, a), None)
    assert pxebs.plan(1, None, listed, b"\x80\x00") == pxebs.Plan((a,), None)
    assert pxebs.plan(5, None, listed, b"\x80\x00") == pxebs.Plan((a,), (a,))
    mcast = socket.inet_aton("239.0.0.1")
    assert pxebs.plan(0, mcast, None, b"\x80\x00").attempts == (mcast, pxebs.BROADCAST)
    assert pxebs.plan(2, mcast, None, b"\x80\x00").attempts == (pxebs.BROADCAST,)
    assert pxebs.plan(3, None, b"\x80\x00\x02" + bytes(4) + a, b"\x80\x00").attempts == ()


def _run(session: pxebs.Discovery) -> list[tuple[float, bytes]]:
    sent: list[tuple[float, bytes]] = []
    now = 0.0
    while session.rc is None:
        session.tick(now)
        sent += [(now, server) for server in session.outbox]
        session.outbox.clear()
        now = session.expires if session.rc is None else now
    return sent


def test_two_requests_per_server_and_3_s_each() -> None:
    a, b = socket.inet_aton("10.0.0.1"), socket.inet_aton("10.0.0.2")
    session = pxebs.Discovery(pxebs.Plan((pxebs.BROADCAST, a, b), None), b"\x80\x00", b"m", 0.0)
    assert _run(session) == [
        (0.0, pxebs.BROADCAST), (1.0, pxebs.BROADCAST), (3.0, a), (4.0, a), (6.0, b), (7.0, b),
    ]  # fmt: skip
    assert session.rc == pxebs.ETIMEDOUT_PXEBS and session.expires == float("inf")


MACB = bytes.fromhex("0200000000b5")


def answer(
    *, port: int = 4011, msgtype: int = ACK, item: bytes | None = b"\x80\x00\x00\x00",
    xid: int = 0, chaddr: bytes = MACB, server: bytes = b"\x0a\x00\x00\x01",
) -> pxebs.Answer:  # fmt: skip
    header = bytearray(dhcp.HEADER_LEN)
    header[0] = 2
    header[4:8] = xid.to_bytes(4, "big")
    header[28 : 28 + len(chaddr)] = chaddr
    packet = DhcpPacket(header, [(53, bytes([msgtype])), (54, server)])
    if item is not None:
        packet.store(pxebs.BOOT_MENU_ITEM, item)
    return pxebs.Answer(packet, server, port)


@pytest.mark.parametrize(
    ("reply", "taken"),
    [
        (answer(), True),
        (answer(port=67), True),
        (answer(port=68), False),
        (answer(msgtype=OFFER), False),
        (answer(item=b"\x00\x80\x00\x00"), False),  # 128 read the other way round
        (answer(item=None), False),
        (answer(xid=1), False),
        (answer(chaddr=bytes(6)), False),
        (answer(server=b"\x0a\x00\x00\x09"), False),  # not in the accept list
    ],
)
def test_what_a_reply_must_be(reply: pxebs.Answer, taken: bool) -> None:
    accept = (b"\x0a\x00\x00\x01",)
    session = pxebs.Discovery(pxebs.Plan(accept, accept), b"\x80\x00", MACB, 0.0)
    assert session.receive(reply, 0.5) is taken
    assert (session.rc == 0) is taken and (session.answer is reply.packet) is taken


def test_the_request_is_ipxes(host: PluginHost) -> None:
    shell = make_shell(host)
    local = socket.inet_aton("10.77.0.150")
    payload = pxebs.request(shell, "net0", MACB, local, b"\x80\x00", 3)
    packet = DhcpPacket.parse(payload)
    assert packet is not None
    assert packet.op == 1 and packet.xid == 0 and packet.chaddr[:6] == MACB
    assert bytes(packet.header[8:12]) == b"\x00\x0c\x80\x00"  # secs = count << 2, broadcast
    assert bytes(packet.header[12:16]) == local  # ciaddr
    assert packet.msgtype == dhcp.REQUEST
    assert packet.fetch(encap(43, 71)) == b"\x80\x00\x00\x00"  # type, layer 0
    assert packet.fetch(60) == dhcp.identity_for(shell, "net0", MACB).vendor_class  # PXEClient
    no_address = DhcpPacket.parse(pxebs.request(shell, "net0", MACB, bytes(4), b"\x80\x00", 1))
    assert no_address is not None and bytes(no_address.header[10:12]) == b"\x00\x00"


def test_a_new_lease_forgets_proxydhcp_and_pxebs(host: PluginHost) -> None:
    shell = make_shell(host)
    old = DhcpPacket(bytearray(dhcp.HEADER_LEN), [(67, b"old")])
    shell.settings.register_block(DhcpBlock("pxebs", old))
    ifmgmt._register_proxy(shell, "net0", old)
    assert shell.settings.get("pxebs/67") == "old" and shell.settings.get("proxydhcp/67") == "old"
    ifmgmt._register_lease(shell, "net0", DhcpPacket(bytearray(dhcp.HEADER_LEN), []))
    for scope in ("pxebs", "proxydhcp", "net0.proxydhcp"):
        assert shell.settings.find_block(scope) is None, scope
