"""iPXE's dynamic menus (``menu``, ``item``, ``choose``): the model and the full-screen UI.

The model follows iPXE's ``core/dynui.c`` and ``hci/tui/menu_ui.c``:

- menus are kept per shell (``menus_of(shell)``), by name; the unnamed menu has the name
  None. Creating a menu replaces any menu of the same name;
- an item without a label is a gap (a separator): shown, never selectable;
- the first selection is the item labelled ``--default <label>`` of ``choose``, otherwise the
  last item flagged ``item --default``, otherwise the first labelled item; a menu with no
  labelled item cannot be shown;
- Up/Down move one item, PgUp/PgDn to the item just before/after the page shown, Home/End
  to the ends (iPXE's jump scroller, ``hci/jumpscroll.c``); a move that lands on a gap keeps
  going the same way, and one that runs past an end stops there and turns back;
- a hot key (``item --key``) of a labelled item chooses it at once; of a gap, selects the
  next labelled item;
- any key cancels the timeout; when the timeout runs out the selection is chosen;
  Esc and Ctrl-C cancel.

``MenuState`` is the pure navigation logic; ``run_menu`` draws it with prompt_toolkit
(imported only when a menu is really shown on a terminal).
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from bootsh.records import dataclass, field

if TYPE_CHECKING:
    from prompt_toolkit.input import Input
    from prompt_toolkit.output import Output

    from bootsh.shell import Shell

#: The rows of items shown at once (iPXE's MENU_ROWS is the screen's rows less 5).
DEFAULT_ROWS = 19

#: The key of the shell's per-shell plugin state holding its menus.
MENUS_KEY = "menus"


@dataclass
class MenuItem:
    label: str | None  # None: a gap
    text: str
    key: int = 0  # hot key (0: none)
    default: bool = False
    #: ``item --secret``: a form input shown as ``*`` (menus ignore it).
    secret: bool = False


@dataclass
class Menu:
    name: str | None
    title: str
    items: list[MenuItem] = field(default_factory=list)


class Menus:
    """The menus of one shell, by name (None: the unnamed menu)."""

    def __init__(self) -> None:
        self.menus: dict[str | None, Menu] = {}

    def create(self, name: str | None, title: str) -> Menu:
        menu = Menu(name, title)
        self.menus[name] = menu  # replaces any menu of that name, as iPXE's create_dynui
        return menu

    def find(self, name: str | None) -> Menu | None:
        return self.menus.get(name)

    def destroy(self, menu: Menu) -> None:
        if self.menus.get(menu.name) is menu:
            del self.menus[menu.name]


def menus_of(shell: Shell) -> Menus:
    """The shell's menus, attached on first use.

    Kept in ``shell.state``, so each shell (and each test) has its own menus.
    """
    return shell.state_for(MENUS_KEY, Menus, Menus)


class Cancelled(Exception):
    """Esc or Ctrl-C in the menu."""


class NoChoice(Exception):
    """The menu has no labelled item to choose."""


def first_selection(menu: Menu, select: str | None) -> int:
    """iPXE's ``show_menu`` start: the ``select`` label, else the default, else the first."""
    current: int | None = None
    for index, item in enumerate(menu.items):
        if item.label is None:
            continue
        if current is None:
            current = index
        if select is not None:
            if item.label == select:
                current = index
        elif item.default:
            current = index
    if current is None:
        raise NoChoice
    return current


class MenuState:
    """Where the selection is, what is shown, the timeout; no terminal involved."""

    def __init__(
        self,
        menu: Menu,
        timeout: float | None = None,
        select: str | None = None,
        rows: int = DEFAULT_ROWS,
    ) -> None:
        self.menu = menu
        self.current = first_selection(menu, select)
        self.rows = max(rows, 1)
        self.first = 0
        #: When the default is taken (time.monotonic()), None when there is no timeout.
        self.deadline = None if not timeout else time.monotonic() + timeout
        self.scroll()

    @property
    def count(self) -> int:
        return len(self.menu.items)

    @property
    def item(self) -> MenuItem:
        return self.menu.items[self.current]

    def remaining(self, now: float | None = None) -> float | None:
        if self.deadline is None:
            return None
        return max(self.deadline - (time.monotonic() if now is None else now), 0.0)

    def countdown(self, now: float | None = None) -> int | None:
        """The whole seconds left, rounded up, as iPXE shows them; None without a timeout."""
        left = self.remaining(now)
        return None if left is None else math.ceil(left)

    def cancel_timeout(self) -> None:
        self.deadline = None

    def _step(self, move: int) -> int:
        """iPXE's ``jump_scroll_move``: past an end, stop there and turn back."""
        current = self.current + move
        if current < 0:
            self.current = 0
            return 1
        if current > self.count - 1:
            self.current = self.count - 1
            return -1
        self.current = current
        return 1 if move > 0 else -1

    def move(self, delta: int) -> None:
        """Move by ``delta``, then on over gaps in the direction of travel."""
        move = delta
        while move:
            move = self._step(move)
            if self.item.label is not None:
                break
        self.scroll()

    def page_up(self) -> None:
        self.move(self.first - self.current - 1)

    def page_down(self) -> None:
        self.move(self.first - self.current + self.rows)

    def home(self) -> None:
        self.move(-self.count)

    def end(self) -> None:
        self.move(self.count)

    def hot_key(self, key: int) -> bool:
        """A hot key pressed: True when it chose an item."""
        for index, item in enumerate(self.menu.items):
            if item.key and item.key == key:
                self.current = index
                if item.label is not None:
                    self.scroll()
                    return True
                self.move(1)
                return False
        return False

    def scroll(self) -> None:
        """Keep the selection in the shown block of rows (iPXE jumps a whole page)."""
        if self.current < self.first or self.current >= self.first + self.rows:
            self.first = self.current - self.current % self.rows

    def visible(self) -> list[tuple[int, MenuItem]]:
        return list(enumerate(self.menu.items))[self.first : self.first + self.rows]


