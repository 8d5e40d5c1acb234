"""Command records: one record per command feeds dispatch, usage text, help and completion."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bootsh.shell import Shell


@dataclass(frozen=True)
class Option:
    """A command option: ``-k``/``--key``, taking an argument when ``metavar`` is set."""

    long: str
    short: str | None = None
    metavar: str | None = None
    help: str = ""

    def usage(self) -> str:
        flags = f"-{self.short}|--{self.long}" if self.short else f"--{self.long}"
        # iPXE names an option's argument after the long option, whatever it holds.
        return f"[{flags} <{self.long}>]" if self.metavar else f"[{flags}]"


@dataclass(frozen=True)
class Invocation:
    """A parsed command line handed to a handler."""

    shell: Shell
    name: str
    options: dict[str, str | bool]
    args: list[str]

    def flag(self, long: str) -> bool:
        return bool(self.options.get(long, False))

    def value(self, long: str) -> str | None:
        value = self.options.get(long)
        return value if isinstance(value, str) else None


class Handler(Protocol):
    def __call__(self, inv: Invocation) -> int: ...


#: A completer gets the shell and the partial word, and returns candidate words.
Completer = Callable[["Shell", str], Iterable[str]]


@dataclass(frozen=True)
class Command:
    name: str
    handler: Handler
    summary: str
    args: str = ""
    options: tuple[Option, ...] = ()
    min_args: int = 0
    max_args: int | None = 0
    aliases: tuple[str, ...] = ()
    completer: Completer | None = None
    #: The plugin that registered it; filled in by the plugin host.
    source: str = ""

    def usage(self, name: str | None = None) -> str:
        """iPXE's usage block: ``Usage:``, a blank line, the synopsis, the manual pointer."""
        shown = name or self.name
        synopsis = " ".join([shown, *(o.usage() for o in self.options), self.args]).rstrip()
        return f"Usage:\n\n  {synopsis}\n\nSee https://ipxe.org/cmd/{shown} for further information"


HELP_OPTION = Option("help", "h", help="show this usage")


class ParseError(Exception):
    """A command line that does not match the command's record; the text is iPXE's."""


def parse_argv(
    cmd: Command, name: str, argv: Sequence[str]
) -> tuple[dict[str, str | bool], list[str]]:
    """Parse options the way iPXE's getopt does: options may come anywhere before ``--``.

    Raises ParseError with the message to print (the caller prints usage after it).
    """
    options: dict[str, str | bool] = {}
    args: list[str] = []
    known = (*cmd.options, HELP_OPTION)
    by_long = {o.long: o for o in known}
    by_short = {o.short: o for o in known if o.short}
    items = list(argv)
    i = 0
    while i < len(items):
        word = items[i]
        i += 1
        if word == "--":
            args.extend(items[i:])
            break
        if word.startswith("--") and len(word) > 2:
            long, eq, inline = word[2:].partition("=")
            opt = by_long.get(long)
            if opt is None:
                raise ParseError(f'Unrecognised option "--{word[2:]}"')
            if eq and not opt.metavar:
                raise ParseError(f'Option "{long}" takes no argument')
            if opt.metavar:
                if eq:
                    options[opt.long] = inline
                elif i < len(items):
                    options[opt.long] = items[i]
                    i += 1
                else:
                    raise ParseError(f'Option "{long}" requires an argument')
            else:
                options[opt.long] = True
            continue
        if word.startswith("-") and len(word) > 1:
            j = 1
            while j < len(word):
                letter = word[j]
                opt = by_short.get(letter)
                if opt is None:
                    raise ParseError(f'Unrecognised option "-{letter}"')
                if opt.metavar:
                    rest = word[j + 1 :]
                    if rest:
                        options[opt.long] = rest
                    elif i < len(items):
                        options[opt.long] = items[i]
                        i += 1
                    else:
                        raise ParseError(f'Option "{letter}" requires an argument')
                    break
                options[opt.long] = True
                j += 1
            continue
        args.append(word)
    return options, args


@dataclass
class CommandTable:
    """Every registered command and alias, with who provided it."""

    commands: dict[str, Command] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)

    def add(self, cmd: Command) -> None:
        for word in (cmd.name, *cmd.aliases):
            existing = self.commands.get(word)
            if existing is not None and existing.source != cmd.source:
                # First registration wins; the clash is reported, not silently resolved.
                self.conflicts.append(
                    f"command {word!r} from plugin {cmd.source} ignored:"
                    f" already provided by plugin {existing.source}"
                )
                continue
            self.commands[word] = cmd

    def get(self, name: str) -> Command | None:
        return self.commands.get(name)

    def names(self) -> list[str]:
        return sorted(self.commands)

    def unique(self) -> list[Command]:
        seen: dict[str, Command] = {}
        for cmd in self.commands.values():
            seen.setdefault(cmd.name, cmd)
        return sorted(seen.values(), key=lambda c: c.name)
