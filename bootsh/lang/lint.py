"""``bootsh --check FILE...``: find mistakes in iPXE scripts without running anything.

iPXE has no linter; this one knows the same language rules as the interpreter (it uses
``bootsh.lang.script`` to read lines) and the syntax of every command, from the registered
command records first and from iPXE's own command table for commands bootsh does not run.

An error is what fails when the script runs; a warning is what runs but is probably not what
the author meant. Errors: unreadable files, a trailing backslash at the end of the file,
unknown commands, unknown options or missing option arguments, wrong argument counts, and a
setting name with an unknown ``:type`` where a command takes a setting (``set x:bogus 1``,
``show``, ``clear``, ``read``, ``inc``, ``nslookup``, ``choose``, a digest's ``--set``: iPXE
fails them with ``invalid setting``). Warnings: an expansion with an unknown ``:type``
(``${x:bogus}`` reads as an unset setting, the empty string, in iPXE and bootsh alike),
``goto`` to a label the script does not have (it fails at run time and ends the script,
which chained scripts rely on), a missing ``#!ipxe`` line, and ``cmd && other`` with no
``||`` after it (a failing ``cmd`` then aborts the whole script, which is rarely what the
author meant). The setting names are split by the interpreter's own
``bootsh.lang.settings.split_setting_name``.

Only what is static is judged. An expanded word is one argument whatever its value (iPXE
never re-splits) and is assumed not to be an option; a command name that is itself an
expansion is not checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from bootsh.lang.commands import Command, CommandTable, Option, ParseError, parse_argv
from bootsh.lang.files import read_bounded
from bootsh.lang.ipxe_syntax import SYNTAX, ArgReq
from bootsh.lang.script import MAX_SCRIPT_SIZE, has_magic, parse_script, split_commands
from bootsh.lang.script import Command as ScriptCommand
from bootsh.lang.settings import split_setting_name
from bootsh.lang.settypes import TYPES
from bootsh.records import dataclass

#: Finds a command's syntax record by name (registered commands, then iPXE's table).
Resolver = Callable[[str], Command | None]

_TYPED = re.compile(r"\$\{([^${}]*)\}")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    severity: str  # "error" | "warning"
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.severity}: {self.message}"


#: The only option iPXE parses as a setting name: the digest commands' ``--set``.
SETTING_OPTIONS = ("set",)


def _setting_types(word: str) -> Iterable[str]:
    """The ``:type`` of each innermost ``${...}`` in ``word``."""
    for match in _TYPED.finditer(word):
        kind = split_setting_name(match.group(1))[2]
        if kind is not None:
            yield kind


def _setting_slots(record: Command) -> list[int]:
    """The positions of ``<setting>`` among a command's arguments, from its usage text."""
    names = re.findall(r"<([^<>]+)>", record.args)
    return [i for i, name in enumerate(names) if name == "setting"]


def check_text(text: str, path: str, resolve: Resolver) -> list[Finding]:
    findings: list[Finding] = []

    def report(line: int, severity: str, message: str) -> None:
        findings.append(Finding(path, line, severity, message))

    if not has_magic(text):
        report(1, "warning", "no #!ipxe line: iPXE will not run this as a script")
    script = parse_script(text, path)
    if script.dangling is not None:
        report(
            script.dangling.number,
            "error",
            "trailing backslash at the end of the file: this line never runs (EINVAL)",
        )
    for index, line in enumerate(script.lines):
        if index == 0 and has_magic(text):
            continue
        commands = split_commands(line.command)
        for cmd in commands:
            for word in cmd.words:
                for kind in _setting_types(word):
                    if kind not in TYPES:
                        report(
                            line.number,
                            "warning",
                            f"unknown setting type {kind!r} in {word}: it always expands"
                            " to nothing",
                        )
            if not cmd.words or "${" in cmd.words[0]:
                continue
            _check_command(cmd.words, line.number, resolve, script.labels, report)
        _check_and_chain(commands, line.number, report)
    return findings


