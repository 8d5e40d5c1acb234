"""Interface management as iPXE's ``usr/ifmgmt.c``: open, wait for the link, configure.

``configure(shell, "net0", timeout_ms, configurator)`` is ``ifconf``'s (and ``dhcp``'s) work
on one netdev, output included::

    Configuring (net0 52:54:00:12:34:56)... ok
    Configuring [dhcp] (net0 52:54:00:12:34:56)..... Connection timed out (https://...)

It opens the netdev when it is closed, waits for the link (silently when it is up), runs
the configurator with a dot per second, and on failure closes the netdev again, as iPXE does
(the kernel interface keeps its link state and gets no address). Ctrl-C ends the wait with
"Operation canceled" and leaves everything as it was. The result is an iPXE error number
(0 on success).
"""

from __future__ import annotations

import os
import time

from bootsh.ipxe_errors import ERRFILE_PARSEOPT, error_number
from bootsh.lang.settings import RedirectBlock
from bootsh.net.linkstate import LINK_UNKNOWN, read_link
from bootsh.net.monojob import ECANCELED_MONOJOB, ETIMEDOUT_MONOJOB

TYPE_CHECKING = False  # ``ifstat`` loads this module: no typing, no socket until needed
if TYPE_CHECKING:
    from collections.abc import Callable

    from bootsh.lang.settings import Block, Setting
    from bootsh.net.dhcppkt import DhcpPacket
    from bootsh.nics.netdevs import Netdev
    from bootsh.shell import Shell


def _root_block(shell: Shell, name: str) -> Callable[[], Block | None]:
    return lambda: shell.settings.find_block(name)


def refresh_netx(shell: Shell) -> None:
    """``netX`` is the most recently opened netdev that is still open."""
    still = [n for n in shell.netstate.opened if shell.netstate.is_open(n)]
    shell.settings.last_opened = still[-1] if still else None


def open_netdev(shell: Shell, netdev: Netdev) -> int:
    """iPXE's ``ifopen()``: open (a no-op when open); prints iPXE's line on failure."""
    from bootsh.net.netstate import OpenError  # the socket code, once a netdev is opened

    name = str(netdev.name)
    nic = netdev.nic
    try:
        shell.netstate.open(name, nic.ifname, f"{name} ({nic.describe()})", nic.mac)
    except OpenError as exc:
        shell.print(f"Could not open {name}: {exc.reason}")
        shell.diagnose(f"{name}: {exc.detail}")
        return exc.errno
    refresh_netx(shell)
    return 0


def close_netdev(shell: Shell, name: str) -> None:
    shell.netstate.close(name)
    refresh_netx(shell)


#: ``ifcommon_exec``'s "no netdev at all" (hci/commands/ifmgmt_cmd.c).
ENODEV_IFCOMMON = error_number("ENODEV", 0x001DE000)
#: ``"x": no such network device`` (core/parseopt.c's ``parse_netdev``).
ENODEV_NETDEV = error_number("ENODEV", ERRFILE_PARSEOPT)


def find_netdev(shell: Shell, name: str) -> Netdev | None:
    """iPXE's ``find_netdev``: ``netN`` by name, ``netX`` for the last opened one (none
    when no netdev is open, as ``last_opened_netdev``)."""
    res = shell.netdevs()
    if name == "netX":
        last = shell.settings.last_opened
        return res.by_name(last) if last is not None else None
    return res.by_name(name)


def ifcommon(
    shell: Shell,
    args: list[str],
    payload: Callable[[Netdev], int],
    stop_on_first_success: bool,
) -> int:
    """iPXE's ``ifcommon_exec``: the payload on each netdev named (a name that is none is
    reported and skipped) or on every shown netdev; ``ifconf`` and ``iflinkwait`` stop at
    the first success, the others go through all. The status is the last one's."""
    if args:
        rc = ENODEV_NETDEV
        for name in args:
            netdev = find_netdev(shell, name)
            if netdev is None:
                shell.print(f'"{name}": no such network device')
                rc = ENODEV_NETDEV
                continue
            rc = payload(netdev)
            if rc == 0 and stop_on_first_success:
                return 0
        return rc
    rc = ENODEV_IFCOMMON
    if not shell.netdevs().shown:
        # iPXE says nothing; bootsh says why there is nothing (stderr, its own diagnostic).
        shell.diagnose(shell.explain_no_netdevs())
    for netdev in shell.netdevs().shown:
        rc = payload(netdev)
        if rc == 0 and stop_on_first_success:
            return 0
    return rc


