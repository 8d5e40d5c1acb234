"""Shared test configuration.

A test may skip on a developer's machine that lacks a part (xenstored, tmux, a PCI bus),
but in CI a skipped test proves nothing: with BOOTSH_NO_SKIP=1 (set by .ci/run) every skip
is turned into a failure that names what was missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from bootsh.plugins import PluginHost, make_plugin_manager
from tests.helpers import Tmux
from tests.xenstored import Xenstored, XenstoredUnavailable, build_stub, find_xenstored

# Hypothesis's defaults fail an example that takes over 200 ms and a strategy it finds slow:
# verdicts of machine speed (CI shares 2 cores). Every property test runs without them.
settings.register_profile("bootsh", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("bootsh")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if (
        report.skipped
        and os.environ.get("BOOTSH_NO_SKIP") == "1"
        and not hasattr(report, "wasxfail")
    ):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped in CI, which counts as a failure: {reason}"
    return report


@pytest.fixture(scope="session")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The LD_PRELOAD object that lets xenstored run without a hypervisor, built once."""
    try:
        find_xenstored()
        return build_stub(tmp_path_factory.mktemp("xenstub"))
    except XenstoredUnavailable as exc:
        pytest.skip(f"xenstored harness unavailable: {exc}")


@pytest.fixture(scope="module")
def xsd(stub: Path) -> Iterator[Xenstored]:
    """A fresh real xenstored for each test module (a module may narrow the scope)."""
    with Xenstored(stub=stub) as daemon:
        yield daemon


@pytest.fixture(scope="module")
def host() -> PluginHost:
    """The installed plugins, loaded once per module, reporting nothing."""
    return make_plugin_manager(report=lambda line: None)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    """A tmux server of the test's own (a socket in its temporary directory), killed at the end."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    t = Tmux(tmp_path)
    yield t
    subprocess.run(
        ["tmux", "-S", str(t.socket), "kill-server"], capture_output=True, timeout=30, check=False
    )
