"""Sending through bootsh's netdevs with the kernel's IP stack, and resolving names there.

bootsh leaves IP to the kernel: ``dhcp`` applies the lease to the netdev's kernel interface
(netlink), so addresses and routes live there. iPXE sends only through its *open* netdevs, so
bootsh does the same: a destination is reached through the open netdev (``net0``, ``net1``,
...) whose kernel interface has the most specific route to it in the kernel's routing table
(the first in netdev order among equals). Every socket that sends is bound to that interface
(``SO_BINDTODEVICE``), so bootsh's traffic never leaves through an interface that is not one
of its open netdevs, whatever the rest of the machine's routing says; with no such route,
nothing is sent.

What bootsh sends this way is counted as the netdev's TX (iPXE counts its own traffic); what
comes back arrives on the netdev's raw socket and is counted as RX when it is polled.

``resolve`` is iPXE's name resolution for every command that takes a host name: a literal
address is itself, anything else is asked of the DNS servers in the ``dns`` setting
(``bootsh.net.dns``), over a UDP socket bound the same way.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import select
import socket
import struct
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from bootsh.lang.files import PROC_TABLE_SIZE, read_text_bounded
from bootsh.net.dns import PORT, DnsError, Lookup, encode_name, search_list
from bootsh.net.netstate import NetdevState
from bootsh.records import dataclass, field

if TYPE_CHECKING:
    from bootsh.shell import Shell

_RTF_UP = 0x0001


@dataclass(frozen=True)
class Egress:
    """The netdev a destination is reached through: its name, kernel interface and state."""

    name: str
    ifname: str
    state: NetdevState


def bind_device(sock: socket.socket, ifname: str) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())


def open_netdevs(shell: Shell) -> list[Egress]:
    """The shown netdevs that are open and have a kernel interface, in name order."""
    found = []
    for netdev in shell.netdevs().shown:
        name, ifname = netdev.name, netdev.nic.ifname
        state = shell.netstate.peek(name) if name else None
        if name and ifname and state is not None and state.is_open and state.ifname == ifname:
            found.append(Egress(name, ifname, state))
    return found


def kernel_routes(path: Path = Path("/proc/net/route")) -> list[tuple[str, int, int]]:
    """The kernel's IPv4 main-table routes that are up: (interface, network, netmask).

    Read from ``/proc/net/route`` rather than asked of a socket: a socket bound to a device
    reaches *any* address there (the kernel assumes it is on the link when no route says
    otherwise), which is not what iPXE's routing does.
    """
    try:
        lines = read_text_bounded(path, PROC_TABLE_SIZE).splitlines()[1:]
    except OSError:
        return []
    found = []
    for line in lines:
        fields = line.split()
        if len(fields) < 8 or not int(fields[3], 16) & _RTF_UP:
            continue
        # The file prints the raw network-order words as host-order hex.
        network, mask = (
            struct.unpack("!I", struct.pack("=I", int(f, 16)))[0] for f in (fields[1], fields[7])
        )
        found.append((fields[0], network, mask))
    return found


def kernel_routes6(path: Path = Path("/proc/net/ipv6_route")) -> list[tuple[str, int, int]]:
    """The kernel's IPv6 routes that are up: (interface, network, prefix length)."""
    try:
        lines = read_text_bounded(path, PROC_TABLE_SIZE).splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        fields = line.split()
        if len(fields) < 10 or not int(fields[8], 16) & _RTF_UP or fields[9] == "lo":
            continue
        found.append((fields[9], int(fields[0], 16), int(fields[1], 16)))
    return found


def route(shell: Shell, address: str) -> Egress | None:
    """The open netdev whose kernel interface has the most specific route to ``address``
    (the first in netdev order among equals), or None: nothing is sent then."""
    try:
        target = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    netdevs = open_netdevs(shell)
    if not netdevs:
        return None
    if target.version == 6:
        best6: tuple[int, Egress] | None = None
        for egress in netdevs:
            for ifname, network, prefix in kernel_routes6():
                shift = 128 - prefix
                same = ifname == egress.ifname and int(target) >> shift == network >> shift
                if same and (best6 is None or prefix > best6[0]):
                    best6 = (prefix, egress)
        return best6[1] if best6 is not None else None
    routes = kernel_routes()
    best: tuple[int, Egress] | None = None
    for egress in netdevs:
        for ifname, network, mask in routes:
            if ifname == egress.ifname and int(target) & mask == network:
                prefix = bin(mask).count("1")
                if best is None or prefix > best[0]:
                    best = (prefix, egress)
    return best[1] if best is not None else None


def count_send(egress: Egress, send: Callable[[], object]) -> None:
    """Run ``send``; count it as the netdev's TX (good, or an error of its kind)."""
    try:
        send()
    except OSError as exc:
        egress.state.tx.fail(exc.strerror or str(exc))
        raise
    egress.state.tx.good += 1


#: A datagram and its sender's address; ``(b"", ())`` when the socket had only an error.
Datagram = tuple[bytes, tuple[object, ...]]


