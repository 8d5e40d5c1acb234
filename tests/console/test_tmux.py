"""The interactive shell on a real terminal: tmux runs ``bootsh --interactive``.

The test has its own tmux server (a socket in its temporary directory), a fixed window
size and an isolated HOME and XDG directories; it types with ``send-keys``, reads the screen
with ``capture-pane`` and polls with timeouts instead of sleeping. Only its own server is
killed at the end.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import MACHINE, ROOT, Tmux, terminal_env, wait_status

PROMPT = "bootsh> "


def start_bootsh(tmux: Tmux, tmp_path: Path, **extra: str) -> Path:
    """Start ``bootsh --interactive`` in a detached 100x30 window; returns the status file.

    ``extra`` adds environment variables."""
    status = tmp_path / "status"
    env = terminal_env(tmp_path, **extra)
    bootsh = [sys.executable, "-m", "bootsh", "--interactive", "--machine", str(MACHINE)]
    command = (
        "env -i "
        + " ".join(shlex.quote(f"{k}={v}") for k, v in env.items())
        + f" {shlex.join(bootsh)}; echo $? > {shlex.quote(str(status))}; sleep 300"
    )
    tmux("new-session", "-d", "-s", tmux.session, "-x", "100", "-y", "30", "-c", str(ROOT), command)
    return status


def prompts(lines: list[str]) -> int:
    return sum(line.startswith(PROMPT.rstrip()) for line in lines)


def test_complete_run_cancel_and_leave_on_a_real_terminal(tmux: Tmux, tmp_path: Path) -> None:
    status = start_bootsh(tmux, tmp_path)
    tmux.wait(lambda lines: lines == [PROMPT.rstrip()], "the first prompt")

    # A partial command, Tab: the completion shows on the line.
    tmux.keys("ifs", literal=True)
    tmux.wait(lambda lines: lines[-1] == f"{PROMPT}ifs", "the typed text")
    tmux.keys("Tab")
    tmux.wait(lambda lines: lines[-1] == f"{PROMPT}ifstat", "the completion")

    # Enter runs it: iPXE's ifstat output, then a new prompt.
    tmux.keys("Enter")
    tmux.wait(lambda lines: prompts(lines) == 2, "the prompt after ifstat")
    screen = tmux.lines()
    assert screen[1:6] == [
        "net0: 00:16:3e:5f:48:e4 using netfront on vif/0 (Ethernet) [closed]",
        "  [Link:up, TX:0 TXE:0 RX:0 RXE:0]",
        "net1: 00:16:3e:1a:2b:3c using netfront on vif/1 (Ethernet) [closed]",
        "  [Link:up, TX:0 TXE:0 RX:0 RXE:0]",
        PROMPT.rstrip(),
    ], "\n".join(screen)

    # sleep 30 runs until Ctrl-C cancels it; the prompt is back quickly. "started" on the
    # screen is the event that the line runs (a pause before Ctrl-C was a guess, which a
    # busy machine could beat: Ctrl-C at the prompt drops the line instead).
    line = "echo started ; sleep 30"
    tmux.keys(line, literal=True)
    tmux.wait(lambda lines: lines[-1] == f"{PROMPT}{line}", "the line typed")
    tmux.keys("Enter")
    tmux.wait(lambda lines: lines[-1] == "started", "sleep to start")
    tmux.keys("C-c")
    took = tmux.wait(lambda lines: prompts(lines) == 3, "the prompt after Ctrl-C")
    assert took < 5
    # A cancelled sleep prints nothing, as in iPXE (README); the prompt starts a fresh line,
    # not after a "^C".
    assert tmux.lines()[-3:] == [f"{PROMPT}{line}", "started", PROMPT.rstrip()]

    # The status of the cancelled sleep is iPXE's "Operation canceled".
    tmux.keys("echo ${errno}", literal=True)
    tmux.keys("Enter")
    tmux.wait(lambda lines: "0xb02207d" in lines, "errno")

    # Ctrl-D leaves with status 0.
    tmux.keys("C-d")
    assert wait_status(status, "bootsh did not leave on Ctrl-D") == "0"

    history = (tmp_path / "state" / "bootsh" / "history").read_text()
    assert "+ifstat" in history and f"+{line}" in history


def _session_with_an_image(tmux: Tmux, tmp_path: Path) -> tuple[Path, Path]:
    """bootsh with an image fetched into its store under ``tmp_path/tmp``; returns the status
    file and the store's directory."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    image = tmp_path / "vmlinuz"
    image.write_bytes(b"\0" * 4096)
    status = start_bootsh(tmux, tmp_path, TMPDIR=str(tmp))
    tmux.wait(lambda lines: lines == [PROMPT.rstrip()], "the first prompt")
    tmux.keys(f"imgfetch file://{image}", literal=True)
    tmux.keys("Enter")
    tmux.wait(lambda lines: lines[-1] == PROMPT.rstrip() and prompts(lines) == 2, "imgfetch")
    [store] = tmp.glob("bootsh-images-*")
    assert [p.name for p in store.iterdir()] != []
    return status, store


def _wait_gone(path: Path, what: str) -> None:
    deadline = time.monotonic() + 20
    while path.exists():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_closing_the_terminal_removes_the_shells_images(tmux: Tmux, tmp_path: Path) -> None:
    _, store = _session_with_an_image(tmux, tmp_path)
    tmux("kill-session", "-t", tmux.session)  # SIGHUP, as when a terminal window closes
    _wait_gone(store, "the image store outlived a hang-up")


def test_sigterm_ends_the_session_cleanly_with_status_143(tmux: Tmux, tmp_path: Path) -> None:
    status, store = _session_with_an_image(tmux, tmp_path)
    pane = tmux("list-panes", "-t", tmux.session, "-F", "#{pane_pid}").split()[0]
    children = subprocess.run(
        ["pgrep", "-P", pane], capture_output=True, text=True, timeout=10, check=True
    ).stdout.split()
    [bootsh] = [int(pid) for pid in children]
    os.kill(bootsh, signal.SIGTERM)
    _wait_gone(store, "the image store outlived SIGTERM")
    assert wait_status(status, "bootsh did not end on SIGTERM") == "143"
