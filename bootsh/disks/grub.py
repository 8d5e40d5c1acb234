"""GRUB 2 ``grub.cfg``: the subset of GRUB's script language that real configurations use.

What Debian's, Ubuntu's and Fedora's ``grub-mkconfig`` write (and what petitboot's and u-root's
parsers taught matters): ``menuentry`` and ``submenu`` blocks with ``--id`` (through
``$menuentry_id_option``), ``linux``/``linux16``/``linuxefi`` and ``initrd``/``initrd16``/
``initrdefi``, ``set`` and ``name=value``, ``$var``/``${var}`` with GRUB's quoting,
``if``/``elif``/``else`` with ``[``/``test``, ``function`` definitions and calls (Ubuntu's
``gfxmode``, ``recordfail``), ``load_env`` of ``grubenv`` (``saved_entry``, ``next_entry``,
``kernelopts``), ``search --set=root`` and its ``search.fs_uuid`` forms, ``configfile`` and
``source`` (the ESP stubs that lead to the root file system's ``grub.cfg``), and Fedora's
``blscfg`` (the Boot Loader Specification entries of the same file system are inserted where
it stands, newest first, as GRUB's blscfg module does).

The default is GRUB's: ``default`` holds an index (entries and submenus counted together), a
title or an ``--id``, or a ``>``-separated path into submenus; anything that does not match
is entry 0. A submenu chosen as a whole gives its first entry.

Untrusted input: the text is bounded (``MAX_TEXT``), every executed command counts against
``MAX_STEPS``, function calls nest at most ``MAX_DEPTH`` deep, loops are not run; whatever a
configuration does, parsing ends quickly and raises nothing but ``GrubError``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from bootsh.disks.entries import BootEntry, Menu
from bootsh.records import dataclass, field

MAX_TEXT = 1 << 20
MAX_STEPS = 50_000
MAX_DEPTH = 16
MAX_ENTRIES = 1000

#: GRUB's own variables as a PC or EFI GRUB 2.06 sets them before reading grub.cfg.
FEATURES = {
    "feature_menuentry_id": "y",
    "feature_platform_search_hint": "y",
    "feature_default_font_path": "y",
    "feature_all_video_module": "y",
    "feature_timeout_style": "y",
    "feature_chainloader_bpb": "y",
    "feature_ntldr": "y",
    "feature_200_final": "y",
    "grub_cpu": "x86_64",
    "grub_platform": "efi",
}

KERNEL_COMMANDS = ("linux", "linux16", "linuxefi")
INITRD_COMMANDS = ("initrd", "initrd16", "initrdefi")


class GrubError(Exception):
    """A configuration GRUB itself would reject (unbalanced blocks, a runaway script)."""


class Files(Protocol):
    """The file system holding the configuration, for ``[ -f ]``, ``load_env``, ``blscfg``."""

    def exists(self, path: str) -> bool: ...

    def read_text(self, path: str) -> str | None: ...


# -- lexing ----------------------------------------------------------------------------------

#: A word is a list of parts: ("lit", text) or ("var", name) or ("qvar", name) (quoted: no
#: field splitting). A standalone word is kept raw too, to recognise keywords and braces.
Part = tuple[str, str]


@dataclass
class Word:
    parts: list[Part]
    raw: str
    quoted: bool = False


NEWLINE = Word([], "\n")


def _var_name(text: str, i: int) -> tuple[str, int]:
    """The variable name after a ``$`` at ``text[i]``; returns (name, next index)."""
    if i < len(text) and text[i] == "{":
        end = text.find("}", i + 1)
        if end < 0:
            return text[i + 1 :], len(text)
        return text[i + 1 : end], end + 1
    j = i
    if j < len(text) and (text[j].isdigit() or text[j] in "?#"):
        return text[j], j + 1
    while j < len(text) and (text[j].isalnum() or text[j] == "_"):
        j += 1
    return text[i:j], j


def lex(text: str) -> Iterator[Word]:
    """GRUB's words, with ``\\n`` and ``;`` as separators (``NEWLINE`` records)."""
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r":
            i += 1
            continue
        if ch == "\n" or ch == ";":
            yield NEWLINE
            i += 1
            continue
        if ch == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        parts: list[Part] = []
        raw = ""
        quoted = False
        while i < n and text[i] not in " \t\r\n;":
            ch = text[i]
            if ch == "\\" and i + 1 < n:
                if text[i + 1] != "\n":
                    parts.append(("lit", text[i + 1]))
                raw += text[i : i + 2]
                i += 2
            elif ch == "'":
                end = text.find("'", i + 1)
                end = n if end < 0 else end
                parts.append(("lit", text[i + 1 : end]))
                raw += text[i : end + 1]
                quoted = True
                i = end + 1
            elif ch == '"':
                quoted = True
                j = i + 1
                while j < n and text[j] != '"':
                    if text[j] == "\\" and j + 1 < n and text[j + 1] in '"\\$':
                        parts.append(("lit", text[j + 1]))
                        j += 2
                    elif text[j] == "$":
                        name, j = _var_name(text, j + 1)
                        parts.append(("qvar", name))
                    else:
                        parts.append(("lit", text[j]))
                        j += 1
                raw += text[i : j + 1]
                i = j + 1
            elif ch == "$":
                name, j = _var_name(text, i + 1)
                parts.append(("var", name))
                raw += text[i:j]
                i = j
            else:
                parts.append(("lit", ch))
                raw += ch
                i += 1
        yield Word(parts, raw, quoted)


