"""The terminal's modes around a batch run: light enough for every start (no prompt_toolkit,
no ``signal`` or ``contextlib`` module: their imports cost more than what this does)."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def terminal_fd(stream: object) -> int | None:
    """The file descriptor of ``stream`` when it is a terminal of which this process is in
    the foreground (a background job must leave the terminal's modes alone)."""
    try:
        fd = stream.fileno()  # type: ignore[attr-defined]
        if isinstance(fd, int) and os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp():
            return fd
    except (AttributeError, NotImplementedError, OSError, ValueError):
        pass
    return None


class no_echoctl:
    """Turn the terminal's echo of control characters (``^C``) off for the body.

    iPXE's console shows no ``^C``; the echo would land inside a command's line (after a
    download's percentage, which iPXE erases with backspaces, before ``Finished:``). The
    modes are put back afterwards, also when the process was moved to the background
    meanwhile (SIGTTOU is blocked for that, as shells do).
    """

    def __init__(self, fd: int | None) -> None:
        self.fd = fd
        self.saved: list[Any] | None = None

    def __enter__(self) -> None:
        if self.fd is None:
            return
        import termios

        try:
            saved = termios.tcgetattr(self.fd)
            quiet = [*saved[:3], saved[3] & ~termios.ECHOCTL, *saved[4:]]
            _tcsetattr(self.fd, quiet)
        except termios.error:
            return
        self.saved = saved

    def __exit__(self, *exc: object) -> None:
        if self.fd is None or self.saved is None:
            return
        import termios

        try:  # noqa: SIM105 (contextlib is not loaded yet on this path)
            _tcsetattr(self.fd, self.saved)
        except termios.error:
            pass


def _tcsetattr(fd: int, attributes: list[Any]) -> None:
    import _signal  # signal's C module: ``signal`` itself imports enum for its wrappers
    import termios

    mask = _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGTTOU})
    try:
        termios.tcsetattr(fd, termios.TCSANOW, attributes)
    finally:
        _signal.pthread_sigmask(_signal.SIG_SETMASK, mask)
