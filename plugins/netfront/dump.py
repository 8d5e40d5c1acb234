"""XenStore from a ``xenstore-ls -f`` dump, for machines bootsh only has a picture of.

The format, as Xen 4.17's ``xenstore-ls`` prints it (tools/xenstore/xenstore_client.c,
``do_ls`` with ``-f``), one node per line::

    /local/domain/7/device/vif/0/mac = "00:16:3e:5f:48:e4"
    /local/domain/7/device/vif/0/mac = "00:16:3e:5f:48:e4"   (n7,r0)      with -p
    /local/domain/7/secret:                                             value not readable
    device/vif/0/mac = "00:16:3e:5f:48:e4"                              in a guest: relative

The value is quoted but quotes inside it are *not* escaped, so it runs from the first
``= "`` to the last ``"`` of the line (with ``-p``, the last ``"`` before the permissions).
Other bytes are escaped by ``sanitise_value()``: printable ASCII except backslash as is;
``\\t``, ``\\n``, ``\\r``, ``\\\\``; bytes below 010 (octal) as three octal digits (``\\001``);
every other byte as ``\\xHH``. Blank lines and ``#`` comments are skipped here (so that a
dump can be annotated); anything else that does not parse is an error naming the file and
line.
"""

from __future__ import annotations

import os

from bootsh.api import XenStoreError, dataclass, field, read_bounded

from .store import XenStoreDenied, small_number, valid_path

#: The largest dump bootsh reads: a guest's XenStore is kilobytes, a whole host's with
#: thousands of vifs tens of megabytes (``--xenstore-dump /dev/zero`` never ended).
MAX_DUMP_SIZE = 64 << 20

TYPE_CHECKING = False  # ifstat on a machine read from a dump: no typing, re or pathlib
if TYPE_CHECKING:
    from collections.abc import Iterable


class DumpError(XenStoreError):
    """A dump that cannot be read or parsed; the message names the file and line."""


def sanitise(value: bytes) -> str:
    """Escape ``value`` exactly as ``xenstore-ls`` and ``xenstore-read`` do."""
    if not value.translate(None, _AS_IS):
        return value.decode("ascii")  # nothing to escape: every value of a usual vif
    out: list[str] = []
    for c in value:
        if 0x20 <= c <= 0x7E and c != 0x5C:
            out.append(chr(c))
        elif c in _NAMED:
            out.append("\\" + _NAMED[c])
        elif c < 0o10:
            out.append(f"\\{c:03o}")
        else:
            out.append(f"\\x{c:02x}")
    return "".join(out)


_NAMED = {0x09: "t", 0x0A: "n", 0x0D: "r", 0x5C: "\\"}
#: The bytes ``sanitise`` keeps as they are: printable ASCII but the backslash.
_AS_IS = bytes(c for c in range(0x20, 0x7F) if c != 0x5C)
_UNNAMED = {v: k for k, v in _NAMED.items()}
_HEX = "0123456789abcdefABCDEF"
_OCT = "01234567"


def unsanitise(text: str) -> bytes:
    """Undo ``sanitise``: the bytes a sanitised value stands for.

    Accepts what ``xenstore-write``'s ``unsanitise_value`` accepts for hand-written values too
    (``\\x`` with one or two hex digits, one to three octal digits), but an unknown escape or
    a lone backslash at the end raises ``ValueError``: a dump never contains them, so they
    mean the line was damaged. Characters outside ASCII stand for their UTF-8 bytes.
    """
    out = bytearray()
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        i += 1
        if ch != "\\":
            out += ch.encode("utf-8", "surrogateescape")
            continue
        if i >= n:
            raise ValueError("a backslash ends the value")
        esc = text[i]
        i += 1
        if esc in _UNNAMED:
            out.append(_UNNAMED[esc])
        elif esc == "x":
            j = i
            while j < n and j < i + 2 and text[j] in _HEX:
                j += 1
            if j == i:
                raise ValueError("\\x without hex digits")
            out.append(int(text[i:j], 16))
            i = j
        elif esc in _OCT:
            j = i
            while j < n and j < i + 2 and text[j] in _OCT:
                j += 1
            # Three octal digits can exceed a byte (\777); C stores the low 8 bits.
            out.append(int(text[i - 1 : j], 8) & 0xFF)
            i = j
        else:
            raise ValueError(f"unknown escape \\{esc}")
    return bytes(out)


@dataclass(frozen=True)
class DumpLine:
    """One parsed node: its path, its value (None when the dump says it was unreadable)."""

    path: str
    value: bytes | None
    perms: tuple[str, ...] | None
    line: int


