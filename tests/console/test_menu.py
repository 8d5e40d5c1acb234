"""Menus (``menu``, ``item``, ``choose``): the model, batch runs and the full-screen UI.

Batch behaviour runs through ``bootsh.cli.main`` (no terminal: ``choose`` waits for its
timeout and takes the default, or fails at once without one); the UI runs through
prompt_toolkit's pipe input and ``DummyOutput``, the menu in a thread, keys sent once the
application is running.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prompt_toolkit.application import get_app_or_none
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput

from bootsh import ipxe_errors as E
from bootsh.cli import main
from bootsh.config import Choices, merge
from bootsh.console.menu import (
    Cancelled,
    Menu,
    MenuItem,
    MenuState,
    NoChoice,
    first_selection,
    menus_of,
    run_menu,
)
from bootsh.context import Context
from bootsh.plugins import PluginHost, make_plugin_manager
from bootsh.shell import Shell
from bootsh_ipxe_cmds import menu_cmds

ROOT = Path(__file__).resolve().parents[2]
MACHINE = ROOT / "examples" / "machines" / "xen-hvm"
SCRIPT = ROOT / "examples" / "scripts" / "menu.ipxe"


def run(*lines: str, args: list[str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    argv = ["--machine", str(MACHINE)]
    for line in lines:
        argv += ["-c", line]
    status = main(argv + (args or []), env={}, stdin=io.StringIO(""), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return make_plugin_manager(report=lambda line: None)


@pytest.fixture
def shell(host: PluginHost) -> Shell:
    config = merge(Choices(machine=MACHINE), {})
    err = io.StringIO()
    return Shell(host, Context(config, stderr=err), out=io.StringIO(), err=err)


def sample() -> Menu:
    return Menu(
        None,
        "Boot",
        [
            MenuItem(None, "-- systems --"),
            MenuItem("a", "Alpha", ord("x")),
            MenuItem("b", "Beta", default=True),
            MenuItem(None, "-- tools --", ord("g")),
            MenuItem("c", "Gamma", ord("c")),
        ],
    )


# -- the model ----------------------------------------------------------------------------


def test_first_selection_select_then_default_then_first_named() -> None:
    menu = sample()
    assert first_selection(menu, None) == 2  # the --default item
    assert first_selection(menu, "c") == 4  # choose --default wins
    assert first_selection(menu, "nosuch") == 1  # iPXE: the first named item, not the default
    menu.items[2].default = False
    assert first_selection(menu, None) == 1
    with pytest.raises(NoChoice):
        first_selection(Menu(None, "", [MenuItem(None, "gap")]), None)


def test_moves_skip_gaps_and_stop_at_the_ends() -> None:
    state = MenuState(sample())
    state.move(1)
    assert state.item.label == "c"  # over the gap
    state.move(1)
    assert state.item.label == "c"  # no wrapping: past the end, back to the last item
    state.move(-1)
    state.move(-1)
    assert state.item.label == "a"
    state.move(-1)
    assert state.item.label == "a"  # the leading gap: back down to the first item
    state.end()
    assert state.item.label == "c"
    state.home()
    assert state.item.label == "a"
    state.page_down()
    assert state.item.label == "c"
    state.page_up()
    assert state.item.label == "a"


def test_hot_keys_choose_labels_and_pass_gaps() -> None:
    state = MenuState(sample())
    assert state.hot_key(ord("g")) is False
    assert state.item.label == "c"  # the gap's key selects the next item
    assert state.hot_key(ord("x")) is True
    assert state.item.label == "a"
    assert state.hot_key(ord("q")) is False


def test_scrolling_keeps_the_selection_shown() -> None:
    menu = Menu(None, "many", [MenuItem(str(i), f"item {i}") for i in range(10)])
    state = MenuState(menu, rows=4)
    assert [i for i, _ in state.visible()] == [0, 1, 2, 3]
    state.page_down()
    assert state.current == 4 and [i for i, _ in state.visible()] == [4, 5, 6, 7]
    state.page_up()
    assert state.current == 3 and [i for i, _ in state.visible()] == [0, 1, 2, 3]
    state.end()
    assert [i for i, _ in state.visible()] == [8, 9]


def test_countdown_rounds_up_and_any_key_cancels() -> None:
    state = MenuState(sample(), timeout=2.5)
    assert state.deadline is not None
    assert state.countdown(now=state.deadline - 2.5) == 3
    assert state.countdown(now=state.deadline - 0.2) == 1
    state.cancel_timeout()
    assert state.countdown() is None


def test_menus_live_in_the_shell(shell: Shell, host: PluginHost) -> None:
    shell.run_line("menu --name m Title words")
    menus = menus_of(shell)
    assert menus is menus_of(shell)
    menu = menus.find("m")
    assert menu is not None and menu.title == "Title words"
    shell.run_line("item -m m -k x -d one The first")
    shell.run_line("item -m m --gap -- a gap")
    shell.run_line("item -m m")
    assert menu.items == [
        MenuItem("one", "The first", ord("x"), True),
        MenuItem(None, "a gap"),
        MenuItem(None, ""),
    ]
    other = Shell(host, shell.context, out=io.StringIO(), err=io.StringIO())
    assert menus_of(other).find("m") is None  # no global state
    shell.run_line("menu --name m again")
    assert menus.find("m") is not menu  # a menu of the same name is replaced
    assert shell.run_line("menu --name m --delete") == 0
    assert menus.find("m") is None


# -- through the command line, without a terminal ---------------------------------------


def test_item_and_choose_need_the_menu() -> None:
    status, out, _ = run("item a A")
    assert status == 1 and out == "No default user interface\n"
    status, out, _ = run("menu", "item --menu x a A")
    assert status == 1 and out == '"x": no such user interface\n'
    status, out, _ = run("choose -m nosuch x")
    assert out == '"nosuch": no such user interface\n'


def test_choose_without_a_terminal_or_timeout_fails_at_once() -> None:
    start = time.monotonic()
    status, out, err = run("menu Pick", "item a Alpha", "choose x || echo ${errno}")
    assert time.monotonic() - start < 5
    assert status == 0
    assert "no terminal" in err and "--timeout" in err
    assert out == f"0x{menu_cmds.ENOTTY_MENU:x}\n"


def test_choose_without_a_terminal_takes_the_default_after_the_timeout() -> None:
    start = time.monotonic()
    status, out, _ = run(
        "menu Pick",
        "item a Alpha",
        "item -d b Beta",
        "choose -t 300 x && echo ${x}",
        "choose x || echo freed",
    )
    took = time.monotonic() - start
    assert status == 0 and out == "b\nNo default user interface\nfreed\n"  # the menu was freed
    assert took >= 0.3


def test_choose_default_option_keep_and_typed_setting() -> None:
    status, out, _ = run(
        "menu --name m Pick",
        "item -m m a Alpha",
        "item -m m -d b Beta",
        "item -m m c Gamma",
        "choose -m m -d c -t 100 --keep x",
        "choose -m m -t 100 y:string",
        "echo ${x} ${y}",
    )
    assert status == 0 and out == "c b\n"


def test_choose_of_a_menu_of_gaps_fails_and_frees_it() -> None:
    status, out, _ = run(
        "menu", "item -g only a gap", "choose -t 10 x || echo ${errno}", "choose x"
    )
    assert status == 1
    assert out.splitlines() == [f"0x{menu_cmds.ENOENT_NO_ITEMS:x}", "No default user interface"]


def test_usage_and_bad_arguments() -> None:
    status, out, _ = run("choose")
    assert status == 1 and out.startswith("Usage:\n\n  choose [-m|--menu <menu>]")
    status, out, _ = run("menu", "item a A", "choose -t soon x")
    assert status == 1 and out == '"soon": invalid integer value\n'
    status, out, _ = run("menu", "item -k toolong a A")
    assert out == '"toolong": invalid integer value\n'
    status, out, _ = run("menu", "item -k 0x41 a A", "choose --help")
    assert out.startswith("Usage:")


def test_the_shipped_menu_script_takes_its_default_in_batch() -> None:
    out, err = io.StringIO(), io.StringIO()
    start = time.monotonic()
    status = main(
        ["--machine", str(MACHINE), str(SCRIPT), "300"],
        env={},
        stdin=io.StringIO(""),
        stdout=out,
        stderr=err,
    )
    assert time.monotonic() - start >= 0.3
    assert (status, out.getvalue()) == (0, "chose rescue\n"), err.getvalue()


# -- the full-screen UI through prompt_toolkit's pipe input --------------------------------


@pytest.fixture
def pipe() -> Iterator[PipeInput]:
    with create_pipe_input() as inp:
        yield inp


class Running:
    """``run_menu`` in a thread; its result or exception once it ends."""

    def __init__(self, menu: Menu, inp: PipeInput, **kwargs: object) -> None:
        self.result: MenuItem | BaseException | None = None
        self.app_seen = threading.Event()

        def target() -> None:
            try:
                self.result = run_menu(
                    menu,
                    input=inp,
                    output=DummyOutput(),
                    **kwargs,  # type: ignore[arg-type]
                )
            except BaseException as exc:
                self.result = exc

        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()

    def outcome(self, timeout: float = 10) -> MenuItem | BaseException | None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the menu did not end"
        return self.result


def settle() -> None:
    # The application reads the pipe once running; keys sent before are read then too.
    time.sleep(0.1)


def test_ui_down_and_enter_choose_the_next_item(pipe: PipeInput) -> None:
    running = Running(sample(), pipe)
    settle()
    pipe.send_text("\x1b[B")  # Down: from the default (b) over the gap to c
    pipe.send_text("\r")
    got = running.outcome()
    assert isinstance(got, MenuItem) and got.label == "c"


def test_ui_hot_key_chooses_at_once(pipe: PipeInput) -> None:
    running = Running(sample(), pipe)
    settle()
    pipe.send_text("x")
    got = running.outcome()
    assert isinstance(got, MenuItem) and got.label == "a"


def test_ui_escape_cancels(pipe: PipeInput) -> None:
    running = Running(sample(), pipe)
    settle()
    pipe.send_text("\x1b")
    assert isinstance(running.outcome(), Cancelled)


def test_ui_timeout_takes_the_default_and_a_key_stops_it(pipe: PipeInput) -> None:
    start = time.monotonic()
    got = Running(sample(), pipe, timeout=0.3).outcome()
    assert isinstance(got, MenuItem) and got.label == "b"
    assert 0.3 <= time.monotonic() - start < 5

    with create_pipe_input() as other:
        running = Running(sample(), other, timeout=0.3)
        settle()
        other.send_text("\x1b[A")  # Up: the timeout is cancelled
        time.sleep(0.5)
        assert running.thread.is_alive()
        other.send_text("\r")
        got = running.outcome()
        assert isinstance(got, MenuItem) and got.label == "a"


def test_choose_drives_the_ui_on_a_terminal(
    shell: Shell, pipe: PipeInput, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(menu_cmds, "terminal_io", lambda shell: (pipe, DummyOutput()))
    for line in ("menu Pick", "item a Alpha", "item -d b Beta", "item c Gamma"):
        assert shell.run_line(line) == 0
    pipe.send_text("\x1b[B\r")
    assert shell.run_line("choose x") == 0
    assert shell.lookup("x") == "c"
    assert menus_of(shell).find(None) is None  # freed

    for line in ("menu Pick", "item a Alpha"):
        shell.run_line(line)
    pipe.send_text("\x1b")
    assert shell.run_line("choose --keep x") == menu_cmds.ECANCELED_MENU
    assert menus_of(shell).find(None) is not None  # kept
    assert E.strerror(menu_cmds.ECANCELED_MENU).startswith("Operation canceled")
    assert get_app_or_none() is None
