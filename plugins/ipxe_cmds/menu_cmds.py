"""Menu and form commands as iPXE's ``hci/commands/dynui_cmd.c`` has them: ``menu``, ``form``,
``item``, ``choose``, ``present``.

- ``menu``/``form [--name <name>] [--delete] [<title>]`` create a dynamic user interface (one
  namespace for both, replacing one of that name); with ``--delete`` it is created and
  destroyed, which deletes any of that name.
- ``item [--menu|--form <name>] [--key <key>] [--default] [--secret] [--gap] [<name>
  [<text>]]`` adds an item to the named (or the default) interface; in a menu an item without
  a name, or ``--gap``, is a separator; in a form an item with a name is an input for that
  setting, one without is a label, ``--secret`` hides what is typed.
- ``choose [--menu <menu>] [--default <name>] [--timeout <timeout>] [--retimeout <timeout>]
  [--keep] <setting>`` shows the menu and stores the chosen item's name in the setting; the
  menu is destroyed afterwards, whatever happened, unless ``--keep``. Esc cancels
  (ECANCELED). ``--retimeout`` (the timeout after a key was pressed) is accepted; bootsh's
  menu, like iPXE's before it, stops counting once a key is pressed.
- ``present [--form <form>] [--keep]`` shows the form (``bootsh.console.form``) and stores its
  values when the user saves it; destroyed afterwards unless ``--keep``.

On a terminal the menu is full screen (``bootsh.console.menu``). Without one nothing may block: with
a timeout, ``choose`` waits for it (as iPXE with no key pressed) and takes the default;
without a timeout it fails at once, saying there is no terminal to ask; ``present`` always
fails so (a form has no timeout).
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
    from collections.abc import Callable

    from prompt_toolkit.input import Input
    from prompt_toolkit.output import Output

    from bootsh.api import FormState, Menu, Shell

ERRFILE_MENU_UI = 0x002CE000  # hci/tui/menu_ui.c (ERRFILE_OTHER | 0x002c0000)
ERRFILE_FORM_UI = 0x0063E000  # hci/tui/form_ui.c (ERRFILE_OTHER | 0x00630000)

#: ``"x": no such user interface`` (parse_dynui in core/parseopt.c)
ENOENT_MENU = ipxe_errno(0x2D, ERRFILE_PARSEOPT, 0, 2)
#: a menu with no named item cannot be shown (show_menu)
ENOENT_NO_ITEMS = ipxe_errno(0x2D, ERRFILE_MENU_UI, 0, 2)
#: Esc or Ctrl-C in the menu
ECANCELED_MENU = ipxe_errno(0x0B, ERRFILE_MENU_UI, 0, 125)
#: bootsh only: no terminal to ask and no timeout to wait for
ENOTTY_MENU = ipxe_errno(0x3D, ERRFILE_MENU_UI, 0, 25)
#: a form without inputs (layout_form)
EINVAL_FORM = ipxe_errno(0x1C, ERRFILE_FORM_UI, 0, 22)
#: Esc or Ctrl-C in the form
ECANCELED_FORM = ipxe_errno(0x0B, ERRFILE_FORM_UI, 0, 125)
#: bootsh only: no terminal to show the form on
ENOTTY_FORM = ipxe_errno(0x3D, ERRFILE_FORM_UI, 0, 25)


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
        inv.shell.print(
            f'"{name}": no such user interface' if name is not None else "No default user interface"
        )
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
    # --menu and --form fill the same field in iPXE: the last one given wins.
    given = [key for key in inv.options if key in ("menu", "form")]
    found = _find(inv, inv.value(given[-1]) if given else None)
    if isinstance(found, int):
        return found
    found.items.append(
        MenuItem(label, " ".join(args), key, inv.flag("default"), inv.flag("secret"))
    )
    return 0


def choose(inv: Invocation) -> int:
    from bootsh.api import menus_of

    shell = inv.shell
    timeout_text = inv.value("timeout")  # options are parsed before the setting, as in iPXE
    timeout_ms = parse_integer(timeout_text) if timeout_text is not None else 0
    retimeout = inv.value("retimeout")
    if retimeout is not None:
        parse_integer(retimeout)
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


def present(inv: Invocation) -> int:
    from bootsh.api import FormCancelled, FormState, NoInputs, menus_of, run_form

    shell = inv.shell
    found = _find(inv, inv.value("form"))
    if isinstance(found, int):
        return found
    try:
        return _present(shell, found, FormState, NoInputs, FormCancelled, run_form)
    finally:
        if not inv.flag("keep"):
            menus_of(shell).destroy(found)


def _present(
    shell: Shell,
    form: Menu,
    state_type: type[FormState],
    no_inputs: type[Exception],
    cancelled: type[Exception],
    run: Callable[..., None],
) -> int:
    values: dict[str, str] = {}
    for item in form.items:
        if item.label is None:
            continue
        try:
            named = shell.settings.parse(item.label, create=True)
        except SettingsError as exc:
            shell.print(f'"{item.label}": invalid setting')
            return exc.errno
        try:
            values[item.label] = shell.settings.fetch(named).format()
        except SettingsError:
            values[item.label] = ""

    def save(name: str, value: str) -> str:
        try:
            shell.settings.store(shell.settings.parse(name, create=True), value or None)
        except SettingsError as exc:
            return str(exc)
        return ""

    try:
        state = state_type.of(form, values, save)
    except no_inputs:
        return EINVAL_FORM
    io = terminal_io(shell)
    if io is None:
        shell.diagnose(f"present: no terminal to show the form {form.title!r} on")
        return ENOTTY_FORM
    input, output = io
    try:
        run(state, input=input, output=output, color=not os.environ.get("NO_COLOR"))
    except (cancelled, KeyboardInterrupt):
        return ECANCELED_FORM
    return 0


_DYNUI_OPTIONS = (Option("name", "n", "name"), Option("delete", "d"))

COMMANDS = (
    Command(
        "menu",
        menu,
        "create a menu",
        args="[<title>]",
        options=_DYNUI_OPTIONS,
        max_args=None,
    ),
    Command(
        "form",
        menu,
        "create a form",
        args="[<title>]",
        options=_DYNUI_OPTIONS,
        max_args=None,
    ),
    Command(
        "item",
        item,
        "add an item to a menu",
        args="[<name> [<text>]]",
        options=(
            Option("menu", "m", "menu"),
            Option("form", "f", "form"),
            Option("key", "k", "key"),
            Option("default", "d"),
            Option("secret", "s"),
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
            Option("retimeout", "r", "retimeout"),
            Option("keep", "k"),
        ),
        min_args=1,
        max_args=1,
    ),
    Command(
        "present",
        present,
        "show a form and store its values",
        options=(Option("form", "f", "form"), Option("keep", "k")),
    ),
)
