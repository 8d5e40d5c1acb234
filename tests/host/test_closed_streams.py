"""Output whose reader went away (``bootsh ... | head -1``), and standard streams closed
before bootsh started: a quiet end (status 141, as SIGPIPE gives a Unix tool), never a
traceback, on every output path (issue 14, item 1)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bootsh.cli import CLOSED_OUTPUT_STATUS, main
from bootsh.lab.cli import tell
from bootsh.plugins import PluginHost
from tests.helpers import MACHINE, ROOT

SCRIPT = ROOT / "examples" / "scripts" / "count.ipxe"


class ReaderGone(io.StringIO):
    """A stream whose reader left: every write and flush fails as a pipe's would."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def run_broken(argv: list[str], stdin: str = "", stderr_gone: bool = False) -> tuple[int, str]:
    """``main`` in-process with a stdout (and optionally stderr) whose reader is gone."""
    err: io.StringIO = ReaderGone() if stderr_gone else io.StringIO()
    status = main(
        argv,
        env={"HOME": "/nonexistent"},
        stdin=io.StringIO(stdin),
        stdout=ReaderGone(),
        stderr=err,
    )
    return status, "" if stderr_gone else err.getvalue()


# -- in-process: every output path --------------------------------------------------------

SHOWING = [
    "ifstat --all",
    "twins",
    "plugins",
    "help",
    "help ifstat",
    "show buildarch",
    "route",
    "imgstat",
    "echo -n partial",
    "nosuch",  # "command not found" is printed by the shell itself
    "set x:nosuchtype 1",  # an error printed by a handler
]


@pytest.mark.parametrize("line", SHOWING)
def test_a_command_whose_reader_left_ends_quietly_with_141(line: str) -> None:
    status, err = run_broken(["--machine", str(MACHINE), "-c", line, "-c", "echo after"])
    assert (status, err) == (CLOSED_OUTPUT_STATUS, "")


def test_every_command_usage_whose_reader_left_ends_quietly(host: PluginHost) -> None:
    """The sweep: each registered command's usage text (``NAME --help``; ``help`` takes raw
    arguments and lists) written to a stdout whose reader left."""
    names = sorted(host.commands().names())
    assert len(names) > 40
    for name in names:
        status, err = run_broken(["--machine", str(MACHINE), "-c", f"{name} --help"])
        assert (status, err) == (CLOSED_OUTPUT_STATUS, ""), name


@pytest.mark.parametrize(
    "argv",
    [
        ["--plugins"],
        ["--check", str(SCRIPT), str(ROOT / "examples" / "scripts" / "menu.ipxe")],
        [str(SCRIPT), "3"],
    ],
    ids=["plugins", "check", "script"],
)
def test_each_entry_point_whose_reader_left_ends_quietly(argv: list[str]) -> None:
    assert run_broken(argv) == (CLOSED_OUTPUT_STATUS, "")


def test_commands_on_stdin_and_the_plain_prompt_end_quietly() -> None:
    assert run_broken([], stdin="echo a\necho b\n") == (CLOSED_OUTPUT_STATUS, "")
    # The prompt's loop turns a plugin's exception into "internal error": not this one.
    assert run_broken(["--interactive"], stdin="echo a\n") == (CLOSED_OUTPUT_STATUS, "")


def test_a_stderr_whose_reader_left_ends_quietly_too() -> None:
    status, _ = run_broken(["-c", "nosuch"], stderr_gone=True)
    assert status == CLOSED_OUTPUT_STATUS


def test_the_lab_goes_on_when_its_stderr_reader_left(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lab's progress lines must not stop it: its teardown and its command's status
    matter more than a message nobody reads."""
    monkeypatch.setattr(sys, "stderr", ReaderGone())
    tell("up in 0.02 s")  # no exception


# -- real processes: a real pipe, the interpreter's own last flush ----------------------


@pytest.fixture
def pipe_without_reader() -> Iterator[int]:
    """The write end of a pipe whose read end is already closed: any write gets EPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    yield write_end
    os.close(write_end)


def bootsh_process(
    argv: list[str], stdout: int, stderr: int = subprocess.PIPE, stdin: int | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "bootsh", *argv],
        stdin=subprocess.DEVNULL if stdin is None else stdin,
        stdout=stdout,
        stderr=stderr,
        cwd=ROOT,
        env={**os.environ, "HOME": "/nonexistent"},
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["--plugins"],
        ["--machine", str(MACHINE), "-c", "ifstat --all"],
        ["--machine", str(MACHINE), "-c", "twins"],
        ["--help"],
        ["--version"],
        [str(SCRIPT), "3"],
    ],
    ids=["plugins", "ifstat", "twins", "help", "version", "script"],
)
def test_a_real_pipe_without_reader(argv: list[str], pipe_without_reader: int) -> None:
    proc = bootsh_process(argv, stdout=pipe_without_reader)
    assert (proc.returncode, proc.stderr) == (CLOSED_OUTPUT_STATUS, b"")


def test_stdout_and_stderr_on_one_pipe_without_reader(pipe_without_reader: int) -> None:
    proc = bootsh_process(["-c", "nosuch"], stdout=pipe_without_reader, stderr=subprocess.STDOUT)
    assert proc.returncode == CLOSED_OUTPUT_STATUS


def test_closed_descriptors_read_as_empty_and_write_nowhere(tmp_path: Path) -> None:
    """``bootsh <&- >&-``: Python would leave sys.stdin/stdout None (a traceback at the first
    use), and the next file opened would take descriptor 1 and receive the output."""
    script = 'read x || echo "no input"; echo done'
    argv = [sys.executable, "-m", "bootsh", "-c", script]
    proc = subprocess.run(
        ["sh", "-c", 'exec "$@" <&- >&-', "sh", *argv],
        capture_output=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert b"Traceback" not in proc.stderr
    # stdout closed too, and stderr: nothing to see, still no crash.
    proc = subprocess.run(
        ["sh", "-c", 'exec "$@" <&- >&- 2>&-', "sh", *argv],
        capture_output=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0
