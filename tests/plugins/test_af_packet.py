"""``--net af_packet,if=IFACE``, ``ifopen``/``ifclose`` and ``ifstat`` counters, in the lab.

bootsh runs in the lab's client namespace on veth-cli (the client kernel is kept silent there:
``client_ipv6=False``), so the counters are exact. Frames come from a raw socket in the server
namespace. The in-process tests at the end need no lab.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import bootsh_ipxe_cmds
from bootsh.context import Config, Context
from bootsh.hookspecs import hookimpl
from bootsh.lab import Lab
from bootsh.lang.script import parse_script
from bootsh.net.netstate import NetdevState
from bootsh.nics.nic import Nic
from bootsh.plugins import make_plugin_manager
from bootsh.shell import Shell
from bootsh_af_packet import nic_for, parse_net
from tests.helpers import ROOT, SEND_FRAMES, bootsh, bootsh_argv, started

CLIENT_MAC = "02:00:00:00:ab:01"
NET = "af_packet,if=veth-cli"
CLOSED = f"net0: {CLIENT_MAC} using af_packet on veth-cli (Ethernet) [closed]"
OPEN = f"net0: {CLIENT_MAC} using af_packet on veth-cli (Ethernet) [open]"
IDLE = "  [Link:up, TX:0 TXE:0 RX:0 RXE:0]"


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    quiet = Lab(
        dhcp=False,
        tftp=False,
        dns=False,
        http=False,
        client_mac=CLIENT_MAC,
        client_ipv6=False,
    )
    with started(quiet):
        yield quiet


def test_net_gives_exactly_that_nic_closed(lab: Lab) -> None:
    proc = bootsh(lab, "ifstat", "show net0/mac", "show net0/chip", "echo ${net0/linux-ifname}")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        CLOSED,
        IDLE,
        f"net0/mac:hex = {CLIENT_MAC}",
        "net0/chip:string = af_packet",
        "veth-cli",
    ]


def test_open_close_and_netx(lab: Lab) -> None:
    proc = bootsh(
        lab,
        "ifstat",
        "ifopen",
        "ifstat net0",
        "echo ${netX/linux-ifname}",
        "ifclose net0",
        "ifstat",
        "ifopen net0",
        "ifclose",
        "ifstat",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        CLOSED,
        IDLE,
        OPEN,
        IDLE,
        "veth-cli",
        CLOSED,
        IDLE,
        CLOSED,
        IDLE,
    ]


def test_ifopen_sets_the_link_up(lab: Lab) -> None:
    lab.run_in_client(["ip", "link", "set", "veth-cli", "down"], check=True)
    try:
        proc = bootsh(lab, "ifopen", "echo ${netX/mac}")
        assert proc.returncode == 0, proc.stderr
        flags = lab.run_in_client(
            ["cat", "/sys/class/net/veth-cli/flags"], capture_output=True, text=True, check=True
        )
        assert int(flags.stdout, 16) & 0x1  # IFF_UP
    finally:
        lab.run_in_client(["ip", "link", "set", "veth-cli", "up"], check=True)


def test_ifopen_of_a_down_link_counts_no_receive_error(lab: Lab) -> None:
    # Bound while the link was down, the raw socket holds the kernel's pending ENETDOWN; iPXE
    # shows RXE:0 after opening a down netdev, and so must bootsh (issue 11, item 4).
    lab.run_in_client(["ip", "link", "set", "veth-cli", "down"], check=True)
    try:
        proc = bootsh(lab, "ifopen", "iflinkwait -t 10000", "ifstat")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.splitlines() == ["Waiting for link-up on net0... ok", OPEN, IDLE]
    finally:
        lab.run_in_client(["ip", "link", "set", "veth-cli", "up"], check=True)


def test_frames_from_the_server_count_as_rx(lab: Lab) -> None:
    argv = bootsh_argv("ifopen", "echo opened", "sleep 2", "ifstat", "ifclose", "ifstat")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        lab.client_argv(argv),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "opened\n"
        lab.run_in_server(
            [sys.executable, "-c", SEND_FRAMES, lab.server_if], check=True, timeout=10
        )
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    rx = "  [Link:up, TX:0 TXE:0 RX:3 RXE:0]"
    # Counters stay after the close, as iPXE's do.
    assert out.splitlines() == [OPEN, rx, CLOSED, rx]


def test_key_value_pairs_are_recorded() -> None:
    assert parse_net("af_packet,if=eth0,mtu=1400,x=") == (
        "af_packet",
        {"if": "eth0", "mtu": "1400", "x": ""},
    )


def test_a_missing_interface_is_refused_at_start_naming_those_there(lab: Lab) -> None:
    """Checked when bootsh starts (status 2, nothing run), no longer a ``failed`` later."""
    proc = bootsh(lab, "ifstat --all", "ifopen net0", net=("af_packet,if=nosuch0",))
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == (
        "bootsh: --net af_packet,if=nosuch0: no interface 'nosuch0' here"
        " (interfaces: lo, veth-cli)\n"
    )


def test_an_interface_gone_after_the_check_is_unusable_and_unnamed(tmp_path: Path) -> None:
    nic = nic_for("af_packet,if=nosuch0", 0, tmp_path)
    assert nic is not None and nic.problem == "no such interface 'nosuch0'"


def test_a_second_net_with_an_all_zero_mac_is_unusable_and_said(lab: Lab) -> None:
    """``lo``'s MAC is all zeros, which no NIC may send from (iPXE's ``is_valid_ether_addr``):
    it gets no netN, and stderr says why; the first --net is still net0."""
    proc = bootsh(lab, "ifstat", net=(NET, "af_packet,if=lo"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == CLOSED
    assert not any(line.startswith("net1:") for line in lines)
    assert "its MAC 00:00:00:00:00:00 is all zeros" in proc.stderr, proc.stderr


def test_dump_only_nic_fails_to_open_with_a_reason(lab: Lab) -> None:
    # The example machine's vif/0 maps to an eth0 that the client namespace does not have.
    machine = ROOT / "examples" / "machines" / "xen-hvm"
    proc = lab.run_in_client(
        [sys.executable, "-m", "bootsh", "--machine", str(machine), "-c", "ifopen net0"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
    )
    assert proc.returncode == 1
    assert proc.stdout == "Could not open net0: No such device (https://ipxe.org/2c086013)\n"
    assert "bootsh: net0: no kernel interface 'eth0'" in proc.stderr


def test_without_cap_net_raw_the_error_names_it(lab: Lab) -> None:
    drop = ["setpriv", "--bounding-set", "-net_raw,-net_admin", "--inh-caps", "-all"]
    proc = bootsh(lab, "ifopen", prefix=drop)
    assert proc.returncode == 1
    assert (
        proc.stdout == "Could not open net0: Operation not permitted (https://ipxe.org/41086001)\n"
    )
    assert "CAP_NET_RAW" in proc.stderr


def test_without_cap_net_admin_a_down_link_cannot_be_set_up(lab: Lab) -> None:
    lab.run_in_client(["ip", "link", "set", "veth-cli", "down"], check=True)
    try:
        drop = ["setpriv", "--bounding-set", "-net_admin", "--inh-caps", "-all"]
        proc = bootsh(lab, "ifopen", prefix=drop)
        assert proc.returncode == 1
        assert "Could not open net0: Operation not permitted" in proc.stdout
        assert "CAP_NET_ADMIN" in proc.stderr
    finally:
        lab.run_in_client(["ip", "link", "set", "veth-cli", "up"], check=True)
    # With the link already up, CAP_NET_RAW is enough.
    proc = bootsh(lab, "ifopen", "ifstat", prefix=drop)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == OPEN


# -- without a lab -------------------------------------------------------------------------------


class _DumpDriver:
    """A netfront-like NIC known only from a dump: a MAC but no kernel interface."""

    @staticmethod
    @hookimpl
    def bootsh_probe_nics(context: Context) -> list[Nic]:
        return [Nic("netfront", "vif/0", "00:16:3e:00:00:01", "xen", paravirtual=True)]


def _shell() -> tuple[Shell, io.StringIO, io.StringIO]:
    host = make_plugin_manager(
        entry_points=False, extra=[("ipxe_cmds", bootsh_ipxe_cmds), ("dump", _DumpDriver)]
    )
    out, err = io.StringIO(), io.StringIO()
    return Shell(host, Context(Config(), stderr=err), out=out, err=err), out, err


def test_error_kinds_are_listed_as_ipxe_does() -> None:
    shell, out, _ = _shell()
    state = shell.netstate.get("net0", None)
    assert not state.send(b"x" * 60)
    assert not state.send(b"x" * 60)
    state.rx.fail("Invalid argument (runt frame)")
    shell.run_script(parse_script("ifstat", "-c"))
    assert out.getvalue().splitlines() == [
        "net0: 00:16:3e:00:00:01 using netfront on vif/0 (Ethernet) [closed]",
        "  [Link:down, TX:0 TXE:2 RX:0 RXE:1]",
        "  [Link status: Unknown (https://ipxe.org/1a086173)]",
        '  [TXE: 2 x "The socket is not connected"]',
        '  [RXE: 1 x "Invalid argument (runt frame)"]',
    ]


def test_nic_without_kernel_interface_fails_to_open() -> None:
    shell, out, err = _shell()
    status = shell.run_script(parse_script("ifopen", "-c"))
    assert status == 0x2C086013
    assert out.getvalue() == "Could not open net0: No such device (https://ipxe.org/2c086013)\n"
    assert "net0 (netfront vif/0) has no kernel interface to open" in err.getvalue()
    assert shell.settings.last_opened is None


def test_poll_counts_good_and_runt_frames() -> None:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with a, b:
        b.setblocking(False)
        state = NetdevState("net0", "x", sock=b)
        a.send(b"\xff" * 60)
        a.send(b"short")
        assert len(state.poll()) == 1
        assert (state.rx.good, state.rx.bad) == (1, 1)
        assert state.send(b"\x00" * 60)
        assert state.tx.good == 1
        state.sock = None
