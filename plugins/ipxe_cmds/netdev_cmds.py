"""``ifstat``, ``ifopen`` and ``ifclose`` in iPXE's format.

``ifstat --all`` (a bootsh extension) also lists hidden and unusable NICs. Counters are
bootsh's own traffic on the netdev's raw socket (``bootsh.net.netstate``); ``ifstat`` drains what
has arrived first, as iPXE polls its netdevs. The three act on each netdev named (a name
that is none is reported and skipped) or on every shown one, the status being the last
one's (iPXE's ``ifcommon_exec``); ``netX`` follows the most recently opened netdev that is
still open. ``ifopen`` gives the kernel interface the netdev's IPv4 settings, if any.
"""

from __future__ import annotations

from bootsh.api import Command, Invocation, Option, ifcommon, read_link

TYPE_CHECKING = False  # ifstat loads this module: no typing, and no socket code until a
if TYPE_CHECKING:  # netdev is opened (bootsh.net.netstate and ifmgmt load in ifopen/ifclose)
    from collections.abc import Iterable

    from bootsh.api import Netdev, Nic, Resolution, Shell


def _status_lines(shell: Shell, nic: Nic, name: str) -> list[str]:
    link = read_link(shell.context.config.path_text("sysfs_root") or "/sys", nic.ifname)
    state = shell.netdev_state(name) if name.startswith("net") else None
    if state is not None and state.ifname != nic.ifname:
        state = None  # the name now belongs to another NIC
    if state is not None:
        state.poll()
    opened = "open" if state is not None and state.is_open else "closed"
    lines = [
        f"{name}: {nic.mac} using {nic.driver} on {nic.location} ({nic.ll_protocol}) [{opened}]"
    ]
    up = "up" if link.up else "down"
    if state is None:  # never opened: nothing counted
        lines.append(f"  [Link:{up}, TX:0 TXE:0 RX:0 RXE:0]")
    else:
        tx, rx = state.tx, state.rx
        lines.append(f"  [Link:{up}, TX:{tx.good} TXE:{tx.bad} RX:{rx.good} RXE:{rx.bad}]")
    if not link.up:
        lines.append(f"  [Link status: {link.reason}]")
    if state is not None:
        for kind, counters in (("TXE", state.tx), ("RXE", state.rx)):
            for reason, count in counters.errors.items():
                lines.append(f'  [{kind}: {count} x "{reason}"]')
    return lines


def describe_netdev(shell: Shell, res: Resolution, netdev: Netdev) -> list[str]:
    lines = _status_lines(shell, netdev.nic, netdev.name or "(hidden)")
    if netdev.label is not None:
        lines.append(f"  [Twin: {res.render(netdev.label)}]")
    if netdev.hidden is not None:
        by = f", by {netdev.decided_by}" if netdev.decided_by else ""
        lines.append(f"  [Hidden: {res.render(netdev.hidden)} (policy {res.policy}{by})]")
    return lines


def netdev_names(shell: Shell, prefix: str) -> Iterable[str]:
    return [n.name for n in shell.netdevs().shown if n.name and n.name.startswith(prefix)]


def ifopen(inv: Invocation) -> int:
    from bootsh.api import apply_static, ipv4_route, open_netdev  # not at every start

    shell = inv.shell

    def payload(netdev: Netdev) -> int:
        rc = open_netdev(shell, netdev)
        if rc == 0 and ipv4_route(shell, str(netdev.name)) is not None:
            apply_static(shell, str(netdev.name), netdev.nic.ifname)
        return rc

    return ifcommon(shell, inv.args, payload, stop_on_first_success=False)


def ifclose(inv: Invocation) -> int:
    from bootsh.api import close_netdev

    shell = inv.shell

    def payload(netdev: Netdev) -> int:
        close_netdev(shell, str(netdev.name))
        return 0

    return ifcommon(shell, inv.args, payload, stop_on_first_success=False)


def ifstat(inv: Invocation) -> int:
    shell = inv.shell
    res = shell.netdevs()

    def payload(netdev: Netdev) -> int:
        for line in describe_netdev(shell, res, netdev):
            shell.print(line)
        return 0

    if inv.args or not inv.flag("all"):
        return ifcommon(shell, inv.args, payload, stop_on_first_success=False)
    # --all (bootsh's): hidden netdevs too, then the NICs that are no netdev, with reasons.
    for netdev in res.netdevs:
        payload(netdev)
    for nic in res.unusable:
        shell.print(f"(unusable): {nic.mac or '-'} using {nic.driver} on {nic.location}")
        shell.print(f"  [Unusable: {nic.problem}]")
    return 0


COMMANDS = (
    Command(
        "ifopen",
        ifopen,
        "open network interface",
        args="[<interface>...]",
        max_args=None,
        completer=netdev_names,
    ),
    Command(
        "ifclose",
        ifclose,
        "close network interface",
        args="[<interface>...]",
        max_args=None,
        completer=netdev_names,
    ),
    Command(
        "ifstat",
        ifstat,
        "show network interface status",
        args="[<interface>...]",
        options=(Option("all", "a", help="also list hidden and unusable NICs, with reasons"),),
        max_args=None,
        completer=netdev_names,
    ),
)
