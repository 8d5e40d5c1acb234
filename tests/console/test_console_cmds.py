"""The console commands (``prompt``, ``read``, ``login``, ``shell``) and ``help``.

Batch behaviour runs through ``bootsh.cli.main`` with ``sys.stdin`` replaced (no terminal:
nothing may block, every wait is bounded); real-terminal key reading runs on a pty
(``os.openpty``), keys written to its master side; ``login`` runs through prompt_toolkit's
pipe input; one check drives ``prompt`` in tmux.
"""

from __future__ import annotations

import io
import os
import shlex
import shutil
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prompt_toolkit.data_structures import Size
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output.vt100 import Vt100_Output

from bootsh import ipxe_errors as E
from bootsh.cli import main
from bootsh.plugins import PluginHost, make_plugin_manager
from bootsh.shell import Shell
from bootsh_ipxe_cmds import console_cmds as C
from bootsh_ipxe_cmds.flow import terminal_width
from tests.helpers import MACHINE, ROOT, Tmux, make_shell


def run(
    monkeypatch: pytest.MonkeyPatch, lines: list[str], console: str = ""
) -> tuple[int, str, str]:
    """``bootsh -c LINE...`` with ``console`` as a console that is no terminal."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(console))
    out, err = io.StringIO(), io.StringIO()
    argv = ["--machine", str(MACHINE)]
    for line in lines:
        argv += ["-c", line]
    status = main(argv, env={"HOME": "/nonexistent"}, stdin=io.StringIO(), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


# -- batch: no terminal, nothing blocks --------------------------------------------------------


def test_prompt_without_a_terminal_waits_for_its_timeout_and_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    start = time.monotonic()
    status, out, _ = run(monkeypatch, ["prompt -t 150 Press a key || echo ${errno}"])
    took = time.monotonic() - start
    assert status == 0
    # the text, then the line ended (no backspaces when piped), then the status
    assert out == f"Press a key\n0x{C.ETIMEDOUT_PROMPT:x}\n"
    assert 0.15 <= took < 5
    assert strerror_text(C.ETIMEDOUT_PROMPT).startswith("Connection timed out")


def strerror_text(number: int) -> str:
    return E.strerror(number)


def test_prompt_without_a_terminal_and_without_a_timeout_fails_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    start = time.monotonic()
    status, out, err = run(monkeypatch, ["prompt", "echo not reached"])
    assert time.monotonic() - start < 5
    assert status == 1
    assert out == "No terminal to read a key from: " + E.strerror(C.ENOTTY_PROMPT) + "\n"
    assert "-c:1: failed: prompt" in err


def test_prompt_options_are_ipxes(monkeypatch: pytest.MonkeyPatch) -> None:
    status, out, _ = run(monkeypatch, ["prompt --key"])
    assert status == 1 and out.startswith('Option "key" requires an argument')
    status, out, _ = run(monkeypatch, ["prompt --key qq -t 1 x"])
    assert status == 1 and '"qq": invalid integer value' in out
    assert C.parse_key("q") == ord("q")
    assert C.parse_key("0x197e") == C.key_ansi(24, ord("~"))  # F12
    assert C.parse_key("2") == ord("2")  # one character is the character


def test_read_takes_a_line_from_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    status, out, _ = run(
        monkeypatch,
        ["read filename", "read n:int32", "echo ${filename} ${n} ${n:hex}"],
        console="boot file.efi\r\n-5\n",
    )
    assert (status, out) == (0, "boot file.efi -5 ff:ff:ff:fb\n")


def test_read_at_the_end_of_input_fails_cleanly(monkeypatch: pytest.MonkeyPatch) -> None:
    status, out, err = run(monkeypatch, ["set x keep", "read x", "echo not reached"])
    assert status == 1
    assert out == "No input to read: " + E.strerror(C.ENOTTY_READ) + "\n"
    assert "-c:2: failed: read x" in err
    status, out, _ = run(monkeypatch, ["read x || echo ${x}"], console="")
    assert out.endswith("\n\n")  # x was not set


def test_read_an_empty_line_deletes_and_a_bad_value_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    status, out, _ = run(
        monkeypatch, ["set x 1", "read x", "isset ${x} || echo gone"], console="\n"
    )
    assert (status, out) == (0, "gone\n")
    status, out, _ = run(monkeypatch, ["read ip:ipv4"], console="not-an-ip\n")
    assert status == 1 and out.startswith('Could not store "ip": ')


def test_login_without_a_terminal_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    status, out, _ = run(monkeypatch, ["login"])
    assert status == 1
    assert out == "Could not set credentials: No terminal: " + E.strerror(C.ENOTTY_LOGIN) + "\n"


def test_shell_runs_the_console_until_exit_and_returns_its_status(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    status, out, _ = run(
        monkeypatch,
        ["echo before", "shell || echo shell said ${errno}", "echo after"],
        console="echo inner\nexit 3\necho never\n",
    )
    assert status == 0, out
    assert out == "before\nbootsh> inner\nbootsh> shell said 0x3\nafter\n"
    # the end of the console leaves the nested shell too; a plain exit is a success
    status, out, _ = run(monkeypatch, ["shell", "echo after"], console="echo inner\n")
    assert (status, out) == (0, "bootsh> inner\nbootsh> \nafter\n")


# -- help --------------------------------------------------------------------------------------


def test_help_cmd_shows_the_record_and_help_ignores_other_arguments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    status, out, _ = run(monkeypatch, ["help prompt"])
    assert status == 0
    assert out == (
        "prompt: wait for a key\nUsage:\n\n"
        "  prompt [-k|--key <key>] [-t|--timeout <timeout>] [<text>]\n\n"
        "See https://ipxe.org/cmd/prompt for further information\n"
    )
    status, out, _ = run(monkeypatch, ["help read --help"])
    assert out.startswith("\nAvailable commands:\n\n")  # iPXE: the arguments are ignored
    assert "\x1b" not in out


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_help_follows_the_terminal_width(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert terminal_width(io.StringIO()) == 80
    monkeypatch.setenv("COLUMNS", "40")
    assert terminal_width(FakeTerminal()) == 40
    shell = make_shell(make_plugin_manager(report=lambda line: None))
    shell.out = FakeTerminal()
    assert shell.run_line("help") == 0
    rows = shell.out.getvalue().splitlines()[3:-3]
    assert rows and all(len(row.rstrip()) <= 40 for row in rows), rows
    narrow = len(rows)
    monkeypatch.setenv("COLUMNS", "80")
    shell.out = FakeTerminal()
    shell.run_line("help")
    assert len(shell.out.getvalue().splitlines()[3:-3]) < narrow


# -- a real terminal: a pty --------------------------------------------------------------------


class Pty:
    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        self.console = open(self.slave, encoding="utf-8", closefd=False)  # noqa: SIM115

    def type_later(self, data: bytes, delay: float = 0.15) -> threading.Thread:
        """Keys typed once the command waits for them (after it switched to raw mode)."""

        def type_() -> None:
            time.sleep(delay)
            os.write(self.master, data)

        thread = threading.Thread(target=type_, daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        self.console.close()
        os.close(self.slave)
        os.close(self.master)


@pytest.fixture
def pty(monkeypatch: pytest.MonkeyPatch) -> Iterator[Pty]:
    p = Pty()
    monkeypatch.setattr(sys, "stdin", p.console)
    yield p
    p.close()


def run_on(shell: Shell, pty: Pty, line: str, keys: bytes | None) -> tuple[int, float]:
    before = termios.tcgetattr(pty.slave)
    typist = pty.type_later(keys) if keys is not None else None
    start = time.monotonic()
    status = shell.run_line(line)
    took = time.monotonic() - start
    if typist is not None:
        typist.join(5)
    assert termios.tcgetattr(pty.slave) == before, "the terminal was not restored"
    return status, took


@pytest.mark.parametrize(
    ("line", "keys", "status"),
    [
        ("prompt Press any key", b"x", 0),
        ("prompt --key q Press q", b"q", 0),
        ("prompt --key q Press q", b"x", C.ECANCELED_PROMPT),
        ("prompt --key 0x197e -t 5000 F12?", b"\x1b[24~", 0),  # F12
        ("prompt --key 0x197e -t 5000 F12?", b"\x1b[A", C.ECANCELED_PROMPT),  # up
        ("prompt --key 0x02 Ctrl-B", b"\x02", 0),
        ("prompt --key 0x03 Ctrl-C", b"\x03", 0),  # raw: Ctrl-C is a key, as in iPXE
        ("prompt -t 100 nobody", None, C.ETIMEDOUT_PROMPT),
    ],
)
def test_prompt_reads_one_key_from_the_terminal(
    host: PluginHost, pty: Pty, line: str, keys: bytes | None, status: int
) -> None:
    shell = make_shell(host)
    got, took = run_on(shell, pty, line, keys)
    assert got == status
    assert took < 5
    text = line.split(" ", 1)[1].split()[-1]
    assert isinstance(shell.out, io.StringIO)
    assert shell.out.getvalue().endswith(text + "\n")  # not a terminal: ended, no \b
    assert "\b" not in shell.out.getvalue()


def test_prompt_clears_its_text_with_backspaces_on_a_terminal(host: PluginHost, pty: Pty) -> None:
    shell = make_shell(host)
    shell.out = FakeTerminal()
    assert run_on(shell, pty, "prompt Hi", b" ")[0] == 0
    assert shell.out.getvalue() == "Hi" + "\b \b" * 2


def test_read_edits_the_current_value_on_the_terminal(host: PluginHost, pty: Pty) -> None:
    shell = make_shell(host)
    shell.run_line("set cmdline console=tty0")
    status, _ = run_on(shell, pty, "read cmdline", b"\x7fS0 quiet\x1b[D\r")
    assert status == 0
    assert shell.settings.get("cmdline") == "console=ttyS0 quiet"
    assert isinstance(shell.out, io.StringIO)
    assert shell.out.getvalue().startswith("console=tty0\b \b")


def test_read_ctrl_c_cancels_and_a_timeout_fails(host: PluginHost, pty: Pty) -> None:
    shell = make_shell(host)
    shell.run_line("set x old")
    assert run_on(shell, pty, "read x", b"new\x03")[0] == C.ECANCELED_READ
    assert shell.settings.get("x") == "old"
    assert E.strerror(C.ECANCELED_READ).startswith("Operation canceled")
    status, took = run_on(shell, pty, "read -t 100 x", None)
    assert status == C.ETIMEDOUT_READ and took < 5
    # the timeout is for the first key only (iPXE's readline)
    later = pty.type_later(b"b\r", delay=0.5)
    assert run_on(shell, pty, "read -t 300 x", b"a")[0] == 0
    later.join(5)
    assert shell.settings.get("x") == "oldab"  # prefilled with the value


# -- login: prompt_toolkit's pipe input ----------------------------------------------------------


def test_login_stores_username_and_hides_the_password(host: PluginHost) -> None:
    shell = make_shell(host)
    screen = io.StringIO()
    output = Vt100_Output(screen, lambda: Size(rows=24, columns=80), term="xterm")
    with create_pipe_input() as pipe:
        # iPXE's login form: Enter moves to the password, Enter on the last input saves.
        pipe.send_text("alice\r")
        pipe.send_text("s3cret\r")
        status = C.store_credentials(
            shell, lambda sh: C.ask_credentials(sh, input=pipe, output=output)
        )
    assert status == 0
    assert shell.settings.get("username") == "alice"
    assert shell.settings.get("password") == "s3cret"
    shown = screen.getvalue()
    assert "alice" in shown and "Password" in shown
    assert "s3cret" not in shown and "******" in shown


def test_login_cancelled_stores_nothing(host: PluginHost) -> None:
    shell = make_shell(host)
    screen = io.StringIO()
    output = Vt100_Output(screen, lambda: Size(rows=24, columns=80), term="xterm")
    with create_pipe_input() as pipe:
        pipe.send_text("bob\x03")
        status = C.store_credentials(
            shell, lambda sh: C.ask_credentials(sh, input=pipe, output=output)
        )
    assert status == C.ECANCELED_LOGIN
    assert shell.settings.get("username") is None
    assert isinstance(shell.out, io.StringIO)
    assert shell.out.getvalue() == (
        "Could not set credentials: " + E.strerror(C.ECANCELED_LOGIN) + "\n"
    )


# -- tmux: prompt and a key on a real terminal ---------------------------------------------------


def test_prompt_and_a_key_in_tmux(tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    tmux = Tmux(tmp_path)
    script = "prompt --key q Press q to go && echo WENT || echo STAYED"
    bootsh = [sys.executable, "-m", "bootsh", "--machine", str(MACHINE), "-c", script]
    env = f"env PYTHONPATH={shlex.quote(str(ROOT))} HOME={shlex.quote(str(tmp_path))} TERM=screen"
    try:
        tmux(
            "new-session", "-d", "-s", tmux.session, "-x", "80", "-y", "10", "-c", str(ROOT),
            f"{env} {shlex.join(bootsh)}; sleep 300",
        )  # fmt: skip
        tmux.wait(lambda lines: lines == ["Press q to go"], "the prompt")
        tmux.keys("q")
        tmux.wait(lambda lines: "WENT" in lines, "the key's success")
        assert tmux.lines()[0] == "WENT"  # the text was cleared
    finally:
        subprocess.run(
            ["tmux", "-S", str(tmux.socket), "kill-server"],
            capture_output=True,
            timeout=30,
            check=False,
        )
