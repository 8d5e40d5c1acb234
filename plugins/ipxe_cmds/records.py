"""Command records built from iPXE's syntax table (``bootsh.lang.ipxe_syntax``): the options,
arguments and usage a command has in iPXE, so that dispatch, ``--help``, ``--check`` and
completion agree with it. One copy for every command module that takes its syntax from there.
"""

from __future__ import annotations

from bootsh.api import SYNTAX, ArgReq, Command, Completer, Handler, Option


def options_from_syntax(name: str) -> tuple[Option, ...]:
    """iPXE's options of ``name``; an option taking an argument names it after itself."""
    return tuple(
        Option(o.long, o.short, o.long if o.arg is ArgReq.REQUIRED else None)
        for o in SYNTAX[name].options
    )


def command_from_syntax(
    name: str,
    handler: Handler,
    summary: str,
    *,
    aliases: bool = False,
    completer: Completer | None = None,
) -> Command:
    """The record of ``name`` with iPXE's usage, options and argument counts; with
    ``aliases``, also the other names iPXE gives the command (``imgfetch``: ``module``...)."""
    syntax = SYNTAX[name]
    return Command(
        name,
        handler,
        summary,
        args=syntax.usage or "",
        options=options_from_syntax(name),
        min_args=syntax.min_args,
        max_args=syntax.max_args,
        aliases=syntax.aliases if aliases else (),
        completer=completer,
    )
