"""Conformance of the iPXE command language (DESIGN.md section 4), rule by rule.

Each test names the rule it checks. Statuses are iPXE's error numbers of the Linux build;
outputs are compared character for character.
"""

from __future__ import annotations

import io
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bootsh import ipxe_errors as E
from bootsh.cli import main
from bootsh.context import Config, Context
from bootsh.lang.commands import Command, CommandTable, Invocation
from bootsh.lang.script import (
    MAX_EXPANDED,
    MAX_EXPANSIONS,
    ExpansionError,
    expand,
    has_magic,
    parse_script,
    split_commands,
    split_words,
)
from bootsh.lang.script import (
    Command as LineCommand,
)
from bootsh.plugins import PluginHost, make_plugin_manager
from bootsh.shell import Shell

NOTHING: dict[str, str] = {}


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return make_plugin_manager(report=lambda line: None)


class Run:
    """A fresh shell; ``script(text)`` runs text as a script file named ``t.ipxe``."""

    def __init__(self, host: PluginHost) -> None:
        self.out, self.err = io.StringIO(), io.StringIO()
        context = Context(Config(sysfs_root=Path("/nonexistent")), stderr=self.err)
        self.shell = Shell(host, context, out=self.out, err=self.err)

    def script(self, text: str, args: list[str] | None = None) -> tuple[int, str]:
        status = self.shell.run_script(parse_script(text, "t.ipxe"), args)
        return status, self.take()

    def line(self, text: str) -> tuple[int, str]:
        status = self.shell.run_line(text)
        return status, self.take()

    def take(self) -> str:
        text = self.out.getvalue()
        self.out.seek(0)
        self.out.truncate()
        return text


@pytest.fixture
def run(host: PluginHost) -> Run:
    return Run(host)


