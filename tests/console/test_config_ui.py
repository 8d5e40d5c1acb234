"""``config``: iPXE's settings editor (bootsh/console/config_ui.py), the model on a real
settings store with the example machine's netdevs, and the command through prompt_toolkit's
pipe input (keys queued before it runs). The differential corpus checks its entry, exit and
errors against the real iPXE."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput

from bootsh.console.config_ui import ConfigState
from bootsh.plugins import PluginHost
from bootsh.shell import Shell
from bootsh_ipxe_cmds import menu_cmds
from bootsh_ipxe_cmds.setting_cmds import EINVAL_SCOPE, ENOTTY_CONFIG
from tests.helpers import make_shell, run_cli


@pytest.fixture
def shell(host: PluginHost) -> Shell:
    return make_shell(host)


def row_index(state: ConfigState, text: str) -> int:
    return [r.text for r in state.rows].index(text)


def test_rows_are_parent_children_then_applicable_settings(shell: Shell) -> None:
    shell.run_line("set hostname box")
    root = shell.settings.find_block("")
    assert root is not None
    state = ConfigState(shell.settings, root)
    texts = [r.text for r in state.rows]
    assert ".." not in texts  # the root has no parent
    assert "net0.." in texts and "builtin.." in texts
    host = state.rows[row_index(state, "hostname")]
    assert (host.value, host.origin) == ("box", root)
    net0 = shell.settings.find_block("net0")
    assert net0 is not None
    state.current = row_index(state, "net0..")
    state.enter()
    assert state.block is net0 and state.rows[0].text == ".."
    mac = state.rows[row_index(state, "mac")]
    assert mac.value == "00:16:3e:5f:48:e4"
    state.current = 0
    state.enter()  # ".." back to the root
    assert state.block is root


def test_editing_stores_refuses_and_discards(shell: Shell) -> None:
    root = shell.settings.find_block("")
    assert root is not None
    state = ConfigState(shell.settings, root)
    state.current = row_index(state, "hostname")
    state.type("my")
    state.type("host")
    assert state.editing and state.edit == "myhost"
    state.enter()
    assert not state.editing and shell.lookup("hostname") == "myhost"
    state.current = row_index(state, "ip")
    state.type("1.2.3")
    state.enter()  # not an IPv4 address: refused, iPXE's text shown
    assert state.alert.strip().startswith("Invalid argument")
    assert shell.lookup("ip") is None
    state.current = row_index(state, "hostname")
    state.type("x")
    state.discard()
    assert shell.lookup("hostname") == "myhost"
    state.delete()  # held by this block: deleted
    assert shell.lookup("hostname") is None


def test_delete_only_where_the_value_lives(shell: Shell) -> None:
    shell.run_line("set net0/hostname inner")
    root = shell.settings.find_block("")
    assert root is not None
    state = ConfigState(shell.settings, root)
    state.current = row_index(state, "hostname")
    assert state.row.value == "inner" and state.row.origin is not root
    state.delete()  # found below, not held here: iPXE offers no Ctrl-D
    assert shell.lookup("net0/hostname") == "inner"


@pytest.fixture
def pipe() -> Iterator[PipeInput]:
    with create_pipe_input() as inp:
        yield inp


def test_config_command_edits_through_the_ui(
    shell: Shell, pipe: PipeInput, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(menu_cmds, "terminal_io", lambda shell: (pipe, DummyOutput()))
    root = shell.settings.find_block("")
    assert root is not None
    downs = row_index(ConfigState(shell.settings, root), "hostname")
    pipe.send_text("\x1b[B" * downs + "edited\r\x18")
    assert shell.run_line("config") == 0
    assert shell.lookup("hostname") == "edited"


def test_config_errors() -> None:
    status, out, _ = run_cli("config nosuch || echo ${errno}")
    assert (status, out) == (0, f'"nosuch": no such scope\n{EINVAL_SCOPE:#x}\n')
    status, out, err = run_cli("config || echo ${errno}")
    assert (status, out) == (0, f"{ENOTTY_CONFIG:#x}\n")
    assert "no terminal to show the settings editor on" in err
    assert run_cli("config a b")[1].splitlines()[2] == "  config [<scope>]"
