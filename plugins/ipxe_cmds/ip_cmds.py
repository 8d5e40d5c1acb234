"""``ping``, ``nslookup``, ``ipstat`` and ``nstat`` in iPXE's formats, over the kernel's IP.

* ``ping [-s size] [-t ms] [-c count] [-q] <host>`` (``hci/commands/ping_cmd.c``): 64 bytes,
  1000 ms, no count (until Ctrl-C) by default; one line per reply or timeout
  (``64 bytes from 10.77.0.1: seq=1``, ``0 bytes from <none>: seq=2: Connection timed out
  (...)``) and ``Finished: <error>`` when it fails (neither with ``-q``). A host name is
  resolved through DNS first (``bootsh.net.egress.resolve``); a failure there ends it the same way.
* ``nslookup <setting> <name>`` (``usr/nslookup.c``): resolves ``name`` and stores the address
  in ``setting`` (type ipv4 or ipv6 unless the name says otherwise; scopes are created as by
  ``set``); ``Could not resolve <name>: <error>`` otherwise.
* ``ntp <server>`` (``usr/ntpmgmt.c``): asks the server for the time (SNTP) and adjusts the
  shell's clock, never the machine's (``bootsh.net.ntp``): ``${unixtime}`` shows the result;
  silent on success, ``Could not get time and date: <error>`` otherwise.
* ``ipstat`` (``usr/ipstat.c``): the IP statistics, read from the kernel's ``/proc/net/snmp``,
  ``netstat`` and ``snmp6`` (the counters of the network namespace bootsh runs in).
* ``nstat`` (``usr/neighmgmt.c``): the IPv4 neighbours (ARP) of the open netdevs' kernel
  interfaces, ``net0 IPv4 10.77.0.1 is Ethernet 02:00:00:00:00:01``.

iPXE's DNS errors have no text in its error table, so iPXE prints only the number
(``Error 0x3e116106 (https://ipxe.org/3e116106)``); bootsh prints the same and says the
reason in words on stderr. Ctrl-C cancels with iPXE's "Operation canceled".
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import socket
import struct
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bootsh.api import (
    ECANCELED_MONOJOB,
    PROC_TABLE_SIZE,
    Command,
    Invocation,
    Option,
    SettingsError,
    Shell,
    parse_integer,
    read_text_bounded,
    strerror,
)

# bootsh.net.dns, egress, ntp and ping are imported by the commands that use them: this module
# loads at every start.
if TYPE_CHECKING:
    from bootsh.api import DnsError

PING_SIZE = 64
PING_TIMEOUT_MS = 1000


def _explain(shell: Shell, what: str, exc: DnsError) -> None:
    from bootsh.api import describe_dns_error

    words = describe_dns_error(exc.errno)
    shell.diagnose(f"{what}: {words + ': ' if words else ''}{exc.detail}")


def _icmp6_socket(ifname: str) -> socket.socket:
    """A raw ICMPv6 socket bound to ``ifname`` (the kernel fills in the checksum)."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
    except OSError:
        sock.close()
        raise
    return sock


_ICMPV6_ECHO_REQUEST, _ICMPV6_ECHO_REPLY = 128, 129


class _Echo:
    """The raw ICMP sockets of one ping, one per netdev used, and the routing per packet;
    ICMPv6 for an IPv6 address (iPXE's ping speaks both)."""

    def __init__(self, shell: Shell, address: str) -> None:
        from bootsh.api import BoundSockets, icmp_socket

        self.shell = shell
        self.address = address
        self.v6 = ipaddress.ip_address(address).version == 6
        self.sockets = BoundSockets(_icmp6_socket if self.v6 else icmp_socket)

    def send(self, sequence: int, packet: bytes) -> None:
        from bootsh.api import count_send, route_to

        egress = route_to(self.shell, self.address)
        if egress is None:
            return  # iPXE: "Network unreachable" on transmit, only the timer speaks
        sock = self.sockets.for_egress(egress)
        if self.v6:  # the echo request of ICMPv6; its checksum is the kernel's
            packet = bytes([_ICMPV6_ECHO_REQUEST, 0, 0, 0]) + packet[4:]
        with contextlib.suppress(OSError):  # counted as a TX error; the timer goes on
            count_send(egress, lambda: sock.sendto(packet, (self.address, 0)))

    def receive(self, ident: int, timeout: float) -> tuple[str, int, bytes] | None:
        from bootsh.api import parse_echo_reply

        got = self.sockets.receive(timeout)
        if got is None or not got[1]:
            return None
        packet, (source, *_) = got
        if self.v6:
            if len(packet) < 8 or packet[0] != _ICMPV6_ECHO_REPLY or packet[1] != 0:
                return None
            their, sequence = struct.unpack_from("!HH", packet, 4)
            return (str(source), sequence, packet[8:]) if their == ident else None
        reply = parse_echo_reply(packet, ident)
        return (str(source), reply[0], reply[1]) if reply is not None else None

    def close(self) -> None:
        self.sockets.close()


