"""Helpers shared by the tests: a tmux server of the test's own, a shell on the example
machine, the real CLI run in-process, and the network lab started (or the test skipped) with
bootsh run as a process in its client namespace."""

from __future__ import annotations

import io
import os
import selectors
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING

import pytest

from bootsh.cli import main
from bootsh.config import Choices, merge
from bootsh.context import Context
from bootsh.plugins import PluginHost
from bootsh.shell import Shell

if TYPE_CHECKING:  # bootsh.lab loads the HTTP stack: make_shell must not (test_completion_commands)
    from bootsh.lab import Lab

ROOT = Path(__file__).resolve().parent.parent
#: The console script of the environment running the tests (the checkout's editable
#: install), never another bootsh that PATH finds first (a user's /usr/local/bin/bootsh).
CONSOLE_SCRIPT = Path(sys.executable).parent / "bootsh"
MACHINE = ROOT / "examples" / "machines" / "xen-hvm"
CLIENT_NET = "af_packet,if=veth-cli"  # the --net of bootsh on the lab's client veth (CLIENT_IF)
# Three broadcast frames of an experimental EtherType, sent from the server's veth by
# ``python -c SEND_FRAMES IFACE`` in the server namespace: RX that bootsh did not cause.
SEND_FRAMES = """
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
src = s.getsockname()[4]
for i in range(3):
    s.send(b"\\xff" * 6 + src + b"\\x88\\xb5" + bytes([i]) * 50)
"""


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


def python_output(code: str) -> str:
    """What ``code`` prints, run in a fresh interpreter of this environment (it must succeed):
    for what a new process imports or finds, which this process has already done."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout


def terminal_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The whole environment (for ``env -i``) of bootsh on a test's terminal: HOME, history
    and config of the test's own, this checkout importable, TERM=screen; ``extra`` added."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {
        "HOME": str(home),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "TERM": "screen",
        "LANG": "C.UTF-8",
        **extra,
    }


def wait_status(status: Path, what: str = "bootsh did not end", timeout: float = 20) -> str:
    """The exit status a tmux pane's command wrote into ``status`` (``echo $? > status``),
    once it is there: bootsh runs in the pane, not as a child of the test."""
    deadline = time.monotonic() + timeout
    while not (status.exists() and status.read_text().strip()):
        assert time.monotonic() < deadline, what
        time.sleep(0.02)
    return status.read_text().strip()


def make_shell(host: PluginHost) -> Shell:
    """A shell on the example machine whose output is kept in memory."""
    config = merge(Choices(machine=MACHINE), {})
    err = io.StringIO()
    return Shell(host, Context(config, stderr=err), out=io.StringIO(), err=err)


def readline(stream: IO[str], timeout: float = 30.0) -> str:
    """The next line of a child's pipe; an AssertionError instead of a hang when none comes."""
    with selectors.DefaultSelector() as sel:
        sel.register(stream, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise AssertionError(f"no line within {timeout} s")
    return stream.readline()


def read_until(stream: IO[bytes] | IO[str], marker: bytes, timeout: float = 30.0) -> bytes:
    """What a child wrote to its pipe up to and including ``marker`` (read unbuffered, byte
    by byte as it arrives), for a test that must act only after the child reached a point:
    an event, never a sleep. An AssertionError with what came instead when it does not.
    The descriptor is read directly, a byte at a time: nothing may have been read through
    ``stream`` before, and nothing after ``marker`` is consumed."""
    fd = stream.fileno()
    seen = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while marker not in seen:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                raise AssertionError(f"no {marker!r} within {timeout} s; got {seen!r}")
            chunk = os.read(fd, 1)
            if not chunk:
                raise AssertionError(f"the pipe closed before {marker!r}; got {seen!r}")
            seen += chunk
    return seen


def run_cli(*lines: str, options: Sequence[str] = ("--dry-run",)) -> tuple[int, str, str]:
    """The real CLI in-process (no interpreter start-up per test), each line a ``-c``, with an
    empty environment and stdin; its status, stdout and stderr. ``--dry-run`` by default: a
    boot prints its plan instead of loading a kernel."""
    out, err = io.StringIO(), io.StringIO()
    argv = [*options]
    for line in lines:
        argv += ["-c", line]
    status = main(argv, env={}, stdin=io.StringIO(), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def started(lab: Lab) -> Lab:
    """``lab`` started, or the test skipped with the reason this machine cannot run it (a
    missing tool or privilege); in CI (BOOTSH_NO_SKIP=1) that skip is a failure."""
    from bootsh.lab import LabUnavailable  # here: see the import of Lab above

    try:
        return lab.start()
    except LabUnavailable as exc:
        pytest.skip(str(exc))


@contextmanager
def misbehaving_server(
    lab: Lab, mode: str, port: int, *args: str
) -> Iterator[subprocess.Popen[str]]:
    """One of ``tests.fetch_servers`` in the lab's server namespace on its address, ready
    (it said so), ended by pid on the way out."""
    argv = [sys.executable, "-m", "tests.fetch_servers", mode, lab.server_ip, str(port), *args]
    proc = subprocess.Popen(
        lab.server_argv(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert proc.stdout is not None
        assert readline(proc.stdout, 30).strip() == "ready", "test server did not start"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def bootsh_argv(
    *lines: str, net: Sequence[str] = (CLIENT_NET,), options: Sequence[str] = ()
) -> list[str]:
    """``python -m bootsh`` with a ``--net`` per spec, then ``options``, each line a ``-c``:
    bootsh as a user starts it (for Popen: prefix it with ``lab.client_argv``)."""
    argv = [sys.executable, "-m", "bootsh"]
    for spec in net:
        argv += ["--net", spec]
    argv += options
    for line in lines:
        argv += ["-c", line]
    return argv


def bootsh(
    lab: Lab,
    *lines: str,
    net: Sequence[str] = (CLIENT_NET,),
    options: Sequence[str] = (),
    prefix: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """bootsh (``bootsh_argv``) run to its end in the lab's client namespace, a process of its
    own on real sockets, after ``prefix`` (e.g. setpriv); stdout and stderr kept as text."""
    argv = [*prefix, *bootsh_argv(*lines, net=net, options=options)]
    return lab.run_in_client(
        argv, capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout
    )
