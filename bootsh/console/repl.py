"""The interactive shell: a thin loop over ``Shell.run_line``.

``interact(shell)`` is the entry point (``bootsh`` on a terminal, ``bootsh --interactive``).
On a terminal (standard input and output both terminals, ``TERM`` not ``dumb``) it runs a
prompt_toolkit session: the ``bootsh> `` prompt, Emacs keys, persistent history with
suggestions from it, and completion from the command records (``bootsh.console.completion``) run in
a thread. Anywhere else it reads plain lines and writes a plain prompt: output that is not a
terminal never gets an escape code. prompt_toolkit is imported only here, and only for the
terminal case, so a batch run (``bootsh -c ...``) never loads it.

Keys and signals:

- Ctrl-C while typing drops the line and gives a new prompt;
- Ctrl-C while a command runs raises ``KeyboardInterrupt`` into ``Shell.run_line``: a command
  that handles it (``sleep``, a download, ``dhcp``, ``ping``) ends with its own status and
  line (``... Operation canceled (...)``, ``Finished: Operation canceled (...)``), any other
  is abandoned with iPXE's "Operation canceled" in ``${errno}``; either way the prompt
  returns. On a terminal the kernel's echo of ``^C`` is turned off (``ECHOCTL``; the CLI
  does it for the whole run, ``no_echoctl``), as iPXE's console shows no such thing: it
  would land in the middle of the command's line (a progress percentage is erased with
  backspaces, which the two extra characters would defeat). The prompt after an interrupted
  command starts at the beginning of a line without leaving an empty one: a line's width of
  spaces and a carriage return (zsh's ``PROMPT_SP``) moves to a new line only when the
  cursor is not at a line's start;
- Ctrl-D on an empty line, or ``exit [N]``, leaves (the CLI turns ``exit N`` into status N);
- SIGHUP (the terminal closed) and SIGTERM leave too, with status 128 + the signal, after
  the shell's ordinary shutdown (the CLI's handlers raise ``SystemExit``);
- Enter after a line ending in ``\\`` continues the input (``bootsh.console.keys``); input of more
  than one line (typed so, or pasted) runs as one script: its labels and ``goto`` work, it
  stops at its first failing line, and its ``exit`` ends the script, not the shell.

Errors are one line, never a traceback: a command's failure is printed by the shell, a
bootsh error as ``bootsh: ...``, and a plugin's bug as ``bootsh: internal error: ...``.

History lives in ``$XDG_STATE_HOME/bootsh/history`` (``~/.local/state/bootsh/history``);
the directories are created. When that place cannot be written the session keeps its
history in memory and says so once.

``NO_COLOR`` (non-empty) turns colours off: prompt_toolkit renders in monochrome and the
history suggestion is underlined instead of grey.
"""

from __future__ import annotations

import errno
import os
import signal
import stat
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bootsh.errors import BootshError
from bootsh.ipxe_errors import ECANCELED_SLEEP
from bootsh.lang.script import parse_script, split_label
from bootsh.shell import STOP_SEQUENCE, Shell

if TYPE_CHECKING:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import History
    from prompt_toolkit.input import Input
    from prompt_toolkit.output import Output

PROMPT = "bootsh> "
#: The prompt of a continued line, as wide as PROMPT.
CONTINUATION = "      > "

#: The status of a command abandoned by Ctrl-C: iPXE's ECANCELED ("Operation canceled").
INTERRUPTED = ECANCELED_SLEEP


#: A history file larger than this is not read (prompt_toolkit loads it whole).
MAX_HISTORY_SIZE = 16 << 20


def history_path(env: Mapping[str, str]) -> Path:
    """``$XDG_STATE_HOME/bootsh/history``; XDG says a relative value is to be ignored."""
    state = env.get("XDG_STATE_HOME", "")
    if not state or not os.path.isabs(state):
        home = env.get("HOME") or str(Path.home())
        state = os.path.join(home, ".local", "state")
    return Path(state) / "bootsh" / "history"