# -- the full-screen UI ------------------------------------------------------------------------


def run_menu(
    menu: Menu,
    timeout: float | None = None,
    select: str | None = None,
    *,
    input: Input | None = None,
    output: Output | None = None,
    color: bool = True,
) -> MenuItem:
    """Show ``menu`` full screen and return the chosen item.

    Raises ``NoChoice`` for a menu without labelled items and ``Cancelled`` on Esc/Ctrl-C.
    ``timeout`` is in seconds (None: wait for a key).
    """
    import asyncio

    from prompt_toolkit.formatted_text import StyleAndTextTuples
    from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
    from prompt_toolkit.keys import Keys

    from bootsh.console.screen import full_screen, screen_size

    state = MenuState(menu, timeout, select)
    result: list[MenuItem] = []

    def fragments() -> StyleAndTextTuples:
        columns, rows = screen_size(app)
        state.rows = max(rows - 5, 1)
        state.scroll()
        width = min(columns, 80)
        pad = max((columns - width) // 2, 0)
        title = menu.title.center(columns)[:columns]
        lines: StyleAndTextTuples = [("", "\n"), ("class:title", title), ("", "\n")]
        more_before = state.first > 0
        lines.append(("class:gap", " " * (pad + 1) + ("..." if more_before else "") + "\n"))
        seconds = state.countdown()
        for index, item in state.visible():
            text = " " + item.text[: width - 2]
            if index == state.current and seconds is not None:
                mark = f"({seconds})"
                text = text.ljust(width - 1 - len(mark)) + mark
            text = text.ljust(width)
            if index == state.current:
                style = "class:selected"
            elif item.label is None:
                style = "class:gap"
            else:
                style = ""
            lines.append(("", " " * pad))
            lines.append((style, text))
            lines.append(("", "\n"))
        more_after = state.first + state.rows < state.count
        lines.append(("class:gap", " " * (pad + 1) + ("..." if more_after else "")))
        return lines

    bindings = KeyBindings()

    def done(item: MenuItem | None) -> None:
        if item is not None:
            result.append(item)
        app.exit()

    @bindings.add(Keys.Any)
    def _any(event: KeyPressEvent) -> None:
        state.cancel_timeout()
        for char in event.data:
            if state.hot_key(ord(char)):
                done(state.item)
                return

    def navigation(key: str | Keys, action: str) -> None:
        @bindings.add(key)
        def _navigate(event: KeyPressEvent) -> None:
            state.cancel_timeout()
            if action == "up":
                state.move(-1)
            elif action == "down":
                state.move(1)
            elif action == "pageup":
                state.page_up()
            elif action == "pagedown":
                state.page_down()
            elif action == "home":
                state.home()
            elif action == "end":
                state.end()
            elif action == "choose":
                done(state.item)
            else:
                done(None)

    for key, action in (
        (Keys.Up, "up"),
        (Keys.Down, "down"),
        (Keys.PageUp, "pageup"),
        (Keys.PageDown, "pagedown"),
        (Keys.Home, "home"),
        (Keys.End, "end"),
        (Keys.ControlM, "choose"),
        (Keys.ControlJ, "choose"),
        (Keys.Escape, "cancel"),
        (Keys.ControlC, "cancel"),
    ):
        navigation(key, action)

    styles = {  # class: (monochrome, colour)
        "title": ("bold", "bold"),
        "selected": ("reverse bold", "bg:ansired fg:ansiwhite bold"),
        "gap": ("", "fg:ansicyan"),
    }
    app = full_screen(fragments, bindings, styles, color=color, input=input, output=output)
    app.ttimeoutlen = 0.05  # a lone Esc cancels at once instead of after half a second

    async def tick() -> None:
        while True:
            left = state.remaining()
            if left is None:
                return
            if left <= 0:
                done(state.item)
                return
            await asyncio.sleep(min(left, 0.1))
            app.invalidate()

    def started() -> None:
        app.create_background_task(tick())

    app.run(pre_run=started)
    if not result:
        raise Cancelled
    return result[0]
