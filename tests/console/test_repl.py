"""The interactive shell (bootsh.console.repl) and its completion (bootsh.console.completion).

Completion sources are checked directly through ``get_completions(Document(...),
CompleteEvent())``; the session through prompt_toolkit's pipe input and ``DummyOutput``,
with the REPL in a thread and keys sent in stages (type, Tab, then Enter: completion runs in
a thread of its own), waiting on the session's state rather than sleeping.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import ColorDepth, DummyOutput

from bootsh import ipxe_errors as E
from bootsh.cli import main
from bootsh.console.completion import ShellCompleter, complete
from bootsh.console.repl import INTERRUPTED, PROMPT, Repl, execute, history_path, interact
from bootsh.lang.commands import Command, Invocation, Option
from bootsh.lang.script import parse_script
from bootsh.lang.settings import Settings
from bootsh.plugins import PluginHost
from bootsh.shell import Frame, Shell
from tests.helpers import MACHINE, make_shell

IFSTAT_NET0 = "net0: 00:16:3e:5f:48:e4 using netfront on vif/0 (Ethernet) [closed]"


@pytest.fixture
def shell(host: PluginHost) -> Shell:
    return make_shell(host)


def _nothing(inv: Invocation) -> int:
    return 0


def add_command(shell: Shell, cmd: Command) -> None:
    shell.commands.add(cmd)


def texts(shell: Shell, text: str, labels: Iterable[str] = ()) -> list[str]:
    """What the prompt_toolkit completer offers with the cursor at the end of ``text``."""
    completer = ShellCompleter(shell, labels=lambda: list(labels))
    return [c.text for c in completer.get_completions(Document(text), CompleteEvent())]


# -- completion: command names --------------------------------------------------------------


def test_command_names_at_the_start_of_each_command(shell: Shell) -> None:
    assert texts(shell, "ifs") == ["ifstat"]
    assert "echo" in texts(shell, "") and "sleep" in texts(shell, "")
    for before in ("echo a ; ", "isset x || ", "isset x && ", "echo a;x || echo b && "):
        assert texts(shell, before + "ifs") == ["ifstat"], before
    # after a label, the command follows
    assert texts(shell, ":retry ifs") == ["ifstat"]
    assert texts(shell, "  :retry   ec") == ["echo"]


def test_command_names_include_aliases_with_their_target(shell: Shell) -> None:
    # The real imgfetch (ipxe_cmds' image commands), with iPXE's aliases module and initrd.
    completer = ShellCompleter(shell)
    got = {
        c.text: c.display_meta_text
        for c in completer.get_completions(Document("i"), CompleteEvent())
    }
    assert got["imgfetch"] == shell.commands.commands["imgfetch"].summary
    assert got["initrd"] == "alias of imgfetch"
    assert texts(shell, "mod") == ["module"]


def test_completion_replaces_only_the_current_word(shell: Shell) -> None:
    completer = ShellCompleter(shell)
    [c] = completer.get_completions(Document("echo a ; ifs"), CompleteEvent())
    assert (c.text, c.start_position) == ("ifstat", -3)
    doc = Document("echo ${f", cursor_position=len("echo ${f"))
    assert all(c.start_position == -1 for c in completer.get_completions(doc, CompleteEvent()))


def test_nothing_inside_a_comment_or_a_label_or_for_an_unknown_command(shell: Shell) -> None:
    assert texts(shell, "echo # if") == []
    assert texts(shell, "#if") == []
    assert texts(shell, ":ret") == []
    assert texts(shell, "nosuch ") == []
    assert texts(shell, "echo ") == []  # echo's arguments are free text


def test_cursor_in_the_middle_completes_what_is_before_it(shell: Shell) -> None:
    completer = ShellCompleter(shell)
    doc = Document("ifs net0", cursor_position=3)
    assert [c.text for c in completer.get_completions(doc, CompleteEvent())] == ["ifstat"]


# -- completion: options --------------------------------------------------------------------


def test_options_of_the_command_and_help(shell: Shell) -> None:
    assert texts(shell, "ifstat -") == ["--all", "--help", "-a", "-h"]
    assert texts(shell, "ifstat --") == ["--all", "--help"]
    assert texts(shell, "ifstat --a") == ["--all"]
    assert texts(shell, "echo -") == ["--help", "--n", "-h", "-n"]


def test_options_stop_at_the_first_argument_as_getopt_does(shell: Shell) -> None:
    # "echo hi -n" prints "hi -n": after an argument, "-x" is no option.
    assert texts(shell, "echo hi -") == []
    assert texts(shell, "ifstat -- -") == []
    assert texts(shell, "ifstat -a -") == ["--all", "--help", "-a", "-h"]


def test_an_options_argument_gets_no_completion(shell: Shell) -> None:
    add_command(
        shell,
        Command(
            "choose",
            _nothing,
            "choose",
            args="<setting>",
            options=(Option("timeout", "t", metavar="ms"), Option("keep", "k")),
            min_args=1,
            max_args=1,
            source="t",
        ),
    )
    assert texts(shell, "choose -t ") == []
    assert texts(shell, "choose --timeout ") == []
    assert "filename" in texts(shell, "choose -t 500 ")  # then the <setting>
    assert "filename" in texts(shell, "choose -kt500 ")
    assert "filename" in texts(shell, "choose --timeout=5 ")
    assert texts(shell, "choose -k") == ["-k"]


# -- completion: the record's own completer and its synopsis ---------------------------------


def test_ifstat_completes_netdev_names_with_its_own_completer(shell: Shell) -> None:
    assert texts(shell, "ifstat ") == ["net0", "net1"]
    assert texts(shell, "ifstat net0 n") == ["net0", "net1"]
    assert texts(shell, "ifstat -a net1") == ["net1"]


def test_a_third_party_completer_is_used_and_its_failure_is_harmless(shell: Shell) -> None:
    def colours(sh: Shell, partial: str) -> Iterable[str]:
        return ["red", "green", "grey"]

    def broken(sh: Shell, partial: str) -> Iterable[str]:
        raise RuntimeError("plugin bug")

    add_command(shell, Command("paint", _nothing, "paint", args="<colour>", completer=colours))
    add_command(shell, Command("oops", _nothing, "oops", args="<x>", completer=broken))
    assert texts(shell, "paint g") == ["green", "grey"]  # filtered by the partial word
    assert texts(shell, "oops ") == []


def test_synopsis_names_choose_the_completion(shell: Shell) -> None:
    add_command(shell, Command("ifopen", _nothing, "open", args="[<interface>...]", max_args=None))
    assert texts(shell, "ifopen net0 ") == ["net0", "net1"]
    assert "filename" in texts(shell, "show ")  # <setting>
    assert texts(shell, "set file") == ["filename"]
    assert texts(shell, "set filename ") == []  # <value>
    assert texts(shell, "time sl") == ["sleep"]  # <command>
    assert texts(shell, "time ifstat n") == ["net0", "net1"]
    assert texts(shell, "time ifstat -") == ["--all", "--help", "-a", "-h"]


# -- completion: settings ---------------------------------------------------------------------


def test_setting_names_inside_an_expansion(shell: Shell) -> None:
    shell.settings.set("foo", "1")
    shell.settings.set("fob", "2")
    assert texts(shell, "echo ${fo") == ["fob", "foo"]
    assert texts(shell, "echo x${fo") == ["fob", "foo"]
    assert texts(shell, "echo ${a}${fo") == ["fob", "foo"]
    assert texts(shell, "echo ${fo}") == []  # closed
    assert texts(shell, "echo ${file") == ["filename"]  # a setting iPXE predefines
    assert "errno" in texts(shell, "echo ${err")
    assert texts(shell, "${fo") == ["fob", "foo"]  # even in the command's place


def test_setting_names_one_scope_at_a_time(shell: Shell) -> None:
    shell.settings.set("net0.dhcp/ip", "10.0.2.15")
    shell.settings.set("vendor/x", "1")
    top = texts(shell, "echo ${")
    assert {"net0/", "net0.dhcp/", "vendor/", "builtin/"} <= set(top)
    assert not any("/" in t[:-1] for t in top)  # no scoped names at the top level
    assert texts(shell, "echo ${vendor/") == ["vendor/x"]
    assert texts(shell, "echo ${net0/bus") == ["net0/busid", "net0/busloc", "net0/bustype"]
    assert texts(shell, "echo ${net0.dhcp/") == ["net0.dhcp/ip"]
    assert texts(shell, "echo ${netX/ma") == ["netX/mac"]
    assert texts(shell, "echo ${builtin/p") == ["builtin/platform"]
    assert texts(shell, "echo ${net${i}/m") == []  # a computed name: nothing to offer


def test_type_suffixes_after_a_setting_name(shell: Shell) -> None:
    assert texts(shell, "echo ${ip:ip") == ["ipv4", "ipv6"]
    assert texts(shell, "echo ${net0/mac:hex") == ["hex", "hexhyp", "hexraw"]
    assert texts(shell, "show ip:uint") == ["uint16", "uint32", "uint8"]
    assert "string" in texts(shell, "echo ${x:")


def test_setting_names_from_a_store_that_lists_them(shell: Shell) -> None:
    class Listing(Settings):
        def names(self) -> list[str]:
            return ["alpha", "net0.dhcp/next-server"]

    shell.settings = Listing()
    assert texts(shell, "echo ${al") == ["alpha"]
    assert texts(shell, "echo ${net0.dhcp/n") == ["net0.dhcp/next-server"]


def test_completion_with_thousands_of_settings(shell: Shell) -> None:
    """What is offered among 10 000 settings; how fast is bench/prompt.py's to measure (a
    0.25 s bound here failed on a busy machine: timing is no test verdict)."""
    for i in range(5000):
        shell.settings.set(f"s{i:04d}", str(i))
        shell.settings.set(f"scope{i % 50}/v{i}", str(i))
    assert len(texts(shell, "echo ${s123")) == 10
    assert len(texts(shell, "echo ${scope7/")) == 100
    assert texts(shell, "echo ${s1")[:2] == ["s1000", "s1001"]
    assert len(texts(shell, "echo ${s1")) == 1000
    assert len(texts(shell, "show scope1/")) == 100
    assert len(texts(shell, "echo ${s0001:")) == 18  # iPXE's types


# -- completion: goto labels ------------------------------------------------------------------


def test_goto_labels_from_the_buffer_the_running_script_and_the_session(
    shell: Shell, state: dict[str, str]
) -> None:
    completer = ShellCompleter(shell, labels=lambda: ["typed"])
    doc = Document(":retry echo a\n:rest echo b\ngoto re")
    assert [c.text for c in completer.get_completions(doc, CompleteEvent())] == ["rest", "retry"]
    assert texts(shell, "goto t", labels=["typed", "top"]) == ["top", "typed"]
    assert complete(shell, "goto ") == []  # the engine alone knows no labels
    with create_pipe_input() as pipe:
        repl = Repl(shell, state, input=pipe, output=DummyOutput())
    shell.frames.append(Frame(parse_script(":one echo\n:two echo\n", "s.ipxe")))
    repl.typed.append(":again echo")
    repl.typed.append("echo :not-a-label")
    assert sorted(repl.labels()) == ["again", "one", "two"]
    assert repl.session.completer is not None
    got = repl.session.completer.get_completions(Document("goto "), CompleteEvent())
    assert [c.text for c in got] == ["again", "one", "two"]


# -- the session, driven through a pipe -------------------------------------------------------


class Session:
    """A Repl running in a thread on a pipe input; keys are sent from the test."""

    def __init__(self, shell: Shell, env: dict[str, str], pipe: PipeInput) -> None:
        self.shell = shell
        self.pipe = pipe
        self.repl = Repl(shell, env, input=pipe, output=DummyOutput())
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.repl.run()
        except BaseException as exc:  # reported by finish()
            self.error = exc

    @property
    def buffer(self) -> str:
        return self.repl.session.default_buffer.text

    @property
    def out(self) -> str:
        assert isinstance(self.shell.out, io.StringIO)
        return self.shell.out.getvalue()

    @property
    def err(self) -> str:
        assert isinstance(self.shell.err, io.StringIO)
        return self.shell.err.getvalue()

    def ready(self) -> bool:
        app = self.repl.session.app
        return app.is_running and not app.is_done

    def send(self, keys: str) -> None:
        wait_for(self.ready, "the prompt")
        self.pipe.send_text(keys)

    def finish(self, keys: str = "\x04", timeout: float = 10) -> None:
        self.send(keys)
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the REPL did not end"
        if self.error is not None:
            raise self.error


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


@pytest.fixture
def state(tmp_path: Path) -> dict[str, str]:
    return {"HOME": str(tmp_path / "home"), "XDG_STATE_HOME": str(tmp_path / "state")}


@contextlib.contextmanager
def pipe_session(shell: Shell, env: dict[str, str]) -> Iterator[Session]:
    """A prompt running on a pipe input, finished on leaving if the test did not."""
    with create_pipe_input() as pipe:
        running = Session(shell, env, pipe)
        yield running
        if running.thread.is_alive():
            running.finish()


@pytest.fixture
def session(shell: Shell, state: dict[str, str]) -> Iterator[Session]:
    with pipe_session(shell, state) as running:
        yield running


def test_type_tab_then_enter_runs_the_completed_command(session: Session) -> None:
    session.send("ifs")
    wait_for(lambda: session.buffer == "ifs", "typing")
    session.send("\t")
    wait_for(lambda: session.buffer == "ifstat", "the completion")
    session.send("\r")
    wait_for(lambda: IFSTAT_NET0 in session.out, "ifstat's output")
    session.finish()
    assert session.shell.status == 0


def test_tab_on_an_expansion_then_enter(session: Session) -> None:
    session.shell.settings.set("greeting", "hello")
    session.send("echo ${gree")
    wait_for(lambda: session.buffer == "echo ${gree", "typing")
    session.send("\t")
    wait_for(lambda: session.buffer == "echo ${greeting", "the completion")
    session.send("}\r")
    wait_for(lambda: "hello\n" in session.out, "the echo")
    session.finish()


def test_a_line_ending_in_backslash_continues_the_input(session: Session) -> None:
    session.send("echo a\\")
    wait_for(lambda: session.buffer == "echo a\\", "typing")
    session.send("\r")
    wait_for(lambda: session.buffer == "echo a\\\n", "the continued line")
    session.send(" b\r")
    wait_for(lambda: "a b" in session.out, "the joined line to run")
    session.finish()
    assert session.out == "a b\n"


def test_a_pasted_script_runs_as_one_with_labels_and_goto(session: Session) -> None:
    script = "goto skip\necho not shown\n:skip echo after\nexit 4\necho not reached"
    session.send(f"\x1b[200~{script}\x1b[201~")  # a bracketed paste
    wait_for(lambda: session.buffer == script, "the paste")
    session.send("\r")
    wait_for(lambda: "after" in session.out, "the script")
    session.send("echo still here\r")  # the script's exit ended the script, not the shell
    wait_for(lambda: "still here" in session.out, "the echo")
    session.finish()
    assert session.out == "after\nstill here\n"
    assert session.shell.exit_requested is None


def test_ctrl_c_while_typing_drops_the_line(session: Session) -> None:
    session.send("echo dropped")
    wait_for(lambda: session.buffer == "echo dropped", "typing")
    session.send("\x03")
    wait_for(lambda: session.buffer == "" and session.ready(), "a fresh prompt")
    session.send("echo kept\r")
    wait_for(lambda: "kept" in session.out, "the echo")
    session.finish()
    assert session.out == "kept\n"


def test_ctrl_d_leaves_and_exit_leaves_with_its_status(shell: Shell, state: dict[str, str]) -> None:
    with create_pipe_input() as pipe:
        Session(shell, state, pipe).finish("\x04")
    assert shell.exit_requested is None
    with create_pipe_input() as pipe:
        Session(shell, state, pipe).finish("exit 3\r")
    assert shell.exit_requested == 3


def test_ctrl_d_with_text_on_the_line_does_not_leave(session: Session) -> None:
    session.send("echo ab")
    wait_for(lambda: session.buffer == "echo ab", "typing")
    session.send("\x01\x04")  # Ctrl-A, Ctrl-D: Emacs keys delete the first character
    wait_for(lambda: session.buffer == "cho ab", "the deletion")
    assert session.thread.is_alive()
    session.send("\x15echo still here\r")  # Ctrl-U clears the line
    wait_for(lambda: "still here" in session.out, "the echo")
    session.finish()


def test_a_command_interrupted_by_ctrl_c_returns_to_the_prompt(session: Session) -> None:
    def interrupted(inv: Invocation) -> int:
        raise KeyboardInterrupt

    add_command(session.shell, Command("stuck", interrupted, "never ends", source="t"))
    session.send("stuck\r")
    wait_for(lambda: session.shell.status == INTERRUPTED, "the cancel")
    session.send("echo ${errno}\r")
    wait_for(lambda: "0x" in session.out, "errno")
    session.finish()
    assert session.out == f"\n0x{E.ECANCELED_SLEEP:x}\n"


def test_errors_are_one_line_and_the_session_goes_on(session: Session) -> None:
    def buggy(inv: Invocation) -> int:
        raise ValueError("plugin bug")

    add_command(session.shell, Command("buggy", buggy, "raises", source="t"))
    session.send("buggy\r")
    wait_for(lambda: "internal error" in session.err, "the error")
    session.send("nosuch\r")
    wait_for(lambda: "command not found" in session.out, "the unknown command")
    session.finish()
    assert session.err == "bootsh: internal error: ValueError: plugin bug\n"
    assert "Traceback" not in session.err + session.out
    assert session.out == "nosuch: command not found\n"


def test_history_is_kept_in_xdg_state_and_suggests(shell: Shell, state: dict[str, str]) -> None:
    with create_pipe_input() as pipe:
        first = Session(shell, state, pipe)
        first.send("echo one\r")
        wait_for(lambda: "one" in first.out, "the echo")
        first.finish()
    path = Path(state["XDG_STATE_HOME"]) / "bootsh" / "history"
    assert "+echo one" in path.read_text()
    with create_pipe_input() as pipe:
        second = Session(shell, state, pipe)
        second.send("echo o")
        wait_for(lambda: second.buffer == "echo o", "typing")
        buf = second.repl.session.default_buffer
        wait_for(lambda: buf.suggestion is not None and buf.suggestion.text == "ne", "the hint")
        second.send("\x1b[C")  # Right accepts the suggestion
        wait_for(lambda: second.buffer == "echo one", "the accepted suggestion")
        second.send("\r")
        wait_for(lambda: second.out.count("one") == 2, "the second echo")
        second.send("\x10")  # Ctrl-P: the previous line from history
        wait_for(lambda: second.buffer == "echo one", "history recall")
        second.finish("\x15\x04")


def test_unwritable_history_falls_back_to_memory_saying_so_once(
    shell: Shell, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    env = {"HOME": str(tmp_path), "XDG_STATE_HOME": str(blocker)}  # a file, not a directory
    with create_pipe_input() as pipe:
        running = Session(shell, env, pipe)
        running.send("echo a\r")
        wait_for(lambda: "a\n" in running.out, "the echo")
        running.send("\x10")
        wait_for(lambda: running.buffer == "echo a", "recall from memory")
        running.finish("\x15\x04")
    assert running.err.count("cannot keep history") == 1
    assert f"{blocker}/bootsh/history" in running.err
    assert "in memory" in running.err


def test_history_path_follows_xdg() -> None:
    assert history_path({"HOME": "/h"}) == Path("/h/.local/state/bootsh/history")
    assert history_path({"HOME": "/h", "XDG_STATE_HOME": "/s"}) == Path("/s/bootsh/history")
    # a relative XDG_STATE_HOME is invalid and ignored (XDG base directory specification)
    assert history_path({"HOME": "/h", "XDG_STATE_HOME": "rel"}) == Path(
        "/h/.local/state/bootsh/history"
    )


def test_no_color_makes_the_session_monochrome(shell: Shell, state: dict[str, str]) -> None:
    plain = Repl(shell, {**state, "NO_COLOR": "1"}, output=DummyOutput())
    assert plain.session.color_depth == ColorDepth.MONOCHROME
    coloured = Repl(shell, state, output=DummyOutput())
    assert coloured.session.color_depth is None  # the terminal's own depth


# -- Ctrl-C for real, and the loop without a terminal ------------------------------------------


def test_sigint_while_a_command_runs_cancels_only_the_command(shell: Shell) -> None:
    def slow(inv: Invocation) -> int:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(10)  # the signal interrupts this at once
        return 0

    add_command(shell, Command("slow", slow, "slow", source="t"))
    before = signal.getsignal(signal.SIGINT)
    start = time.monotonic()
    assert execute(shell, "slow ; echo not reached") is False
    assert time.monotonic() - start < 5
    assert shell.status == INTERRUPTED and shell.errno == INTERRUPTED
    assert signal.getsignal(signal.SIGINT) is before  # the handler is restored
    assert isinstance(shell.out, io.StringIO)
    assert shell.out.getvalue() == "\n"  # the next prompt starts a line of its own


def test_sigint_during_sleep_cancels_it_and_starts_a_new_line(shell: Shell) -> None:
    def later(inv: Invocation) -> int:
        # started inside the line, so that the signal cannot arrive before it runs
        threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        return 0

    add_command(shell, Command("later", later, "Ctrl-C in 0.2 s", source="t"))
    start = time.monotonic()
    assert execute(shell, "later ; sleep 20") is False
    assert time.monotonic() - start < 5
    assert shell.status == E.ECANCELED_SLEEP  # sleep's own status
    assert isinstance(shell.out, io.StringIO)
    assert shell.out.getvalue() == "\n"


def test_without_a_terminal_the_prompt_is_plain_text(shell: Shell) -> None:
    interact(shell, io.StringIO("echo hi\nnosuch\nexit 5\necho never\n"), env={})
    assert isinstance(shell.out, io.StringIO)
    out = shell.out.getvalue()
    assert out == f"{PROMPT}hi\n{PROMPT}nosuch: command not found\n{PROMPT}"
    assert "\x1b" not in out
    assert shell.exit_requested == 5


def test_cli_interactive_flag(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    status = main(
        ["--interactive", "--machine", str(MACHINE)],
        env={"HOME": str(tmp_path)},
        stdin=io.StringIO("iseq a b\necho after a failure\nexit 7\n"),
        stdout=out,
        stderr=err,
    )
    # Unlike a script, a failing command does not end the session.
    assert (status, out.getvalue()) == (7, f"{PROMPT}{PROMPT}after a failure\n{PROMPT}")
    out = io.StringIO()
    status = main(
        ["--interactive", "--machine", str(MACHINE)],
        env={"HOME": str(tmp_path)},
        stdin=io.StringIO("echo x\n"),
        stdout=out,
        stderr=err,
    )
    assert (status, out.getvalue()) == (0, f"{PROMPT}x\n{PROMPT}\n")  # end of input: 0


def test_cli_interactive_with_a_script_or_c_is_a_usage_error(tmp_path: Path) -> None:
    err = io.StringIO()
    status = main(["--interactive", "-c", "echo x"], env={"HOME": str(tmp_path)}, stderr=err)
    assert status == 2 and "--interactive runs no script and no -c" in err.getvalue()
