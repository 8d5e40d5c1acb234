"""Command records: one record per command feeds dispatch, usage text, help and completion.

A plugin registers ``Command`` records, or a ``CommandGroup``: the names up front and a loader
for the records, called the first time one of those commands is needed (run, completed,
listed with its summary, checked). The built-in iPXE commands are registered that way, so
that a module of commands, and everything it imports, loads only when one of its commands
is used.
"""

from __future__ import annotations

from bootsh.ipxe_errors import EINVAL_INTEGER, EINVAL_MISSING_ARGUMENT, EINVAL_UNKNOWN_OPTION
from bootsh.lang.settypes import _strtoul as ipxe_strtoul  # iPXE's strtoul, one copy for all
from bootsh.records import dataclass, field

TYPE_CHECKING = False  # not typing's: its import costs more than the rest of this package
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import Protocol

    from bootsh.shell import Shell

    class Handler(Protocol):
        def __call__(self, inv: Invocation) -> int: ...

    #: A completer gets the shell and the partial word, and returns candidate words.
    Completer = Callable[["Shell", str], Iterable[str]]


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
    #: The whole expanded command line, ``argv[0]`` included, before option parsing.
    argv: tuple[str, ...] = ()

    def flag(self, long: str) -> bool:
        return bool(self.options.get(long, False))

    def value(self, long: str) -> str | None:
        value = self.options.get(long)
        return value if isinstance(value, str) else None