# -- parsing ---------------------------------------------------------------------------------


@dataclass
class Command:
    words: list[Word]


@dataclass
class If:
    branches: list[tuple[list[Node], list[Node]]]  # (condition, body); else: empty condition
    orelse: list[Node] = field(default_factory=list)


@dataclass
class Block:
    """``menuentry``, ``submenu`` or ``function``: a keyword, its arguments and a body."""

    kind: str
    args: list[Word]
    body: list[Node]


@dataclass
class Loop:
    """``while``/``until``/``for``: parsed, never run (a config must not loop the scan)."""


Node = Command | If | Block | Loop


class _Parser:
    def __init__(self, words: list[Word]) -> None:
        self.words = words
        self.pos = 0

    def peek(self) -> Word | None:
        return self.words[self.pos] if self.pos < len(self.words) else None

    def take(self) -> Word:
        word = self.words[self.pos]
        self.pos += 1
        return word

    def skip_newlines(self) -> None:
        while (w := self.peek()) is not None and w is NEWLINE:
            self.pos += 1

    def statements(self, stop: tuple[str, ...]) -> list[Node]:
        nodes: list[Node] = []
        while True:
            self.skip_newlines()
            word = self.peek()
            if word is None:
                if stop:
                    raise GrubError(f"missing {' or '.join(stop)}")
                return nodes
            if not word.quoted and word.raw in stop:
                return nodes
            nodes.append(self.statement())

    def command_words(self) -> list[Word]:
        words: list[Word] = []
        while (w := self.peek()) is not None and w is not NEWLINE:
            if not w.quoted and w.raw in ("{", "}") and words:
                break
            words.append(self.take())
        return words

    def statement(self) -> Node:
        word = self.peek()
        assert word is not None
        keyword = "" if word.quoted else word.raw
        if keyword == "if":
            return self.if_()
        if keyword in ("menuentry", "submenu", "function"):
            self.take()
            args: list[Word] = []
            while (w := self.peek()) is not None and not (w.raw == "{" and not w.quoted):
                if w is NEWLINE:
                    raise GrubError(f"{keyword} without a {{")
                args.append(self.take())
            if self.peek() is None:
                raise GrubError(f"{keyword} without a {{")
            self.take()
            body = self.statements(("}",))
            self.take()
            return Block(keyword, args, body)
        if keyword in ("while", "until", "for"):
            self.take()
            self.statements(("do",))
            self.take()
            self.statements(("done",))
            self.take()
            return Loop()
        if keyword == "}":
            raise GrubError("unexpected }")
        words = self.command_words()
        if not words:  # a stray {
            self.take()
            return Command([])
        return Command(words)

    def if_(self) -> If:
        self.take()  # if
        branches: list[tuple[list[Node], list[Node]]] = []
        condition = self.statements(("then",))
        self.take()
        body = self.statements(("elif", "else", "fi"))
        branches.append((condition, body))
        orelse: list[Node] = []
        while True:
            word = self.take()
            if word.raw == "elif":
                condition = self.statements(("then",))
                self.take()
                body = self.statements(("elif", "else", "fi"))
                branches.append((condition, body))
            elif word.raw == "else":
                orelse = self.statements(("fi",))
            else:  # fi
                return If(branches, orelse)


