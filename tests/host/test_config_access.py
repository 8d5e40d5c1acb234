"""A config file or HOME that bootsh may not read (issue 14, item 2): one line naming the file
and the reason, never a traceback. A file only found by the search is skipped (the run goes on
with the next place or the defaults); a file named on purpose must be readable (status 2).

The tests run bootsh as root without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (``setpriv``),
so that file modes bind it as they bind an ordinary user (``su`` without ``-``)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bootsh.config import Choices, config_candidates, merge
from tests.helpers import ROOT

NO_DAC = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[Path]:
    """A directory nobody may read or enter (mode 000); opened again at the end."""
    path = tmp_path / "locked"
    path.mkdir()
    path.chmod(0)
    yield path
    path.chmod(0o700)


def bootsh_without_dac(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) missing")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "BOOTSH_"))}
    return subprocess.run(
        [*NO_DAC, sys.executable, "-m", "bootsh", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**base, **env},
        timeout=60,
        check=False,
    )


def test_an_unreadable_home_is_one_warning_then_the_defaults(locked: Path) -> None:
    proc = bootsh_without_dac({"HOME": str(locked)}, "-c", "echo hi")
    file = locked / ".config" / "bootsh" / "config.toml"
    assert proc.stderr == (
        f"bootsh: cannot read config file {file}: Permission denied; going on without it\n"
    )
    assert (proc.returncode, proc.stdout) == (0, "hi\n")


def test_an_unreadable_file_in_xdg_config_home_is_skipped(tmp_path: Path) -> None:
    file = tmp_path / "xdg" / "bootsh" / "config.toml"
    file.parent.mkdir(parents=True)
    file.write_text('twins = "label"\n')
    file.chmod(0)
    proc = bootsh_without_dac(
        {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}, "-c", "echo hi"
    )
    assert proc.stderr == (
        f"bootsh: cannot read config file {file}: Permission denied; going on without it\n"
    )
    assert (proc.returncode, proc.stdout) == (0, "hi\n")


@pytest.mark.parametrize("how", ["--config", "BOOTSH_CONFIG"])
def test_an_unreadable_file_named_on_purpose_stops_with_2(tmp_path: Path, how: str) -> None:
    file = tmp_path / "mine.toml"
    file.write_text('twins = "label"\n')
    file.chmod(0)
    env = {"HOME": str(tmp_path)}
    argv = ["-c", "echo hi"]
    if how == "--config":
        argv = ["--config", str(file), *argv]
    else:
        env[how] = str(file)
    proc = bootsh_without_dac(env, *argv)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == f"bootsh: cannot read config file {file}: Permission denied\n"


def test_no_home_and_no_passwd_entry_skips_the_user_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A container's arbitrary uid: no HOME, no passwd entry; ``~`` cannot be expanded."""

    def nobody(uid: int) -> pwd.struct_passwd:
        raise KeyError(uid)

    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setattr(pwd, "getpwuid", nobody)
    assert config_candidates({}) == [Path("/etc/bootsh/config.toml")]
    assert merge(Choices(), {}).config_file in (None, Path("/etc/bootsh/config.toml"))
