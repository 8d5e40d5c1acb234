"""Console commands: ``prompt``, ``read``, ``login``, ``shell``.

Semantics and texts are iPXE's (``src/image/script.c`` and ``src/usr/prompt.c`` for
``prompt``, ``src/hci/commands/nvo_cmd.c`` and ``src/hci/readline.c`` for ``read``,
``login_cmd.c`` and ``src/hci/tui/login_ui.c`` for ``login``, ``src/hci/shell.c`` for
``shell``):

- ``prompt [--key <key>] [--timeout <timeout>] [<text>]`` prints its arguments joined by
  spaces (nothing when there are none, as iPXE), waits for one key and clears the text
  again. A timeout (ms, 0 = none) that expires fails with ETIMEDOUT; a key other than
  ``--key`` fails with ECANCELED. ``--key`` is one character or a number (iPXE's
  ``parse_key``); special keys have iPXE's codes (``0x197e`` is F12, ``0x02`` Ctrl-B).
- ``read [--timeout <timeout>] <setting>`` edits a line prefilled with the setting's current
  value and stores it (an empty line deletes it); Ctrl-C fails with ECANCELED, a timeout
  before the first key with ETIMEDOUT.
- ``login`` asks for a username and a password (hidden) into ``username``/``password``;
  Ctrl-C (or Esc) fails with ``Could not set credentials: Operation canceled``.
- ``shell`` runs the interactive shell until ``exit`` (or Ctrl-D) and returns the status of
  its last command line, as iPXE's nested shell does.

The console is standard input. Keys are read one at a time from the terminal in raw mode
(the terminal settings are restored on every way out, Ctrl-C and errors included; in raw
mode Ctrl-C is a key, 0x03, as in iPXE). Without a terminal nothing blocks (bootsh's rule,
iPXE has no such case): ``prompt`` with a timeout waits for it and fails with ETIMEDOUT,
without one it fails at once with ``No terminal to read a key from``; ``read`` takes a line
from standard input and fails at its end; ``login`` fails (``No terminal``); ``shell`` reads
commands from standard input until its end. On a terminal the prompt text is cleared with
backspaces as iPXE does; when the output is not a terminal the line is ended instead, so a
log never holds control characters.
"""

from __future__ import annotations

import os
import select
import sys
import termios
import time
import tty
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from bootsh.api import (
    Command,
    Invocation,
    Option,
    SettingsError,
    ipxe_errno,
    parse_integer,
    strerror,
)

if TYPE_CHECKING:
    from prompt_toolkit.input import Input
    from prompt_toolkit.output import Output

    from bootsh.api import Shell

# iPXE's error files (include/ipxe/errfile.h), positioned.
ERRFILE_PROMPT = 0x0022E000  # usr/prompt.c
ERRFILE_NVO_CMD = 0x0023E000  # hci/commands/nvo_cmd.c
ERRFILE_LOGIN_UI = 0x0017E000  # hci/tui/login_ui.c
ERRFILE_FORM_UI = 0x0063E000  # hci/tui/form_ui.c: login_ui is a form, its errors are the form's
ERRFILE_READLINE = 0x0032E000  # hci/readline.c

_ECANCELED = (0x0B, 125)
_ETIMEDOUT = (0x4C, 110)
_ENOTTY = (0x3D, 25)

ETIMEDOUT_PROMPT = ipxe_errno(_ETIMEDOUT[0], ERRFILE_PROMPT, 0, _ETIMEDOUT[1])
ECANCELED_PROMPT = ipxe_errno(_ECANCELED[0], ERRFILE_PROMPT, 0, _ECANCELED[1])
ETIMEDOUT_READ = ipxe_errno(_ETIMEDOUT[0], ERRFILE_READLINE, 0, _ETIMEDOUT[1])
ECANCELED_READ = ipxe_errno(_ECANCELED[0], ERRFILE_READLINE, 0, _ECANCELED[1])
ECANCELED_LOGIN = ipxe_errno(_ECANCELED[0], ERRFILE_FORM_UI, 0, _ECANCELED[1])
#: bootsh only: the command needs a terminal and there is none.
ENOTTY_PROMPT = ipxe_errno(_ENOTTY[0], ERRFILE_PROMPT, 0, _ENOTTY[1])
ENOTTY_READ = ipxe_errno(_ENOTTY[0], ERRFILE_NVO_CMD, 0, _ENOTTY[1])
ENOTTY_LOGIN = ipxe_errno(_ENOTTY[0], ERRFILE_LOGIN_UI, 0, _ENOTTY[1])

CTRL_C = 0x03
ESC = 0x1B
#: iPXE's GETKEY_TIMEOUT: how long the rest of an escape sequence may take.
SEQUENCE_TIMEOUT = 0.25


