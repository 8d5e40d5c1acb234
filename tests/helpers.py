"""Helpers shared by the tests: a tmux server of the test's own, and a shell on the example
machine."""

from __future__ import annotations

import io
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from bootsh.config import Choices, merge
from bootsh.context import Context
from bootsh.plugins import PluginHost
from bootsh.shell import Shell

ROOT = Path(__file__).resolve().parent.parent
MACHINE = ROOT / "examples" / "machines" / "xen-hvm"


class Tmux:
    def __init__(self, tmp: Path) -> None:
        self.socket = tmp / "tmux.sock"
        self.session = "bootsh-test"

    def __call__(self, *args: str) -> str:
        proc = subprocess.run(
            ["tmux", "-S", str(self.socket), *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert proc.returncode == 0, f"tmux {args}: {proc.stderr}"
        return proc.stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", self.session)

    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.screen().splitlines() if line.strip()]

    def keys(self, *keys: str, literal: bool = False) -> None:
        self("send-keys", "-t", self.session, *(["-l"] if literal else []), *keys)

    def wait(self, predicate: Callable[[list[str]], bool], what: str, timeout: float = 20) -> float:
        """Poll the screen until ``predicate(lines)``; returns the seconds it took."""
        start = time.monotonic()
        while True:
            lines = self.lines()
            if predicate(lines):
                return time.monotonic() - start
            if time.monotonic() - start > timeout:
                shown = "\n".join(lines)
                raise AssertionError(f"timed out waiting for {what}; the screen:\n{shown}")
            time.sleep(0.02)


def make_shell(host: PluginHost) -> Shell:
    """A shell on the example machine whose output is kept in memory."""
    config = merge(Choices(machine=MACHINE), {})
    err = io.StringIO()
    return Shell(host, Context(config, stderr=err), out=io.StringIO(), err=err)
