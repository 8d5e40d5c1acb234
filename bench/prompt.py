"""The interactive shell's costs: time to the first prompt, and completion latency.

1. Start-up: ``bootsh --interactive`` on the example machine runs on a pseudo-terminal; the
   time is taken from the start of the process until ``bootsh> `` has been drawn (the bench
   answers prompt_toolkit's cursor-position request as a terminal would). It is compared
   with ``python3 -c pass`` (to its exit), both alternating in the same run.
2. Completion: a shell holding 5 000 settings (half global, half in 50 scopes); the time of
   ``ShellCompleter.get_completions`` for typical lines, and once end to end in a session
   (Tab sent through a pipe until the buffer shows the completion, completion in a thread).

    python3 bench/prompt.py [--runs N]
"""

from __future__ import annotations

import argparse
import io
import os
import pty
import select
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from bootsh.config import Choices, merge
from bootsh.console.completion import ShellCompleter, stored_setting_names
from bootsh.console.repl import PROMPT, Repl
from bootsh.context import Context
from bootsh.plugins import make_plugin_manager
from bootsh.shell import Shell

ROOT = Path(__file__).resolve().parent.parent
MACHINE = ROOT / "examples" / "machines" / "xen-hvm"
# Byte-code cached, as a user has it (see bench/startup.py).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
CPR_REQUEST = b"\x1b[6n"


def time_to_prompt(state: str) -> float:
    """Seconds from starting ``bootsh --interactive`` on a pty to ``bootsh> `` on it."""
    argv = [sys.executable, "-m", "bootsh", "--interactive", "--machine", str(MACHINE)]
    env = {**ENV, "XDG_STATE_HOME": state, "TERM": "xterm", "COLUMNS": "100", "LINES": "30"}
    master, slave = pty.openpty()
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT, close_fds=True
    )
    os.close(slave)
    seen = b""
    try:
        while PROMPT.rstrip().encode() not in seen:  # the space is a cursor move
            ready, _, _ = select.select([master], [], [], 20)
            if not ready:
                raise RuntimeError(f"no prompt after 20 s; got {seen!r}")
            chunk = os.read(master, 65536)
            if CPR_REQUEST in chunk:
                os.write(master, b"\x1b[1;1R")  # the cursor is at the top left
            seen += chunk
        took = time.perf_counter() - start
        os.write(master, b"\x04")  # Ctrl-D
        _drain(master, proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    if proc.returncode != 0:
        raise RuntimeError(f"bootsh ended with {proc.returncode}")
    return took


def _drain(master: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while proc.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                os.read(master, 65536)
            except OSError:
                break
    proc.wait(timeout=20)


def time_python() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True, env=ENV)
    return time.perf_counter() - start


def shell_with_settings(count: int) -> Shell:
    host = make_plugin_manager(report=lambda line: None)
    config = merge(Choices(machine=MACHINE), {})
    shell = Shell(host, Context(config), out=io.StringIO(), err=io.StringIO())
    for i in range(count // 2):
        shell.settings.set(f"s{i:05d}", str(i))
        shell.settings.set(f"scope{i % 50}/v{i}", str(i))
    shell.settings.set("unique-setting", "1")
    shell.netdevs()  # probed once per shell, before any timing
    return shell


def completion_latency(shell: Shell, runs: int) -> None:
    completer = ShellCompleter(shell)
    lines = {
        "echo ${": "every global name and scope",
        "echo ${s012": "100 of 2 500 global names",
        "echo ${scope7/": "one scope's 50 names",
        "show s0123": "a <setting> argument",
        "echo ${s00001:u": "a :type suffix",
        "ifs": "a command name",
    }
    count = len(list(stored_setting_names(shell)))
    print(f"completion with {count} setting names (median / max of {runs}):")
    for line, what in lines.items():
        times = []
        count = 0
        for _ in range(runs):
            start = time.perf_counter()
            count = len(list(completer.get_completions(Document(line), CompleteEvent())))
            times.append(time.perf_counter() - start)
        print(
            f"  {line!r:20} {statistics.median(times) * 1000:6.2f} ms"
            f" / {max(times) * 1000:6.2f} ms  {count:5} candidates  ({what})"
        )


def session_latency(shell: Shell, runs: int) -> None:
    """Tab to completed buffer in a real session (completion in its thread)."""
    times = []
    with tempfile.TemporaryDirectory() as state, create_pipe_input() as pipe:
        repl = Repl(shell, {"XDG_STATE_HOME": state}, input=pipe, output=DummyOutput())
        thread = threading.Thread(target=repl.run, daemon=True)
        thread.start()
        buffer = repl.session.default_buffer
        for _ in range(runs):
            _wait(lambda: repl.session.app.is_running)
            pipe.send_text("echo ${uniq")
            _wait(lambda: buffer.text == "echo ${uniq")
            start = time.perf_counter()
            pipe.send_text("\t")
            _wait(lambda: buffer.text == "echo ${unique-setting")
            times.append(time.perf_counter() - start)
            pipe.send_text("\x03")  # Ctrl-C: drop the line
            _wait(lambda: buffer.text == "")
        pipe.send_text("\x04")
        thread.join(10)
    print(
        f"  in a session, from Tab to the completed buffer ('echo ${{uniq' among them):"
        f" median {statistics.median(times) * 1000:.1f} ms over {runs}"
    )


def _wait(predicate: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError("the session did not respond")
        time.sleep(0.0005)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    ns = parser.parse_args()
    with tempfile.TemporaryDirectory() as state:
        time_to_prompt(state)  # warm-up: byte-code cache
        ref_times, our_times = [], []
        for _ in range(ns.runs):
            ref_times.append(time_python())
            our_times.append(time_to_prompt(state))
    ref = statistics.median(ref_times)
    ours = statistics.median(our_times)
    print(f"python3 -c pass                 median {ref * 1000:7.1f} ms over {ns.runs} runs")
    print(f"bootsh --interactive to prompt  median {ours * 1000:7.1f} ms over {ns.runs} runs")
    print(f"ratio bootsh / python           {ours / ref:7.2f}")
    shell = shell_with_settings(5000)
    completion_latency(shell, max(ns.runs, 50))
    session_latency(shell, ns.runs)


if __name__ == "__main__":
    main()