def console() -> TextIO:
    """The console's input (looked up at each call, so tests can replace ``sys.stdin``)."""
    return sys.stdin


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (OSError, ValueError):
        return False


def key_ansi(n: int, terminator: int) -> int:
    """iPXE's ``KEY_ANSI``: the code of ``ESC [ n terminator``."""
    return 0x100 * (n + 1) + terminator


def parse_key(text: str) -> int:
    """iPXE's ``parse_key``: a single character is itself, anything else an integer."""
    data = text.encode("utf-8", "surrogateescape")
    if len(data) == 1:
        return data[0]
    return parse_integer(text)


def parse_timeout(text: str) -> float | None:
    """A timeout in ms (iPXE's ``parse_timeout``) as seconds; 0 is None (wait forever)."""
    ms = parse_integer(text)
    return ms / 1000 if ms else None


# -- keys from a terminal ----------------------------------------------------------------------


class RawTerminal:
    """The terminal behind ``fd`` in raw mode for the ``with`` block; restored on any exit."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.saved: list[Any] | None = None

    def __enter__(self) -> RawTerminal:
        self.saved = termios.tcgetattr(self.fd)
        tty.setraw(self.fd, termios.TCSANOW)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)

    def byte(self, timeout: float | None) -> int | None:
        """One byte, or None when ``timeout`` (seconds; None: forever) passes first."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return None
        data = os.read(self.fd, 1)
        if not data:
            raise EOFError
        return data[0]

    def key(self, timeout: float | None) -> int | None:
        """iPXE's ``getkey``: one key, escape sequences decoded to iPXE's key codes."""
        first = self.byte(timeout)
        if first is None or first != ESC:
            if first is not None and first >= 0xC0:
                self._rest_of_utf8(first)
            return first
        second = self.byte(SEQUENCE_TIMEOUT)
        if second is None:
            return ESC
        if chr(second).isascii() and chr(second).isalpha():
            return ord(chr(second).upper()) - ord("A") + 1
        n = 0
        while (char := self.byte(SEQUENCE_TIMEOUT)) is not None:
            if 0x30 <= char <= 0x39:
                n = n * 10 + (char - 0x30)
                continue
            if char >= 0x40:
                return key_ansi(n, char)
        return ESC

    def _rest_of_utf8(self, first: int) -> None:
        """A multi-byte character is one key (its first byte, as iPXE sees it)."""
        more = 3 if first >= 0xF0 else 2 if first >= 0xE0 else 1
        for _ in range(more):
            if self.byte(SEQUENCE_TIMEOUT) is None:
                return


def _write(shell: Shell, text: str) -> None:
    shell.out.write(text)
    shell.out.flush()


def _clear(shell: Shell, text: str) -> None:
    """Take the prompt text away: backspaces on a terminal, the end of the line elsewhere."""
    if not text:
        return
    if is_terminal(shell.out):
        _write(shell, "\b \b" * len(text))
    else:
        _write(shell, "\n")


# -- prompt ------------------------------------------------------------------------------------


def prompt(inv: Invocation) -> int:
    shell = inv.shell
    key_text = inv.value("key")
    wanted = parse_key(key_text) if key_text is not None else 0
    timeout = parse_timeout(inv.value("timeout") or "0")
    text = " ".join(inv.args)
    stdin = console()
    _write(shell, text)
    if not is_terminal(stdin):
        if timeout is None:
            _clear(shell, text)
            shell.print(f"No terminal to read a key from: {strerror(ENOTTY_PROMPT)}")
            return ENOTTY_PROMPT
        try:
            time.sleep(timeout)
        except KeyboardInterrupt:
            _clear(shell, text)
            return ECANCELED_PROMPT
        _clear(shell, text)
        return ETIMEDOUT_PROMPT
    try:
        with RawTerminal(stdin.fileno()) as term:
            key = term.key(timeout)
    except (KeyboardInterrupt, EOFError):  # a signal, or the terminal went away
        _clear(shell, text)
        return ECANCELED_PROMPT
    _clear(shell, text)
    if key is None:
        return ETIMEDOUT_PROMPT
    if wanted and key != wanted:
        return ECANCELED_PROMPT
    return 0


# -- read --------------------------------------------------------------------------------------

BACKSPACES = (0x08, 0x7F)
CTRL_U = 0x15


def edit_line(
    term: RawTerminal, write: Callable[[str], None], prefill: str, timeout: float | None
) -> str:
    """iPXE's ``readline_history`` without history: the prefill shown and editable, the
    timeout applying to the first key only. Raises TimeoutError or KeyboardInterrupt."""
    line = list(prefill)
    write(prefill)
    while True:
        key = term.key(timeout)
        if key is None:
            raise TimeoutError
        timeout = None
        if key in (0x0D, 0x0A):
            return "".join(line)
        if key == CTRL_C:
            raise KeyboardInterrupt
        if key in BACKSPACES:
            if line:
                line.pop()
                write("\b \b")
        elif key == CTRL_U:
            write("\b \b" * len(line))
            line.clear()
        elif 0x20 <= key < 0x7F:
            line.append(chr(key))
            write(chr(key))
        # other keys (arrows, function keys, non-ASCII) are ignored


