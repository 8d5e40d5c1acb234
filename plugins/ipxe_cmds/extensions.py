"""bootsh's own commands (not in iPXE): ``twins`` explains decisions, ``plugins`` lists plugins."""

from __future__ import annotations

from bootsh.api import Command, Invocation, Nic, Resolution, Shell


def _state(res: Resolution, nic: Nic) -> str:
    netdev = res.by_key(nic.key)
    if netdev is None:
        return "unusable"
    return netdev.name or "hidden"


def twins_report(shell: Shell) -> list[str]:
    res = shell.netdevs()
    machine = shell.context.machine
    platform = machine.xen_platform
    lines = [
        f"Twin policy: {res.policy}",
        "Xen platform device: "
        + (f"{platform.location} ({platform.vendor}:{platform.device})" if platform else "none"),
    ]
    if machine.passthrough:
        listed = ", ".join(
            f"{guest} (host {host})" for guest, host in sorted(machine.passthrough.items())
        )
        lines.append(f"Passed-through PCI devices: {listed}")
    if not res.groups:
        lines.append("No twin groups: no NIC shares its MAC with a netfront vif.")
    for group, decision in res.groups:
        pv = group.paravirtual
        lines.append("")
        lines.append(f"{group.mac}: {pv.describe()} ({_state(res, pv)})")
        for pair in group.pairs:
            other = pair.other
            lines.append(f"  {other.describe()} ({_state(res, other)}): {pair.verdict.value}")
            for ev in pair.evidence:
                sign = "+" if ev.supports else ("!" if ev.decisive else "-")
                lines.append(f"    {sign} {ev.key}: {ev.detail} [{ev.source}]")
        by = decision.by or "nobody"
        summary = f": {decision.summary}" if decision.summary else ""
        lines.append(f"  decision{summary} (policy {decision.policy}, by {by})")
        for key, mark in decision.hide.items():
            lines.append(f"    hide {res.refer(key)}: {res.render(mark)}")
        for key, mark in decision.label.items():
            lines.append(f"    label {res.refer(key)}: {res.render(mark)}")
    return lines


def twins(inv: Invocation) -> int:
    for line in twins_report(inv.shell):
        inv.shell.print(line)
    return 0


def plugins(inv: Invocation) -> int:
    for line in inv.shell.host.describe():
        inv.shell.print(line)
    return 0


COMMANDS = (
    Command("twins", twins, "explain each twin group: evidence, verdict, decision"),
    Command("plugins", plugins, "list plugins, where they come from and their hooks"),
)