def apply_static(shell: Shell, name: str, ifname: str | None) -> None:
    """Give an open netdev's IPv4 settings (static ``ip``/``netmask``/``gateway``, else the
    lease) to its kernel interface, as iPXE routes an open netdev by them; a failure is
    said on stderr and changes nothing else (the settings stay what the user set)."""
    if not ifname:
        return
    from bootsh.net.dhcp import apply_to_kernel

    problem = apply_to_kernel(shell, name, ifname)
    if problem:
        shell.diagnose(f"{name}: not applied to {ifname}: {problem}")


def wait_with_dots(
    shell: Shell,
    step: Callable[[], int | None],
    timeout: float | None,
    ongoing: Callable[[], int],
) -> int:
    """iPXE's ``monojob_wait("")``: prints ``...``, a dot per second, then `` ok`` or
    `` <error>``. ``step()`` returns None while the job runs, else its status; on timeout
    the job's ongoing status (or "Connection timed out") is the result."""
    from bootsh.net.dhcp import describe_error

    shell.print("...", end="")
    start = time.monotonic()
    next_dot = start + 1.0
    try:
        while True:
            rc = step()
            if rc is not None:
                break
            now = time.monotonic()
            if timeout is not None and now - start >= timeout:
                rc = ongoing() or ETIMEDOUT_MONOJOB
                break
            if now >= next_dot:
                shell.print(".", end="")
                next_dot += 1.0
            time.sleep(0.01)
    except KeyboardInterrupt:
        rc = ECANCELED_MONOJOB
    shell.print(" ok" if rc == 0 else f" {describe_error(rc)}")
    return rc


def link_wait(shell: Shell, netdev: Netdev, timeout: float | None, verbose: bool) -> int:
    """iPXE's ``iflinkwait()``: open, then (if the link is down, or ``verbose``) print
    ``Waiting for link-up on net0`` and wait; the error is the link's own status."""
    rc = open_netdev(shell, netdev)
    if rc:
        return rc
    sysfs = shell.context.config.path_text("sysfs_root") or "/sys"
    ifname = netdev.nic.ifname
    link = read_link(sysfs, ifname)
    if link.up and not verbose:
        return 0
    shell.print(f"Waiting for link-up on {netdev.name}", end="")

    def step() -> int | None:
        return 0 if read_link(sysfs, ifname).up else None

    def ongoing() -> int:
        # Up by now (it came up after the last step): "Unknown", as the text test gave.
        return read_link(sysfs, ifname).status or LINK_UNKNOWN[1]

    return wait_with_dots(shell, step, timeout, ongoing)


def configure(
    shell: Shell, netdev: Netdev, timeout_ms: int = 0, configurator: str | None = None
) -> int:
    """iPXE's ``ifconf()``: every configurator that applies (or the one named) at once,
    waiting until none is in progress. "ipv6" (router discovery, then DHCPv6 when the router
    says so) applies where the kernel does IPv6 on the interface: bootsh's IPv6 is the
    kernel's, as iPXE built without IPv6 has no ipv6 configurator."""
    from bootsh.net.ipv6 import kernel_has_ipv6

    if configurator == "dhcp" or (configurator is None and not kernel_has_ipv6(netdev.nic.ifname)):
        return _configure_dhcp(shell, netdev, timeout_ms, configurator)
    return _configure_all(shell, netdev, timeout_ms, configurator)


#: ``netdev_configure`` of a configurator that does not apply (net/netdevice.c).
ENOTSUP_CONFIGURE = error_number("ENOTSUP", 0x00086000)


def _register_lease(shell: Shell, name: str, ack: DhcpPacket) -> None:
    """iPXE's ``dhcp_request_rx`` at the DHCPACK: the lease becomes ``net0.dhcp``, and any
    ProxyDHCP or PXE boot server answer an earlier lease led to is forgotten."""
    from bootsh.net.dhcppkt import (
        DHCP_SETTINGS_NAME,
        PROXYDHCP_SETTINGS_NAME,
        PXEBS_SETTINGS_NAME,
        DhcpBlock,
    )

    shell.settings.register_block(DhcpBlock(DHCP_SETTINGS_NAME, ack), name)
    # The root's first: ``net0.proxydhcp`` (a redirect to it) then names the redirect itself.
    for scope in (
        PROXYDHCP_SETTINGS_NAME,
        f"{name}.{PROXYDHCP_SETTINGS_NAME}",
        PXEBS_SETTINGS_NAME,
    ):
        shell.settings.unregister_block(scope)