def cli(argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(
        ["--sysfs-root", "/nonexistent", *argv],
        env={"HOME": "/nonexistent"},
        stdin=io.StringIO(stdin),
        stdout=out,
        stderr=err,
    )
    return status, out.getvalue(), err.getvalue()


@contextmanager
def interrupt_after(seconds: float) -> Iterator[None]:
    """Raise KeyboardInterrupt in this thread after ``seconds``, as Ctrl-C would."""

    def fire(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# -- script magic -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "magic"),
    [
        ("#!ipxe\n", True),
        ("#!gpxe\n", True),
        ("#!ipxe echo hi\n", True),
        ("#!ipxe\r\n", True),
        ("#!ipxe\t", True),
        ("#!ipxe", False),  # too short: iPXE wants the magic and one whitespace byte
        ("#!ipxex\n", False),
        ("#!IPXE\n", False),
        (" #!ipxe\n", False),
        ("\n#!ipxe\n", False),
    ],
)
def test_magic_is_ipxe_or_gpxe_then_whitespace(text: str, magic: bool) -> None:
    assert has_magic(text) is magic


def test_magic_line_is_a_comment_and_runs_nothing(run: Run) -> None:
    assert run.script("#!ipxe echo not printed\necho yes\n") == (0, "yes\n")


# -- lines --------------------------------------------------------------------------------------


def test_one_trailing_cr_is_dropped(run: Run) -> None:
    assert run.script("#!ipxe\r\necho a \\\r\necho b\r\n") == (0, "a echo b\n")
    # only one: a second CR stays and is whitespace, so the backslash no longer continues
    assert run.script("echo a \\\r\r\necho b\n") == (0, "a \\\nb\n")


def test_continuation_joins_without_a_space_and_keeps_indentation(run: Run) -> None:
    assert run.script("echo a\\\n  b\necho c\\\nd\n") == (0, "a b\ncd\n")
    script = parse_script("echo a\\\n  b\necho c\n", "t")
    assert [(line.number, line.text) for line in script.lines] == [(1, "echo a  b"), (3, "echo c")]


def test_continuation_sees_the_joined_buffer(run: Run) -> None:
    # "a\" then an empty line: the buffer ends in "\" again only if a "\" is left; here
    # "echo x\\" loses one "\" and the empty line leaves "echo x\" which continues again.
    assert run.script("echo x\\\\\n\necho y\n") == (0, "xecho y\n")
    # A CR before the backslash survives the first strip and goes with the empty line.
    assert run.script("echo p\r\\\n\necho q\n") == (0, "p\nq\n")


def test_file_ending_in_backslash_never_runs_that_line_and_fails(run: Run) -> None:
    status, out = run.script("echo before\necho never \\\n")
    assert (status, out) == (E.EINVAL_CONTINUATION, "before\n")
    assert run.err.getvalue() == (
        "bootsh: t.ipxe:2: failed: the file ends in a continued line, which never runs:"
        " echo never\n"
    )
    assert run.script("echo a\\")[0] == E.EINVAL_CONTINUATION
    assert parse_script("echo a\\\n", "t").dangling is not None


def test_no_empty_last_line_after_the_final_newline() -> None:
    assert len(parse_script("echo a\n", "t").lines) == 1
    assert len(parse_script("echo a\n\n", "t").lines) == 2
    assert len(parse_script("", "t").lines) == 1


def test_a_line_ends_at_a_nul_byte(run: Run) -> None:
    assert run.script("echo a\0b c\necho d\n") == (0, "a\nd\n")


# -- labels -------------------------------------------------------------------------------------


def test_label_line_still_runs_its_command(run: Run) -> None:
    assert run.script(":start echo one\n  :two\techo two\n:three\n") == (0, "one\ntwo\n")
    script = parse_script(":a echo x\n", "t")
    assert (script.lines[0].label, script.lines[0].command) == ("a", "echo x")


def test_a_label_is_only_a_script_thing(run: Run) -> None:
    assert run.line(":a echo x") == (E.ENOEXEC_COMMAND, ":a: command not found\n")


def test_goto_first_label_from_the_top_and_rest_of_line_dropped(run: Run) -> None:
    text = (
        "goto there ; echo dropped\n"
        "echo skipped\n"
        ":there echo first\n"
        "goto end\n"
        ":there echo second\n"
        ":end\n"
    )
    assert run.script(text) == (0, "first\n")


def test_goto_runs_the_label_line_again(run: Run) -> None:
    text = (
        "set n 0\n:loop echo -n ${n}\niseq ${n} 0xx && goto out ||\nset n ${n}x\ngoto loop\n:out\n"
    )
    assert run.script(text) == (0, "00x0xx")


def test_goto_missing_label_fails_silently_with_enoent(run: Run) -> None:
    assert run.script("goto nowhere || echo ${errno}\n") == (0, "0x2d028002\n")
    assert run.script("echo a\ngoto nowhere\necho b\n") == (E.ENOENT_LABEL, "a\n")
    assert "t.ipxe:2: failed: goto nowhere" in run.err.getvalue()


def test_goto_to_a_label_of_a_dangling_last_line_is_einval(run: Run) -> None:
    status, _ = run.script("goto x\n:x echo \\\n")
    assert status == E.EINVAL_CONTINUATION


def test_goto_outside_a_script(run: Run) -> None:
    assert run.line("goto x") == (
        E.ENOTTY_GOTO,
        "Not in a script: Error 0x3d028019 (https://ipxe.org/3d028019)\n",
    )


def test_goto_usage(run: Run) -> None:
    status, out = run.script("goto\n")
    assert status == E.ERANGE_ARGS
    assert (
        out == "Usage:\n\n  goto <label>\n\nSee https://ipxe.org/cmd/goto for further information\n"
    )


# -- splitting and comments ---------------------------------------------------------------------


def test_no_quoting_and_no_escaping(run: Run) -> None:
    assert split_words('echo "a  b"') == ["echo", '"a', 'b"']
    assert run.line('echo "a  b"') == (0, '"a b"\n')
    assert run.line("echo a\\ b") == (0, "a\\ b\n")


def test_split_on_c_whitespace_only() -> None:
    assert split_words("a\tb\vc\fd\re  f") == ["a", "b", "c", "d", "e", "f"]
    assert split_words("a\xa0b\u2003c\x1cd") == ["a\xa0b\u2003c\x1cd"]


def test_comment_word_ends_the_line(run: Run) -> None:
    assert run.line("echo a#b") == (0, "a#b\n")
    assert run.line("echo a #b c ; echo d") == (0, "a\n")
    assert run.line("# nothing") == (0, "")
    assert run.line("echo a ; #x ; echo b") == (0, "a\n")


def test_comment_line_ending_in_backslash_swallows_the_next(run: Run) -> None:
    assert run.script("# comment \\\necho swallowed\necho shown\n") == (0, "shown\n")


# -- terminators --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "out", "status"),
    [
        ("echo a ; echo b", "a\nb\n", 0),
        ("iseq 1 2 ; echo b", "b\n", 0),
        ("iseq 1 1 || echo no", "", 0),
        ("iseq 1 2 || echo yes", "yes\n", 0),
        ("iseq 1 1 && echo yes", "yes\n", 0),
        ("iseq 1 2 && echo no", "", E.ERANGE_ISEQ),
        # a skipped command leaves the status as it was
        ("iseq 1 2 && echo no || echo then", "then\n", 0),
        ("iseq 1 1 || echo no ; echo then", "then\n", 0),
        ("iseq 1 1 || echo no && echo then", "then\n", 0),
        ("iseq 1 2 || iseq 1 1 && echo x", "x\n", 0),
        # a bare trailing || is an empty command that succeeds
        ("iseq 1 2 ||", "", 0),
        ("iseq 1 2 ;", "", 0),
        ("iseq 1 2 &&", "", E.ERANGE_ISEQ),
        ("; echo a", "a\n", 0),
        ("|| echo a", "", 0),
        # terminators are whole words only
        ("echo a||b a;b a&&b", "a||b a;b a&&b\n", 0),
    ],
)
def test_terminators(run: Run, line: str, out: str, status: int) -> None:
    assert run.line(line) == (status, out)