def parse(text: str) -> list[Node]:
    if len(text) > MAX_TEXT:
        raise GrubError(f"larger than {MAX_TEXT} bytes")
    return _Parser(list(lex(text))).statements(())


# -- running ---------------------------------------------------------------------------------


@dataclass
class _Item:
    """A top-level or submenu item: an entry, or a submenu holding items."""

    title: str
    id: str | None
    entry: BootEntry | None = None
    children: list[_Item] = field(default_factory=list)


BlsLoader = Callable[[str | None, dict[str, str]], list[BootEntry]]


class Devices(Protocol):
    """Files on the drive's other file systems, named by a GRUB root (``uuid:...``,
    ``hd0,gpt2``...): for ``configfile``, ``source``, ``load_env`` and ``[ -f ]`` with a
    device."""

    def exists(self, root: str, path: str) -> bool: ...

    def read_text(self, root: str, path: str) -> str | None: ...


class _Runner:
    def __init__(
        self, source: str, files: Files | None, bls: BlsLoader | None, devices: Devices | None
    ) -> None:
        self.env: dict[str, str] = dict(FEATURES)
        directory = source.rsplit("/", 1)[0] or "/"
        self.env["prefix"] = directory
        self.env["config_directory"] = directory
        self.env["cmdpath"] = directory
        self.source = source
        self.files = files
        self.bls = bls
        self.devices = devices
        self.functions: dict[str, list[Node]] = {}
        self.steps = 0
        self.depth = 0
        self.entries = 0
        self.problems: list[str] = []

    # -- expansion

    def expand(self, word: Word, positional: list[str]) -> list[str]:
        """A word after expansion: unquoted variables split into several (or none)."""
        fields: list[str] = []
        current = ""
        has_text = False
        for kind, text in word.parts:
            if kind == "lit":
                current += text
                has_text = True
                continue
            value = self.lookup(text, positional)
            if kind == "qvar":
                current += value
                has_text = True
                continue
            pieces = value.split()
            if not pieces:
                continue
            if value[:1].isspace() and (current or has_text):
                fields.append(current)
                current = ""
            current += pieces[0]
            has_text = True
            for piece in pieces[1:]:
                fields.append(current)
                current = piece
            if value[-1:].isspace():
                fields.append(current)
                current = ""
                has_text = False
        if current or has_text or word.quoted:
            fields.append(current)
        return fields

    def lookup(self, name: str, positional: list[str]) -> str:
        if name.isdigit():
            index = int(name)
            return positional[index - 1] if 0 < index <= len(positional) else ""
        if name == "#":
            return str(len(positional))
        return self.env.get(name, "")

    def argv(self, words: list[Word], positional: list[str]) -> list[str]:
        out: list[str] = []
        for word in words:
            out.extend(self.expand(word, positional))
        return out

    # -- statements

    def run(self, nodes: list[Node], items: list[_Item], entry: BootEntry | None,
            positional: list[str]) -> int:  # fmt: skip
        status = 0
        for node in nodes:
            self.steps += 1
            if self.steps > MAX_STEPS:
                raise GrubError(f"more than {MAX_STEPS} commands run (a runaway script)")
            if isinstance(node, Command):
                status = self.command(self.argv(node.words, positional), items, entry, positional)
            elif isinstance(node, If):
                status = self.if_(node, items, entry, positional)
            elif isinstance(node, Block):
                self.block(node, items, positional)
                status = 0
        return status

    def if_(self, node: If, items: list[_Item], entry: BootEntry | None,
            positional: list[str]) -> int:  # fmt: skip
        for condition, body in node.branches:
            if self.run(condition, items, entry, positional) == 0:
                return self.run(body, items, entry, positional)
        return self.run(node.orelse, items, entry, positional)

    def block(self, node: Block, items: list[_Item], positional: list[str]) -> None:
        args = self.argv(node.args, positional)
        if node.kind == "function":
            if args:
                self.functions[args[0]] = node.body
            return
        title = args[0] if args else ""
        entry_id = None
        for i, arg in enumerate(args[:-1]):
            if arg in ("--id", "--unrestricted-id"):
                entry_id = args[i + 1]
        if node.kind == "submenu":
            submenu = _Item(title, entry_id)
            items.append(submenu)
            saved = dict(self.env)
            self.run(node.body, submenu.children, None, positional)
            self.env = saved
            return
        self.entries += 1
        if self.entries > MAX_ENTRIES:
            raise GrubError(f"more than {MAX_ENTRIES} menu entries")
        # GRUB runs a body when the entry is chosen, in the environment of that moment: the
        # environment after the whole file is close to it; here, the one at definition time,
        # with the entry's own changes thrown away afterwards (petitboot does the same).
        saved = dict(self.env)
        self.env["chosen"] = title
        entry = BootEntry(title=title, kernel="", source=self.source, id=entry_id, loader="grub")
        entry.root = self.env.get("root") or None
        try:
            self.run(node.body, [], entry, args[1:])
        except GrubError as exc:
            self.problems.append(f"{title!r}: {exc}")
        finally:
            self.env = saved
        items.append(_Item(title, entry_id, entry))

    def command(self, argv: list[str], items: list[_Item], entry: BootEntry | None,
                positional: list[str]) -> int:  # fmt: skip
        if not argv:
            return 0
        name = argv[0]
        if "=" in name and not name.startswith("=") and len(argv) == 1:
            key, _, value = name.partition("=")
            if key.replace("_", "").isalnum():
                self.env[key] = value
                return 0
        if name == "set":
            for arg in argv[1:]:
                key, eq, value = arg.partition("=")
                if eq:
                    self.env[key] = value
            return 0
        if name == "unset":
            for arg in argv[1:]:
                self.env.pop(arg, None)
            return 0
        if name in ("[", "test"):
            return 0 if self.test(argv[1:-1] if name == "[" else argv[1:]) else 1
        if name == "true":
            return 0
        if name == "false":
            return 1
        if name == "load_env":
            self.load_env(argv[1:])
            return 0
        if name.startswith("search"):
            self.search(name, argv[1:])
            return 0
        if name == "blscfg":
            self.blscfg(items)
            return 0
        if name in ("configfile", "source") and len(argv) > 1:
            return self.configfile(argv[1], items, entry, positional)
        if name in KERNEL_COMMANDS and entry is not None:
            args = [a for a in argv[1:] if not a.startswith("--")] if argv[1:2] else []
            # GRUB's linux takes no options but "--" forms some forks add (--unrestricted).
            if args:
                entry.kernel, entry.root = self.split_device(args[0], entry.root)
                entry.cmdline = " ".join(argv[argv.index(args[0]) + 1 :])
            return 0
        if name in INITRD_COMMANDS and entry is not None:
            entry.initrds = []
            for arg in argv[1:]:
                if arg.startswith("--"):
                    continue
                path, _ = self.split_device(arg, entry.root)
                entry.initrds.append(path)
            return 0
        if name in self.functions:
            if self.depth >= MAX_DEPTH:
                raise GrubError(f"functions nested more than {MAX_DEPTH} deep")
            self.depth += 1
            try:
                return self.run(self.functions[name], items, entry, argv[1:])
            finally:
                self.depth -= 1
        if name == "return":
            return 0
        return 0  # insmod, echo, load_video, save_env, terminal_*, font...: nothing to do

    def split_device(self, path: str, root: str | None) -> tuple[str, str | None]:
        """``(hd0,gpt2)/vmlinuz`` -> (``/vmlinuz``, ``hd0,gpt2``); else the current root."""
        if path.startswith("("):
            end = path.find(")")
            if end > 0:
                device = path[1:end]
                rest = path[end + 1 :] or "/"
                return rest, self.resolve_root(device)
        return path, root if root is not None else (self.env.get("root") or None)

    def resolve_root(self, device: str) -> str | None:
        # ($root) expands to what search left in root: our markers come back unchanged.
        return device or None

    def test(self, args: list[str]) -> bool:
        if args[:1] == ["!"]:
            return not self.test(args[1:])
        if len(args) == 0:
            return False
        if len(args) == 1:
            return args[0] != ""
        if len(args) == 2:
            op, value = args
            if op == "-z":
                return value == ""
            if op == "-n":
                return value != ""
            if op in ("-f", "-e", "-s", "-d"):
                return self.exists(value)
            return False
        if len(args) >= 3:
            left, op, right = args[0], args[1], args[2]
            if op in ("=", "=="):
                return left == right
            if op == "!=":
                return left != right
            if op in ("-eq", "-ne", "-lt", "-gt", "-le", "-ge"):
                try:
                    a, b = int(left), int(right)
                except ValueError:
                    return False
                return {"-eq": a == b, "-ne": a != b, "-lt": a < b, "-gt": a > b,
                        "-le": a <= b, "-ge": a >= b}[op]  # fmt: skip
        return False

    def locate(self, value: str) -> tuple[str | None, str]:
        """(device, path) of a GRUB file name: ``(hd0,gpt2)/x`` or a plain path (the
        configuration's own file system)."""
        if value.startswith("("):
            end = value.find(")")
            if end > 0:
                return value[1:end] or None, value[end + 1 :] or "/"
        return None, value or "/"

    def exists(self, value: str) -> bool:
        device, path = self.locate(value)
        if device is not None and self.devices is not None:
            return self.devices.exists(device, path)
        return self.files is not None and self.files.exists(path)

    def read_text(self, value: str) -> str | None:
        device, path = self.locate(value)
        if device is not None and self.devices is not None:
            return self.devices.read_text(device, path)
        return self.files.read_text(path) if self.files is not None else None

    def load_env(self, args: list[str]) -> None:
        # GRUB's default is $prefix/grubenv; here $prefix starts as the configuration's
        # directory, and an ESP stub sets it to the root file system's.
        target = self.env.get("prefix", "").rstrip("/") + "/grubenv"
        names: list[str] = []
        i = 0
        while i < len(args):
            if args[i] in ("-f", "--file") and i + 1 < len(args):
                target = args[i + 1]
                i += 2
                continue
            if not args[i].startswith("-"):
                names.append(args[i])
            i += 1
        for key, value in parse_grubenv(self.read_text(target) or "").items():
            if not names or key in names:
                self.env[key] = value

    def search(self, name: str, args: list[str]) -> None:
        kind = {"search.fs_uuid": "uuid", "search.fs_label": "label", "search.file": "file"}
        if name in kind:  # search.fs_uuid KEY [VAR]
            if args:
                var = args[1] if len(args) > 1 else "root"
                self.env[var] = f"{kind[name]}:{args[0]}"
            return
        var = "root"
        how = "file"
        keys: list[str] = []
        i = 0
        while i < len(args):
            arg = args[i]
            if arg.startswith("--set="):
                var = arg[6:]
            elif arg in ("--set", "-s"):
                if i + 1 < len(args) and not args[i + 1].startswith("-"):
                    var = args[i + 1]
                    i += 1
            elif arg in ("--fs-uuid", "-u"):
                how = "uuid"
            elif arg in ("--label", "-l"):
                how = "label"
            elif arg in ("--file", "-f"):
                how = "file"
            elif arg.startswith("--hint") and "=" not in arg:
                i += 1  # --hint VALUE
            elif not arg.startswith("-"):
                keys.append(arg)
            i += 1
        if keys:
            self.env[var] = f"{how}:{keys[0]}"

    def configfile(self, target: str, items: list[_Item], entry: BootEntry | None,
                   positional: list[str]) -> int:  # fmt: skip
        """``configfile FILE`` / ``source FILE``: FILE's commands run here, with
        ``config_directory`` set to its directory as GRUB does. The ESP's ``grub.cfg`` of
        Debian, Ubuntu and Fedora is such a stub (``search`` the root file system,
        ``configfile`` its ``grub.cfg``). GRUB's ``configfile`` opens a new menu context: items
        after it are not expected (it is a stub's last line)."""
        if entry is not None:
            return 0
        text = self.read_text(target)
        if text is None:
            self.problems.append(f"configfile {target}: no such file")
            return 1
        if self.depth >= MAX_DEPTH:
            raise GrubError(f"configfile nested more than {MAX_DEPTH} deep")
        self.depth += 1
        saved = self.env.get("config_directory", "")
        self.env["config_directory"] = target.rsplit("/", 1)[0] or "/"
        try:
            self.run(parse(text), items, entry, positional)
        finally:
            self.depth -= 1
            self.env["config_directory"] = saved
        return 0

    def blscfg(self, items: list[_Item]) -> None:
        if self.bls is None:
            return
        for entry in self.bls(self.env.get("root") or None, self.env):
            self.entries += 1
            if self.entries > MAX_ENTRIES:
                raise GrubError(f"more than {MAX_ENTRIES} menu entries")
            items.append(_Item(entry.title, entry.id, entry))


