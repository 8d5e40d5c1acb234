"""Completion for the interactive shell, driven by the command records.

``complete(shell, line)`` is the engine: pure, no prompt_toolkit, given the text of the line
before the cursor it returns candidates. ``ShellCompleter`` adapts it to prompt_toolkit (this
module is imported only when the interactive shell starts).

What is completed, by where the cursor is:

- at the start of a command (the line's start, after a label, after ``;``, ``||``, ``&&``):
  command names and aliases from the shell's ``CommandTable``;
- inside an unclosed ``${`` anywhere in a word: setting names, one scope level at a time
  (``${`` offers global names and ``net0/``-style scopes, ``${net0/`` that scope's names),
  and after ``name:`` the types of ``bootsh.lang.settypes.TYPES``;
- a word starting with ``-`` while the command still parses options (iPXE's getopt stops at
  the first non-option word): the record's options and ``--help``;
- an argument: the record's own ``completer(shell, partial)`` when it has one, for the
  arguments of the kind the synopsis names first (``imgargs <uri|image> [<arguments>...]``
  completes image names for its first word only, ``sha256sum <image> [<image>...]`` for
  every word); otherwise the argument's name in the record's synopsis (``args``) chooses:
  ``<setting>`` completes setting names (and ``:type``), ``<interface>`` / ``<netdev>`` the
  shown netdevs, ``<image>`` the registered images, ``<label>`` the labels of the running
  and the typed script, ``<command>`` commands (and then that command's own completion, as
  for ``time``);
- the argument of an option, by the option's name: ``--set``/``--setting`` a setting name
  (``sha256sum -s``), ``--configurator`` iPXE's configurators (``ifconf -c dhcp``),
  ``--interface``/``--netdev`` a netdev, ``--image`` an image; other option arguments
  (a timeout, a size) get nothing.

A completer that raises is treated as having nothing to offer: completion never breaks the
prompt. Work is linear in the number of settings (one ``startswith`` each), so thousands of
settings complete in milliseconds; the REPL still runs completion in a thread.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from bootsh.boot.images import registered_names
from bootsh.errors import BootshError
from bootsh.lang.commands import HELP_OPTION, Command, Option
from bootsh.lang.script import C_SPACE, TERMINATORS, split_label, split_words
from bootsh.lang.settypes import DEFAULT_TYPES, TYPES
from bootsh.records import dataclass

if TYPE_CHECKING:
    from bootsh.shell import Shell

#: A source of ``goto`` labels (the REPL's: the running script's and the lines typed).
Labels = Callable[[], Iterable[str]]

#: Settings every netdev has in iPXE (``net/netdev_settings.c``), offered under ``netN/``.
NETDEV_SETTINGS = (
    "mac", "hwaddr", "bustype", "busloc", "busid", "linktype", "chip", "ifname", "linux-ifname",
)  # fmt: skip

#: iPXE's ``builtin`` scope (``bootsh.lang.settings``), found with or without the scope.
BUILTIN_SETTINGS = {
    "errno": "uint32", "buildarch": "string", "platform": "string", "version": "string",
    "unixtime": "uint32",
}  # fmt: skip

_METAVAR = re.compile(r"<([^>]+)>(\.\.\.)?")


@dataclass(frozen=True)
class Candidate:
    """A completion: ``text`` replaces the last ``replaces`` characters before the cursor."""

    text: str
    replaces: int
    meta: str = ""


def complete(shell: Shell, line: str, labels: Labels | None = None) -> list[Candidate]:
    """Candidates for the cursor at the end of ``line`` (the line's text before the cursor)."""
    words = split_words(line)
    current = words.pop() if words and line[-1] not in C_SPACE else ""
    if words and split_label(line)[0] is not None:
        words = words[1:]  # ":label command...": the label is no part of the command
    elif not words and current.startswith(":"):
        return []  # a label being typed
    if current.startswith("#") or any(w.startswith("#") for w in words):
        return []  # a comment
    opened = _open_expansion(current)
    if opened is not None:
        return _setting_candidates(shell, current[opened:])
    start = max((i + 1 for i, w in enumerate(words) if w in TERMINATORS), default=0)
    return _command_candidates(shell, words[start:], current, labels)


def _open_expansion(word: str) -> int | None:
    """Where the name of the innermost unclosed ``${`` in ``word`` starts, if there is one."""
    opens: list[int] = []
    i = 0
    while i < len(word):
        if word.startswith("${", i):
            opens.append(i + 2)
            i += 2
            continue
        if word[i] == "}" and opens:
            opens.pop()
        i += 1
    return opens[-1] if opens else None


def _command_candidates(
    shell: Shell, words: list[str], current: str, labels: Labels | None
) -> list[Candidate]:
    if not words:
        return _command_names(shell, current)
    cmd = shell.commands.get(words[0])
    if cmd is None:
        return []
    position = _argument_position(cmd, words[1:])
    if isinstance(position, Option):  # the argument of that option
        return _named_candidates(shell, position.long, current)
    if position < 0:  # options are still parsed
        if current.startswith("-"):
            option = _option_argument(cmd, current)
            if option is not None and option[1] is not None:  # "-sNAME", "--set=NAME"
                return _named_candidates(shell, option[0].long, option[1])
            return _option_candidates(cmd, current)
        position = 0
    if cmd.completer is not None and _metavar(cmd, position) in (_metavar(cmd, 0), None):
        try:
            found = sorted({w for w in cmd.completer(shell, current) if w.startswith(current)})
        except Exception:  # a plugin's completer must not break the prompt
            return []
        return [Candidate(w, len(current)) for w in found]
    names = [name for name, _ in _METAVAR.findall(cmd.args)]
    if "command" in names and position >= names.index("command"):
        # From there on the words are a command line of its own (``time <command>``).
        first = len(words) - position + names.index("command")
        return _command_candidates(shell, words[first:], current, labels)
    metavar = _metavar(cmd, position)
    if metavar == "label" and labels is not None:
        found = sorted({label for label in labels() if label.startswith(current)})
        return [Candidate(label, len(current), "label") for label in found]
    return _named_candidates(shell, metavar, current)


def _named_candidates(shell: Shell, name: str | None, current: str) -> list[Candidate]:
    """Candidates for a word that the synopsis or an option names ``name``."""
    if name in ("setting", "set"):
        return _setting_candidates(shell, current)
    words: Iterable[str] = ()
    if name in ("interface", "netdev"):
        words = _netdev_names(shell)
    elif name == "image":
        words = registered_names(shell)  # makes no image store (directory) for a Tab
    elif name == "configurator":
        from bootsh.net.dhcp import CONFIGURATORS  # no scapy at import: checked by a test

        words = CONFIGURATORS
    return [Candidate(w, len(current)) for w in sorted(set(words)) if w.startswith(current)]


def _command_names(shell: Shell, prefix: str) -> list[Candidate]:
    out = []
    for name in shell.commands.names():
        if name.startswith(prefix):
            cmd = shell.commands.commands[name]
            meta = cmd.summary if name == cmd.name else f"alias of {cmd.name}"
            out.append(Candidate(name, len(prefix), meta))
    return out


def _argument_position(cmd: Command, args: list[str]) -> int | Option:
    """Where the next word falls: -1 while options are parsed (getopt's rules, as in
    ``bootsh.lang.commands.parse_argv``), the option whose argument it is, else its index among
    the positional arguments."""
    if cmd.raw_args:
        return len(args)
    awaiting: Option | None = None
    for i, word in enumerate(args):
        if awaiting is not None:
            awaiting = None
            continue
        if word == "--":
            return len(args) - i - 1
        if not word.startswith("-") or word == "-":
            return len(args) - i
        found = _option_argument(cmd, word)
        awaiting = found[0] if found is not None and found[1] is None else None
    return -1 if awaiting is None else awaiting


def _option_argument(cmd: Command, word: str) -> tuple[Option, str | None] | None:
    """The option in the option word ``word`` that takes an argument, and that argument's
    text when the word holds it (getopt's ``-sVALUE``, after other short flags too, and
    ``--long=VALUE``) or None when the argument is the next word. None: no such option."""
    if word.startswith("--"):
        long, eq, value = word[2:].partition("=")
        opt = next((o for o in cmd.options if o.long == long), None)
        return (opt, value if eq else None) if opt is not None and opt.metavar else None
    by_short = {o.short: o for o in (*cmd.options, HELP_OPTION) if o.short}
    for j, letter in enumerate(word[1:], start=2):
        short = by_short.get(letter)
        if short is not None and short.metavar:
            return short, (word[j:] if j < len(word) else None)
    return None


def _option_candidates(cmd: Command, current: str) -> list[Candidate]:
    out = []
    for opt in (*cmd.options, HELP_OPTION):
        meta = opt.help + (f" (takes <{opt.long}>)" if opt.metavar else "")
        for flag in (f"-{opt.short}" if opt.short else None, f"--{opt.long}"):
            if flag is not None and flag.startswith(current) and flag != "-":
                out.append(Candidate(flag, len(current), meta))
    return sorted(out, key=lambda c: c.text)


def _metavar(cmd: Command, position: int) -> str | None:
    """The name of argument ``position`` in the record's synopsis (a last ``...`` repeats)."""
    found = _METAVAR.findall(cmd.args)
    if not found:
        return None
    if position < len(found):
        return str(found[position][0])
    name, repeats = found[-1]
    return str(name) if repeats or cmd.args.rstrip().endswith("...") else None


def _netdev_names(shell: Shell) -> list[str]:
    try:
        return [n.name for n in shell.netdevs().shown if n.name]
    except BootshError:
        return []


# -- settings -------------------------------------------------------------------------------


def stored_setting_names(shell: Shell) -> Iterable[str]:
    """Names of the settings in the store: ``Settings.names()`` when the store offers it,
    otherwise the keys of its ``values`` mapping."""
    settings = shell.settings
    names = getattr(settings, "names", None)
    if callable(names):
        result = names()
        if isinstance(result, Iterable):
            return (str(n) for n in result)
    values = getattr(settings, "values", None)
    return values.keys() if isinstance(values, Mapping) else ()


def _known_setting_names(shell: Shell) -> Iterator[tuple[str, str]]:
    """``(name, type)`` of the settings iPXE predefines, the builtins and the netdevs'."""
    yield from DEFAULT_TYPES.items()
    for name, type_ in BUILTIN_SETTINGS.items():
        yield name, type_
        yield f"builtin/{name}", type_
    netdevs = _netdev_names(shell)
    for netdev in [*netdevs, "netX"] if netdevs else []:  # netX: the last opened one
        for name in NETDEV_SETTINGS:
            yield f"{netdev}/{name}", DEFAULT_TYPES.get(name, "")


def _setting_candidates(shell: Shell, partial: str) -> list[Candidate]:
    """Setting names for ``partial`` (``[scope/]name[:type]``), one scope level at a time."""
    colon = partial.find(":", partial.find("/") + 1)
    if colon >= 0:
        typed = partial[colon + 1 :]
        return [Candidate(t, len(typed), "type") for t in sorted(TYPES) if t.startswith(typed)]
    in_scope = "/" in partial
    seen: dict[str, str] = {}
    scopes: set[str] = set()
    pairs: Iterable[tuple[str, str]] = (
        *((n, "") for n in stored_setting_names(shell)),
        *_known_setting_names(shell),
    )
    for name, type_ in pairs:
        if not name.startswith(partial):
            continue
        slash = name.find("/")
        if not in_scope and slash >= 0:
            scopes.add(name[: slash + 1])
        elif name not in seen or not seen[name]:
            seen[name] = type_
    found = [Candidate(n, len(partial), t) for n, t in seen.items()]
    found += [Candidate(s, len(partial), "scope") for s in scopes]
    return sorted(found, key=lambda c: c.text)


# -- prompt_toolkit ---------------------------------------------------------------------------


class ShellCompleter(Completer):
    """``complete()`` for prompt_toolkit; ``labels`` adds ``goto`` labels beyond the buffer's.

    Labels are taken from every line of the buffer (a pasted script) and from ``labels()``.
    """

    def __init__(self, shell: Shell, labels: Labels | None = None) -> None:
        self.shell = shell
        self.labels = labels

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterator[Completion]:
        def labels() -> Iterator[str]:
            for text in document.lines:
                label = split_label(text)[0]
                if label:
                    yield label
            if self.labels is not None:
                yield from self.labels()

        for cand in complete(self.shell, document.current_line_before_cursor, labels):
            yield Completion(
                cand.text, start_position=-cand.replaces, display_meta=cand.meta or None
            )