def test_split_commands() -> None:
    assert split_commands("a b || c ; # d ; e") == [
        LineCommand(("a", "b"), "||"),
        LineCommand(("c",), ";"),
        LineCommand((), None),
    ]


# -- expansion ----------------------------------------------------------------------------------


def test_expansion_innermost_first_and_rescanned(run: Run) -> None:
    run.shell.settings.set("i", "0")
    run.shell.settings.set("net0/mac", "52:54:00:12:34:56")
    assert run.line("echo ${net${i}/mac}") == (0, "52:54:00:12:34:56\n")
    run.shell.settings.set("ref", "${i}${i}")
    assert run.line("echo ${ref}") == (0, "00\n")
    run.shell.settings.set("brace", "{i}")
    assert run.line("echo $${brace}") == (0, "0\n")


def test_expansion_is_per_word_and_never_resplits(run: Run) -> None:
    assert run.line("set x a b ; iseq ${x} ${x} && echo ${x}") == (0, "a b\n")
    assert run.line("set x a   b ; echo ${x}") == (0, "a b\n")  # set joins with one space


@pytest.mark.parametrize("value", ["||", ";", "&&", "#", "#x"])
def test_expanded_terminators_and_comments_are_plain_text(run: Run, value: str) -> None:
    run.shell.settings.set("t", value)
    assert run.line("echo ${t} after") == (0, f"{value} after\n")


def test_empty_expansion_is_still_an_argument(run: Run) -> None:
    assert run.line("iseq ${nosuch} ${nosuch}") == (0, "")
    assert run.line("isset ${nosuch}") == (E.ENOENT_ISSET, "")
    assert run.line("${nosuch}") == (E.ENOEXEC_COMMAND, ": command not found\n")


def test_unknown_names_and_bad_types_expand_to_nothing(run: Run) -> None:
    run.shell.settings.set("x", "5")
    assert run.line("echo [${nosuch}] [${x:bogus}] [${x:}] [${nosuchscope/x}]") == (
        0,
        "[] [] [] []\n",
    )


def test_typed_reading_shows_the_bytes(run: Run) -> None:
    run.shell.settings.set("x", "5")
    assert run.line("echo ${x:int32} ${x:hexraw} ${x:string}") == (0, "53 35 5\n")


