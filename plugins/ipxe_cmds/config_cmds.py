"""``ifconf`` (alias ``dhcp``), ``iflinkwait``, ``pxebs`` and ``route``, as iPXE's
``ifmgmt_cmd.c``, ``dhcp_cmd.c`` and ``route.c``.

``ifconf``/``dhcp`` and ``iflinkwait`` try the netdevs given (or every netdev) in order and
stop at the first success (iPXE's ``ifcommon_exec``); a name that is not a netdev is reported
and skipped. The work is in ``bootsh.net.ifmgmt``, ``bootsh.net.dhcp`` and ``bootsh.net.ipv6``.
``pxebs`` is PXE boot server discovery (``bootsh.net.pxebs``).

``route`` lists, per netdev, its IPv4 address/netmask and gateway as its settings give them
(static ``set net0/ip`` first, then the DHCP lease), then its IPv6 routes as iPXE builds them
from settings (the link-local address every netdev has, router discovery's and DHCPv6's);
routes of a closed netdev are marked ``(inaccessible)``.
"""

from __future__ import annotations

from bootsh.api import (
    Command,
    Invocation,
    Netdev,
    Option,
    Shell,
    close_netdev,
    configure_netdev,
    ifcommon,
    link_wait,
    parse_integer,
)
from bootsh_ipxe_cmds.netdev_cmds import netdev_names


def ifconf(inv: Invocation) -> int:
    from bootsh.api import CONFIGURATORS, ENOTSUP_CONFIGURATOR  # not at every start

    shell = inv.shell
    configurator = inv.value("configurator")
    if configurator is not None and configurator not in CONFIGURATORS:
        shell.print(f'"{configurator}": no such configurator')
        return ENOTSUP_CONFIGURATOR
    text = inv.value("timeout")
    timeout = parse_integer(text) if text is not None else 0

    def payload(netdev: Netdev) -> int:
        return configure_netdev(shell, netdev, timeout, configurator)

    return ifcommon(shell, inv.args, payload, stop_on_first_success=True)


def iflinkwait(inv: Invocation) -> int:
    shell = inv.shell
    text = inv.value("timeout")
    # Without -t, iPXE waits for the link until it comes up or Ctrl-C.
    timeout = parse_integer(text) if text is not None else 0

    def payload(netdev: Netdev) -> int:
        rc = link_wait(shell, netdev, timeout / 1000 if timeout else None, verbose=True)
        if rc:
            close_netdev(shell, str(netdev.name))  # as iPXE, after a failed wait
        return rc

    return ifcommon(shell, inv.args, payload, stop_on_first_success=True)


def pxebs(inv: Invocation) -> int:
    """iPXE's ``pxebs_exec``: the netdev, then the type (both parsed before anything runs)."""
    from bootsh.api import ENODEV_NETDEV, discover_boot_server, find_netdev, strerror

    shell = inv.shell
    netdev = find_netdev(shell, inv.args[0])
    if netdev is None:
        shell.print(f'"{inv.args[0]}": no such network device')
        return ENODEV_NETDEV
    rc = discover_boot_server(shell, netdev, parse_integer(inv.args[1]))
    if rc:
        shell.print(f"Could not discover boot server on {netdev.name}: {strerror(rc)}")
    return rc


def link_local(mac: str) -> str:
    """The EUI-64 link-local address of a MAC (``fe80::5054:ff:fe12:3456``)."""
    raw = bytearray(bytes.fromhex(mac.replace(":", "").replace("-", "")))
    if len(raw) != 6:
        raise ValueError(f"not an Ethernet MAC: {mac}")
    raw[0] ^= 0x02
    iid = bytes(raw[:3]) + b"\xff\xfe" + bytes(raw[3:])
    import ipaddress  # only for route's IPv6 line

    return str(ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + iid))


def route_lines(shell: Shell) -> list[str]:
    """iPXE's ``route``: per netdev, the IPv4 route, then the IPv6 routes (the link-local
    address, router discovery's and DHCPv6's) as iPXE builds them from settings."""
    from bootsh.api import ipv4_route, ipv6_route_line, ipv6_routes

    lines: list[str] = []
    table = ipv6_routes(shell)
    for netdev in shell.netdevs().shown:
        name = str(netdev.name)
        is_open = shell.netstate.is_open(name)
        closed = "" if is_open else " (inaccessible)"
        route = ipv4_route(shell, name)
        if route is not None:
            gateway = f" gw {route.gateway}" if route.gateway else ""
            lines.append(f"{name}: {route.address}/{route.netmask}{gateway}{closed}")
        lines += [ipv6_route_line(r, is_open) for r in table if r.netdev == name]
    return lines


def route(inv: Invocation) -> int:
    for line in route_lines(inv.shell):
        inv.shell.print(line)
    return 0


def _interface(shell: Shell, prefix: str) -> list[str]:
    return [*netdev_names(shell, prefix), *(["netX"] if "netX".startswith(prefix) else [])]


COMMANDS = (
    Command(
        "ifconf",
        ifconf,
        "configure network interface",
        args="[<interface>...]",
        options=(
            Option("configurator", "c", "configurator", "configurator to use (ipv6, dhcp)"),
            Option("timeout", "t", "timeout", "timeout in ms"),
        ),
        max_args=None,
        aliases=("dhcp",),
        completer=_interface,
    ),
    Command(
        "iflinkwait",
        iflinkwait,
        "wait for link-up",
        args="[<interface>...]",
        options=(Option("timeout", "t", "timeout", "timeout in ms"),),
        max_args=None,
        completer=_interface,
    ),
    Command(
        "pxebs",
        pxebs,
        "PXE boot server discovery",
        args="<interface> <server type>",
        min_args=2,
        max_args=2,
        completer=_interface,
    ),
    Command("route", route, "show routing table"),
)
