"""The conventions users expect of a command (issue 14, item 8): a man page generated from the
argument parsers and kept in sync, and completion of the options in bash, zsh and fish
(argcomplete), run in the real shells (.ci/install-cli.sh installs them)."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bootsh.cli import build_lab_parser, build_parser
from tests.helpers import CONSOLE_SCRIPT, ROOT

MANPAGE = ROOT / "docs" / "bootsh.1"


def render() -> str:
    """docs/build_manpage.py's page (a script beside the page it writes, not a module)."""
    script = ROOT / "docs" / "build_manpage.py"
    spec = importlib.util.spec_from_file_location("build_manpage", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    page: str = module.render()
    return page


def need(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        pytest.skip(f"{tool} is not installed (.ci/install-cli.sh)")
    return found


def test_the_committed_man_page_is_the_generated_one() -> None:
    assert MANPAGE.read_text() == render(), "docs/bootsh.1 is stale: python3 docs/build_manpage.py"


def test_the_man_page_has_every_option_of_both_parsers() -> None:
    page = render()
    for parser in (build_parser(), build_lab_parser()):
        for action in parser._actions:
            for flag in action.option_strings:
                if action.help != "==SUPPRESS==":
                    roff = flag.replace("-", "\\-")
                    assert f"\\fB{roff}\\fR" in page, flag
    assert "--port-device" not in page.replace("\\-", "-")  # hidden from --help, hidden here


def test_the_man_page_renders_without_a_warning() -> None:
    groff = need("groff")
    proc = subprocess.run(
        [groff, "-man", "-Tutf8", "-ww", str(MANPAGE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (proc.returncode, proc.stderr) == (0, "")
    text = re.sub(".\b", "", proc.stdout)  # the terminal's overstrike (bold) undone
    for section in ("SYNOPSIS", "OPTIONS", "THE LAB", "EXIT STATUS", "ENVIRONMENT", "FILES"):
        assert section in text
    assert "141" in text and "--completion" in text.replace("\u2010", "-")


def completion_env(tmp_path: Path) -> dict[str, str]:
    """The checkout's bootsh first on PATH: the shells' completion functions call it."""
    return {**os.environ, "PATH": f"{CONSOLE_SCRIPT.parent}{os.pathsep}{os.environ['PATH']}"}


BASH = """
source <(bootsh --completion bash)
ask() {
    COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}; read -ra COMP_WORDS <<< "$1"
    [[ $1 == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=()
    _python_argcomplete bootsh
    printf '%s|' "${COMPREPLY[@]}"; echo
}
ask "bootsh --che"
ask "bootsh --completion "
ask "bootsh --no-pl"
"""


def test_bash_completes_the_options(tmp_path: Path) -> None:
    bash = need("bash")
    proc = subprocess.run(
        [bash, "-c", BASH],
        capture_output=True,
        text=True,
        env=completion_env(tmp_path),
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert proc.stdout.splitlines() == ["--check |", "bash|zsh|fish|", "--no-plugin |"], proc.stderr


def test_fish_completes_the_options(tmp_path: Path) -> None:
    fish = need("fish")
    script = (
        "bootsh --completion fish | source;"
        ' complete -C "bootsh --che"; complete -C "bootsh --completion "'
    )
    proc = subprocess.run(
        [fish, "--no-config", "-c", script],
        capture_output=True,
        text=True,
        env={**completion_env(tmp_path), "HOME": str(tmp_path)},
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    offered = [line.split("\t")[0] for line in proc.stdout.splitlines()]
    assert offered == ["--check", "bash", "fish", "zsh"], proc.stderr


def test_zsh_gets_a_valid_script_and_described_candidates(tmp_path: Path) -> None:
    """zsh's completion system needs an interactive shell to run; the script is checked by
    zsh itself, and the candidates with their descriptions through the protocol it uses."""
    zsh = need("zsh")
    script = subprocess.run(
        [sys.executable, "-m", "bootsh", "--completion", "zsh"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=True,
    ).stdout
    assert script.startswith("#compdef bootsh")
    syntax = subprocess.run([zsh, "-n"], input=script, capture_output=True, text=True, timeout=60)
    assert (syntax.returncode, syntax.stderr) == (0, "")
    answer = tmp_path / "answer"
    env = {
        **os.environ,
        "_ARGCOMPLETE": "1",
        "_ARGCOMPLETE_SHELL": "zsh",
        "_ARGCOMPLETE_SUPPRESS_SPACE": "1",  # as the zsh script sets them
        "COMP_LINE": "bootsh --che",
        "COMP_POINT": "12",
        "_ARGCOMPLETE_STDOUT_FILENAME": str(answer),
    }
    proc = subprocess.run(
        [str(CONSOLE_SCRIPT)], env=env, capture_output=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert answer.read_text().startswith("--check:check the scripts named after it")


def test_completion_loads_nothing_for_an_ordinary_run() -> None:
    code = (
        "import sys; from bootsh.cli import main;"
        " main(['-c', 'echo']); print('argcomplete' in sys.modules)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert proc.stdout.splitlines()[-1] == "False"
