"""Menu commands as iPXE's ``hci/commands/dynui_cmd.c`` has them: ``menu``, ``item``, ``choose``.

- ``menu [--name <name>] [--delete] [<title>]`` creates a menu (replacing one of that name);
  with ``--delete`` it is created and destroyed, which deletes any menu of that name.
- ``item [--menu <menu>] [--key <key>] [--default] [--gap] [<name> [<text>]]`` adds an item
  to the named (or the unnamed) menu; an item without a name, or ``--gap``, is a separator.
- ``choose [--menu <menu>] [--default <name>] [--timeout <timeout>] [--keep] <setting>``
  shows the menu and stores the chosen item's name in the setting; the menu is destroyed
  afterwards, whatever happened, unless ``--keep``. Esc cancels (ECANCELED).

On a terminal the menu is full screen (``bootsh.console.menu``). Without one nothing may block: with
a timeout, ``choose`` waits for it (as iPXE with no key pressed) and takes the default;
without a timeout it fails at once, saying there is no terminal to ask.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING

from bootsh.api import (
    ERRFILE_PARSEOPT,
    Command,
    Invocation,
    Option,
    SettingsError,
    ipxe_errno,
    parse_integer,
)

if TYPE_CHECKING:
    from prompt_toolkit.input import Input
    from prompt_toolkit.output import Output

    from bootsh.api import Menu, Shell

#: hci/tui/menu_ui.c's error file is not known here; its errors carry none.
ERRFILE_MENU_UI = 0x00000000

#: ``"x": no such menu`` (parse_dynui in core/parseopt.c)
ENOENT_MENU = ipxe_errno(0x2D, ERRFILE_PARSEOPT, 0, 2)
#: a menu with no named item cannot be shown (show_menu)
ENOENT_NO_ITEMS = ipxe_errno(0x2D, ERRFILE_MENU_UI, 0, 2)
#: Esc or Ctrl-C in the menu
ECANCELED_MENU = ipxe_errno(0x0B, ERRFILE_MENU_UI, 0, 125)
#: bootsh only: no terminal to ask and no timeout to wait for
ENOTTY_MENU = ipxe_errno(0x3D, ERRFILE_MENU_UI, 0, 25)


def parse_key(text: str) -> int:
    """iPXE's ``parse_key``: one character is itself, anything else an integer."""
    data = text.encode("utf-8", "surrogateescape")
    return data[0] if len(data) == 1 else parse_integer(text)


def terminal_io(shell: Shell) -> tuple[Input | None, Output | None] | None:
    """The terminal to draw a menu on: (None, None) for the process's own, None when there
    is none (batch). Tests replace it to drive the UI with prompt_toolkit's pipe input."""
    try:
        tty = sys.stdin.isatty() and shell.out.isatty()
    except (OSError, ValueError, AttributeError):
        tty = False
    if not tty or os.environ.get("TERM", "") == "dumb":
        return None
    return None, None


def _find(inv: Invocation, name: str | None) -> Menu | int:
    from bootsh.api import menus_of

    menu = menus_of(inv.shell).find(name)
    if menu is None:
        inv.shell.print(f'"{name}": no such menu' if name is not None else "No unnamed menu")
        return ENOENT_MENU
    return menu


def menu(inv: Invocation) -> int:
    from bootsh.api import menus_of

    menus = menus_of(inv.shell)
    created = menus.create(inv.value("name"), " ".join(inv.args))
    if inv.flag("delete"):
        menus.destroy(created)
    return 0


def item(inv: Invocation) -> int:
    from bootsh.api import MenuItem

    args = list(inv.args)
    label = None if inv.flag("gap") or not args else args.pop(0)
    key_text = inv.value("key")
    key = parse_key(key_text) if key_text is not None else 0
    found = _find(inv, inv.value("menu"))
    if isinstance(found, int):
        return found
    found.items.append(MenuItem(label, " ".join(args), key, inv.flag("default")))
    return 0


def choose(inv: Invocation) -> int:
    from bootsh.api import menus_of

    shell = inv.shell
    timeout_text = inv.value("timeout")  # options are parsed before the setting, as in iPXE
    timeout_ms = parse_integer(timeout_text) if timeout_text is not None else 0
    try:
        named = shell.settings.parse(inv.args[0], create=True)
    except SettingsError as exc:
        shell.print(f'"{inv.args[0]}": invalid setting')
        return exc.errno
    found = _find(inv, inv.value("menu"))
    if isinstance(found, int):
        return found
    try:
        status, label = _show(shell, found, timeout_ms / 1000 or None, inv.value("default"))
        if status:
            return status
        try:
            shell.settings.store(named, label)
        except SettingsError as exc:
            shell.print(f'Could not store "{named.setting.name}": {exc}')
            return exc.errno
        return 0
    finally:
        if not inv.flag("keep"):
            menus_of(shell).destroy(found)


def _show(shell: Shell, menu: Menu, timeout: float | None, select: str | None) -> tuple[int, str]:
    from bootsh.api import Cancelled, MenuState, NoChoice, run_menu

    try:
        state = MenuState(menu, timeout, select)
    except NoChoice:
        return ENOENT_NO_ITEMS, ""
    io = terminal_io(shell)
    if io is None:
        if timeout is None:
            shell.diagnose(
                f"choose: no terminal to show the menu {menu.title!r} on, and no --timeout"
                " to take its default after"
            )
            return ENOTTY_MENU, ""
        try:
            time.sleep(timeout)  # iPXE with no key pressed: the timeout runs out
        except KeyboardInterrupt:
            return ECANCELED_MENU, ""
        label = state.item.label
        assert label is not None
        return 0, label
    input, output = io
    try:
        chosen = run_menu(
            menu,
            timeout,
            select,
            input=input,
            output=output,
            color=not os.environ.get("NO_COLOR"),
        )
    except Cancelled:
        return ECANCELED_MENU, ""
    except KeyboardInterrupt:
        return ECANCELED_MENU, ""
    assert chosen.label is not None
    return 0, chosen.label


COMMANDS = (
    Command(
        "menu",
        menu,
        "create a menu",
        args="[<title>]",
        options=(Option("name", "n", "name"), Option("delete", "d")),
        max_args=None,
    ),
    Command(
        "item",
        item,
        "add an item to a menu",
        args="[<name> [<text>]]",
        options=(
            Option("menu", "m", "menu"),
            Option("key", "k", "key"),
            Option("default", "d"),
            Option("gap", "g"),
        ),
        max_args=None,
    ),
    Command(
        "choose",
        choose,
        "choose an item from a menu",
        args="<setting>",
        options=(
            Option("menu", "m", "menu"),
            Option("default", "d", "default"),
            Option("timeout", "t", "timeout"),
            Option("keep", "k"),
        ),
        min_args=1,
        max_args=1,
    ),
)