def test_unterminated_and_stray_braces_are_text() -> None:
    assert expand("a${b", NOTHING.get) == "a${b"
    assert expand("}${x}}{", {"x": "1"}.get) == "}1}{"
    assert expand("$", NOTHING.get) == "$"
    assert expand("${}", {"": "e"}.get) == "e"


def test_options_are_parsed_after_expansion(run: Run) -> None:
    status, out = run.script("set n -5\necho ${n}\necho never\n")
    assert status == E.EINVAL_UNKNOWN_OPTION
    assert out.startswith('Unrecognised option "-5"\nUsage:\n\n  echo [-n|--n] [...]\n')
    assert "never" not in out


# -- failure, exit, status ----------------------------------------------------------------------


def test_failure_ends_the_script_at_the_first_failing_line(run: Run) -> None:
    status, out = run.script("echo a\niseq a b && echo yes\necho never\n")
    assert (status, out) == (E.ERANGE_ISEQ, "a\n")
    assert run.err.getvalue() == "bootsh: t.ipxe:2: failed: iseq a b && echo yes\n"


def test_exit_ends_the_script_with_its_status(run: Run) -> None:
    assert run.script("echo a ; exit 3 ; echo b\necho c\n") == (3, "a\n")
    assert run.script("exit\necho c\n") == (0, "")
    assert run.script("exit 0x10\n") == (16, "")
    assert run.script("exit 010\n") == (8, "")  # strtoul base 0: octal
    assert run.err.getvalue() == ""  # exit is not a failure


@pytest.mark.parametrize(
    ("word", "code"),
    [("", 0), ("0x", 0), ("+", 0), ("+7", 7), ("0X1f", 31), ("4294967297", 1), ("+0x", 0)],
)
def test_exit_status_is_parsed_by_ipxe_strtoul(run: Run, word: str, code: int) -> None:
    run.shell.settings.set("w", word)
    assert run.script("exit ${w}\n") == (code, "")


def test_exit_with_a_bad_integer(run: Run) -> None:
    status, out = run.script("exit -1\n")  # an option, after expansion too
    assert (status, out.split("\n")[0]) == (E.EINVAL_UNKNOWN_OPTION, 'Unrecognised option "-1"')
    assert run.script("exit 08\n") == (E.EINVAL_INTEGER, '"08": invalid integer value\n')
    assert run.script("exit 1 2\n")[0] == E.ERANGE_ARGS


def test_errno_holds_the_last_error(run: Run) -> None:
    assert run.line("echo ${errno}") == (0, "0x0\n")
    run.line("nosuch")
    # a good command keeps it
    assert run.line("echo ${errno} ; echo ${errno}") == (0, "0x2e022008\n0x2e022008\n")
    run.line("iseq a b")
    assert run.line("echo ${errno:hex} ${builtin/errno}") == (0, "46:02:20:22 0x46022022\n")


def test_global_setting_named_like_a_builtin_hides_it(run: Run) -> None:
    run.line("iseq a b")
    # errno is a predefined uint32 (settings.c), so the global copy is stored as one.
    assert run.line("set errno 5 ; echo ${errno} ${builtin/errno}") == (0, "0x5 0x46022022\n")


def test_unknown_command(run: Run) -> None:
    assert run.line("frobnicate now") == (E.ENOEXEC_COMMAND, "frobnicate: command not found\n")


def test_help_option_and_argument_count(run: Run) -> None:
    usage = (
        "Usage:\n\n  iseq <value1> <value2>\n\n"
        "See https://ipxe.org/cmd/iseq for further information\n"
    )
    assert run.line("iseq --help") == (E.ECANCELED_NO_OP, usage)
    assert run.line("iseq -h a b") == (E.ECANCELED_NO_OP, usage)
    assert run.line("iseq a") == (E.ERANGE_ARGS, usage)
    assert run.line("iseq a b c") == (E.ERANGE_ARGS, usage)
    assert run.line("iseq --x a b") == (
        E.EINVAL_UNKNOWN_OPTION,
        'Unrecognised option "--x"\n' + usage,
    )


