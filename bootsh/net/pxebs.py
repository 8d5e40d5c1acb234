"""PXE boot server discovery: iPXE's ``pxebs`` (``usr/dhcpmgmt.c``, and ``start_pxebs`` with
the PXEBS state of ``net/udp/dhcp.c``).

``pxebs net0 TYPE`` prints ``PXEBS (net0 type TYPE)``, then iPXE's monojob progress (``...``, a
dot a second, `` ok`` or the error) and registers the boot server's DHCPACK as the root
settings block ``pxebs`` (``${pxebs/filename}``, ``${pxebs/next-server}``; not reachable as
``net0.pxebs``, as in iPXE). A new DHCP lease removes it again (``bootsh.net.ifmgmt``).

What iPXE does, kept here (checked against Debian's iPXE 1.21.1 in QEMU, against dnsmasq):

* The servers to try, in order (``start_pxebs``): the multicast address of option 43.7 unless
  43.6 (discovery control) has bit 1, the broadcast address unless it has bit 0, then every
  address listed for the type in 43.8 (boot servers); with bit 2 only replies from the listed
  servers are accepted. Options are read from every settings block (a ``set 43.8`` at the
  top overrides the DHCP server's). No server at all: EINVAL at once, before any progress
  (so iPXE's error line follows ``PXEBS (...)`` on the same line).
* The type goes out little-endian (``cpu_to_le16``) in a field the PXE specification and every
  server read big-endian: ``pxebs net0 128`` asks for dnsmasq's type 32768 (0x8000), its
  first local boot service; the 43.8 list is matched the same way, byte for byte.
* A DHCPREQUEST with transaction id 0, ``ciaddr`` the netdev's address, the broadcast flag when
  it has one, iPXE's usual request options and 43.71 (boot menu item: type, layer 0); sent to
  port 67 for the broadcast address, 4011 otherwise, at 0 and 1 s; 3 s after it started, a
  server is given up for the next one, and after the last one discovery fails with
  "Connection timed out".
* The socket is bound to the netdev's address (port 68), so a reply broadcast to
  255.255.255.255 is not taken when the netdev has an address (iPXE's UDP demultiplexing):
  dnsmasq broadcasts its answer to a broadcast discovery, so against dnsmasq only a listed
  server (port 4011, unicast answer) succeeds, as with iPXE. A reply is taken when it comes
  from port 67 or 4011, is a DHCPACK for our MAC and transaction, names the type asked for in
  43.71 and comes from an accepted server.

Frames go through the kernel (a UDP socket bound to the netdev's interface), like bootsh's DNS
and TFTP; they are counted as the netdev's TX. A closed netdev sends nothing, so discovery
times out, as iPXE's does.
"""

from __future__ import annotations

import contextlib
import errno
import select
import socket
import struct
import time
from typing import TYPE_CHECKING

from bootsh.ipxe_errors import error_number
from bootsh.net.dhcppkt import (
    ACK,
    BOOTPC,
    BOOTPS,
    PXE_PORT,
    PXEBS_SETTINGS_NAME,
    REQUEST,
    DhcpPacket,
    encap,
)
from bootsh.net.monojob import ECANCELED_MONOJOB
from bootsh.records import dataclass, field

if TYPE_CHECKING:
    from bootsh.net.egress import Egress
    from bootsh.nics.netdevs import Netdev
    from bootsh.shell import Shell

DISCOVERY_CONTROL = encap(43, 6)
BOOT_SERVER_MCAST = encap(43, 7)
BOOT_SERVERS = encap(43, 8)
BOOT_MENU_ITEM = encap(43, 71)
#: Discovery control bits (``include/ipxe/dhcp.h``).
NO_BROADCAST, NO_MULTICAST, NO_UNKNOWN_SERVERS = 1, 2, 4
BROADCAST = b"\xff\xff\xff\xff"

#: config/dhcp.h: the PXEBS state's retry timer and the time given to one server.
START_TIMEOUT, END_TIMEOUT, MAX_TIMEOUT = 1.0, 10.0, 3.0

