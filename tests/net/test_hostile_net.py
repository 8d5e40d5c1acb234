"""Hostile DHCP and DNS (issue 14, items 12 and 14).

DNS: an answer made of compression pointers that point at pointers, back through the whole
message: every name was a walk through all of it (a 65 KB answer took ~30 s). The parse is
checked in-process, its work counted (every byte the parser looks at), so that the test
asserts the bound and not a duration.

DHCP, in the lab (bootsh as a process in the client namespace, tests/dhcp_responder.py on
extra hosts of the link): a broadcast flood to UDP port 68 during ``ifconf -t 3000`` must
end at the 3 s like silence does (it drained the flood for 40-50 s, its list of frames
growing); a DHCPNAK whose message holds escape sequences is reported with them visible.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from bootsh.lab import Lab
from bootsh.net import dns
from tests.helpers import ROOT, bootsh, started

MAC = "02:00:00:00:dc:07"
CONFIGURING = f"Configuring (net0 {MAC})..."
TIMED_OUT = re.escape(CONFIGURING) + r"\.* Connection timed out \(https://ipxe.org/4c07206e\)\n"


# -- DNS ----------------------------------------------------------------------------------------


class CountingBytes(bytes):
    """A message that counts how often the parser reads from it."""

    reads = 0

    def __getitem__(self, key: object) -> object:  # type: ignore[override]
        CountingBytes.reads += 1
        return super().__getitem__(key)  # type: ignore[call-overload]


def pointer_chain(records: int) -> bytes:
    """An answer to "x" whose records' owner names are pointers to the previous record's
    owner (itself a pointer), the first one "x": valid names, each a long walk back."""
    msg = bytearray(b"\x00\x01\x81\x80\x00\x01" + records.to_bytes(2, "big") + b"\x00\x00" * 2)
    msg += b"\x01x\x00\x00\x01\x00\x01"  # the question: x, A, IN
    previous = 12  # the question's name
    for _ in range(records):
        here = len(msg)
        msg += (0xC000 | previous).to_bytes(2, "big")
        msg += b"\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x0a\x00\x00\x01"  # A, IN, TTL, 4 bytes
        previous = here
    return bytes(msg)


def test_a_chain_of_pointers_to_pointers_is_refused_in_linear_work() -> None:
    msg = pointer_chain(3000)
    assert len(msg) > 45_000
    CountingBytes.reads = 0
    with pytest.raises(dns.Malformed, match="more than 16 compression pointers in a row"):
        dns.records(CountingBytes(msg), 1)
    # Each record costs a bounded number of reads; the walk back through the message did
    # not (4.5 million reads for this message, 30 s for a 65 KB one).
    assert CountingBytes.reads < 100 * 20, CountingBytes.reads


def test_a_name_of_labels_chained_back_is_cut_at_255_bytes() -> None:
    # Labels each followed by a pointer to the one before: the name grows by 2 bytes a step;
    # it is refused when it passes 255, not after copying the chain.
    msg = bytearray(b"\x00\x01\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00\x01x\x00\x00\x01\x00\x01")
    previous = 12
    for _ in range(5000):
        here = len(msg)
        msg += b"\x01y" + (0xC000 | previous).to_bytes(2, "big")
        previous = here
    CountingBytes.reads = 0
    with pytest.raises(dns.Malformed, match="name longer than 255 bytes"):
        dns.read_name(CountingBytes(bytes(msg)), previous)
    assert CountingBytes.reads < 2000, CountingBytes.reads


def test_a_real_compressed_answer_still_parses() -> None:
    # www.example.test -> CNAME boot.example.test (compressed), A 10.0.0.7
    msg = (
        b"\x00\x07\x81\x80\x00\x01\x00\x02\x00\x00\x00\x00"
        b"\x03www\x07example\x04test\x00\x00\x01\x00\x01"
        b"\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x07\x04boot\xc0\x10"
        b"\xc0\x2e\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x0a\x00\x00\x07"
    )
    _, found = dns.records(msg, 7)
    assert [(dns.name_text(owner), record.rtype) for owner, record in found] == [
        ("www.example.test", dns.TYPE_CNAME),
        ("boot.example.test", dns.TYPE_A),
    ]


# -- DHCP ---------------------------------------------------------------------------------------


@pytest.fixture
def bare() -> Iterator[Lab]:
    with started(Lab(dhcp=False, tftp=False, dns=False, http=False, client_mac=MAC,
                     client_ipv6=False)) as lab:  # fmt: skip
        yield lab


def responder(lab: Lab, *args: str, ip: str) -> subprocess.Popen[str]:
    """tests/dhcp_responder.py on a new host of the link, once it is ready."""
    ns = lab.add_host(ip)
    argv = lab.host_argv(ns, [sys.executable, "-u", str(ROOT / "tests" / "dhcp_responder.py"),
                              args[0], "eth0", ip, "10.77.0.150", *args[1:]])  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n", proc.stderr and proc.stderr.read()
    return proc


def stop(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        proc.terminate()
    out, _ = proc.communicate(timeout=10)
    return out


def test_a_broadcast_flood_on_port_68_ends_at_the_timeout(bare: Lab) -> None:
    # Three flooders: more frames than the client's receive loop reads, so "every frame
    # waiting" never ran out. They run until they are stopped (at most 120 s each).
    flooders = [responder(bare, "flood", ip=f"10.77.0.{n}") for n in (21, 22, 23)]
    try:
        proc = bootsh(bare, "ifconf -t 3000", timeout=60)
        assert all(f.poll() is None for f in flooders), "the flood stopped before bootsh did"
    finally:
        for flooder in flooders:
            stop(flooder)
    assert proc.returncode == 1, proc.stderr
    assert re.fullmatch(TIMED_OUT, proc.stdout), proc.stdout
    assert "Traceback" not in proc.stderr


def test_a_dhcpnak_message_with_escape_sequences_is_shown_not_obeyed(bare: Lab) -> None:
    server = responder(bare, "nak-escape", ip="10.77.0.2")
    try:
        proc = bootsh(bare, "ifconf -t 3000", timeout=60)
    finally:
        stop(server)
    assert proc.returncode == 1
    assert "\x1b" not in proc.stderr and "\x07" not in proc.stderr
    assert "(DHCPNAK: no \\x1b[2J\\x1b]0;pwned\\x07 address)" in proc.stderr


# -- the bound itself, without a network: a socket that never runs dry ---------------------------


class EndlessSocket:
    """A raw socket under a flood faster than it is read: a frame every time it is asked.
    Its file number is a real socket's that is always readable, for select()."""

    def __init__(self) -> None:
        import socket

        self.left, self.right = socket.socketpair()
        self.right.send(b"x")  # never read: select() always sees something waiting
        self.reads = 0

    def fileno(self) -> int:
        return self.left.fileno()

    def recvfrom(self, size: int) -> tuple[bytes, tuple[str, int, int]]:
        self.reads += 1
        return b"\xff" * 6 + b"\x02" * 6 + b"\x08\x00" + bytes(300), ("veth", 0x800, 1)

    def close(self) -> None:
        self.left.close()
        self.right.close()


