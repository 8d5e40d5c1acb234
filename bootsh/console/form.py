"""iPXE's forms (``form``, ``item``, ``present``): the model and the full-screen UI, following
``hci/tui/form_ui.c``.

A form is a dynamic UI like a menu (``bootsh.console.menu``: the same ``Menus``, by name): an
item with a name is an input for the setting of that name (its text, if any, is the label
shown above it); an item without one is a label only. ``present`` shows it:

- the first input is selected, or the last one marked ``--default``; Up/Down (and PgUp/PgDn,
  Home/End) move between inputs, skipping labels;
- typing edits the selected input (Left/Right, Home/End, Backspace, Delete); a ``--secret``
  input shows ``*`` for each character;
- Enter moves to the next input, and on the last one (or on an input whose value was refused)
  saves the form; Ctrl-X saves at once; saving stores every value as ``set`` would (an empty
  value deletes); any value that does not parse is shown under its input in iPXE's words and
  the form stays, on the first such input;
- Esc and Ctrl-C leave without saving (``ECANCELED``).

``FormState`` is the logic, no terminal involved; ``run_form`` draws it with prompt_toolkit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bootsh.records import dataclass, field

if TYPE_CHECKING:
    from prompt_toolkit.input import Input
    from prompt_toolkit.output import Output

    from bootsh.console.menu import Menu

#: Store one value (``set``'s parse-and-store): returns "" on success, else iPXE's error text.
Saver = Callable[[str, str], str]


class FormCancelled(Exception):
    """Esc or Ctrl-C in the form."""


class NoInputs(Exception):
    """A form without any input cannot be shown (iPXE: ``-EINVAL``)."""


@dataclass
class Control:
    name: str | None  # the setting; None: a label only
    text: str
    secret: bool = False
    value: str = ""
    cursor: int = 0
    error: str = ""


@dataclass
class FormState:
    title: str
    controls: list[Control]
    current: int = 0
    done: bool = False
    cancelled: bool = False
    _saver: Saver | None = field(default=None, repr=False)

    @classmethod
    def of(cls, menu: Menu, values: dict[str, str], saver: Saver | None = None) -> FormState:
        controls = []
        current: int | None = None
        for index, item in enumerate(menu.items):
            value = values.get(item.label, "") if item.label is not None else ""
            controls.append(Control(item.label, item.text, item.secret, value, len(value)))
            if item.label is not None and (current is None or item.default):
                current = index
        if current is None:
            raise NoInputs
        return cls(menu.title, controls, current, _saver=saver)

    @property
    def control(self) -> Control:
        return self.controls[self.current]

    @property
    def inputs(self) -> list[int]:
        return [i for i, c in enumerate(self.controls) if c.name is not None]

    def move(self, delta: int) -> None:
        """To the next input in that direction; at an end, stay (iPXE's jump scroller)."""
        inputs = self.inputs
        if delta > 0:
            later = [i for i in inputs if i > self.current]
            if later:
                self.current = later[min(delta, len(later)) - 1]
        elif delta < 0:
            earlier = [i for i in inputs if i < self.current]
            if earlier:
                self.current = earlier[-min(-delta, len(earlier))]

    def first(self) -> None:
        self.current = self.inputs[0]

    def last(self) -> None:
        self.current = self.inputs[-1]

    # -- editing (the edit box of hci/editstring.c)

    def insert(self, text: str) -> None:
        c = self.control
        c.value = c.value[: c.cursor] + text + c.value[c.cursor :]
        c.cursor += len(text)

    def backspace(self) -> None:
        c = self.control
        if c.cursor:
            c.value = c.value[: c.cursor - 1] + c.value[c.cursor :]
            c.cursor -= 1

    def delete(self) -> None:
        c = self.control
        c.value = c.value[: c.cursor] + c.value[c.cursor + 1 :]

    def left(self) -> None:
        self.control.cursor = max(self.control.cursor - 1, 0)

    def right(self) -> None:
        self.control.cursor = min(self.control.cursor + 1, len(self.control.value))

    # -- the keys that end the form

    def enter(self) -> None:
        """iPXE's "most intuitive thing": the next input, or save on the last one (or when
        this input's value was refused)."""
        if not self.control.error and self.current != self.inputs[-1]:
            self.move(1)
            return
        self.submit()

    def submit(self) -> None:
        """Ctrl-X: store every value; stay on the first refused one, else the form is done."""
        assert self._saver is not None
        failed = False
        for c in self.controls:
            if c.name is None:
                continue
            c.error = self._saver(c.name, c.value)
            failed = failed or bool(c.error)
        if not failed:
            self.done = True
            return
        if not self.control.error:
            for index, c in enumerate(self.controls):
                if c.error:
                    self.current = index
                    break

    def cancel(self) -> None:
        self.cancelled = True


def run_form(
    state: FormState,
    *,
    input: Input | None = None,
    output: Output | None = None,
    color: bool = True,
) -> None:
    """Show ``state`` full screen until it is saved (returns) or cancelled (FormCancelled)."""
    from prompt_toolkit.formatted_text import StyleAndTextTuples
    from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
    from prompt_toolkit.keys import Keys

    from bootsh.console.screen import full_screen, screen_size

    def fragments() -> StyleAndTextTuples:
        columns = screen_size(app)[0]
        width = max(columns // 2, 1)
        col = (columns - width) // 2
        lines: StyleAndTextTuples = [("", "\n"), ("class:title", state.title.center(columns))]
        lines.append(("", "\n\n"))
        for index, c in enumerate(state.controls):
            if c.text:
                lines += [("", c.text.center(columns).rstrip()), ("", "\n")]
            if c.name is not None:
                shown = "*" * len(c.value) if c.secret else c.value
                box = shown[:width].ljust(width, "_")
                style = "class:input.current" if index == state.current else "class:input"
                lines += [("", " " * col), (style, box), ("", "\n")]
                lines += [("class:alert", f" {c.error} " if c.error else ""), ("", "\n")]
            lines.append(("", "\n"))
        lines.append(
            ("", "Ctrl-X - save changes     Ctrl-C - discard changes".center(columns).rstrip())
        )
        return lines

    bindings = KeyBindings()

    def after(event: KeyPressEvent) -> None:
        if state.done or state.cancelled:
            event.app.exit()

    def bind(key: str | Keys, action: Callable[[], None]) -> None:
        @bindings.add(key)
        def _(event: KeyPressEvent) -> None:
            action()
            after(event)

    for key, action in (
        (Keys.Up, lambda: state.move(-1)),
        (Keys.Down, lambda: state.move(1)),
        (Keys.PageUp, state.first),
        (Keys.PageDown, state.last),
        (Keys.Left, state.left),
        (Keys.Right, state.right),
        (Keys.Home, lambda: setattr(state.control, "cursor", 0)),
        (Keys.End, lambda: setattr(state.control, "cursor", len(state.control.value))),
        (Keys.Backspace, state.backspace),
        (Keys.Delete, state.delete),
        (Keys.ControlM, state.enter),
        (Keys.ControlJ, state.enter),
        (Keys.ControlX, state.submit),
        (Keys.Escape, state.cancel),
        (Keys.ControlC, state.cancel),
    ):
        bind(key, action)

    @bindings.add(Keys.Any)
    def _any(event: KeyPressEvent) -> None:
        text = "".join(ch for ch in event.data if ch.isprintable())
        if text:
            state.insert(text)

    styles = {  # class: (monochrome, colour)
        "title": ("bold", "bold"),
        "input": ("", "bg:ansicyan fg:ansiblack"),
        "input.current": ("underline", "bg:ansicyan fg:ansiblack underline"),
        "alert": ("reverse", "bg:ansired fg:ansiwhite"),
    }
    app = full_screen(fragments, bindings, styles, color=color, input=input, output=output)
    app.ttimeoutlen = 0.05  # a lone Esc cancels at once
    app.run()
    if state.cancelled or not state.done:
        raise FormCancelled