_ERRFILE_DHCP = 0x00106000  # net/udp/dhcp.c
#: No boot server to try (``start_pxebs``): "Invalid argument".
EINVAL_PXEBS = error_number("EINVAL", _ERRFILE_DHCP)
#: Every server tried, none answered: "Connection timed out".
ETIMEDOUT_PXEBS = error_number("ETIMEDOUT", _ERRFILE_DHCP)
_ERRFILE_UDP = 0x000F6000  # net/udp.c
#: Port 68 already taken on this machine (``udp_port_available``).
EADDRINUSE_UDP = error_number("EADDRINUSE", _ERRFILE_UDP)
#: No right to bind port 68 (bootsh without CAP_NET_BIND_SERVICE; iPXE has no such case).
EACCES_UDP = error_number("EACCES", _ERRFILE_UDP)
#: Any other reason the socket could not be made.
EIO_UDP = error_number("EIO", _ERRFILE_UDP)


def wire_type(pxe_type: int) -> bytes:
    """The two bytes iPXE puts on the wire for ``pxebs``'s type: ``cpu_to_le16``."""
    return struct.pack("<H", pxe_type & 0xFFFF)


def boot_servers(raw: bytes, wanted: bytes) -> list[bytes]:
    """iPXE's ``pxebs_list``: the addresses listed in option 43.8 for the type whose two bytes
    are ``wanted``. Each entry is type (2), count (1), addresses (4 each); a truncated entry
    ends the list (what precedes it is kept)."""
    found: list[bytes] = []
    offset = 0
    while offset < len(raw):
        if offset + 3 > len(raw):
            break
        count = raw[offset + 2]
        end = offset + 3 + 4 * count
        if end > len(raw):
            break
        if raw[offset : offset + 2] == wanted:
            found += [raw[i : i + 4] for i in range(offset + 3, end, 4)]
        offset = end
    return found


@dataclass(frozen=True)
class Plan:
    """Where to look: the servers to try in order, and the ones whose replies are accepted
    (None: any)."""

    attempts: tuple[bytes, ...]
    accept: tuple[bytes, ...] | None


def plan(control: int, mcast: bytes | None, servers: bytes | None, wanted: bytes) -> Plan:
    """``start_pxebs``'s lists from the discovery control (43.6), the multicast address
    (43.7) and the boot server list (43.8)."""
    attempts: list[bytes] = []
    if not control & NO_MULTICAST and mcast is not None and any(mcast[:4]):
        attempts.append(mcast[:4].ljust(4, b"\0"))
    if not control & NO_BROADCAST:
        attempts.append(BROADCAST)
    listed = boot_servers(servers or b"", wanted)
    if bytes(4) in listed:  # a zero address ends iPXE's list: it is the terminator there
        listed = listed[: listed.index(bytes(4))]
    attempts += listed
    accept = tuple(listed) if control & NO_UNKNOWN_SERVERS else None
    return Plan(tuple(attempts), accept)


@dataclass(frozen=True)
class Answer:
    """A reply as the session sees it: the packet and where it came from."""

    packet: DhcpPacket
    peer_ip: bytes
    peer_port: int

    @property
    def pseudo_id(self) -> bytes:
        """iPXE's server pseudo-id: the server id, else siaddr, else the sender."""
        server_id = (self.packet.fetch(54) or b"")[:4]
        for candidate in (server_id, self.packet.siaddr, self.peer_ip):
            if len(candidate) == 4 and any(candidate):
                return candidate
        return bytes(4)


