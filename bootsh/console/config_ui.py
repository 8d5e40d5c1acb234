"""iPXE's interactive settings editor (``config [<scope>]``): the model and the full-screen UI,
following ``hci/tui/settings_ui.c``.

The screen lists, for one settings block: its parent (``..``) unless it is the root, its child
blocks (``net0..``), then every predefined setting that applies to the block, with the value
``${name}`` would show from there (found in the block or below it). Up/Down, PgUp/PgDn and
Home/End move; Enter on a block opens it; Enter (or any other key) on a setting edits its value
(Enter stores it as ``set`` would and shows iPXE's error text if it does not parse, Ctrl-C
discards the edit); Ctrl-D deletes a setting held by this very block; Ctrl-X leaves.

``ConfigState`` is the logic over the shell's ``Settings``; ``run_config`` draws it with
prompt_toolkit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bootsh.lang.settings import PREDEFINED, Block, NamedSetting, Setting, Settings, SettingsError
from bootsh.records import dataclass, field

if TYPE_CHECKING:
    from prompt_toolkit.input import Input
    from prompt_toolkit.output import Output


@dataclass
class Row:
    """A line of the list: a block to open, or a setting with its value and where it is."""

    text: str
    block: Block | None = None
    setting: Setting | None = None
    value: str = ""
    origin: Block | None = None


@dataclass
class ConfigState:
    settings: Settings
    block: Block
    rows: list[Row] = field(default_factory=list)
    current: int = 0
    editing: bool = False
    edit: str = ""
    alert: str = ""
    done: bool = False

    def __post_init__(self) -> None:
        self.open(self.block)

    def open(self, block: Block) -> None:
        """``select_settings``: list ``block`` and select its first row."""
        self.block = block.target()
        self.current = 0
        self.editing = False
        self.reload()

    def reload(self) -> None:
        block = self.block
        rows: list[Row] = []
        if block.parent is not None:
            rows.append(Row("..", block=block.parent))
        for child in block.children.values():
            rows.append(Row(f"{child.name}..", block=child))
        seen: set[str] = set()
        for setting in PREDEFINED.values():
            if setting.name in seen or not block.applies(setting):
                continue
            seen.add(setting.name)
            value, origin = "", None
            try:
                found = self.settings.fetch(NamedSetting(setting.name, block, setting))
                value, origin = found.format(), found.origin
            except SettingsError:
                pass
            rows.append(Row(setting.name, setting=setting, value=value, origin=origin))
        self.rows = rows
        self.current = min(self.current, max(len(rows) - 1, 0))

    @property
    def row(self) -> Row:
        return self.rows[self.current]

    def move(self, delta: int) -> None:
        if not self.editing and self.rows:
            self.current = min(max(self.current + delta, 0), len(self.rows) - 1)
            self.alert = ""

    def enter(self) -> None:
        row = self.row
        if self.editing:
            self.save()
        elif row.block is not None:
            self.open(row.block)
        elif row.setting is not None:
            self.start_edit()

    def start_edit(self, text: str = "") -> None:
        if self.row.setting is not None:
            self.editing = True
            self.edit = self.row.value + text
            self.alert = ""

    def type(self, text: str) -> None:
        if self.editing:
            self.edit += text
        else:
            self.start_edit(text)

    def backspace(self) -> None:
        if self.editing:
            self.edit = self.edit[:-1]

    def discard(self) -> None:
        """Ctrl-C while editing: the value is left as it was."""
        self.editing = False
        self.reload()

    def save(self) -> None:
        """Enter while editing: store (an empty value deletes); show the error if refused."""
        row = self.row
        assert row.setting is not None
        named = NamedSetting(row.setting.name, self.block, row.setting)
        try:
            self.settings.store(named, self.edit or None)
        except SettingsError as exc:
            self.alert = f" {exc} "
        self.editing = False
        self.reload()

    def delete(self) -> None:
        """Ctrl-D: delete the setting, when this very block holds it."""
        row = self.row
        if self.editing or row.setting is None or row.origin is not self.block:
            return
        try:
            self.settings.store(NamedSetting(row.setting.name, self.block, row.setting), None)
        except SettingsError as exc:
            self.alert = f" {exc} "
        self.reload()

    def title(self) -> str:
        name = self.block.path()
        return f"iPXE configuration settings{' - ' + name if name else ''}"


def run_config(
    state: ConfigState,
    *,
    input: Input | None = None,
    output: Output | None = None,
    color: bool = True,
) -> None:
    """Show ``state`` full screen until Ctrl-X."""
    from prompt_toolkit.formatted_text import StyleAndTextTuples
    from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
    from prompt_toolkit.keys import Keys

    from bootsh.console.screen import full_screen, screen_size

    def fragments() -> StyleAndTextTuples:
        columns, lines = screen_size(app)
        visible = max(lines - 9, 1)
        first = state.current - state.current % visible
        out: StyleAndTextTuples = [("", "\n"), ("class:title", state.title().center(columns))]
        out.append(("", "\n\n"))
        for index in range(first, min(first + visible, len(state.rows))):
            line = state.rows[index]
            value = state.edit if index == state.current and state.editing else line.value
            text = f" {line.text:<16.16} {value}" if line.setting else f" {line.text}"
            style = ""
            if index == state.current:
                style = "class:edit" if state.editing else "class:select"
            out += [(style, text[:columns].ljust(min(columns, 80))), ("", "\n")]
        out.append(("", "\n"))
        row = state.row if state.rows else None
        if row is not None and row.setting is not None:
            where = row.origin.path() if row.origin is not None else state.block.path()
            name = f"{where}/{row.setting.name}" if where else row.setting.name
            out += [("class:title", name), ("", "\n")]
            out += [("class:url", f"https://ipxe.org/cfg/{row.setting.name}"), ("", "\n")]
        if state.alert:
            out += [("class:alert", state.alert), ("", "\n")]
        if state.editing:
            help_text = "Enter - accept changes     Ctrl-C - discard changes"
        else:
            deletable = row is not None and row.origin is state.block
            help_text = ("Ctrl-D - delete setting     " if deletable else "") + (
                "Ctrl-X - exit configuration utility"
            )
        out.append(("", help_text))
        return out

    bindings = KeyBindings()

    def bind(key: str | Keys, action: object) -> None:
        @bindings.add(key)
        def _(event: KeyPressEvent) -> None:
            action()  # type: ignore[operator]
            if state.done:
                event.app.exit()

    def leave() -> None:
        if not state.editing:
            state.done = True

    def cancel() -> None:
        if state.editing:
            state.discard()

    for key, action in (
        (Keys.Up, lambda: state.move(-1)),
        (Keys.Down, lambda: state.move(1)),
        (Keys.PageUp, lambda: state.move(-10)),
        (Keys.PageDown, lambda: state.move(10)),
        (Keys.Home, lambda: state.move(-len(state.rows))),
        (Keys.End, lambda: state.move(len(state.rows))),
        (Keys.ControlM, state.enter),
        (Keys.ControlJ, state.enter),
        (Keys.Backspace, state.backspace),
        (Keys.ControlC, cancel),
        (Keys.ControlD, state.delete),
        (Keys.ControlX, leave),
    ):
        bind(key, action)

    @bindings.add(Keys.Any)
    def _any(event: KeyPressEvent) -> None:
        text = "".join(ch for ch in event.data if ch.isprintable())
        if text:
            state.type(text)

    styles = {  # class: (monochrome, colour)
        "title": ("bold", "bold"),
        "select": ("reverse", "bg:ansired fg:ansiwhite bold"),
        "edit": ("underline", "bg:ansicyan fg:ansiblack"),
        "url": ("", "fg:ansicyan"),
        "alert": ("reverse", "bg:ansired fg:ansiwhite"),
    }
    app = full_screen(fragments, bindings, styles, color=color, input=input, output=output)
    app.run()
