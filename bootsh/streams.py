"""The process's output streams when their reader goes away (``bootsh ... | head -1``).

Python ignores SIGPIPE, so a write to a pipe whose reader has exited raises
``BrokenPipeError`` wherever it happens: in ``Shell.print``, in a plugin writing to
``shell.out``, in a diagnostic on stderr, or at the interpreter's last flush. Unix tools are
killed by SIGPIPE instead and end quietly. bootsh does the same on purpose, with cleanup:

- ``OutputGuard`` wraps stdout and stderr. The first write or flush that meets a closed
  reader points the stream's file descriptor at ``/dev/null`` (so later writes, the shell's
  shutdown and the interpreter's final flush find nothing to complain about) and raises
  ``OutputClosed``.
- ``OutputClosed`` is a ``BaseException``, like ``KeyboardInterrupt``: the ``except OSError``
  and ``except Exception`` of commands and plugins (a download's error handling, the REPL's
  "internal error" net) do not swallow it, while ``finally`` blocks and context managers still
  run, so images and sockets are cleaned up on the way out.
- The CLI catches it and exits with ``CLOSED_OUTPUT_STATUS`` (141, what a shell reports for a
  process killed by SIGPIPE), without a word: the reader is gone, and stderr may be the same
  pipe.

``reopen_closed_standard_fds`` handles the other way to lose a stream, a descriptor closed
before bootsh started (``bootsh >&-``, ``<&-``): it becomes /dev/null.

``quiet_if_closed`` is for writers that must go on regardless (the lab's progress lines on
stderr: its teardown must still run and its command's status still count).
"""

from __future__ import annotations

import io
import os
import sys
from typing import TextIO

#: 128 + SIGPIPE: the status a shell shows for a command that SIGPIPE killed.
CLOSED_OUTPUT_STATUS = 141


class OutputClosed(BaseException):
    """stdout or stderr lost its reader; the run ends quietly (see the module docstring)."""


def _to_devnull(stream: TextIO) -> None:
    """Point ``stream``'s descriptor at /dev/null, when it has one: the data still buffered
    in it and anything written later go nowhere instead of failing again."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):
        return  # an in-memory stream: nothing to redirect
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


class OutputGuard(io.TextIOBase, TextIO):
    """``stream`` with a closed reader turned into one ``OutputClosed``; otherwise the same
    stream (terminal checks, ``fileno``, ``buffer`` for prompt_toolkit pass through)."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream
        #: Set once the reader was found gone; later writes are dropped silently.
        self.reader_gone = False

    def _gone(self) -> OutputClosed:
        self.reader_gone = True
        _to_devnull(self.stream)
        return OutputClosed(getattr(self.stream, "name", "output"))

    def write(self, text: str) -> int:
        if self.reader_gone:
            return len(text)
        try:
            return self.stream.write(text)
        except BrokenPipeError:
            raise self._gone() from None

    def flush(self) -> None:
        if self.reader_gone:
            return
        try:
            self.stream.flush()
        except BrokenPipeError:
            raise self._gone() from None
        except ValueError:
            pass  # flushing a stream someone closed: nothing is pending there

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.stream, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.stream, "errors", None)

    @property
    def name(self) -> str:
        return str(getattr(self.stream, "name", "<output>"))

    @property
    def buffer(self) -> io.BufferedIOBase:  # type: ignore[override]
        # prompt_toolkit writes a terminal's bytes here; AttributeError (an in-memory
        # stream) makes its hasattr() check fall back to write().
        buffer: io.BufferedIOBase = self.stream.buffer  # type: ignore[assignment]
        return buffer


def guard(stream: TextIO) -> OutputGuard:
    """``stream`` guarded (once: a guard is not wrapped again)."""
    return stream if isinstance(stream, OutputGuard) else OutputGuard(stream)


def quiet_if_closed(stream: TextIO, text: str) -> None:
    """Write and flush ``text``; a reader that is gone is not an error for this writer
    (later writes go to /dev/null)."""
    try:
        stream.write(text)
        stream.flush()
    except (BrokenPipeError, OutputClosed):
        _to_devnull(stream)


def reopen_closed_standard_fds() -> None:
    """Open /dev/null on any of descriptors 0, 1, 2 that is closed (``bootsh <&- >&-``).

    Python leaves ``sys.stdin``/``sys.stdout`` None then, which no code expects; worse, the
    next file or socket bootsh opened would get the free number and ``print`` would write into
    it. A closed stdin reads as empty, a closed stdout or stderr discards (as ``>/dev/null``).
    """
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        opened = os.open(os.devnull, os.O_RDONLY if fd == 0 else os.O_WRONLY)
        if opened != fd:
            os.dup2(opened, fd)
            os.close(opened)
        if getattr(sys, name) is None:
            setattr(sys, name, open(fd, "r" if fd == 0 else "w", closefd=False))  # noqa: SIM115
