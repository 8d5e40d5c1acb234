"""Forms (``form``, ``item --form/--secret``, ``present``): the model of
``bootsh.console.form`` and the full-screen UI driven through prompt_toolkit's pipe input
(keys are queued before ``present`` runs: the application reads them once it is up). The
differential corpus (tests/differential/cases/forms/) checks the same against the real iPXE."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput

from bootsh import ipxe_errors as E
from bootsh.console.form import FormState, NoInputs
from bootsh.console.menu import Menu, MenuItem, menus_of
from bootsh.plugins import PluginHost
from bootsh.shell import Shell
from bootsh_ipxe_cmds import menu_cmds
from tests.helpers import make_shell, run_cli


def sample() -> Menu:
    return Menu(
        None,
        "Login",
        [
            MenuItem(None, "Please log in"),
            MenuItem("user", "User name"),
            MenuItem("pass", "Password", secret=True),
            MenuItem("n:int8", "A number", default=True),
        ],
    )


def test_the_default_input_is_selected_and_labels_are_skipped() -> None:
    state = FormState.of(sample(), {"user": "alice"})
    assert state.current == 3  # the --default input
    state.move(-1)
    assert state.control.name == "pass"
    state.move(-5)
    assert state.control.name == "user"  # stops at the first input, never on the label
    state.move(-1)
    assert state.control.name == "user"
    assert state.controls[1].value == "alice" and state.controls[1].cursor == 5
    with pytest.raises(NoInputs):
        FormState.of(Menu(None, "t", [MenuItem(None, "only a label")]), {})


def test_editing() -> None:
    state = FormState.of(sample(), {"user": "bob"})
    state.first()
    state.insert("by")
    state.left()
    state.left()
    state.backspace()
    state.right()
    state.delete()
    # bob|by -> bo|by (backspace at 3) -> bob|y -> bob
    assert (state.control.value, state.control.cursor) == ("bob", 3)


def test_enter_moves_on_then_saves_and_errors_keep_the_form() -> None:
    saved: dict[str, str] = {}

    def saver(name: str, value: str) -> str:
        if name == "n:int8" and not value.lstrip("-").isdigit():
            return "Invalid argument (https://ipxe.org/1c0c2016)"
        saved[name] = value
        return ""

    state = FormState.of(sample(), {}, saver)
    state.first()
    state.insert("carol")
    state.enter()
    assert state.control.name == "pass" and not state.done
    state.enter()
    state.insert("x")
    state.enter()  # the last input: save; the number is refused
    assert not state.done and state.control.error.startswith("Invalid argument")
    state.backspace()
    state.insert("7")
    state.enter()  # on the refused input: save again
    assert state.done
    assert saved == {"user": "carol", "pass": "", "n:int8": "7"}


@pytest.fixture
def pipe() -> Iterator[PipeInput]:
    with create_pipe_input() as inp:
        yield inp


@pytest.fixture
def shell(host: PluginHost, pipe: PipeInput, monkeypatch: pytest.MonkeyPatch) -> Shell:
    monkeypatch.setattr(menu_cmds, "terminal_io", lambda shell: (pipe, DummyOutput()))
    return make_shell(host)


def define(shell: Shell) -> None:
    for line in (
        "set user alice",
        "form Login",
        "item user User name",
        "item --secret pass Password",
        "item n:int8 A number",
    ):
        assert shell.run_line(line) == 0


def test_present_saves_what_was_typed(shell: Shell, pipe: PipeInput) -> None:
    define(shell)
    pipe.send_text("X\rsecret\r12\r")
    assert shell.run_line("present") == 0
    assert (shell.lookup("user"), shell.lookup("pass"), shell.lookup("n")) == (
        "aliceX",
        "secret",
        "12",
    )
    assert menus_of(shell).find(None) is None  # destroyed without --keep


def test_ctrl_x_saves_at_once_and_escape_discards(shell: Shell, pipe: PipeInput) -> None:
    define(shell)
    pipe.send_text("Y\x18")
    assert shell.run_line("present --keep") == 0
    assert shell.lookup("user") == "aliceY"
    pipe.send_text("Z\x1b")
    assert shell.run_line("present") == menu_cmds.ECANCELED_FORM
    assert shell.lookup("user") == "aliceY"
    assert E.strerror(menu_cmds.ECANCELED_FORM).startswith("Operation canceled")


def test_a_refused_value_keeps_the_form_until_fixed(shell: Shell, pipe: PipeInput) -> None:
    define(shell)
    pipe.send_text("\x1b[B\x1b[Bzz\x18\x08\x087\x18")
    assert shell.run_line("present") == 0
    assert shell.lookup("n") == "7"


def test_present_without_a_terminal_fails_at_once() -> None:
    status, out, err = run_cli("form F", "item x X", "present || echo ${errno}")
    assert status == 0
    assert out == f"{menu_cmds.ENOTTY_FORM:#x}\n"
    assert "no terminal to show the form 'F' on" in err


def test_form_errors_are_ipxes() -> None:
    assert run_cli("present")[1] == "No default user interface\n"
    assert run_cli("present -f x")[1] == '"x": no such user interface\n'
    status, out, _ = run_cli("form", "item --gap label", "present || echo ${errno}")
    assert out == "0x1c63e016\n"  # EINVAL of form_ui.c: no inputs
    # --menu and --form name the same thing; the last one given wins.
    status, out, _ = run_cli("form --name f", "item --menu nosuch --form f x X", "echo ok")
    assert (status, out) == (0, "ok\n")
