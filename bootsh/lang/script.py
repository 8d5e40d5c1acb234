"""The iPXE script language, the pure part: lines, labels, words, terminators and expansion.

Nothing here does I/O or runs a command; ``bootsh.shell`` drives it. Every rule follows the
real iPXE (``image/script.c``, ``core/exec.c``, ``core/settings.c``) and DESIGN.md section 4:

Lines
    A script is split on ``\\n``; one trailing ``\\r`` is dropped; a line ending in ``\\`` is
    joined with the next one with nothing added (its indentation is kept). The joining works
    on the joined buffer, as iPXE's does: ``a\\`` followed by an empty line ends in ``\\``
    again. A file whose last line ends in ``\\`` leaves that line unfinished: it never runs
    and the script fails with EINVAL (``Script.dangling``). A line ends at a NUL byte (iPXE's
    lines are C strings). A file ending in ``\\n`` has no empty last line.
Labels
    After leading whitespace, ``:name`` (up to the next whitespace) labels the line; the rest
    of the line after one whitespace character is its command and still runs. ``goto``
    finds the first line with that label from the top; the label line itself runs again.
Words
    Split on the six C ``isspace`` characters only. No quoting, no escaping. A *word*
    starting with ``#`` ends the command line; ``;``, ``||`` and ``&&`` are terminators
    only as whole words.
Expansion
    Per word, after splitting, so a value never splits and an expanded ``;`` or ``#`` is
    text. iPXE's ``expand_settings`` repeatedly takes the first ``}`` that follows a ``${``,
    expands the last ``${`` before it (innermost first) and scans the whole string again, so
    a value holding ``${x}`` is expanded too and ``${net${i}/mac}`` works. ``expand`` does
    exactly that in one left-to-right pass with a stack (what was scanned before the
    expansion point cannot change). Unknown or unset names expand to "".

Bounds (bootsh's, not iPXE's). In iPXE a setting that refers to itself (``set x ${x}``)
expands forever and ``set x a${x}${x}`` grows until memory runs out. ``expand`` therefore
stops with ``ExpansionError`` after ``MAX_EXPANSIONS`` expansions or ``MAX_EXPANDED``
characters of values in one word; the shell fails that command like iPXE's out-of-memory
case. Nesting depth costs a list entry, never Python recursion, and all work is linear in the
input plus the values expanded. A ``goto`` loop is legitimate iPXE (counting loops) and is not
bounded: Ctrl-C (``KeyboardInterrupt``) stops it.

Script arguments: iPXE does not expose a script's command line (``chain s.ipxe a b``) to the
script, and ``${1}`` already means something there: a setting named by a number is a DHCP
option (``${1}`` is option 1, the subnet mask). So bootsh does not shadow ``${0}``, ``${1}``;
the shell keeps each script's arguments in its call frame and offers them as the bootsh-only
``${args/0}`` (the script's name), ``${args/1}``, ... and ``${args/count}``, which expand to ""
under the real iPXE (no such settings scope).
"""

from __future__ import annotations

import io

from bootsh.records import dataclass, field

TYPE_CHECKING = False  # not typing's: the interpreter's start-up does not import typing
if TYPE_CHECKING:
    import re
    from collections.abc import Callable
    from typing import TypeVar

SCRIPT_MAGICS = ("#!ipxe", "#!gpxe")
TERMINATORS = (";", "||", "&&")

#: C's isspace() in iPXE: space, \t, \n, \v, \f, \r (never a non-ASCII character).
C_SPACE = " \t\n\v\f\r"

#: The largest script bootsh reads (a file, standard input, a fetched image, ``--check``):
#: real scripts are kilobytes, and one of short lines costs about 25 bytes of memory per
#: byte once split (a 100 MB "script" took gigabytes). iPXE has no such bound.
MAX_SCRIPT_SIZE = 2 << 20

#: At most this many ``${...}`` expansions in one word.
MAX_EXPANSIONS = 100_000
#: At most this many characters of expanded values in one word.
MAX_EXPANDED = 1 << 20


class ExpansionError(Exception):
    """A word whose expansion does not end (a setting refers to itself) or grows too large."""


# -- lines and labels -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Line:
    """One logical script line: continuations joined, ``\\r`` dropped, cut at a NUL."""

    number: int  # the first physical line, counted from 1
    text: str  # the whole line, label included
    label: str | None
    command: str  # what runs: the text after the label