def _integer(inv: Invocation, option: str, default: int) -> int:
    """An option's value as iPXE's ``parse_integer`` reads it (an empty text is 0)."""
    value = inv.value(option)
    return default if value is None else parse_integer(value)


def _can_ping() -> bool:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()
    except PermissionError:
        return False
    return True


def ping(inv: Invocation) -> int:
    from bootsh.api import EINVAL_PING, EPERM_PING, DnsError, Pinger, resolve_host

    shell = inv.shell
    size = _integer(inv, "size", PING_SIZE)
    timeout_ms = _integer(inv, "timeout", PING_TIMEOUT_MS)
    count = _integer(inv, "count", 0)
    quiet = inv.flag("quiet")
    host = inv.args[0]
    if timeout_ms == 0:
        shell.print(f"Could not start ping: {strerror(EINVAL_PING)}")
        return EINVAL_PING
    if not _can_ping():
        shell.print(f"Could not start ping: {strerror(EPERM_PING)}")
        shell.diagnose(
            "ping needs CAP_NET_RAW for a raw ICMP socket"
            " (run bootsh as root or grant it CAP_NET_RAW)"
        )
        return EPERM_PING

    def report(source: str | None, sequence: int, length: int, status: int) -> None:
        line = f"{length} bytes from {source or '<none>'}: seq={sequence}"
        shell.print(line + (f": {strerror(status)}" if status else ""))
        shell.out.flush()  # each reply shows as it comes, also on a pipe

    echo: _Echo | None = None
    try:
        try:
            address = resolve_host(shell, host)
        except DnsError as exc:
            if not quiet:
                shell.print(f"Finished: {strerror(exc.errno)}")
            _explain(shell, host, exc)
            return exc.errno
        echo = sockets = _Echo(shell, address)
        pinger = Pinger(
            echo.send,
            lambda left: sockets.receive(pinger.ident, left),
            None if quiet else report,
            timeout=timeout_ms / 1000,
            size=size,
            count=count,
        )
        status = pinger.run()
    except KeyboardInterrupt:
        status = ECANCELED_MONOJOB
    finally:
        if echo is not None:
            echo.close()
    if status and not quiet:
        shell.print(f"Finished: {strerror(status)}")
    return status


def nslookup(inv: Invocation) -> int:
    from bootsh.api import DnsError, resolve_host

    shell = inv.shell
    setting_name, name = inv.args
    try:
        # iPXE's resolv_setting parses the setting first: a bad name asks no server.
        named = shell.settings.parse(setting_name, create=True)
        address = resolve_host(shell, name)
        raw = ipaddress.ip_address(address).packed
        default = "ipv4" if len(raw) == 4 else "ipv6"
        shell.settings.store_raw(named, raw, default)
    except DnsError as exc:
        shell.print(f"Could not resolve {name}: {strerror(exc.errno)}")
        _explain(shell, name, exc)
        return exc.errno
    except SettingsError as exc:
        shell.print(f"Could not resolve {name}: {exc}")
        return exc.errno
    except KeyboardInterrupt:
        shell.print(f"Could not resolve {name}: {strerror(ECANCELED_MONOJOB)}")
        return ECANCELED_MONOJOB
    return 0


# -- ntp ------------------------------------------------------------------------------------

#: The shell's clock offset in seconds (``shell.state``), which ``ntp`` adjusts.
CLOCK_OFFSET = "ntp.clock-offset"


def clock_offset(shell: Shell) -> int:
    value = shell.state.get(CLOCK_OFFSET, 0)
    return value if isinstance(value, int) else 0


def _adjust_clock(shell: Shell, delta: int) -> None:
    """iPXE's ``time_adjust``: the offset accumulates; ``${unixtime}`` includes it."""
    offset = clock_offset(shell) + delta
    shell.state[CLOCK_OFFSET] = offset

    def unixtime() -> bytes:
        return ((int(time.time()) + offset) & 0xFFFFFFFF).to_bytes(4, "big")

    builtin = shell.settings.builtin
    builtin.fetchers = {**builtin.fetchers, "unixtime": unixtime}


def ntp(inv: Invocation) -> int:
    from bootsh.api import NTP_PORT, DnsError, NtpError, NtpQuery, UdpTransport, resolve_host

    shell = inv.shell
    host = inv.args[0]
    # The sockets of the DNS lookup's kind, to port 123; with no route the send fails,
    # which Query ignores as iPXE does: nothing goes out and the timer runs out.
    transport = UdpTransport(shell, NTP_PORT)
    try:
        address = resolve_host(shell, host)
        offset = clock_offset(shell)
        send = functools.partial(transport.send, address)
        query = NtpQuery(send, transport.receive, wall=lambda: time.time() + offset)
        _adjust_clock(shell, query.run())
    except (DnsError, NtpError) as exc:
        shell.print(f"Could not get time and date: {strerror(exc.errno)}")
        if isinstance(exc, DnsError):
            _explain(shell, host, exc)
        else:
            shell.diagnose(f"{host}: {exc.detail}")
        return exc.errno
    except KeyboardInterrupt:
        shell.print(f"Could not get time and date: {strerror(ECANCELED_MONOJOB)}")
        return ECANCELED_MONOJOB
    finally:
        transport.close()
    return 0


