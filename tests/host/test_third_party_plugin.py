"""A real third-party plugin, pip-installed, takes the twin decision through the public hook.

The example package under examples/twin_prefer_e1000 is installed with pip into a private
directory (not into the test environment, so no other test sees it) and bootsh runs with that
directory on PYTHONPATH, exactly as if the user had installed it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MACHINE = ROOT / "examples" / "machines" / "xen-hvm"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("build")
    # --no-deps: bootsh itself is already installed; --no-build-isolation: no network needed.
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
            "--no-build-isolation", "--target", str(target),
            str(ROOT / "examples" / "twin_prefer_e1000"),
        ],
        check=True, timeout=300, env={**os.environ, "TMPDIR": str(build)},
    )  # fmt: skip
    assert (target / "bootsh_prefer_e1000.py").is_file()
    return target


def bootsh(site: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bootsh", "--machine", str(MACHINE), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(site), "HOME": str(site), **env},
    )


PREFERRED = """\
net0: 00:16:3e:5f:48:e4 using netfront on vif/0 (Ethernet) [closed]
  [Link:up, TX:0 TXE:0 RX:0 RXE:0]
net1: 00:16:3e:1a:2b:3c using e1000 on 0000:00:05.0 (Ethernet) [closed]
  [Link:up, TX:0 TXE:0 RX:0 RXE:0]
  [Twin: e1000 on xenbr0, preferred over its netfront twin]
"""

DEFAULT = """\
net0: 00:16:3e:5f:48:e4 using netfront on vif/0 (Ethernet) [closed]
  [Link:up, TX:0 TXE:0 RX:0 RXE:0]
net1: 00:16:3e:1a:2b:3c using netfront on vif/1 (Ethernet) [closed]
  [Link:up, TX:0 TXE:0 RX:0 RXE:0]
"""


def test_installed_plugin_is_listed_with_its_distribution(site: Path) -> None:
    proc = bootsh(site, "--plugins")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    entry = "prefer_e1000: loaded from bootsh-prefer-e1000 1.0.0 (module bootsh_prefer_e1000)"
    assert entry in lines
    assert lines[lines.index(entry) + 1] == (
        "  hooks: bootsh_register_twin_policies, bootsh_resolve_twins"
    )


def test_its_decision_wins_over_the_default_policy(site: Path) -> None:
    proc = bootsh(site, "-c", "ifstat")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, PREFERRED, "")
    twins = bootsh(site, "-c", "twins").stdout
    # vif 1's group was decided by the plugin; vif 0's rtl8139 group fell through to the default.
    assert "  decision: kept the e1000 on xenbr0 (policy hide-emulated, by prefer_e1000)" in twins
    assert "  decision: hid 1 emulated twin(s) (policy hide-emulated, by policies)" in twins
    assert "    hide netfront vif/1 (hidden): netfront twin of net1" in twins


def test_its_own_policy_name_is_accepted(site: Path) -> None:
    proc = bootsh(site, "--twins", "prefer-e1000", "-c", "ifstat")
    # Under its own policy the rtl8139 group has no decider, so both of that pair stay shown.
    assert proc.returncode == 0, proc.stderr
    assert [
        line.split(" using ")[1].split(" (")[0]
        for line in proc.stdout.splitlines()
        if " using " in line
    ] == [
        "netfront on vif/0",
        "rtl8139 on 0000:00:04.0",
        "e1000 on 0000:00:05.0",
    ]


@pytest.mark.parametrize("how", ["option", "environment", "config"])
def test_blocking_it_restores_the_default(site: Path, how: str) -> None:
    if how == "option":
        proc = bootsh(site, "--no-plugin", "prefer-e1000", "-c", "ifstat")
    elif how == "environment":
        proc = bootsh(site, "-c", "ifstat", BOOTSH_DISABLE_PLUGINS="prefer_e1000")
    else:
        config = site.parent / "no-e1000.toml"
        config.write_text('[plugins]\ndisable = ["prefer_e1000"]\n')
        proc = bootsh(site, "-c", "ifstat", BOOTSH_CONFIG=str(config))
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, DEFAULT, "")


def test_without_it_its_policy_name_is_unknown(site: Path) -> None:
    proc = bootsh(site, "--no-plugin", "prefer_e1000", "--twins", "prefer-e1000", "-c", "ifstat")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "unknown twin policy 'prefer-e1000'" in proc.stderr
