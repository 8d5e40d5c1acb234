"""``ifstat``, ``ifopen`` and ``ifclose`` in iPXE's format.

``ifstat --all`` (a bootsh extension) also lists hidden and unusable NICs. Counters are
bootsh's own traffic on the netdev's raw socket (``bootsh.netstate``); ``ifstat`` drains what
has arrived first, as iPXE polls its netdevs. ``ifopen``/``ifclose`` with no argument act on
every shown netdev, stopping at the first failure (iPXE's ``ifcommon_exec``); ``netX`` follows
the most recently opened netdev that is still open.
"""

from __future__ import annotations

from collections.abc import Iterable

from bootsh.commands import Command, Invocation, Option
from bootsh.linkstate import read_link
from bootsh.netdevs import Netdev, Resolution
from bootsh.netstate import Counters, OpenError
from bootsh.nic import Nic
from bootsh.shell import Shell


def _status_lines(shell: Shell, nic: Nic, name: str) -> list[str]:
    link = read_link(shell.context.config.sysfs_root, nic.ifname)
    state = shell.netstate.peek(name) if name.startswith("net") else None
    if state is not None and state.ifname != nic.ifname:
        state = None  # the name now belongs to another NIC
    if state is not None:
        state.poll()
    tx, rx = (state.tx, state.rx) if state is not None else (Counters(), Counters())
    opened = "open" if state is not None and state.is_open else "closed"
    lines = [
        f"{name}: {nic.mac} using {nic.driver} on {nic.location} ({nic.ll_protocol}) [{opened}]",
        f"  [Link:{'up' if link.up else 'down'}, TX:{tx.good} TXE:{tx.bad}"
        f" RX:{rx.good} RXE:{rx.bad}]",
    ]
    if not link.up:
        lines.append(f"  [Link status: {link.reason}]")
    for kind, counters in (("TXE", tx), ("RXE", rx)):
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


def _chosen(shell: Shell, args: list[str]) -> list[Netdev] | None:
    res = shell.netdevs()
    if not args:
        return res.shown
    chosen = []
    for name in args:
        netdev = res.by_name(name)
        if netdev is None:
            shell.print(f'"{name}": no such network device')
            return None
        chosen.append(netdev)
    return chosen


def _refresh_netx(shell: Shell) -> None:
    """``netX`` is the most recently opened netdev that is still open (iPXE's list order)."""
    still = [n for n in shell.netstate.opened if shell.netstate.is_open(n)]
    shell.settings.last_opened = still[-1] if still else None


def ifopen(inv: Invocation) -> int:
    shell = inv.shell
    chosen = _chosen(shell, inv.args)
    if chosen is None:
        return 1
    for netdev in chosen:
        name = str(netdev.name)
        nic = netdev.nic
        try:
            shell.netstate.open(name, nic.ifname, f"{name} ({nic.describe()})", nic.mac)
        except OpenError as exc:
            shell.print(f"Could not open {name}: {exc.reason}")
            shell.diagnose(f"{name}: {exc.detail}")
            return exc.errno
        _refresh_netx(shell)
        _apply_static(shell, name, nic.ifname)
    return 0


def _apply_static(shell: Shell, name: str, ifname: str | None) -> None:
    """iPXE routes an open netdev by its ``ip``/``netmask``/``gateway`` settings (from
    ``--net af_packet,if=X,ip=...``, ``set net0/ip``, an earlier lease): now that the kernel
    interface is bootsh's, it gets them too, so that ping and friends work at once."""
    if not ifname:
        return
    from bootsh.dhcp import apply_to_kernel, ipv4_route

    if ipv4_route(shell, name) is None:
        return
    problem = apply_to_kernel(shell, name, ifname)
    if problem:
        shell.diagnose(f"{name}: not applied to {ifname}: {problem}")


def ifclose(inv: Invocation) -> int:
    shell = inv.shell
    chosen = _chosen(shell, inv.args)
    if chosen is None:
        return 1
    for netdev in chosen:
        shell.netstate.close(str(netdev.name))
    _refresh_netx(shell)
    return 0


def ifstat(inv: Invocation) -> int:
    shell = inv.shell
    res = shell.netdevs()
    if inv.args:
        chosen = []
        for name in inv.args:
            netdev = res.by_name(name)
            if netdev is None:
                shell.print(f'"{name}": no such network device')
                return 1
            chosen.append(netdev)
    else:
        chosen = res.netdevs if inv.flag("all") else res.shown
    for netdev in chosen:
        for line in describe_netdev(shell, res, netdev):
            shell.print(line)
    if inv.flag("all") and not inv.args:
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
