"""Start-up stays light: a budget of modules per command line, and the heavy ones never.

Each command runs in a fresh interpreter started without ``site`` (``-S``), with this
checkout, its plugins and the installed distributions' metadata on ``PYTHONPATH``: an
editable install's import hook (which loads pathlib and re at every start) would otherwise
hide what bootsh itself imports. The count is of modules that were not there before bootsh
was imported. Time is bench/startup.py's business; modules are what a change adds, and
what this test holds to a number.

When a change needs more modules, make sure they are worth it (bench/startup.py before
and after), then raise the budget here in the same commit, saying why.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys

import pytest

from tests.helpers import ROOT

MACHINE = ROOT / "examples" / "machines" / "xen-hvm"

#: Modules whose import costs more than bootsh's whole start on a busy two-core machine, or
#: that only some commands need: none of them for ``echo``.
NEVER_FOR_ECHO = (
    "argparse", "collections", "contextlib", "dataclasses", "email", "enum", "functools",
    "importlib.metadata", "inspect", "pathlib", "pluggy", "prompt_toolkit", "re", "scapy",
    "shutil", "socket", "tempfile", "typing", "urllib", "zipfile",
)  # fmt: skip
NEVER_FOR_IFSTAT = (*NEVER_FOR_ECHO, "ipaddress", "selectors")

#: (argv, budget, never): at most ``budget`` modules beyond the bare interpreter's (without
#: site: os and its kin count too). Measured when set: echo 44, ifstat on the example
#: machine 65 (bootsh's own modules, the plugins', and the standard library's basics).
CASES = {
    "echo": (["-c", "echo hi"], 48, NEVER_FOR_ECHO),
    "ifstat": (["--machine", str(MACHINE), "-c", "ifstat"], 72, NEVER_FOR_IFSTAT),
}


def imported_by(argv: list[str]) -> list[str]:
    code = (
        "import io, sys\n"
        "before = set(sys.modules)\n"
        "from bootsh.cli import main\n"
        f"status = main({argv!r}, stdout=io.StringIO())\n"
        "new = sorted(set(sys.modules) - before)\n"
        "import json\n"  # only now: json imports re, enum and collections
        "print(json.dumps([status, new]))\n"
    )
    path = [str(ROOT), str(ROOT / ".mypy"), *site.getsitepackages()]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    proc = subprocess.run(
        [sys.executable, "-S", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    status, modules = json.loads(proc.stdout)
    assert status == 0, proc.stderr
    return list(modules)


@pytest.mark.parametrize("case", sorted(CASES))
def test_start_up_imports_stay_within_budget(case: str) -> None:
    argv, budget, never = CASES[case]
    modules = imported_by(argv)
    heavy = sorted(m for m in modules if m in never or m.split(".")[0] in never)
    assert heavy == [], f"{case} imports {heavy}"
    assert len(modules) <= budget, f"{case}: {len(modules)} modules > {budget}: {modules}"