@dataclass(frozen=True)
class Script:
    name: str
    lines: tuple[Line, ...]
    #: A last line that ends in ``\\`` at the end of the file: it never runs (EINVAL).
    dangling: Line | None = None
    labels: dict[str, int] = field(default_factory=dict, compare=False)

    def find_label(self, label: str) -> int | None:
        """Index of the first line labelled ``label``, searching from the top."""
        return self.labels.get(label)

    def compiled(self, index: int) -> tuple[CompiledCommand, ...]:
        """The commands of line ``index``, split on its first run (``compile_commands``)
        and kept for the next (a loop runs the same lines again and again). The lines
        themselves have slots (a long script has many); the cache is the script's."""
        cache: list[tuple[CompiledCommand, ...] | None] | None = self.__dict__.get("_compiled")
        if cache is None:
            cache = [None] * len(self.lines)
            self.__dict__["_compiled"] = cache  # a cache, not a field
        found = cache[index]
        if found is None:
            found = cache[index] = compile_commands(self.lines[index].command)
        return found


def has_magic(text: str) -> bool:
    """Whether ``text`` starts with ``#!ipxe`` or ``#!gpxe`` followed by whitespace."""
    return len(text) >= 7 and text[:6] in SCRIPT_MAGICS and text[6] in C_SPACE


def split_label(text: str) -> tuple[str | None, str]:
    """``(label, command)`` of a line, as iPXE's ``process_script`` splits it."""
    rest = text.lstrip(C_SPACE)
    if not rest.startswith(":"):
        return None, rest
    rest = rest[1:]
    end = 0
    while end < len(rest) and rest[end] not in C_SPACE:
        end += 1
    return rest[:end], rest[end + 1 :]


def _make_line(number: int, parts: list[str]) -> Line:
    text = "".join(parts).split("\0", 1)[0]
    label, command = split_label(text)
    return Line(number, text, label, command)


def parse_script(text: str, name: str) -> Script:
    """Split a script's text into lines the way iPXE reads it (see the module docstring)."""
    lines: list[Line] = []
    labels: dict[str, int] = {}
    parts: list[str] = []  # the line being joined; never holds an empty string
    joining = False
    start = 1  # its first physical line
    offset = 0
    number = 0
    while True:
        number += 1
        eol = text.find("\n", offset)
        fragment = text[offset:] if eol < 0 else text[offset:eol]
        offset = len(text) + 1 if eol < 0 else eol + 1
        if not joining:
            start = number
        if fragment:
            parts.append(fragment)
        _strip_last(parts, "\r")
        if _strip_last(parts, "\\"):
            if offset >= len(text):
                return Script(name, tuple(lines), _make_line(start, parts), labels)
            joining = True
            continue
        line = _make_line(start, parts)
        if line.label is not None:
            labels.setdefault(line.label, len(lines))
        lines.append(line)
        parts = []
        joining = False
        if offset >= len(text):
            return Script(name, tuple(lines), None, labels)


def _strip_last(parts: list[str], char: str) -> bool:
    """Drop ``char`` if the joined buffer ends with it (iPXE looks at the whole buffer)."""
    if parts and parts[-1].endswith(char):
        parts[-1] = parts[-1][:-1]
        if not parts[-1]:
            parts.pop()
        return True
    return False


# -- words and commands -----------------------------------------------------------------------


def split_words(text: str) -> list[str]:
    """Whitespace-separated words; no quoting, no escaping."""
    # str.split() is C's isspace() splitting for ASCII text without the four separators
    # (\x1c-\x1f) Python also counts as whitespace; anything else takes the exact pattern.
    if text.isascii() and not (
        "\x1c" in text or "\x1d" in text or "\x1e" in text or "\x1f" in text
    ):
        return text.split()
    return _pattern("words").findall(text)


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _pattern(name: str) -> re.Pattern[str]:
    """The regular expressions, compiled on first use (``re`` is not on the start-up path)."""
    if not _PATTERNS:
        import re

        _PATTERNS["words"] = re.compile(r"[^ \t\n\v\f\r]+")
        _PATTERNS["braces"] = re.compile(r"[{}]")
    return _PATTERNS[name]


