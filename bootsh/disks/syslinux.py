"""syslinux, extlinux and isolinux configurations.

Directives (case-insensitive): ``DEFAULT``, ``UI``, ``ONTIMEOUT``, ``LABEL``, ``MENU LABEL``,
``MENU DEFAULT``, ``MENU HIDE``, ``KERNEL``/``LINUX``, ``APPEND``, ``INITRD``, ``INCLUDE``,
``MENU INCLUDE``, ``PATH``, ``LOCALBOOT``, ``CONFIG``. What syslinux boots by default: the
``DEFAULT`` label when it names one; with a menu (``UI menu.c32``/``vesamenu.c32``, or an old
``DEFAULT vesamenu.c32``) the ``MENU DEFAULT`` label, else the first; ``ONTIMEOUT`` wins
over both. A ``DEFAULT`` that names no label is a kernel command line of its own
(``DEFAULT vmlinuz root=/dev/sda1``).

``initrd=`` in ``APPEND`` (comma-separated, as syslinux takes it) becomes the initrds and
stays out of the command line; a relative path is relative to the configuration's directory
(isolinux's working directory), an absolute one to the file system. A label whose kernel is a
COM32 module (``.c32``), ``LOCALBOOT``, or a ``.bin``/``.0``/``.com`` boot sector, is no Linux
entry. ``APPEND -`` is an empty command line.
"""

from __future__ import annotations

from collections.abc import Callable

from bootsh.disks.entries import BootEntry, Menu
from bootsh.records import dataclass, field

MAX_TEXT = 1 << 20
MAX_INCLUDES = 32
MAX_LINES = 100_000
NOT_LINUX = (".c32", ".com", ".cbt", ".bss", ".bin", ".0", ".img", ".efi", ".sys")


@dataclass
class _Label:
    name: str
    kernel: str = ""
    append: str = ""
    initrd: str = ""
    title: str = ""
    menu_default: bool = False
    localboot: bool = False
    hidden: bool = False
    directory: str = "/"


@dataclass
class _State:
    labels: list[_Label] = field(default_factory=list)
    default: str = ""
    ontimeout: str = ""
    ui: str = ""
    lines: int = 0
    includes: int = 0
    problems: list[str] = field(default_factory=list)


Reader = Callable[[str], str | None]


def _join(directory: str, path: str) -> str:
    if path.startswith("/"):
        return path
    if path.startswith("::"):
        return path[2:] if path[2:].startswith("/") else "/" + path[2:]
    return directory.rstrip("/") + "/" + path


def _read(text: str, directory: str, state: _State, read: Reader | None) -> None:
    current: _Label | None = None
    for raw in text[:MAX_TEXT].splitlines():
        state.lines += 1
        if state.lines > MAX_LINES:
            state.problems.append(f"more than {MAX_LINES} lines")
            return
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if "\t" in word:
            word, _, more = word.partition("\t")
            rest = more + " " + rest
        key = word.lower()
        rest = rest.strip()
        if key == "menu":
            sub, _, value = rest.partition(" ")
            sub = sub.lower()
            value = value.strip()
            if sub == "label" and current is not None:
                current.title = value.replace("^", "")
            elif sub == "default" and current is not None:
                current.menu_default = True
            elif sub == "hide" and current is not None:
                current.hidden = True
            elif sub == "include":
                _include(value.split(" ")[0], directory, state, read)
            continue
        if key == "label":
            current = _Label(rest, directory=directory)
            state.labels.append(current)
        elif key in ("kernel", "linux") and current is not None:
            current.kernel = rest
        elif key == "append" and current is not None:
            current.append = rest
        elif key == "initrd" and current is not None:
            current.initrd = rest
        elif key == "localboot" and current is not None:
            current.localboot = True
        elif key in ("com32", "boot", "bss", "pxe", "fdimage", "comboot", "config") and current:
            current.kernel = current.kernel or rest.split(" ")[0] + ".c32"
        elif key == "default":
            state.default = rest
        elif key == "ontimeout":
            state.ontimeout = rest
        elif key == "ui":
            state.ui = rest
        elif key == "include":
            _include(rest.split(" ")[0], directory, state, read)


def _include(path: str, directory: str, state: _State, read: Reader | None) -> None:
    if read is None or not path:
        return
    state.includes += 1
    if state.includes > MAX_INCLUDES:
        state.problems.append(f"more than {MAX_INCLUDES} includes (a loop?)")
        return
    full = _join(directory, path)
    text = read(full)
    if text is None:
        state.problems.append(f"{full}: cannot read the included file")
        return
    _read(text, directory, state, read)


def _entry(label: _Label, source: str) -> BootEntry | None:
    if label.localboot or not label.kernel:
        return None
    words = label.kernel.split()
    kernel = words[0]
    if kernel.lower().endswith(NOT_LINUX):
        return None
    args = words[1:] + ([] if label.append == "-" else label.append.split())
    initrds = [p for p in label.initrd.replace(",", " ").split() if p]
    cmdline: list[str] = []
    for arg in args:
        if arg.startswith("initrd="):
            initrds.extend(p for p in arg[7:].split(",") if p)
        else:
            cmdline.append(arg)
    return BootEntry(
        title=label.title or label.name,
        kernel=_join(label.directory, kernel),
        initrds=[_join(label.directory, p) for p in initrds],
        cmdline=" ".join(cmdline),
        source=source,
        id=label.name,
        loader="syslinux",
    )


def parse_syslinux(text: str, source: str, read: Reader | None = None) -> Menu:
    """The Linux entries of a syslinux-family configuration at ``source`` and its default."""
    directory = source.rsplit("/", 1)[0] or "/"
    state = _State()
    _read(text, directory, state, read)
    entries: list[BootEntry] = []
    by_label: dict[str, int] = {}
    for label in state.labels:
        entry = _entry(label, source)
        if entry is None:
            continue
        by_label.setdefault(label.name, len(entries))
        if label.menu_default:
            by_label.setdefault("\0menu-default", len(entries))
        entries.append(entry)
    default_word = state.default.split(" ")[0] if state.default else ""
    menu_ui = bool(state.ui) or default_word.lower().endswith(".c32")
    index = 0
    if state.ontimeout.split(" ")[0] in by_label:
        index = by_label[state.ontimeout.split(" ")[0]]
    elif default_word in by_label:
        index = by_label[default_word]
    elif "\0menu-default" in by_label and (menu_ui or not default_word):
        index = by_label["\0menu-default"]
    elif default_word and not menu_ui and not default_word.lower().endswith(NOT_LINUX):
        # DEFAULT is a command line: "kernel args..."
        words = state.default.split()
        initrds = [w[7:] for w in words[1:] if w.startswith("initrd=")]
        entries.insert(
            0,
            BootEntry(
                title=default_word,
                kernel=_join(directory, default_word),
                initrds=[_join(directory, p) for i in initrds for p in i.split(",") if p],
                cmdline=" ".join(w for w in words[1:] if not w.startswith("initrd=")),
                source=source,
                id=default_word,
                loader="syslinux",
            ),
        )
        index = 0
    return Menu(entries, index, source, "syslinux", state.problems)
