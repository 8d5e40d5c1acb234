"""Flow commands: ``echo`` and ``exit`` (the rest of the language comes with the interpreter)."""

from __future__ import annotations

from bootsh.commands import Command, Invocation, Option


def echo(inv: Invocation) -> int:
    inv.shell.print(" ".join(inv.args), end="" if inv.flag("nonewline") else "\n")
    return 0


def exit_(inv: Invocation) -> int:
    code = 0
    if inv.args:
        try:
            code = int(inv.args[0], 0)
        except ValueError:
            inv.shell.print(f'"{inv.args[0]}": invalid integer value')
            return 1
    inv.shell.exit_requested = code
    return code


COMMANDS = (
    Command(
        "echo",
        echo,
        "print its arguments",
        args="[...]",
        options=(Option("nonewline", "n", help="no newline at the end"),),
        max_args=None,
    ),
    Command("exit", exit_, "leave the script or the shell", args="[<status>]", max_args=1),
)
