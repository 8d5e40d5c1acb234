"""Flow commands: ``echo``, ``exit``, ``goto``, ``isset``, ``iseq``, ``sleep``, ``time``, ``help``.

Texts, argument counts and error numbers are iPXE's (``core/exec.c``, ``image/script.c``,
``hci/commands/time_cmd.c``, ``hci/shell.c``).
"""

from __future__ import annotations

import time as _time

from bootsh.api import (
    ECANCELED_SLEEP,
    EINVAL_CONTINUATION,
    ENOENT_ISSET,
    ENOENT_LABEL,
    ENOTTY_GOTO,
    ERANGE_ISEQ,
    STOP_COMMAND,
    STOP_SEQUENCE,
    Command,
    Invocation,
    Option,
    parse_integer,
    strerror,
)

TYPE_CHECKING = False  # this module loads with the first echo: no typing, no shutil
if TYPE_CHECKING:
    from typing import TextIO


def echo(inv: Invocation) -> int:
    inv.shell.print(" ".join(inv.args), end="" if inv.flag("n") else "\n")
    return 0


def exit_(inv: Invocation) -> int:
    code = parse_integer(inv.args[0]) if inv.args else 0
    inv.shell.stop(STOP_SEQUENCE)
    return code


def goto(inv: Invocation) -> int:
    shell = inv.shell
    frame = shell.frame
    if frame is None:
        shell.print(f"Not in a script: {strerror(ENOTTY_GOTO)}")
        return ENOTTY_GOTO
    index = frame.script.find_label(inv.args[0])
    if index is None:
        # iPXE says nothing; its search ends on the script's last line, which fails with
        # EINVAL when it is a continued line at the end of the file.
        return EINVAL_CONTINUATION if frame.script.dangling is not None else ENOENT_LABEL
    frame.pc = index
    shell.stop(STOP_COMMAND)
    return 0


def isset(inv: Invocation) -> int:
    return 0 if inv.args[0] else ENOENT_ISSET


def iseq(inv: Invocation) -> int:
    return 0 if inv.args[0] == inv.args[1] else ERANGE_ISEQ


def sleep(inv: Invocation) -> int:
    seconds = parse_integer(inv.args[0])
    try:
        _time.sleep(seconds)
    except KeyboardInterrupt:
        return ECANCELED_SLEEP  # Ctrl-C cancels the command, not the shell
    return 0


def time(inv: Invocation) -> int:
    start = _time.monotonic()
    # iPXE runs argv[1] onwards as they were, whatever the option parser skipped.
    status = inv.shell.run_argv(list(inv.argv[1:]))
    decisecs = int((_time.monotonic() - start) * 10)
    inv.shell.print(f"{inv.name}: {decisecs // 10}.{decisecs % 10}s")
    return status


def terminal_width(out: TextIO) -> int:
    """The width of ``out`` when it is a terminal, 80 otherwise."""
    try:
        if out.isatty():
            import shutil

            return shutil.get_terminal_size((80, 24)).columns
    except (OSError, ValueError):
        pass
    return 80


def help_(inv: Invocation) -> int:
    shell = inv.shell
    records = [shell.commands.get(name) for name in inv.args]
    if inv.args and all(records):
        # bootsh: ``help CMD...`` shows the commands' records. Any other argument is
        # ignored, as iPXE's help ignores them all (``help --help`` lists the commands).
        for name, cmd in zip(inv.args, records, strict=True):
            assert cmd is not None
            alias = f" (alias of {cmd.name})" if name != cmd.name else ""
            shell.print(f"{name}{alias}: {cmd.summary}")
            shell.print(cmd.usage(name))
        return 0
    # iPXE's columns of 16, a new line once past four of them on 80 columns; bootsh also
    # starts a new line before a name that would pass the terminal's edge.
    width = terminal_width(shell.out)
    limit = max(width - 16, 16)
    out = ["\nAvailable commands:\n\n"]
    hpos = 0
    for name in shell.commands.names():
        entry = f"  {name}"
        if hpos and hpos + len(entry) > width:
            out[-1] = "\n"  # the padding after the last name becomes the line's end
            hpos = 0
        out.append(entry)
        hpos += len(entry)
        if hpos > limit:
            out.append("\n")
            hpos = 0
        else:
            pad = -hpos % 16
            out.append(" " * pad)
            hpos += pad
    out.append('\n\nType "<command> --help" for further information\n\n')
    shell.print("".join(out), end="")
    return 0


COMMANDS = (
    Command(
        "echo",
        echo,
        "print its arguments",
        args="[...]",
        options=(Option("n", "n", help="no newline at the end"),),
        max_args=None,
    ),
    Command("exit", exit_, "leave the script or the shell", args="[<status>]", max_args=1),
    Command("goto", goto, "go to a label of the script", args="<label>", min_args=1, max_args=1),
    Command(
        "isset", isset, "succeed if the value is not empty", args="<value>", min_args=1, max_args=1
    ),
    Command(
        "iseq",
        iseq,
        "succeed if the values are equal",
        args="<value1> <value2>",
        min_args=2,
        max_args=2,
    ),
    Command("sleep", sleep, "wait (Ctrl-C cancels)", args="<seconds>", min_args=1, max_args=1),
    Command("time", time, "time a command", args="<command>", min_args=1, max_args=None),
    Command(
        "help", help_, "list the commands", args="[<command>...]", max_args=None, raw_args=True
    ),
)