def read(inv: Invocation) -> int:
    shell = inv.shell
    timeout = parse_timeout(inv.value("timeout") or "0")
    name = inv.args[0]
    try:
        named = shell.settings.parse(name, create=True)
    except SettingsError as exc:
        shell.print(f'"{name}": invalid setting')
        return exc.errno
    stdin = console()
    if is_terminal(stdin):
        try:
            existing = shell.settings.fetch(named).format()
        except SettingsError:
            existing = ""  # iPXE: an error reads as an empty initial value
        try:
            with RawTerminal(stdin.fileno()) as term:
                value = edit_line(term, lambda s: _write(shell, s), existing, timeout)
        except TimeoutError:
            shell.print()
            return ETIMEDOUT_READ
        except (KeyboardInterrupt, EOFError):
            shell.print()
            return ECANCELED_READ
        shell.print()
    else:
        try:
            got = stdin.readline()
        except (OSError, ValueError):
            got = ""
        if not got:
            shell.print(f"No input to read: {strerror(ENOTTY_READ)}")
            return ENOTTY_READ
        value = got.rstrip("\n").removesuffix("\r")
    try:
        shell.settings.store(named, value or None)
    except SettingsError as exc:
        shell.print(f'Could not store "{named.setting.name}": {exc}')
        return exc.errno
    return 0


# -- login -------------------------------------------------------------------------------------


def ask_credentials(
    shell: Shell,
    *,
    input: Input | None = None,
    output: Output | None = None,
) -> tuple[str, str]:
    """iPXE's ``login_ui``: a form with no title, the inputs "Username" and "Password" (secret),
    prefilled with the settings' values; Enter, Enter saves, Ctrl-X saves at once. Raises
    KeyboardInterrupt when cancelled (Esc, Ctrl-C)."""
    from bootsh.api import FormCancelled, FormState, Menu, MenuItem, run_form

    settings = shell.settings
    form = Menu(
        None,
        "",
        [MenuItem("username", "Username"), MenuItem("password", "Password", secret=True)],
    )
    values = {name: settings.get(name) or "" for name in ("username", "password")}
    entered: dict[str, str] = {}

    def keep(name: str, value: str) -> str:  # strings: nothing to refuse
        entered[name] = value
        return ""

    state = FormState.of(form, values, keep)
    try:
        run_form(state, input=input, output=output, color=not os.environ.get("NO_COLOR"))
    except FormCancelled:
        raise KeyboardInterrupt from None
    return entered["username"], entered["password"]


def login(inv: Invocation) -> int:
    shell = inv.shell
    stdin = console()
    if not (is_terminal(stdin) and is_terminal(shell.out)):
        shell.print(f"Could not set credentials: No terminal: {strerror(ENOTTY_LOGIN)}")
        return ENOTTY_LOGIN
    return store_credentials(shell, ask_credentials)


def store_credentials(shell: Shell, ask: Callable[[Shell], tuple[str, str]]) -> int:
    try:
        username, password = ask(shell)
    except (KeyboardInterrupt, EOFError):
        shell.print(f"Could not set credentials: {strerror(ECANCELED_LOGIN)}")
        return ECANCELED_LOGIN
    for name, value in (("username", username), ("password", password)):
        try:
            shell.settings.store(shell.settings.parse(name, create=True), value or None)
        except SettingsError as exc:
            shell.print(f"Could not set credentials: {exc}")
            return exc.errno
    return 0


# -- shell -------------------------------------------------------------------------------------


def shell_(inv: Invocation) -> int:
    from bootsh.api import interact

    shell = inv.shell
    requested = shell.exit_requested
    shell.status = 0
    try:
        interact(shell, console())
    except (OSError, ValueError) as exc:  # no readable console at all
        shell.diagnose(f"shell: cannot read the console: {exc}")
    finally:
        shell.exit_requested = requested  # the nested shell's exit leaves it, not bootsh
    return shell.status


COMMANDS = (
    Command(
        "prompt",
        prompt,
        "wait for a key",
        args="[<text>]",
        options=(
            Option("key", "k", metavar="key", help="the key to wait for"),
            Option("timeout", "t", metavar="timeout", help="give up after this many ms"),
        ),
        max_args=None,
    ),
    Command(
        "read",
        read,
        "read a setting from the console",
        args="<setting>",
        options=(Option("timeout", "t", metavar="timeout", help="give up after this many ms"),),
        min_args=1,
        max_args=1,
    ),
    Command("login", login, "ask for a username and a password"),
    Command("shell", shell_, "start the interactive shell"),
)