@dataclass(frozen=True)
class Command:
    """One command of a line: its words (unexpanded) and the terminator after it."""

    words: tuple[str, ...]
    terminator: str | None  # ";", "||", "&&", or None at the end of the line

    def run_next(self, status: int) -> bool:
        """Whether the next command runs after this one ended with ``status``."""
        if self.terminator == "||":
            return status != 0
        if self.terminator == "&&":
            return status == 0
        return self.terminator == ";"


def split_commands(text: str) -> list[Command]:
    """The commands of a line. A word starting with ``#`` ends the line (a comment)."""
    if len(text) <= _CACHED_LINE:
        return list(_split_cached(text))  # a loop runs the same lines again and again
    return _split_commands(text)


_CACHED_LINE = 2048

if TYPE_CHECKING:
    _T = TypeVar("_T")


def _line_cache(size: int) -> Callable[[Callable[[str], _T]], Callable[[str], _T]]:
    """A bounded memo of a function of one line (``functools.lru_cache`` would import
    ``collections`` at start-up); the oldest entry leaves when it is full."""

    def wrap(function: Callable[[str], _T]) -> Callable[[str], _T]:
        memo: dict[str, _T] = {}

        def cached(text: str) -> _T:
            try:
                return memo[text]
            except KeyError:
                pass
            value = memo[text] = function(text)
            if len(memo) > size:
                del memo[next(iter(memo))]
            return value

        return cached

    return wrap


@_line_cache(4096)
def _split_cached(text: str) -> tuple[Command, ...]:
    return tuple(_split_commands(text))


def _split_commands(text: str) -> list[Command]:
    commands: list[Command] = []
    words: list[str] = []
    for word in split_words(text):
        if word.startswith("#"):
            break
        if word in TERMINATORS:
            commands.append(Command(tuple(words), word))
            words = []
        else:
            words.append(word)
    commands.append(Command(tuple(words), None))
    return commands


# -- commands as they run ---------------------------------------------------------------------


class Template:
    """A word holding ``${``, prepared for expansion at run time.

    ``parts`` alternates literal text and setting names (``a${x}b`` is ``("a", "x", "b")``)
    when every ``${...}`` in the word is simple (no ``$``, ``{`` or ``}`` inside): then
    expanding is looking the names up and joining, as long as no value brings a ``$``,
    ``{`` or ``}`` of its own and the joined text holds no new ``${`` (a ``$`` before an
    empty value before a ``{``). Anything else (nested ``${net${i}/mac}``, such values) runs
    ``expand`` on the whole word, which is the definition (and so do values past
    ``MAX_EXPANDED``, for its error); ``parts`` is empty for words that are never simple.
    """

    __slots__ = ("parts", "word")

    def __init__(self, word: str) -> None:
        self.word = word
        self.parts = _simple_parts(word)

    def __repr__(self) -> str:
        return f"Template({self.word!r})"

    def expand(self, lookup: Lookup) -> str:
        parts = self.parts
        if not parts:
            return expand(self.word, lookup)
        if len(parts) == 3 and not parts[0] and not parts[2]:  # the word is "${name}"
            value = lookup(parts[1]) or ""
            if "$" in value or "{" in value or "}" in value or len(value) > MAX_EXPANDED:
                return expand(self.word, _replay([(parts[1], value)], lookup))
            return value
        out = [parts[0]]
        size = 0
        seen: list[tuple[str, str]] = []
        for i in range(1, len(parts), 2):
            value = lookup(parts[i]) or ""
            seen.append((parts[i], value))
            size += len(value)
            if "$" in value or "{" in value or "}" in value or size > MAX_EXPANDED:
                # expand() says why, past the bound
                return expand(self.word, _replay(seen, lookup))
            out.append(value)
            out.append(parts[i + 1])
        text = "".join(out)
        return expand(self.word, _replay(seen, lookup)) if "${" in text else text


def _replay(seen: list[tuple[str, str]], lookup: Lookup) -> Lookup:
    """``lookup``, answering first the lookups already made, in their order: ``expand`` of
    the same word asks for the same names first, and each ``${...}`` is looked up once, as
    without the shortcut (a value that changes between two reads, ``${unixtime}``, is read
    once; a self-referring one costs no more lookups)."""
    pending = list(reversed(seen))

    def again(name: str) -> str | None:
        if pending and pending[-1][0] == name:
            return pending.pop()[1]
        pending.clear()
        return lookup(name)

    return again