def __getattr__(name: str) -> object:
    """``Handler`` and ``Completer`` for plugins that import them at run time (they are
    typing constructs: built on first use, not at every start)."""
    if name not in ("Handler", "Completer"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from collections.abc import Callable, Iterable
    from typing import Protocol

    class Handler(Protocol):
        def __call__(self, inv: Invocation) -> int: ...

    names = {"Handler": Handler, "Completer": Callable[["Shell", str], Iterable[str]]}
    globals().update(names)
    return names[name]


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
    #: The handler gets every word as an argument, unparsed (iPXE's ``help`` ignores its
    #: arguments, ``--help`` included).
    raw_args: bool = False
    #: The plugin that registered it; filled in by the plugin host.
    source: str = ""

    def usage(self, name: str | None = None) -> str:
        """iPXE's usage block: ``Usage:``, a blank line, the synopsis, the manual pointer."""
        shown = name or self.name
        synopsis = " ".join([shown, *(o.usage() for o in self.options), self.args]).rstrip()
        return f"Usage:\n\n  {synopsis}\n\nSee https://ipxe.org/cmd/{shown} for further information"


HELP_OPTION = Option("help", "h", help="show this usage")


class ParseError(Exception):
    """A command line that does not match the command's record; the text is iPXE's.

    ``errno`` is the iPXE error the command fails with.
    """

    def __init__(self, message: str, errno: int = EINVAL_UNKNOWN_OPTION) -> None:
        super().__init__(message)
        self.errno = errno


def parse_integer(text: str) -> int:
    """iPXE's ``parse_integer``: ``strtoul(text, &end, 0)`` must use up the text.

    iPXE's own strtoul: leading whitespace, one sign, ``0x`` hex or ``0`` octal, wrapping;
    an empty text, ``-`` or ``0x`` is 0. The result is an ``unsigned int``. Raises
    ParseError (``"x": invalid integer value``, no usage) otherwise; the shell prints it.
    """
    data = text.encode("utf-8", "surrogateescape")
    value, end = ipxe_strtoul(data, 0, 0)
    if end < len(data):
        raise ParseError(f'"{text}": invalid integer value', EINVAL_INTEGER)
    return value & 0xFFFFFFFF


def parse_argv(
    cmd: Command, name: str, argv: Sequence[str]
) -> tuple[dict[str, str | bool], list[str]]:
    """Parse options the way iPXE's ``getopt_long`` does.

    Options end at the first word that does not start with ``-`` (so ``echo hi -n`` prints
    ``hi -n``) or after ``--``. A long option matches its whole name or ``name=value``;
    short options bundle (``-nh``) and take the rest of the word or the next word as their
    argument, but never a next word starting with ``-``. A lone ``-`` is an unknown option
    whose letter is a NUL, as iPXE prints it.

    Raises ParseError with the message to print (the caller prints usage after it).
    """
    if not argv or argv[0][:1] != "-":
        return {}, list(argv)  # no option: getopt stops at the first word
    options: dict[str, str | bool] = {}
    known = (*cmd.options, HELP_OPTION)
    by_short = {o.short: o for o in known if o.short}
    items = list(argv)
    i = 0

    def next_argument() -> str | None:
        nonlocal i
        if i < len(items) and not items[i].startswith("-"):
            i += 1
            return items[i - 1]
        return None

    while i < len(items):
        word = items[i]
        if not word.startswith("-"):
            break
        if word.startswith("--"):
            i += 1
            if word == "--":
                break
            text = word[2:]
            for opt in known:
                if text == opt.long or text.startswith(opt.long + "="):
                    break
            else:
                raise ParseError(f'Unrecognised option "--{text}"', EINVAL_UNKNOWN_OPTION)
            inline = text[len(opt.long) + 1 :] if text != opt.long else None
            if opt.metavar:
                value = inline if inline is not None else next_argument()
                if value is None:
                    raise ParseError(
                        f'Option "{opt.long}" requires an argument', EINVAL_MISSING_ARGUMENT
                    )
                options[opt.long] = value
            elif inline is not None:
                raise ParseError(f'Option "{opt.long}" takes no argument', EINVAL_MISSING_ARGUMENT)
            else:
                options[opt.long] = True
                if opt is HELP_OPTION:
                    return options, []  # iPXE prints usage at once
            continue
        i += 1
        j = 1
        if len(word) == 1:
            raise ParseError('Unrecognised option "-\0"', EINVAL_UNKNOWN_OPTION)
        while j < len(word):
            letter = word[j]
            short = by_short.get(letter)
            if short is None:
                raise ParseError(f'Unrecognised option "-{letter}"', EINVAL_UNKNOWN_OPTION)
            j += 1
            if short.metavar:
                value = word[j:] or next_argument()
                if value is None:
                    raise ParseError(
                        f'Option "{letter}" requires an argument', EINVAL_MISSING_ARGUMENT
                    )
                options[short.long] = value
                break
            options[short.long] = True
            if short is HELP_OPTION:
                return options, []
    return options, items[i:]


@dataclass(frozen=True)
class CommandGroup:
    """Commands registered by name, their records loaded when first needed.

    ``names`` lists every name and alias the group's records have; ``load()`` returns the
    records (typically ``importlib.import_module(...).COMMANDS``). The table dispatches by
    name from the start and calls ``load`` once, the first time one of the names is looked
    up, or when every record is asked for (help with summaries, completion, ``--check``).
    """

    names: tuple[str, ...]
    load: Callable[[], Iterable[Command]]
    #: The plugin that registered it; filled in by the plugin host.
    source: str = ""


@dataclass
class CommandTable:
    """Every registered command and alias, with who provided it."""

    _commands: dict[str, Command] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)
    #: Names whose group is not loaded yet.
    _pending: dict[str, CommandGroup] = field(default_factory=dict)
    #: Who provides each name, for the first-wins rule before a group is loaded.
    _owners: dict[str, str] = field(default_factory=dict)

    def _claim(self, word: str, source: str) -> bool:
        owner = self._owners.get(word)
        if owner is not None and owner != source:
            # First registration wins; the clash is reported, not silently resolved.
            self.conflicts.append(
                f"command {word!r} from plugin {source} ignored: already provided by plugin {owner}"
            )
            return False
        self._owners[word] = source
        return True

    def add(self, cmd: Command) -> None:
        for word in (cmd.name, *cmd.aliases):
            if self._claim(word, cmd.source):
                self._pending.pop(word, None)
                self._commands[word] = cmd

    def add_group(self, group: CommandGroup) -> None:
        for word in group.names:
            if self._claim(word, group.source):
                self._pending[word] = group

    def _load(self, group: CommandGroup) -> None:
        mine = {word for word, pending in self._pending.items() if pending is group}
        for word in mine:
            del self._pending[word]
        for cmd in group.load():
            for word in (cmd.name, *cmd.aliases):
                if word in mine:
                    self._commands[word] = cmd if cmd.source else _with_source(cmd, group.source)

    def _load_all(self) -> None:
        while self._pending:
            self._load(next(iter(self._pending.values())))

    @property
    def commands(self) -> dict[str, Command]:
        """Every command and alias, every group loaded."""
        self._load_all()
        return self._commands

    def get(self, name: str) -> Command | None:
        cmd = self._commands.get(name)
        if cmd is None and name in self._pending:
            self._load(self._pending[name])
            cmd = self._commands.get(name)
        return cmd

    def names(self) -> list[str]:
        return sorted({*self._commands, *self._pending})

    def unique(self) -> list[Command]:
        seen: dict[str, Command] = {}
        for cmd in self.commands.values():
            seen.setdefault(cmd.name, cmd)
        return sorted(seen.values(), key=lambda c: c.name)


def _with_source(cmd: Command, source: str) -> Command:
    from bootsh.records import replace

    return replace(cmd, source=source)