def test_options_end_at_the_first_non_option(run: Run) -> None:
    assert run.line("echo hi -n") == (0, "hi -n\n")
    assert run.line("echo -- -n") == (0, "-n\n")
    assert run.line("echo -n -- x") == (0, "x")
    assert run.line("echo --n x") == (0, "x")
    assert run.line("echo --n=1 x")[1].startswith('Option "n" takes no argument\n')


# -- commands -----------------------------------------------------------------------------------


def test_echo(run: Run) -> None:
    assert run.line("echo") == (0, "\n")
    assert run.line("echo -n a b") == (0, "a b")


def test_isset_and_iseq(run: Run) -> None:
    assert run.line("isset x") == (0, "")
    assert run.line("isset") == (E.ERANGE_ARGS, run.shell.commands.commands["isset"].usage() + "\n")
    assert run.line("iseq a a") == (0, "")
    assert run.line("iseq a A") == (E.ERANGE_ISEQ, "")


def test_sleep(run: Run) -> None:
    assert run.line("sleep 0") == (0, "")
    assert run.line("sleep soon") == (E.EINVAL_INTEGER, '"soon": invalid integer value\n')


def test_sleep_is_cancelled_by_ctrl_c(run: Run) -> None:
    started = time.monotonic()
    with interrupt_after(0.1):
        status, out = run.script("sleep 30\necho never\n")
    assert time.monotonic() - started < 5
    assert (status, out) == (E.ECANCELED_SLEEP, "")


def test_time(run: Run) -> None:
    assert run.line("time echo -n hi") == (0, "hitime: 0.0s\n")
    assert run.line("time iseq a b") == (E.ERANGE_ISEQ, "time: 0.0s\n")
    assert run.line("time")[0] == E.ERANGE_ARGS
    # iPXE runs argv[1] whatever the option parser made of it
    assert run.line("time -- echo") == (E.ENOEXEC_COMMAND, "--: command not found\ntime: 0.0s\n")


def test_help_lists_commands_in_columns(run: Run) -> None:
    table = CommandTable()
    for name in ["a", "bb", "ccc", "dddd", "e" * 13, "f" * 14, "g" * 20, "h"]:
        table.add(Command(name, lambda inv: 0, ""))
    table.add(next(c for c in run.shell.commands.unique() if c.name == "help"))
    run.shell.commands = table
    status, out = run.line("help --help whatever")
    assert status == 0
    assert (
        out
        == (
            "\nAvailable commands:\n\n"
            "  a             " + "  bb            " + "  ccc           " + "  dddd          "
            "  eeeeeeeeeeeee\n"
            "  ffffffffffffff" + "  gggggggggggggggggggg" + " " * 10 + "  h             "
            "  help\n"  # past column 64: a newline, then iPXE's own two
            '\n\nType "<command> --help" for further information\n\n'
        )
    )


# -- nesting, Ctrl-C, bounds --------------------------------------------------------------------


def test_nested_script_has_its_own_labels_and_exit_returns_to_the_parent(run: Run) -> None:
    inner = parse_script(":top echo inner ${args/1}\ngoto out\n:out exit 7\necho never\n", "inner")

    def nest(inv: Invocation) -> int:
        return inv.shell.run_script(inner, inv.args)

    run.shell.commands.add(Command("nest", nest, "run the inner script", max_args=None))
    text = "nest A || echo parent sees ${errno}\ngoto out\n:top echo wrong\n:out echo done\n"
    assert run.script(text) == (0, "inner A\nparent sees 0x7\ndone\n")
    assert run.shell.frames == []
    assert run.shell.exit_requested is None


def test_goto_loop_is_stopped_by_ctrl_c(run: Run) -> None:
    with interrupt_after(0.2), pytest.raises(KeyboardInterrupt):
        run.script(":loop\ngoto loop\n")
    assert run.shell.frames == []
    assert run.script("echo still fine\n") == (0, "still fine\n")


def test_goto_loop_in_the_cli_ends_with_130(tmp_path: Path) -> None:
    script = tmp_path / "loop.ipxe"
    script.write_text("#!ipxe\n:a goto a\n")
    with interrupt_after(0.2):
        status, _, err = cli([str(script)])
    assert (status, err) == (130, "bootsh: interrupted\n")


