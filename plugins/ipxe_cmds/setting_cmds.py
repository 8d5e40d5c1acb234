"""Setting commands as iPXE's ``hci/commands/nvo_cmd.c`` has them: ``show``, ``set``,
``clear``, ``inc``.

Usage strings, argument counts and messages are iPXE's: a name that does not parse prints
``"<name>": invalid setting`` (``parse_setting`` in ``core/parseopt.c``); a failed fetch
``Could not find "<name>": <strerror>``; a failed store ``Could not store "<name>": <strerror>``
(the bare setting name, without scope and type, as iPXE prints it). ``show`` takes no options
(iPXE's has none, so ``show -q`` is an unknown option); ``read`` is not provided yet.
"""

from __future__ import annotations

import os

from bootsh.api import (
    Command,
    Invocation,
    NamedSetting,
    ParseError,
    SettingsError,
    error_number,
    parse_integer,
)

ERRFILE_PARSEOPT = 0x00162000  # core/parseopt.c
# settings_ui.c defines no error of its own: this file id is bootsh's, for its one error.
ERRFILE_SETTINGS_UI = 0x0019E000
#: ``"x": no such scope`` (parse_settings)
EINVAL_SCOPE = error_number("EINVAL", ERRFILE_PARSEOPT)
#: bootsh only: no terminal to show the editor on
ENOTTY_CONFIG = error_number("ENOTTY", ERRFILE_SETTINGS_UI)


def _parse(inv: Invocation, text: str, create: bool) -> NamedSetting | int:
    try:
        return inv.shell.settings.parse(text, create=create)
    except SettingsError as exc:
        inv.shell.print(f'"{text}": invalid setting')
        return exc.errno


def show(inv: Invocation) -> int:
    named = _parse(inv, inv.args[0], create=False)
    if isinstance(named, int):
        return named
    try:
        found = inv.shell.settings.fetch(named)
        value = found.format()
    except SettingsError as exc:
        inv.shell.print(f'Could not find "{named.setting.name}": {exc}')
        return exc.errno
    inv.shell.print(f"{found.label} = {value}")
    return 0


def _store(inv: Invocation, value: str | None) -> int:
    named = _parse(inv, inv.args[0], create=True)
    if isinstance(named, int):
        return named
    try:
        inv.shell.settings.store(named, value)
    except SettingsError as exc:
        inv.shell.print(f'Could not store "{named.setting.name}": {exc}')
        return exc.errno
    return 0


def set_(inv: Invocation) -> int:
    # iPXE's concat_args: the value words joined with single spaces; nothing deletes.
    return _store(inv, " ".join(inv.args[1:]))


def clear(inv: Invocation) -> int:
    return _store(inv, None)


def inc(inv: Invocation) -> int:
    named = _parse(inv, inv.args[0], create=False)
    if isinstance(named, int):
        return named
    increment = 1
    if len(inv.args) > 1:
        try:
            increment = parse_integer(inv.args[1])
        except ParseError as exc:
            inv.shell.print(str(exc))
            return exc.errno
    try:
        inv.shell.settings.increment(named, increment)
    except SettingsError as exc:
        inv.shell.print(f'Could not store "{named.setting.name}": {exc}')
        return exc.errno
    return 0


def config(inv: Invocation) -> int:
    """``config [<scope>]``: iPXE's settings editor (``bootsh.console.config_ui``) on the
    scope's block; without a terminal, one line saying so."""
    from bootsh.api import ConfigState, run_config
    from bootsh_ipxe_cmds.menu_cmds import terminal_io

    shell = inv.shell
    scope = inv.args[0] if inv.args else ""
    block = shell.settings.find_block(scope)
    if block is None:
        shell.print(f'"{scope}": no such scope')
        return EINVAL_SCOPE
    io = terminal_io(shell)
    if io is None:
        shell.diagnose("config: no terminal to show the settings editor on")
        return ENOTTY_CONFIG
    input, output = io
    run_config(
        ConfigState(shell.settings, block),
        input=input,
        output=output,
        color=not os.environ.get("NO_COLOR"),
    )
    return 0


COMMANDS = (
    Command(
        "config",
        config,
        "edit settings interactively",
        args="[<scope>]",
        max_args=1,
    ),
    Command(
        "show",
        show,
        "show a setting",
        args="<setting>",
        min_args=1,
        max_args=1,
    ),
    Command(
        "set",
        set_,
        "set a setting",
        args="<setting> <value>",
        min_args=1,
        max_args=None,
    ),
    Command(
        "clear",
        clear,
        "clear a setting",
        args="<setting>",
        min_args=1,
        max_args=1,
    ),
    Command(
        "inc",
        inc,
        "increment a numeric setting",
        args="<setting> [<increment>]",
        min_args=1,
        max_args=2,
    ),
)
