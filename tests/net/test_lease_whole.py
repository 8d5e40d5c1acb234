"""A lease is applied whole or not at all, and a link is left as it was found (issue 14,
item 13).

In the lab, tests/dhcp_responder.py (``lease`` mode) hands out what the kernel must not get:
127.0.0.5/8, a zero netmask (classful /8) with a gateway outside it, a /32 with such a
gateway. bootsh said "not applied" but the address stayed; now the lease is checked whole
before any change and the client's interface keeps no address and no route. Where the
kernel itself refuses a step (netlink.apply called directly, without bootsh's check), the
steps already taken are undone.

A link that was down when bootsh opened it goes down again when bootsh is interrupted
(Ctrl-C, SIGTERM) in the middle of ``dhcp``; after a normal end an open netdev keeps it up
(tests/plugins/test_af_packet.py::test_ifopen_sets_the_link_up).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from bootsh.lab import Lab
from tests.helpers import ROOT, bootsh, bootsh_argv, started

MAC = "02:00:00:00:dc:13"
GATEWAY = "192.168.9.9"  # nowhere near any of the leases


def addresses(lab: Lab) -> list[str]:
    out = lab.run_in_client(
        ["ip", "-4", "-o", "addr", "show", "dev", lab.client_if], capture_output=True, text=True
    ).stdout
    return re.findall(r"inet (\S+)", out)


def routes(lab: Lab) -> str:
    return str(lab.run_in_client(["ip", "-4", "route"], capture_output=True, text=True).stdout)


def link_up(lab: Lab) -> bool:
    flags = lab.run_in_client(
        ["cat", f"/sys/class/net/{lab.client_if}/flags"], capture_output=True, text=True
    ).stdout
    return bool(int(flags, 16) & 0x1)


@pytest.fixture
def bare() -> Iterator[Lab]:
    with started(Lab(dhcp=False, tftp=False, dns=False, http=False, client_mac=MAC,
                     client_ipv6=False)) as lab:  # fmt: skip
        yield lab


def responder(lab: Lab, lease: str, mask: str, router: str) -> subprocess.Popen[str]:
    ns = lab.add_host("10.77.0.2")
    argv = lab.host_argv(ns, [sys.executable, "-u", str(ROOT / "tests" / "dhcp_responder.py"),
                              "lease", "eth0", "10.77.0.2", lease, mask, router])  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n", proc.stderr and proc.stderr.read()
    return proc


@pytest.mark.parametrize(
    ("lease", "mask", "reason"),
    [
        ("127.0.0.5", "255.0.0.0", "the address 127.0.0.5 is a loopback address"),
        ("10.77.0.150", "0.0.0.0", f"the gateway {GATEWAY} is outside 10.77.0.150/8"),
        ("10.77.0.150", "255.255.255.255", f"the gateway {GATEWAY} is outside 10.77.0.150/32"),
    ],
    ids=["loopback", "mask-0", "mask-32"],
)
def test_a_lease_the_kernel_cannot_take_whole_is_not_applied_at_all(
    bare: Lab, lease: str, mask: str, reason: str
) -> None:
    server = responder(bare, lease, mask, GATEWAY)
    try:
        proc = bootsh(bare, "ifconf -t 10000", "show net0.dhcp/ip")
    finally:
        server.terminate()
        server.communicate(timeout=10)
    assert proc.returncode == 0, proc.stderr
    # iPXE's view: the lease was received and is in the settings.
    assert proc.stdout.splitlines()[-1] == f"net0.dhcp/ip:ipv4 = {lease}"
    assert f"bootsh: net0: the lease is not applied to veth-cli: {reason}" in (
        proc.stderr.splitlines()
    )
    # The kernel's view: nothing of it.
    assert addresses(bare) == []
    assert "default" not in routes(bare)


APPLY = textwrap.dedent(
    """
    import sys
    from bootsh.net import netlink
    try:
        netlink.apply(sys.argv[1], netlink.Ipv4Config("10.77.0.150", 32, "10.77.0.1"))
    except netlink.NetlinkError as exc:
        print(exc)
    """
)


def test_a_step_the_kernel_refuses_undoes_the_steps_before_it(bare: Lab) -> None:
    # Without bootsh's check: the kernel takes the /32 address, then refuses the route via
    # a gateway it cannot reach. The address must go again.
    bare.run_in_client(["ip", "addr", "add", "10.77.0.99/24", "dev", bare.client_if], check=True)
    proc = bare.run_in_client(
        [sys.executable, "-c", APPLY, bare.client_if],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("default route via 10.77.0.1 on veth-cli: "), proc.stdout
    # The overlapping address it took away first is back; the new one is gone.
    assert addresses(bare) == ["10.77.0.99/24"]


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_link_that_was_down_is_down_again_after_an_interruption(
    bare: Lab, how: signal.Signals
) -> None:
    bare.run_in_client(["ip", "link", "set", bare.client_if, "down"], check=True)
    assert not link_up(bare)
    proc = subprocess.Popen(
        bare.client_argv(bootsh_argv("dhcp")),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        seen = b""
        while b"Configuring" not in seen:  # bootsh set the link up and is asking for a lease
            chunk = os.read(proc.stdout.fileno(), 100)
            assert chunk, proc.communicate(timeout=10)
            seen += chunk
        assert link_up(bare)
        proc.send_signal(how)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert b"Traceback" not in err, err
    assert not link_up(bare), "bootsh left the link up"
