"""What the interactive shell imports on a real terminal, read from ``python -X importtime``.

The prompt (prompt_toolkit) and completion of the network and image commands must not load
scapy or the HTTP stack (``http.client``, the ``http``/``https`` scheme plugin): those load
when a command needs them, which the second test shows by fetching an ``http://`` URI.
(``ssl`` is no measure here: prompt_toolkit's asyncio imports it.)
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

from tests.console.test_tmux import PROMPT, prompts
from tests.helpers import MACHINE, ROOT, Tmux, wait_status

#: Modules the prompt must not load before a command needs them.
HEAVY = ("scapy", "http.client", "bootsh_uri_schemes.http", "urllib3", "requests", "httpx")


def imported(log: Path) -> set[str]:
    names = set()
    for line in log.read_text().splitlines():
        found = re.match(r"import time:\s+\d+ \|\s+\d+ \| ( *)(\S+)$", line)
        if found:
            names.add(found.group(2))
    return names


def start(tmux: Tmux, tmp_path: Path) -> tuple[Path, Path]:
    """bootsh on the example machine with ``-X importtime`` into a log; returns the status
    file and the log."""
    log = tmp_path / "importtime.log"
    status = tmp_path / "status"
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "HOME": str(home),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "PYTHONPATH": str(ROOT),
        "TERM": "screen",
        "LANG": "C.UTF-8",
        "PATH": "/usr/bin:/bin",
    }
    argv = [sys.executable, "-X", "importtime", "-m", "bootsh", "--interactive"]
    argv += ["--machine", str(MACHINE)]
    command = (
        "env -i "
        + " ".join(shlex.quote(f"{k}={v}") for k, v in env.items())
        + f" {shlex.join(argv)} 2> {shlex.quote(str(log))}; echo $? > {shlex.quote(str(status))}"
        + "; sleep 300"
    )
    tmux("new-session", "-d", "-s", tmux.session, "-x", "100", "-y", "30", "-c", str(ROOT), command)
    tmux.wait(lambda lines: lines == [PROMPT.rstrip()], "the first prompt")
    return status, log


def leave(tmux: Tmux, status: Path) -> None:
    tmux.keys("C-d")
    assert wait_status(status, "bootsh did not leave on Ctrl-D") == "0"


def tab(tmux: Tmux, text: str, completed: str) -> None:
    tmux.keys(text, literal=True)
    tmux.keys("Tab")
    tmux.wait(lambda lines: lines[-1] == f"{PROMPT}{completed}", f"{text!r} completed")
    tmux.keys("C-u")
    tmux.wait(lambda lines: lines[-1] == PROMPT.rstrip(), "the line cleared")


def test_prompt_and_completion_load_neither_scapy_nor_http(tmux: Tmux, tmp_path: Path) -> None:
    status, log = start(tmux, tmp_path)
    tab(tmux, "dhc", "dhcp")
    tab(tmux, "dhcp -c d", "dhcp -c dhcp")
    tab(tmux, "iflinkw", "iflinkwait")
    tab(tmux, "imgfetch --ti", "imgfetch --timeout")
    tab(tmux, "ping --cou", "ping --count")
    tab(tmux, "nslookup filen", "nslookup filename")
    tmux.keys("route", literal=True)
    tmux.keys("Enter")
    tmux.wait(lambda lines: prompts(lines) == 2, "the prompt after route")
    leave(tmux, status)
    names = imported(log)
    assert "prompt_toolkit" in names and "bootsh.console.completion" in names  # the terminal's path
    assert sorted(n for n in names if n in HEAVY or n.startswith("scapy.")) == []


def test_the_http_stack_loads_when_a_command_needs_it(tmux: Tmux, tmp_path: Path) -> None:
    status, log = start(tmux, tmp_path)
    tmux.keys("imgfetch -t 2000 http://127.0.0.1:9/none", literal=True)  # discard: refused
    tmux.keys("Enter")
    tmux.wait(lambda lines: prompts(lines) == 2, "the prompt after imgfetch")
    leave(tmux, status)
    assert "http.client" in imported(log)