def _register_proxy(shell: Shell, name: str, proxy: DhcpPacket) -> None:
    from bootsh.net.dhcppkt import PROXYDHCP_SETTINGS_NAME, DhcpBlock

    shell.settings.register_block(DhcpBlock(PROXYDHCP_SETTINGS_NAME, proxy))
    # iPXE hangs the ProxyDHCP answer at the root (``proxydhcp/...``); the netdev that
    # received it also reaches it as ``net0.proxydhcp/...``. A redirect, not a copy:
    # the values live once, ``show`` names the block that holds them.
    shell.settings.register_block(
        RedirectBlock(PROXYDHCP_SETTINGS_NAME, _root_block(shell, PROXYDHCP_SETTINGS_NAME)),
        name,
    )


def _configure_all(shell: Shell, netdev: Netdev, timeout_ms: int, configurator: str | None) -> int:
    """``ifconf`` with "ipv6" (and "dhcp" unless one was named) on one raw socket."""
    import contextlib
    import select

    from bootsh.net import dhcp, dhcpv6, ipv6

    name = str(netdev.name)
    ifname = netdev.nic.ifname
    if not ipv6.kernel_has_ipv6(ifname):
        why = dhcp.describe_error(ENOTSUP_CONFIGURE)
        shell.print(f"Could not configure {name} via {configurator}: {why}")
        shell.diagnose(f"{name}: the kernel does no IPv6 on {ifname} (disable_ipv6)")
        return ENOTSUP_CONFIGURE
    linked = link_wait(shell, netdev, dhcp.LINK_WAIT_TIMEOUT, verbose=False)
    if linked:
        close_netdev(shell, name)
        return linked
    state = shell.netstate.peek(name)
    assert state is not None and state.sock is not None and ifname is not None
    mac_text = netdev.nic.mac or ""
    mac = bytes.fromhex(mac_text.replace(":", ""))
    label = f"[{configurator}] " if configurator else ""
    problems: list[str] = []
    # The kernel gets iPXE's link-local address first: it answers neighbour solicitations
    # for it, so that the router and the DHCPv6 server reach us.
    problem = ipv6.apply_to_kernel(shell, name, ifname, mac)
    if problem:
        problems.append(f"IPv6 is not applied to {ifname}: {problem}")
    shell.print(f"Configuring {label}({name} {mac_text})...", end="")
    start = time.monotonic()
    deadline = start + timeout_ms / 1000 if timeout_ms else None
    conf = ipv6.Ipv6Conf(mac, start)
    v6: dhcpv6.Dhcpv6 | None = None
    v6_rc: int | None = None
    session: dhcp.Session | None = None
    identity = dhcp.identity_for(shell, name, mac)
    if configurator is None:
        xid = int.from_bytes(os.urandom(4), "big")
        broadcast = dhcp.ipv4_route(shell, name) is not None
        session = dhcp.Session(identity, xid, start, broadcast=broadcast)
    acked = False

    def transmit(outbox: list[bytes]) -> None:
        for frame in outbox:
            state.send(frame)
        outbox.clear()

    def on_advert(now: float) -> None:
        nonlocal v6, v6_rc
        advert = conf.advert
        assert advert is not None
        block, prefixes = ipv6.ndp_blocks(advert, mac)
        shell.settings.register_block(block, name)
        for child in prefixes:
            shell.settings.register_block(child, f"{name}.ndp")
        if advert.flags & (ipv6.NDP_ROUTER_MANAGED | ipv6.NDP_ROUTER_OTHER):
            uuid = shell.settings.lookup("uuid")
            v6 = dhcpv6.Dhcpv6(
                mac, advert.router, bool(advert.flags & ipv6.NDP_ROUTER_MANAGED), now,
                dhcpv6.duid(uuid.raw if uuid is not None else None, mac),
                arch=identity.arch,
            )  # fmt: skip
            v6.tick(now)
        else:
            v6_rc = 0

    def v6_done() -> bool:
        nonlocal v6_rc
        if v6_rc is None and conf.rc is not None:
            v6_rc = conf.rc
        if v6_rc is None and v6 is not None and v6.rc is not None:
            v6_rc = v6.rc
            if v6.rc == 0:
                shell.settings.register_block(
                    dhcpv6.Dhcpv6Block(v6.lease, v6.router, v6.reply), name
                )
        return v6_rc is not None

    rc: int | None = None
    next_dot = start + 1.0
    try:
        while True:
            now = time.monotonic()
            conf.tick(now)
            transmit(conf.outbox)
            if v6 is not None:
                v6.tick(now)
                transmit(v6.outbox)
            if session is not None:
                session.tick(now)
                transmit(session.outbox)
            if v6_done() and (session is None or session.outcome is not None):
                break
            if deadline is not None and now >= deadline:
                rc = ETIMEDOUT_MONOJOB
                break
            if now >= next_dot:
                shell.print(".", end="")
                next_dot += 1.0
                continue
            wakes = [conf.expires, next_dot]
            wakes += [v6.expires] if v6 is not None else []
            wakes += [session.expires] if session is not None else []
            wakes += [deadline] if deadline is not None else []
            with contextlib.suppress(InterruptedError):
                select.select([state.sock], [], [], max(0.0, min(wakes) - now))
            for frame in state.poll():
                now = time.monotonic()
                if conf.receive(frame, now):
                    on_advert(now)
                if v6 is not None:
                    v6.receive(frame, now)
                    transmit(v6.outbox)
                if session is not None and session.outcome is None:
                    reply = dhcp.parse_frame(frame, session.identity.mac, session.xid)
                    if reply is not None:
                        session.receive(reply, now)
                        transmit(session.outbox)
                        if session.ack is not None and not acked:
                            acked = True
                            _register_lease(shell, name, session.ack)
                            problem = dhcp.apply_to_kernel(shell, name, ifname)
                            if problem:
                                problems.append(f"the lease is not applied to {ifname}: {problem}")
    except KeyboardInterrupt:
        rc = ECANCELED_MONOJOB
    if rc is None:
        dhcp_ok = session is not None and session.outcome is not None and session.outcome.rc == 0
        outcome = session.outcome if session is not None else None
        if dhcp_ok and outcome is not None and outcome.proxy is not None:
            _register_proxy(shell, name, outcome.proxy)
        v6_ok = v6_rc == 0
        if configurator is None:
            rc = 0 if (dhcp_ok or v6_ok) else dhcp.EADDRNOTAVAIL_CONFIG
        else:
            rc = v6_rc if v6_rc is not None else ETIMEDOUT_MONOJOB
    if v6_rc == 0:
        problem = ipv6.apply_to_kernel(shell, name, ifname, mac)
        if problem:
            problems.append(f"IPv6 is not applied to {ifname}: {problem}")
    shell.print(" ok" if rc == 0 else f" {dhcp.describe_error(rc)}")
    for problem in problems:
        shell.diagnose(f"{name}: {problem}")
    if rc != 0:
        if rc != ECANCELED_MONOJOB and conf.rc is not None:
            # Both methods ran (autoboot, a bare ifconf): when DHCP heard nothing either, say
            # so, or a missing DHCP server reads as an IPv6 problem.
            silent = session is not None and not session.offers_seen
            nobody = "no DHCP server and no IPv6 router" if silent else "no IPv6 router"
            shell.diagnose(f"{name}: {nobody} answered")
        close_netdev(shell, name)
    return rc