@dataclass
class Discovery:
    """The PXEBS state, driven from outside like ``bootsh.net.dhcp.Session``: ``tick(now)``
    queues the servers to send to in ``outbox``, ``receive(answer, now)`` takes a reply;
    ``rc`` is set when it ends (0: ``answer`` holds the boot server's ACK)."""

    plan: Plan
    wanted: bytes
    mac: bytes
    now: float
    outbox: list[bytes] = field(default_factory=list)
    rc: int | None = None
    answer: DhcpPacket | None = None
    index: int = 0
    count: int = 0
    start: float = 0.0
    timeout: float = 0.0
    expires: float = 0.0

    def __post_init__(self) -> None:
        self._enter(self.now)

    def _enter(self, now: float) -> None:
        # dhcp_set_state: a new state start and start_timer_nodelay
        self.start = now
        self.timeout = 0.0
        self.expires = now

    @property
    def server(self) -> bytes:
        return self.plan.attempts[self.index]

    def tick(self, now: float) -> None:
        if self.rc is not None or now < self.expires:
            return
        self.timeout *= 2
        if self.timeout > END_TIMEOUT:
            self._finish(ETIMEDOUT_PXEBS)
            return
        self.count += 1
        # iPXE compares the time spent on this server with "more than 3 s" in timer ticks;
        # its third expiry comes a few ticks past 3 s (the timer restarted after the first
        # transmission), so it moves on there: two transmissions per server, as Debian's
        # iPXE does on the wire. ">=" gives that with exact times too.
        if now - self.start >= MAX_TIMEOUT:
            if self.index + 1 < len(self.plan.attempts):
                self.index += 1
                self._enter(now)
                self.tick(now)
            else:
                self._finish(ETIMEDOUT_PXEBS)
            return
        self.timeout = max(self.timeout, START_TIMEOUT)
        self.expires = now + self.timeout
        self.outbox.append(self.server)

    def receive(self, answer: Answer, now: float) -> bool:
        """Take ``answer`` if it is the boot server's; True when taken."""
        packet = answer.packet
        if self.rc is not None or packet.op != 2 or packet.xid != 0:
            return False
        if packet.chaddr[: len(self.mac)] != self.mac:
            return False
        if answer.peer_port not in (BOOTPS, PXE_PORT) or packet.msgtype != ACK:
            return False
        item = (packet.fetch(BOOT_MENU_ITEM) or b"")[:4].ljust(4, b"\0")
        if item[:2] != self.wanted:
            return False
        if self.plan.accept is not None and answer.pseudo_id not in self.plan.accept:
            return False
        self.answer = packet
        self._finish(0)
        return True

    def _finish(self, rc: int) -> None:
        self.rc = rc
        self.expires = float("inf")


def request(shell: Shell, name: str, mac: bytes, local: bytes, wanted: bytes, count: int) -> bytes:
    """The BOOTREQUEST payload (``dhcp_tx`` in the PXEBS state): iPXE's request options, the
    boot menu item, ``secs`` carrying the transmission count."""
    from bootsh.net import dhcp

    identity = dhcp.identity_for(shell, name, mac)
    packet = DhcpPacket(bytearray(236), dhcp.request_options(identity, REQUEST))
    packet.header[0:4] = bytes([1, 1, len(mac), 0])
    packet.header[8:10] = struct.pack("!H", (count << 2) & 0xFFFF)
    if any(local):
        packet.header[10:12] = b"\x80\x00"  # iPXE asks for broadcast answers with an address
    packet.header[12:16] = local
    packet.header[28 : 28 + len(mac)] = mac
    packet.store(BOOT_MENU_ITEM, wanted + b"\0\0")
    return packet.to_bytes()