@dataclass
class BoundSockets:
    """The kernel sockets of one command, one per netdev it sends through, each bound to
    that netdev's kernel interface (``make(ifname)`` creates it; it is closed on failure
    there), so that replies are read where they arrive."""

    make: Callable[[str], socket.socket]
    sockets: dict[str, socket.socket] = field(default_factory=dict)

    def for_egress(self, egress: Egress) -> socket.socket:
        sock = self.sockets.get(egress.ifname)
        if sock is None:
            sock = self.sockets[egress.ifname] = self.make(egress.ifname)
        return sock

    def receive(self, timeout: float) -> Datagram | None:
        """One datagram from the first socket that is readable, or None when ``timeout``
        passes first. Only one is read, so a datagram on another socket waits for the next
        call instead of being lost."""
        if not self.sockets:
            select.select([], [], [], timeout)  # nothing was sent, nothing can come
            return None
        ready, _, _ = select.select(list(self.sockets.values()), [], [], timeout)
        if not ready:
            return None
        try:
            data, address = ready[0].recvfrom(65535)
        except OSError:
            return b"", ()  # an ICMP error reported on the socket: iPXE never sees those
        return data, tuple(address)

    def close(self) -> None:
        for sock in self.sockets.values():
            with contextlib.suppress(OSError):
                sock.close()
        self.sockets.clear()


def bound_udp_socket(family: socket.AddressFamily) -> Callable[[str], socket.socket]:
    """A ``BoundSockets.make`` for UDP sockets of ``family``."""

    def make(ifname: str) -> socket.socket:
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            bind_device(sock, ifname)
        except OSError:
            sock.close()
            raise
        return sock

    return make


def from_port(got: Datagram | None, port: int) -> bytes | None:
    """A ``receive`` result as the DNS and NTP clients take it: None when nothing came,
    the payload when it came from ``port``, else ``b""`` (something came, nothing usable)."""
    if got is None:
        return None
    data, address = got
    return data if len(address) > 1 and address[1] == port else b""


@dataclass
class UdpTransport:
    """``bootsh.net.dns.Transport`` over kernel UDP sockets, one per netdev used, bound to it;
    ``port`` is the servers' (DNS by default, NTP for ``ntp``)."""

    shell: Shell
    port: int = PORT
    sockets: BoundSockets = field(
        default_factory=lambda: BoundSockets(bound_udp_socket(socket.AF_INET))
    )
    sockets6: BoundSockets = field(
        default_factory=lambda: BoundSockets(bound_udp_socket(socket.AF_INET6))
    )

    def send(self, server: str, payload: bytes) -> None:
        egress = route(self.shell, server)
        if egress is None:
            raise OSError(errno.ENETUNREACH, f"no open netdev has a route to {server}")
        v6 = ":" in server
        sock = (self.sockets6 if v6 else self.sockets).for_egress(egress)
        count_send(egress, lambda: sock.sendto(payload, (server, self.port)))

    def receive(self, timeout: float) -> bytes | None:
        if not self.sockets6.sockets:
            return from_port(self.sockets.receive(timeout), self.port)
        if not self.sockets.sockets:
            return from_port(self.sockets6.receive(timeout), self.port)
        both = BoundSockets(self.sockets.make, {**self.sockets.sockets, **{
            f"{k}/6": v for k, v in self.sockets6.sockets.items()}})  # fmt: skip
        return from_port(both.receive(timeout), self.port)

    def close(self) -> None:
        self.sockets.close()
        self.sockets6.close()


def dns_servers(shell: Shell) -> list[str]:
    """iPXE's DNS servers: the ``dns6`` setting's IPv6 addresses first (16 bytes each, as
    DHCPv6 option 23 and RDNSS hold them), then the ``dns`` setting's IPv4 addresses."""
    servers = []
    found6 = shell.settings.lookup("dns6")
    if found6 is not None:
        raw = found6.raw
        step = range(0, len(raw) - len(raw) % 16, 16)
        servers += [socket.inet_ntop(socket.AF_INET6, raw[i : i + 16]) for i in step]
    found = shell.settings.lookup("dns")
    if found is None:
        return servers
    raw = found.raw
    return servers + [
        socket.inet_ntoa(raw[i : i + 4]) for i in range(0, len(raw) - len(raw) % 4, 4)
    ]


def dns_suffixes(shell: Shell) -> list[bytes]:
    """The search list: ``dnssl`` (DHCP option 119), else ``domain`` (iPXE's order)."""
    found = shell.settings.lookup("dnssl")
    if found is not None:
        return search_list(found.raw)
    domain = shell.settings.lookup("domain")
    if domain is None:
        return []
    try:
        return [encode_name(domain.raw.decode("utf-8", "surrogateescape"))]
    except DnsError:
        return []  # iPXE ignores a domain it cannot encode


def resolve(shell: Shell, name: str, trace: Callable[[str, int], None] | None = None) -> str:
    """``name`` as an address, as iPXE resolves it; raises ``bootsh.net.dns.DnsError``.

    Ctrl-C (``KeyboardInterrupt``) passes through with every socket closed.
    """
    transport = UdpTransport(shell)
    try:
        servers = dns_servers(shell)
        lookup = Lookup(name, servers, transport, dns_suffixes(shell), trace=trace)
        lookup.ipv6_first = any(":" in server for server in servers)
        return lookup.run()
    finally:
        transport.close()