def _configure_dhcp(
    shell: Shell, netdev: Netdev, timeout_ms: int = 0, configurator: str | None = None
) -> int:
    """``ifconf`` with the DHCP configurator alone."""
    from bootsh.net import dhcp
    from bootsh.net.dhcppkt import (
        OPT_MESSAGE,
    )

    name = str(netdev.name)
    rc = link_wait(shell, netdev, dhcp.LINK_WAIT_TIMEOUT, verbose=False)
    if rc:
        close_netdev(shell, name)  # iPXE's ifconf_payload closes on any failure
        return rc
    state = shell.netstate.peek(name)
    assert state is not None and state.sock is not None
    mac_text = netdev.nic.mac or ""
    mac = bytes.fromhex(mac_text.replace(":", ""))
    trace = _dhcp_trace(shell, name) if shell.context.config.verbose else None
    label = f"[{configurator}] " if configurator else ""
    shell.print(f"Configuring {label}({name} {mac_text})...", end="")
    start = time.monotonic()
    deadline = start + timeout_ms / 1000 if timeout_ms else None

    def dot() -> None:
        shell.print(".", end="")

    identity = dhcp.identity_for(shell, name, mac)
    broadcast = dhcp.ipv4_route(shell, name) is not None
    problems: list[str] = []

    def lease(ack: DhcpPacket) -> None:
        # iPXE registers the lease at the DHCPACK, before any ProxyDHCP request; the kernel
        # gets it at the same time, so that it answers ARP for the unicast ProxyDHCP reply.
        _register_lease(shell, name, ack)
        if netdev.nic.ifname:
            problem = dhcp.apply_to_kernel(shell, name, netdev.nic.ifname)
            if problem:
                problems.append(f"the lease is not applied to {netdev.nic.ifname}: {problem}")

    try:
        outcome, session = dhcp.run_session(
            state,
            identity,
            deadline=deadline,
            on_second=dot,
            on_ack=lease,
            broadcast=broadcast,
            on_frame=trace,
        )
    except KeyboardInterrupt:
        outcome, session = dhcp.Outcome(ECANCELED_MONOJOB), None
    rc = outcome.rc
    if rc == 0 and outcome.ack is not None:
        if outcome.proxy is not None:
            _register_proxy(shell, name, outcome.proxy)
        shell.print(" ok")
        for problem in problems:
            shell.diagnose(f"{name}: {problem}")
        return 0
    # ifconf without -c reports that no configurator succeeded; a -t or Ctrl-C is the job's.
    if configurator is None and rc not in (ETIMEDOUT_MONOJOB, ECANCELED_MONOJOB):
        rc = dhcp.EADDRNOTAVAIL_CONFIG
    shell.print(f" {dhcp.describe_error(rc)}")
    if session is not None and session.naks:
        nak = session.naks[-1]
        message = nak.packet.fetch(OPT_MESSAGE) or b""
        why = f": {message.decode(errors='replace')}" if message else ""
        shell.diagnose(
            f"{name}: the server {_dotted(nak.peer_ip)} refused the request"
            f" (DHCPNAK{why}); like iPXE, bootsh waited for a DHCPACK until the timeout"
        )
    elif session is not None and rc != ECANCELED_MONOJOB and not session.offers_seen:
        shell.diagnose(f"{name}: no DHCP server answered")
    elif session is not None and rc != ECANCELED_MONOJOB and session.state.name == "request":
        # The offer was requested but never acknowledged: say who offered what, or the
        # timeout is a mystery (a -t during discovery's wait for ProxyDHCP is not this).
        server = _dotted(session.server) if any(session.server) else "a server"
        offered = _dotted(session.offer)
        shell.diagnose(f"{name}: {server} offered {offered} but sent no DHCPACK for it")
    close_netdev(shell, name)
    return rc