def _open_socket(ifname: str, local: bytes) -> socket.socket:
    """A UDP socket on ``ifname``, port 68, bound to ``local`` (the netdev's address) or to
    any address when it has none: what iPXE's socket receives, this one receives."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # The netdev's address even if the kernel interface lacks it (iPXE's own stack
        # would send from it all the same).
        sock.setsockopt(socket.IPPROTO_IP, getattr(socket, "IP_FREEBIND", 15), 1)
        sock.bind((socket.inet_ntoa(local) if any(local) else "", BOOTPC))
    except OSError:
        sock.close()
        raise
    return sock


def _settings_raw(shell: Shell, tag: int) -> bytes | None:
    found = shell.settings.lookup(f"{tag >> 8}.{tag & 0xFF}")
    return found.raw if found is not None else None


def discover(shell: Shell, netdev: Netdev, pxe_type: int) -> int:
    """``pxebs``: print the progress line, run discovery, register the ``pxebs`` block.
    Returns the status; on failure the caller prints iPXE's "Could not discover" line."""
    from bootsh.net.dhcp import ipv4_route
    from bootsh.net.dhcppkt import DhcpBlock
    from bootsh.net.egress import Egress

    name = str(netdev.name)
    signed = pxe_type - (1 << 32) if pxe_type >= 1 << 31 else pxe_type
    shell.print(f"PXEBS ({name} type {signed})", end="")
    wanted = wire_type(pxe_type)
    control_raw = _settings_raw(shell, DISCOVERY_CONTROL) or b""
    control = int.from_bytes(control_raw[:4], "big") if control_raw else 0
    where = plan(control, _settings_raw(shell, BOOT_SERVER_MCAST),
                 _settings_raw(shell, BOOT_SERVERS), wanted)  # fmt: skip
    if not where.attempts:
        shell.diagnose(f"{name}: no PXE boot server to ask for type {signed} (options 43.6/43.8)")
        return EINVAL_PXEBS
    route = ipv4_route(shell, name)
    local = socket.inet_aton(route.address) if route is not None else bytes(4)
    mac = bytes.fromhex((netdev.nic.mac or "").replace(":", ""))
    ifname = netdev.nic.ifname
    sock: socket.socket | None = None
    if ifname:
        try:
            sock = _open_socket(ifname, local)
        except OSError as exc:
            why = exc.strerror or str(exc)
            if exc.errno in (errno.EACCES, errno.EPERM):
                why += " (port 68 needs CAP_NET_BIND_SERVICE: run bootsh as root)"
            shell.diagnose(f"{name}: no UDP socket on {ifname} port {BOOTPC}: {why}")
            if exc.errno == errno.EADDRINUSE:
                return EADDRINUSE_UDP
            return EACCES_UDP if exc.errno in (errno.EACCES, errno.EPERM) else EIO_UDP
    shell.print("...", end="")
    start = time.monotonic()
    session = Discovery(where, wanted, mac, start)
    next_dot = start + 1.0
    rc: int | None = None
    try:
        while rc is None:
            now = time.monotonic()
            session.tick(now)
            state = shell.netstate.peek(name)
            for server in session.outbox:
                if sock is None or state is None or not state.is_open or not ifname:
                    continue  # a closed netdev sends nothing: the timer runs out
                payload = request(shell, name, mac, local, wanted, session.count)
                port = BOOTPS if server == BROADCAST else PXE_PORT
                _send(sock, Egress(name, ifname, state), payload, (socket.inet_ntoa(server), port))
            session.outbox.clear()
            if session.rc is not None:
                rc = session.rc
                break
            if now >= next_dot:
                shell.print(".", end="")
                next_dot += 1.0
                continue
            wait = max(0.0, min(session.expires, next_dot) - now)
            if sock is None:
                time.sleep(wait)
                continue
            with contextlib.suppress(InterruptedError):
                ready, _, _ = select.select([sock], [], [], wait)
                if ready:
                    _receive(sock, session)
    except KeyboardInterrupt:
        rc = ECANCELED_MONOJOB
    finally:
        if sock is not None:
            sock.close()
    if rc == 0 and session.answer is not None:
        shell.settings.register_block(DhcpBlock(PXEBS_SETTINGS_NAME, session.answer))
        shell.print(" ok")
        return 0
    from bootsh.net.dhcp import describe_error

    shell.print(f" {describe_error(rc)}")
    return rc


def _send(sock: socket.socket, egress: Egress, payload: bytes, target: tuple[str, int]) -> None:
    from bootsh.net.egress import count_send

    with contextlib.suppress(OSError):  # counted as a TX error; the timers go on
        count_send(egress, lambda: sock.sendto(payload, target))


def _receive(sock: socket.socket, session: Discovery) -> None:
    try:
        data, (peer, port, *_) = sock.recvfrom(65535)
    except OSError:
        return  # an ICMP error on the socket: iPXE never sees those
    packet = DhcpPacket.parse(data)
    if packet is not None:
        session.receive(Answer(packet, socket.inet_aton(peer), port), time.monotonic())
