"""``ifstat`` in iPXE's format, plus ``--all`` (a bootsh extension) for hidden NICs."""

from __future__ import annotations

from collections.abc import Iterable

from bootsh.commands import Command, Invocation, Option
from bootsh.linkstate import read_link
from bootsh.netdevs import Netdev, Resolution
from bootsh.nic import Nic
from bootsh.shell import Shell


def _status_lines(shell: Shell, nic: Nic, name: str) -> list[str]:
    link = read_link(shell.context.config.sysfs_root, nic.ifname)
    lines = [
        f"{name}: {nic.mac} using {nic.driver} on {nic.location} ({nic.ll_protocol}) [closed]",
        f"  [Link:{'up' if link.up else 'down'}, TX:0 TXE:0 RX:0 RXE:0]",
    ]
    if not link.up:
        lines.append(f"  [Link status: {link.reason}]")
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
        "ifstat",
        ifstat,
        "show network interface status",
        args="[<interface>...]",
        options=(Option("all", "a", help="also list hidden and unusable NICs, with reasons"),),
        max_args=None,
        completer=netdev_names,
    ),
)
