"""The install story on a Python that is "externally managed" (PEP 668), as Debian 12's own
is (issue 14, item 6): the README's old first command fails there, install.sh works, and its
bootsh runs the README's example. The venv and the command go to the test's directory
(BOOTSH_VENV, BOOTSH_PREFIX), never /opt or /usr/local of the machine running the tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers import MACHINE, ROOT

DEBIAN_PYTHON = Path("/usr/bin/python3")


def externally_managed() -> Path:
    """Debian's python3, when it carries the PEP 668 marker (the case install.sh is for)."""
    if not DEBIAN_PYTHON.exists():
        pytest.skip("no /usr/bin/python3")
    proc = subprocess.run(
        [str(DEBIAN_PYTHON), "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
        capture_output=True,
        text=True,
        check=True,
    )
    if not (Path(proc.stdout.strip()) / "EXTERNALLY-MANAGED").exists():
        pytest.skip(f"{DEBIAN_PYTHON} is not externally managed here")
    return DEBIAN_PYTHON


def debian_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a plain Debian shell: its own python3 first on PATH."""
    return {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(tmp_path / "home"),
        "LANG": "C.UTF-8",
        **{k: v for k, v in os.environ.items() if k.startswith("PIP_")},
    }


def test_the_old_first_command_is_refused_by_debians_python(tmp_path: Path) -> None:
    python = externally_managed()
    proc = subprocess.run(
        [str(python), "-m", "pip", "install", "--dry-run", "."],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=debian_env(tmp_path),
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0
    assert "externally-managed-environment" in proc.stderr or "No module named pip" in proc.stderr


def test_install_sh_works_with_debians_python_and_runs_the_example(tmp_path: Path) -> None:
    externally_managed()
    prefix = tmp_path / "prefix"
    built_before = (ROOT / "build").exists()
    env = {
        **debian_env(tmp_path),
        "BOOTSH_VENV": str(tmp_path / "venv"),
        "BOOTSH_PREFIX": str(prefix),
    }
    proc = subprocess.run(
        ["sh", str(ROOT / "install.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"is {prefix / 'bin'}/bootsh" in proc.stdout
    ran = subprocess.run(
        [str(prefix / "bin" / "bootsh"), "--machine", str(MACHINE), "-c", "ifstat"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("net0: 00:16:3e:5f:48:e4 using netfront on vif/0")
    for installed in (
        "share/man/man1/bootsh.1",
        "share/bash-completion/completions/bootsh",
        "share/fish/vendor_completions.d/bootsh.fish",
        "share/zsh/site-functions/_bootsh",
    ):
        assert (prefix / installed).stat().st_size > 0, installed
    # Not editable: the copy runs without the checkout.
    where = subprocess.run(
        [str(tmp_path / "venv" / "bin" / "python"), "-c", "import bootsh; print(bootsh.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    assert not where.stdout.startswith(str(ROOT))
    assert not (ROOT / "build").exists() or built_before  # the checkout is left as found