def parse_line(text: str) -> tuple[str, bytes | None, tuple[str, ...] | None] | None:
    """Parse one line; None for blank and comment lines; ``ValueError`` with the reason."""
    stripped = text.rstrip("\r\n")
    if not stripped.strip() or stripped.lstrip().startswith("#"):
        return None
    if stripped[0].isspace():
        raise ValueError(
            "indented line: this looks like `xenstore-ls` without -f (full paths are needed)"
        )
    # The line is `PATH = "VALUE"` or `PATH:` (unreadable), PATH without whitespace: where
    # the first whitespace is, the path ends (no regular expression on ifstat's path).
    unreadable = stripped.rstrip()
    if unreadable.endswith(":") and len(unreadable) > 1 and len(unreadable.split(None, 1)) == 1:
        return _checked_path(unreadable[:-1]), None, None
    # split() cuts at the first whitespace, C's or Unicode's, as \S did (the line does not
    # start with whitespace: checked above).
    end = len(stripped.split(None, 1)[0])
    if end == len(stripped) or stripped[end : end + 4] != ' = "':
        raise ValueError('expected `PATH = "VALUE"` as printed by `xenstore-ls -f`')
    path = _checked_path(stripped[:end])
    rest = stripped[end + 4 :].rstrip()
    perms: tuple[str, ...] | None = None
    if rest.endswith('"'):
        # Without -p (or when the permissions could not be read) the line ends at the quote.
        raw = rest[:-1]
    else:
        # `VALUE" (n0,r7)`: the last quote before the permissions, only dots and spaces
        # between them (xenstore-ls pads the column), no parenthesis inside them.
        opening = rest.rfind("(")
        quote = rest.rfind('"', 0, opening) if opening >= 0 else -1
        listed = rest[opening + 1 : -1]
        if (
            not rest.endswith(")")
            or quote < 0
            or ")" in listed
            or rest[quote + 1 : opening].strip(" .")
        ):
            raise ValueError("the value has no closing quote")
        raw = rest[:quote]
        perms = tuple(p.strip() for p in listed.split(","))
        if not all(len(p) > 1 and p[0] in "wrbn" and p[1:].isdecimal() for p in perms):
            raise ValueError(f"bad permissions ({listed}): expected e.g. (n0,r7)")
    return path, unsanitise(raw), perms


def _checked_path(path: str) -> str:
    if not valid_path(path):
        raise ValueError(f"{path!r} is not a XenStore path")
    return path


def parse_dump(text: str, source: str) -> list[DumpLine]:
    """Parse a whole dump; ``DumpError`` naming ``source`` and the line on the first bad one."""
    lines: list[DumpLine] = []
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            parsed = parse_line(line)
        except ValueError as exc:
            raise DumpError(f"{source}:{number}: {exc}: {line.strip()[:120]!r}") from None
        if parsed is not None:
            lines.append(DumpLine(*parsed, line=number))
    return lines


@dataclass
class _Node:
    value: bytes | None = b""
    children: dict[str, _Node] = field(default_factory=dict)
    #: Printed in the dump (as opposed to implied by a child's path).
    listed: bool = False


class DumpXenStore:
    """A ``xenstore-ls -f`` dump answering the read-only XenStore protocol.

    Paths are stored as printed: absolute ones under ``/``, relative ones (a dump taken inside a
    guest) under their own root, looked up with relative paths. A node that is only implied by
    a longer path (the dump covered a subtree) exists, with an empty value.
    """

    def __init__(self, entries: Iterable[DumpLine], where: str) -> None:
        self.where = where
        self.requests = 0
        self._absolute = _Node()
        self._relative = _Node()
        self.has_relative = False
        for entry in entries:
            self._add(entry)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> DumpXenStore:
        where = f"XenStore dump {path}"
        try:
            data = read_bounded(path, MAX_DUMP_SIZE)
        except OSError as exc:
            raise DumpError(f"cannot read {where}: {exc.strerror or exc}") from None
        text = data.decode("utf-8", "surrogateescape")
        return cls(parse_dump(text, str(path)), where)

    @classmethod
    def from_text(cls, text: str, source: str = "<dump>") -> DumpXenStore:
        return cls(parse_dump(text, source), f"XenStore dump {source}")

    def _add(self, entry: DumpLine) -> None:
        node = self._walk(entry.path, create=True)
        assert node is not None
        if node.listed and node.value != entry.value:
            raise DumpError(
                f"{self.where}:{entry.line}: {entry.path} appears twice with different values"
            )
        node.value = entry.value
        node.listed = True

    def _walk(self, path: str, create: bool = False) -> _Node | None:
        relative = not path.startswith("/")
        if relative:
            self.has_relative = self.has_relative or create
        node = self._relative if relative else self._absolute
        for part in (p for p in path.split("/") if p):
            child = node.children.get(part)
            if child is None:
                if not create:
                    return None
                child = node.children[part] = _Node()
            node = child
        return node

    # -- the XenStore protocol -------------------------------------------------------------

    def read(self, path: str) -> bytes | None:
        self.requests += 1
        node = self._walk(path)
        if node is None:
            return None
        if node.value is None:
            raise XenStoreDenied(f"{self.where}: {path} was not readable when it was dumped")
        return node.value

    def directory(self, path: str) -> list[str] | None:
        self.requests += 1
        node = self._walk(path)
        return None if node is None else list(node.children)

    def close(self) -> None:
        pass

    def prefetch(self, paths: list[str]) -> None:
        pass  # every read is a lookup in memory already

    def peek(self, path: str) -> bytes | None:
        return None

    # -- which guest -----------------------------------------------------------------------

    def own_domid(self) -> int | None:
        """For a relative dump (taken in a guest): the guest's ``domid`` key, if dumped."""
        node = self._relative.children.get("domid")
        if node is None or not node.value:
            return None
        return small_number(node.value.decode("ascii", "replace"))
