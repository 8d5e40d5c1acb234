"""The README's samples are the program's real output (issue 14, item 7: the ``twins``
sample showed its evidence in another order than bootsh prints it).

Every ``$ bootsh ...`` line of a README code block on the example machine is run; the lines
under it must be what bootsh prints, where a line ``...`` stands for any lines and ``...``
inside a line for any text."""

from __future__ import annotations

import io
import re
import shlex

import pytest

from bootsh.cli import main
from tests.helpers import ROOT

README = (ROOT / "README.md").read_text()


def samples() -> list[tuple[str, list[str]]]:
    """(command, expected lines) for each ``$ bootsh --machine ...`` with output shown."""
    blocks: list[list[str]] = []
    inside: list[str] | None = None
    for line in README.splitlines():
        if line.startswith("```"):
            if inside is None:
                inside = []
            else:
                blocks.append(inside)
                inside = None
        elif inside is not None:
            inside.append(line)
    found: list[tuple[str, list[str]]] = []
    for block in blocks:
        command: str | None = None
        lines: list[str] = []
        for line in [*block, "$ end"]:
            if line.startswith("$ "):
                if command is not None and lines:
                    found.append((command, lines))
                command, lines = line[2:].split("  #")[0].strip(), []
            else:
                lines.append(line)
    return [(c, lines) for c, lines in found if c.startswith("bootsh --machine ")]


def pattern(lines: list[str]) -> re.Pattern[str]:
    parts = []
    for line in lines:
        if line == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(".*?".join(map(re.escape, line.split("..."))) + r"\n")
    return re.compile("".join(parts), re.S)


def test_the_readme_has_the_samples() -> None:
    commands = [c for c, _ in samples()]
    assert "bootsh --machine examples/machines/xen-hvm -c twins" in commands
    assert len(commands) >= 4


@pytest.mark.parametrize(("command", "lines"), samples(), ids=lambda v: str(v)[:60])
def test_each_sample_is_what_bootsh_prints(command: str, lines: list[str]) -> None:
    argv = shlex.split(command)[1:]
    argv = [str(ROOT / a) if a.startswith("examples/") else a for a in argv]
    out, err = io.StringIO(), io.StringIO()
    status = main(argv, env={}, stdin=io.StringIO(), stdout=out, stderr=err)
    assert (status, err.getvalue()) == (0, "")
    assert pattern(lines).fullmatch(out.getvalue()), out.getvalue()