# -- ipstat and nstat ---------------------------------------------------------------------


def _table(path: Path, prefix: str) -> dict[str, int]:
    """``/proc/net/snmp``-style pairs of lines (names, then values) starting with ``prefix``."""
    try:
        lines = [line.split() for line in read_text_bounded(path, PROC_TABLE_SIZE).splitlines()]
    except OSError:
        return {}
    rows = [line[1:] for line in lines if line and line[0] == prefix]
    if len(rows) < 2:
        return {}
    return {key: int(value) for key, value in zip(rows[0], rows[1], strict=False)}


def _snmp6(path: Path) -> dict[str, int]:
    try:
        pairs = [line.split() for line in read_text_bounded(path, PROC_TABLE_SIZE).splitlines()]
    except OSError:
        return {}
    return {p[0].removeprefix("Ip6"): int(p[1]) for p in pairs if len(p) == 2 and p[1].isdigit()}


def _ipstat_lines(version: int, s: dict[str, int]) -> list[str]:
    def v(key: str) -> int:
        return s.get(key, 0)

    out_transmits = v("OutTransmits") if "OutTransmits" in s else v("OutRequests")
    return [
        f"IP version {version}:",
        f"  InReceives:{v('InReceives')} InMcastPkts:{v('InMcastPkts')}"
        f" InBcastPkts:{v('InBcastPkts')} InOctets:{v('InOctets')}",
        f"  InHdrErrors:{v('InHdrErrors')} InAddrErrors:{v('InAddrErrors')}"
        f" InUnknownProtos:{v('InUnknownProtos')} InTruncatedPkts:{v('InTruncatedPkts')}",
        f"  ReasmReqds:{v('ReasmReqds')} ReasmOKs:{v('ReasmOKs')} ReasmFails:{v('ReasmFails')}",
        f"  InDelivers:{v('InDelivers')} OutRequests:{v('OutRequests')}"
        f" OutNoRoutes:{v('OutNoRoutes')}",
        f"  OutTransmits:{out_transmits} OutMcastPkts:{v('OutMcastPkts')}"
        f" OutBcastPkts:{v('OutBcastPkts')} OutOctets:{v('OutOctets')}",
    ]


def ipstat(inv: Invocation) -> int:
    proc = Path("/proc/net")
    ipv4 = {**_table(proc / "snmp", "Ip:"), **_table(proc / "netstat", "IpExt:")}
    for line in _ipstat_lines(4, ipv4):
        inv.shell.print(line)
    if (proc / "snmp6").exists():
        for line in _ipstat_lines(6, _snmp6(proc / "snmp6")):
            inv.shell.print(line)
    return 0


_ATF_COMPLETE = 0x2


def nstat(inv: Invocation) -> int:
    from bootsh.api import open_netdevs

    shell = inv.shell
    # Only open netdevs' interfaces: iPXE's table holds what its own open netdevs learned,
    # and a closed netdev's interface (or one that is not its NIC) is the host's business.
    names = {egress.ifname: egress.name for egress in open_netdevs(shell)}
    try:
        rows = [
            line.split()
            for line in read_text_bounded(Path("/proc/net/arp"), PROC_TABLE_SIZE).splitlines()[1:]
        ]
    except OSError:
        rows = []
    for row in rows:
        if len(row) < 6 or row[5] not in names:
            continue
        address, flags, mac, device = row[0], int(row[2], 16), row[3], row[5]
        if flags & _ATF_COMPLETE:
            shell.print(f"{names[device]} IPv4 {address} is Ethernet {mac.lower()}")
        else:
            shell.print(f"{names[device]} IPv4 {address} is Ethernet (incomplete) (ARP)")
    return 0


COMMANDS = (
    Command(
        "ping",
        ping,
        "ping a host",
        args="<host>",
        options=(
            Option("size", "s", metavar="size", help="payload length (64)"),
            Option("timeout", "t", metavar="timeout", help="time between packets in ms (1000)"),
            Option("count", "c", metavar="count", help="packets to send (0: until Ctrl-C)"),
            Option("quiet", "q", help="print nothing"),
        ),
        min_args=1,
        max_args=1,
    ),
    Command(
        "nslookup",
        nslookup,
        "resolve a host name into a setting",
        args="<setting> <name>",
        min_args=2,
        max_args=2,
    ),
    Command(
        "ntp",
        ntp,
        "get time and date (adjusts bootsh's clock, not the machine's)",
        args="<server>",
        min_args=1,
        max_args=1,
    ),
    Command("ipstat", ipstat, "show IP statistics"),
    Command("nstat", nstat, "show neighbour table"),
)