def test_self_referring_setting_is_a_clear_bounded_error(run: Run) -> None:
    # Bounded in work, not in seconds (a busy machine made a 10 s bound fail): the lookups
    # stop at the expansion limit.
    lookups = 0
    lookup = run.shell.lookup

    def counted(name: str) -> str | None:
        nonlocal lookups
        lookups += 1
        return lookup(name)

    run.shell.lookup = counted  # type: ignore[method-assign]
    run.shell.settings.set("x", "${x}")
    assert run.line("echo ${x} ; echo never") == (E.ENOMEM_EXPAND, "")
    run.shell.settings.set("y", "a${y}${y}")
    assert run.line("echo ${y}")[0] == E.ENOMEM_EXPAND
    assert lookups <= 2 * (MAX_EXPANSIONS + 1)
    assert "does a setting refer to itself?" in run.err.getvalue()


def test_deep_nesting_is_fine() -> None:
    depth = 50_000
    word = "${" * depth + "x" + "}" * depth
    assert expand(word, {"x": "a", "a": "b"}.get) == ""
    assert expand("${" * depth, NOTHING.get) == "${" * depth
    assert expand("${" * depth + "a" + "}" * depth, {"a": "a"}.get) == "a"


def test_one_megabyte_lines(run: Run) -> None:
    big = "x" * (1 << 20)
    assert run.line(f"isset {big}") == (0, "")
    assert run.script(f"echo {big}\n")[1] == big + "\n"
    words = " ".join(["a"] * 200_000)
    assert run.line(f"isset {words}")[0] == E.ERANGE_ARGS
    assert len(expand("${x}" * 100_000, {"x": "ab"}.get)) == 200_000
    with pytest.raises(ExpansionError):
        expand("${x}" * 10, {"x": "a" * (MAX_EXPANDED // 5)}.get)


# -- batch mode ---------------------------------------------------------------------------------


def test_trace_prints_each_command_after_expansion() -> None:
    status, out, err = cli(["-x", "-c", "set x 1 ; echo ${x} || echo no", "-c", "# c"])
    assert (status, out) == (0, "1\n")
    assert err == "+ set x 1\n+ echo 1\n"


def test_script_arguments_are_a_bootsh_scope(tmp_path: Path) -> None:
    script = tmp_path / "s.ipxe"
    script.write_text(
        "#!ipxe\necho ${args/count} ${args/0} ${args/1} ${args/2} [${args/3}] [${1}]\n"
    )
    status, out, err = cli([str(script), "a b", "c"])
    assert (status, out, err) == (0, f"2 {script} a b c [] []\n", "")


def test_process_status(tmp_path: Path) -> None:
    assert cli(["-c", "exit 3"])[0] == 3
    assert cli(["-c", "exit 256"])[0] == 0
    assert cli(["-c", "iseq a b"])[0] == 1
    assert cli(["-c", "echo a \\"])[0] == 1
    assert cli([], stdin="exit 5\n")[0] == 5


# -- garbage in, bounded work out ---------------------------------------------------------------

WORDS = st.sampled_from(
    ["echo", "-n", "goto", "exit", "isset", "iseq", "set", "x", "a", ":a", ":b", "a", "b",
     ";", "||", "&&", "#", "\\", "${x}", "${", "}", "${x${y}}", "0x10", "--help", "\t", "\r"]
)  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_binary_garbage_parses_and_expands(data: bytes) -> None:
    text = data.decode("utf-8", errors="surrogateescape")
    script = parse_script(text, "g")
    for line in script.lines:
        for command in split_commands(line.command):
            for word in command.words:
                expand(word, {"x": "${y}", "y": "x"}.get)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(WORDS, max_size=8).map(" ".join), max_size=8).map("\n".join))
def test_random_scripts_end_or_are_interrupted_cleanly(host: PluginHost, text: str) -> None:
    shell_run = Run(host)
    try:
        with interrupt_after(0.3):
            status = shell_run.shell.run_script(parse_script(text, "r"))
        assert isinstance(status, int)
    except KeyboardInterrupt:
        pass  # a goto loop: legitimate iPXE, stopped by Ctrl-C
    assert shell_run.shell.frames == []