def parse_grubenv(text: str) -> dict[str, str]:
    """``grubenv``: ``name=value`` lines, ``#`` comments and the ``#`` padding."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.replace("\\n", "\n").replace("\\\\", "\\")
    return values


def _flatten(items: list[_Item], path: tuple[str, ...], out: list[BootEntry]) -> None:
    for index, item in enumerate(items):
        if item.entry is not None:
            item.entry.path = path
            item.entry.index = index
            out.append(item.entry)
        else:
            _flatten(item.children, (*path, item.title), out)


def _find_default(items: list[_Item], default: str) -> BootEntry | None:
    """GRUB's ``default``: an index, a title or id, or ``a>b`` into submenus."""
    level = items
    parts = default.split(">") if default else ["0"]
    for depth, part in enumerate(parts):
        part = part.strip()
        chosen: _Item | None = None
        if part.isdigit():
            index = int(part)
            chosen = level[index] if index < len(level) else None
        else:
            chosen = next((i for i in level if i.id == part or i.title == part), None)
        if chosen is None:
            return None
        if chosen.entry is not None:
            return chosen.entry if depth == len(parts) - 1 else None
        level = chosen.children
    # A submenu itself: its first entry.
    while level:
        first = level[0]
        if first.entry is not None:
            return first.entry
        level = first.children
    return None


def parse_grub(
    text: str,
    source: str,
    files: Files | None = None,
    bls: BlsLoader | None = None,
    devices: Devices | None = None,
) -> Menu:
    """The entries of ``grub.cfg`` (its path is ``source``) and the one GRUB boots."""
    runner = _Runner(source, files, bls, devices)
    items: list[_Item] = []
    runner.run(parse(text), items, None, [])
    entries: list[BootEntry] = []
    _flatten(items, (), entries)
    default = _find_default(items, runner.env.get("default", "0"))
    if default is None:
        default = _find_default(items, "0")
    usable = [e for e in entries if e.kernel]
    for entry in entries:
        if not entry.kernel:
            runner.problems.append(f"{entry.title!r} loads no Linux kernel")
    index = usable.index(default) if default in usable else 0
    return Menu(usable, index, source, "grub", runner.problems)