# -- running one line -------------------------------------------------------------------------


@contextmanager
def _noting_interrupts(seen: list[bool]) -> Iterator[None]:
    """Note in ``seen[0]`` whether SIGINT arrived while the body ran; it still raises
    KeyboardInterrupt (a command such as ``sleep`` may handle it and return)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        seen[0] = True
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def execute(shell: Shell, text: str, fresh_line: Callable[[], None] | None = None) -> bool:
    """Run what was typed; True when the shell is to be left (``exit``).

    One line runs as a command line (``Shell.run_line``); several lines run as a script.
    Never raises for a command's trouble: Ctrl-C abandons the command, errors are printed.
    After Ctrl-C, ``fresh_line`` puts the cursor at a line's start (default: a new line).
    """
    interrupted = [False]
    try:
        with _noting_interrupts(interrupted):
            try:
                if "\n" in text.rstrip("\n"):
                    _run_script(shell, text)
                else:
                    shell.run_line(text)
            except KeyboardInterrupt:
                shell.status = shell.errno = INTERRUPTED
                interrupted[0] = True
            except BootshError as exc:
                shell.diagnose(str(exc))
                shell.status = shell.errno = 1
            except Exception as exc:  # a plugin's bug must not end the session
                shell.diagnose(f"internal error: {type(exc).__name__}: {exc}")
                shell.status = shell.errno = 1
    except KeyboardInterrupt:  # a second Ctrl-C before the handler was restored
        interrupted[0] = True
    if interrupted[0]:
        # The cursor may be anywhere in a line (where the terminal echoed "^C", or where an
        # abandoned command stopped); the next prompt starts a line.
        if fresh_line is None:
            shell.print()
        else:
            fresh_line()
        shell.stopped(STOP_SEQUENCE)  # an interrupted line leaves no stop behind
        return False
    if shell.stopped(STOP_SEQUENCE):
        shell.exit_requested = shell.status
        return True
    return False


def _run_script(shell: Shell, text: str) -> None:
    requested = shell.exit_requested
    shell.run_script(parse_script(text, "<input>"))
    shell.exit_requested = requested  # its exit ends the script only


# -- the loops --------------------------------------------------------------------------------


def uses_terminal(stdin: TextIO, stdout: TextIO, env: Mapping[str, str]) -> bool:
    """Whether the prompt_toolkit session is right: both ends are terminals, not dumb ones."""
    return stdin.isatty() and stdout.isatty() and env.get("TERM", "") != "dumb"


def interact(
    shell: Shell,
    stdin: TextIO,
    env: Mapping[str, str] | None = None,
    *,
    input: Input | None = None,
    output: Output | None = None,
) -> None:
    """Run the interactive shell until Ctrl-D or ``exit`` (then ``shell.exit_requested``).

    ``input``/``output`` (prompt_toolkit's) force the prompt_toolkit session, for tests.
    """
    env = os.environ if env is None else env
    if input is None and output is None:
        if not uses_terminal(stdin, shell.out, env):
            plain_loop(shell, stdin)
            return
        from prompt_toolkit.input import create_input
        from prompt_toolkit.output import create_output

        # No unbuffered stream needed: Shell.print flushes a partial line (``echo -n``, a
        # download's percentage) itself, and a terminal's stdout flushes whole lines.
        input, output = create_input(stdin), create_output(shell.out)
    Repl(shell, env, input=input, output=output).run()


def plain_loop(shell: Shell, stdin: TextIO) -> None:
    """The prompt without a terminal: plain text in, plain text out."""
    while True:
        try:
            shell.out.write(PROMPT)
            shell.out.flush()
            line = stdin.readline()
        except KeyboardInterrupt:
            shell.print()
            continue
        if not line:
            shell.print()
            return
        if execute(shell, line):
            return


class Repl:
    """The prompt_toolkit session: history, suggestions, completion, Emacs keys."""

    def __init__(
        self,
        shell: Shell,
        env: Mapping[str, str],
        *,
        input: Input | None = None,
        output: Output | None = None,
    ) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
        from prompt_toolkit.enums import EditingMode
        from prompt_toolkit.output import ColorDepth
        from prompt_toolkit.styles import Style

        from bootsh.console.completion import ShellCompleter
        from bootsh.console.keys import key_bindings

        self.shell = shell
        #: The lines typed in this session, for ``goto`` label completion.
        self.typed: list[str] = []
        no_color = bool(env.get("NO_COLOR"))
        self.session: PromptSession[str] = PromptSession(
            message=PROMPT,
            history=open_history(history_path(env), shell.diagnose),
            auto_suggest=AutoSuggestFromHistory(),
            completer=ShellCompleter(shell, labels=self.labels),
            complete_in_thread=True,
            complete_while_typing=False,
            editing_mode=EditingMode.EMACS,
            key_bindings=key_bindings(),
            prompt_continuation=CONTINUATION,
            color_depth=ColorDepth.MONOCHROME if no_color else None,
            style=Style.from_dict({"auto-suggestion": "underline"}) if no_color else None,
            input=input,
            output=output,
        )

    def labels(self) -> Iterable[str]:
        for frame in self.shell.frames:
            yield from frame.script.labels
        for text in self.typed:
            for line in text.split("\n"):
                label = split_label(line)[0]
                if label:
                    yield label

    def run(self) -> None:
        while True:
            try:
                line = self.session.prompt()
            except KeyboardInterrupt:
                continue  # Ctrl-C while typing: the line is dropped
            except EOFError:
                return  # Ctrl-D
            self.typed.append(line)
            # No ^C echo while it runs: the CLI turned ECHOCTL off for the whole session.
            if execute(self.shell, line, self._fresh_line):
                return

    def _fresh_line(self) -> None:
        """Go to the start of a line, a new one only if the cursor is not at one already:
        as many spaces as the line is wide wrap to the next line from any column but the
        first (where they stop at the margin), and a carriage return goes to its start."""
        output = self.session.output
        try:
            columns = output.get_size().columns if os.isatty(output.fileno()) else 0
        except (NotImplementedError, OSError, ValueError):
            columns = 0
        if columns <= 0:
            self.shell.print()
            return
        self.shell.out.write(" " * columns + "\r")
        self.shell.out.flush()


# -- history ----------------------------------------------------------------------------------


def open_history(path: Path, report: Callable[[str], None]) -> History:
    """A file history at ``path``, or one in memory (reported once) when it cannot be kept."""
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    class SafeFileHistory(FileHistory):
        """A file history that falls back to memory if writing fails later (disk full)."""

        failed = False

        def store_string(self, string: str) -> None:
            if self.failed:
                return
            try:
                super().store_string(string)
            except OSError as exc:
                self.failed = True
                report(_unkept(path, exc))

        def load_history_strings(self) -> Iterable[str]:
            try:
                yield from super().load_history_strings()
            except OSError:
                return

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Never waits (a FIFO there blocked the prompt forever) and never reads without a
        # bound (prompt_toolkit loads the whole file; a link to /dev/zero never ended).
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC,
                     0o600)  # fmt: skip
        try:
            info = os.fstat(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a FIFO nobody reads: O_NONBLOCK refused to wait
            exc = OSError(errno.EINVAL, "not a regular file")
        report(_unkept(path, exc))
        return InMemoryHistory()
    if not stat.S_ISREG(info.st_mode):
        report(_unkept(path, OSError(errno.EINVAL, "not a regular file")))
        return InMemoryHistory()
    if info.st_size > MAX_HISTORY_SIZE:
        report(_unkept(path, OSError(errno.EFBIG, f"larger than {MAX_HISTORY_SIZE >> 20} MiB")))
        return InMemoryHistory()
    return SafeFileHistory(str(path))


def _unkept(path: Path, exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    return f"cannot keep history in {path} ({reason}); this session's history stays in memory"