def _check_command(
    words: tuple[str, ...],
    number: int,
    resolve: Resolver,
    labels: dict[str, int],
    report: Callable[[int, str, str], None],
) -> None:
    name = words[0]
    record = resolve(name)
    if record is None:
        report(number, "error", f"unknown command {name!r}")
        return
    # An expansion is one argument whatever it holds; stand in a plain word for it.
    argv = ["value" if "${" in w else w for w in words[1:]]
    try:
        options, args = parse_argv(record, name, argv)
    except ParseError as exc:
        report(number, "error", f"{name}: {exc}")
        return
    if options.get("help"):
        return
    if len(args) < record.min_args or (record.max_args is not None and len(args) > record.max_args):
        expected = _expected(record)
        report(number, "error", f"{name}: {len(args)} argument(s), expected {expected}")
        return
    static = [w for w in words[1:] if "${" not in w]  # the words judged as they are written
    settings = [args[i] for i in _setting_slots(record) if i < len(args)]
    settings += [str(options[o]) for o in SETTING_OPTIONS if isinstance(options.get(o), str)]
    for setting in settings:
        kind = split_setting_name(setting)[2]
        if setting in static and kind is not None and kind not in TYPES:
            report(number, "error", f"{name}: {setting!r}: unknown setting type {kind!r}")
    label = words[-1]
    if record.name == "goto" and args and "${" not in label and label not in labels:
        # A warning, not an error: real scripts (netboot.xyz's among them) use `goto error`
        # in a chained script whose parent has the label; iPXE then fails the goto, which
        # ends the chained script and returns to the parent, and that is what they rely on.
        report(
            number,
            "warning",
            f"goto: no label {label!r} in this script: the goto fails and ends the script",
        )


def _expected(record: Command) -> str:
    if record.max_args is None:
        return f"at least {record.min_args}"
    if record.min_args == record.max_args:
        return str(record.min_args)
    return f"{record.min_args} to {record.max_args}"


def _check_and_chain(
    commands: list[ScriptCommand], number: int, report: Callable[[int, str, str], None]
) -> None:
    terminators = [c.terminator for c in commands if c.terminator]
    if "&&" not in terminators:
        return
    last_and = len(terminators) - 1 - terminators[::-1].index("&&")
    if "||" not in terminators[last_and:]:
        first = next(c for c in commands if c.terminator == "&&")
        report(
            number,
            "warning",
            f"'{' '.join(first.words)} && ...' has no '||': when the test fails the script aborts",
        )


def _not_run(inv: object) -> int:
    raise AssertionError("a syntax record is never run")


def syntax_command(name: str) -> Command | None:
    """A command record built from iPXE's own table, for commands bootsh does not run."""
    syntax = SYNTAX.get(name)
    if syntax is None:
        return None
    options = tuple(
        Option(o.long, o.short, metavar=o.long if o.arg is ArgReq.REQUIRED else None)
        for o in syntax.options
    )
    return Command(
        syntax.name,
        _not_run,
        "iPXE command",
        args=syntax.usage or "",
        options=options,
        min_args=syntax.min_args,
        max_args=syntax.max_args,
    )


def resolver(table: CommandTable) -> Resolver:
    """Registered commands first (they may be a plugin's), then iPXE's table."""
    return lambda name: table.get(name) or syntax_command(name)


def check_files(paths: Iterable[str], resolve: Resolver) -> list[Finding]:
    findings: list[Finding] = []
    for path in paths:
        try:
            data = read_bounded(path, MAX_SCRIPT_SIZE)
        except OSError as exc:
            findings.append(Finding(path, 0, "error", f"cannot read: {exc.strerror}"))
            continue
        findings.extend(check_text(data.decode("utf-8", "surrogateescape"), path, resolve))
    return findings


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary(files: int, findings: list[Finding]) -> str:
    """The last line of ``--check``: ``checked 2 files: 1 error, 0 warnings``."""
    errors = sum(f.severity == "error" for f in findings)
    warnings = sum(f.severity == "warning" for f in findings)
    return (
        f"checked {_count(files, 'file')}: {_count(errors, 'error')}, {_count(warnings, 'warning')}"
    )