def test_one_poll_reads_a_bounded_batch_of_an_endless_flood() -> None:
    from bootsh.net.netstate import POLL_LIMIT, NetdevState
    from tests.hostile import within

    sock = EndlessSocket()
    state = NetdevState("net0", "veth", sock=sock)  # type: ignore[arg-type]
    try:
        with within(20, "poll() of an endless flood"):
            frames = state.poll()
    finally:
        sock.close()
    assert len(frames) == POLL_LIMIT == state.rx.good


def test_a_dhcp_session_under_an_endless_flood_ends_at_its_deadline() -> None:
    import time

    from bootsh.net import dhcp
    from bootsh.net.monojob import ETIMEDOUT_MONOJOB
    from bootsh.net.netstate import NetdevState
    from tests.hostile import within

    sock = EndlessSocket()
    state = NetdevState("net0", "veth", sock=sock)  # type: ignore[arg-type]
    state.send = lambda frame: True  # type: ignore[method-assign]
    identity = dhcp.Identity(bytes.fromhex("02000000dc07"))
    try:
        with within(20, "a DHCP session under an endless flood"):
            outcome, _ = dhcp.run_session(state, identity, deadline=time.monotonic() + 0.5)
    finally:
        sock.close()
    assert outcome.rc == ETIMEDOUT_MONOJOB
    assert sock.reads > 0