def _dhcp_trace(shell: Shell, name: str) -> Callable[[bool, bytes], None] | None:
    """``-v``: each DHCP frame of the session as scapy decodes it, on stderr."""
    try:
        # scapy is imported now, before the session's clock starts.
        from bootsh.net.dhcptrace import describe
    except ImportError as exc:  # an image built without it: the exchange does not need it
        shell.context.debug(f"{name}: no DHCP frame trace ({exc})")
        return None

    def trace(sent: bool, frame: bytes) -> None:
        shell.context.debug(f"{name}: {'sent' if sent else 'received'} {describe(frame)}")

    return trace


#: The settings whose change moves an IPv4 route (iPXE's ``ipv4_settings``).
ROUTE_SETTINGS = frozenset({"ip", "netmask", "gateway"})


def route_applicator(shell: Shell) -> Callable[[Block, Setting], None]:
    """An applicator for ``Settings.applicators``: when ``ip``, ``netmask`` or ``gateway`` of
    an open netdev changes (``set net0/ip 10.0.0.5``), its kernel interface follows, as
    iPXE recomputes its routes on every settings change. Closed netdevs are left alone: a
    kernel interface becomes bootsh's only when it is opened."""

    def apply(block: Block, setting: Setting) -> None:
        if setting.name not in ROUTE_SETTINGS:
            return
        name = block.path().split(".", 1)[0]
        if not shell.netstate.is_open(name):
            return
        netdev = shell.netdevs().by_name(name)
        if netdev is not None:
            apply_static(shell, name, netdev.nic.ifname)

    return apply


def _dotted(address: bytes) -> str:
    """``socket.inet_ntoa`` without importing socket."""
    return ".".join(str(byte) for byte in address)