def _simple_parts(word: str) -> tuple[str, ...]:
    parts: list[str] = []
    pos = 0
    while True:
        start = word.find("${", pos)
        end = word.find("}", start + 2) if start >= 0 else -1
        if end < 0:
            parts.append(word[pos:])
            return tuple(parts)
        name = word[start + 2 : end]
        if "$" in name or "{" in name:
            return ()
        parts.append(word[pos:start])
        parts.append(name)
        pos = end + 1


class CompiledCommand:
    """One command of a line as the shell runs it: its words (``Template`` where they need
    expanding), whether none does, and the terminator after it."""

    __slots__ = ("literal", "terminator", "words")

    def __init__(self, command: Command) -> None:
        words = command.words
        #: The words themselves when none needs expanding.
        self.literal: tuple[str, ...] | None = words
        for word in words:
            if "${" in word:
                self.literal = None
                break
        self.words: tuple[str | Template, ...] = (
            words
            if self.literal is not None
            else tuple(Template(word) if "${" in word else word for word in words)
        )
        self.terminator = command.terminator

    def argv(self, lookup: Lookup) -> list[str]:
        """The words expanded (``ExpansionError`` past the bounds)."""
        if self.literal is not None:
            return list(self.literal)
        return [word if isinstance(word, str) else word.expand(lookup) for word in self.words]


def compile_commands(text: str) -> tuple[CompiledCommand, ...]:
    return tuple(CompiledCommand(command) for command in _split_commands(text))


def compiled_line(text: str) -> tuple[CompiledCommand, ...]:
    """``compile_commands``, kept for lines typed again and again (a REPL, ``time``)."""
    if len(text) <= _CACHED_LINE:
        return _compiled_cached(text)
    return compile_commands(text)


@_line_cache(1024)
def _compiled_cached(text: str) -> tuple[CompiledCommand, ...]:
    return compile_commands(text)


# -- expansion --------------------------------------------------------------------------------

if TYPE_CHECKING:
    Lookup = Callable[[str], "str | None"]


def expand(word: str, lookup: Lookup) -> str:
    """Expand every ``${name}`` in ``word``, innermost first, values scanned again.

    ``lookup`` gets the name between the braces (``scope/name:type`` and all) and returns
    the formatted value, or None for anything that does not expand (unknown, unset, a bad
    type): that is the empty string. Raises ExpansionError past the bounds.
    """
    if "${" not in word:
        return word
    out = io.StringIO()
    opens: list[int] = []  # positions in ``out`` of each ``${`` not yet closed
    size = 0  # len(out)
    last = ""  # the last character in ``out``
    pending: list[tuple[str, int]] = [(word, 0)]  # text still to scan, innermost on top
    expansions = 0
    expanded = 0
    braces = _pattern("braces")
    while pending:
        chunk, pos = pending.pop()
        while True:
            match = braces.search(chunk, pos)
            end = match.start() if match else len(chunk)
            if end > pos:
                out.write(chunk[pos:end])
                size += end - pos
                last = chunk[end - 1]
            if match is None:
                break
            pos = end + 1
            if chunk[end] == "{":
                if last == "$":
                    opens.append(size - 1)
                out.write("{")
                size += 1
                last = "{"
                continue
            if not opens:
                out.write("}")
                size += 1
                last = "}"
                continue
            start = opens.pop()
            out.seek(start + 2)
            name = out.read()
            if start:
                out.seek(start - 1)
                last = out.read(1)
            else:
                last = ""
            out.seek(start)
            out.truncate()
            size = start
            value = lookup(name) or ""
            expansions += 1
            expanded += len(value)
            if expansions > MAX_EXPANSIONS:
                raise ExpansionError(
                    f"expanding {_preview(word)} does not end (over {MAX_EXPANSIONS}"
                    " expansions): does a setting refer to itself?"
                )
            if expanded > MAX_EXPANDED:
                # One large value (or a few) is no loop: say what the bound is.
                raise ExpansionError(
                    f"expanding {_preview(word)} gives over {MAX_EXPANDED >> 20} MiB of"
                    f" values ({_preview(name, 20)} holds {len(value)} characters);"
                    " bootsh expands at most that much into one word"
                )
            if value:
                pending.append((chunk, pos))
                chunk, pos = value, 0
    return out.getvalue()


def _preview(word: str, width: int = 40) -> str:
    return repr(word if len(word) <= width else word[:width] + "...")
