"""Setting commands: ``set``, ``show``, ``clear`` (global scope, string type for now)."""

from __future__ import annotations

from bootsh.commands import Command, Invocation


def set_(inv: Invocation) -> int:
    # iPXE joins the value words with single spaces.
    inv.shell.settings.set(inv.args[0], " ".join(inv.args[1:]))
    return 0


def show(inv: Invocation) -> int:
    name = inv.args[0]
    value = inv.shell.settings.get(name)
    if value is None:
        inv.shell.print(f'Could not find "{name}": No such file or directory')
        return 1
    inv.shell.print(f"{name}:string = {value}")
    return 0


def clear(inv: Invocation) -> int:
    inv.shell.settings.clear(inv.args[0])
    return 0


COMMANDS = (
    Command("set", set_, "set a setting", args="<setting> <value>", min_args=1, max_args=None),
    Command("show", show, "show a setting", args="<setting>", min_args=1, max_args=1),
    Command("clear", clear, "clear a setting", args="<setting>", min_args=1, max_args=1),
)
