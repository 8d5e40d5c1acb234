"""The plugin host: loading, blocking, isolation of failing plugins, introspection."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import EntryPoint
from pathlib import Path

from bootsh import hookimpl
from bootsh.context import Config, Context
from bootsh.errors import BootshError
from bootsh.lang.commands import Command, Invocation
from bootsh.nics.nic import Nic
from bootsh.plugins import make_plugin_manager


def _nic(location: str, mac: str = "00:16:3e:00:00:01") -> Nic:
    return Nic(driver="dummy", location=location, mac=mac, bus="test")


class GoodDriver:
    @hookimpl
    def bootsh_probe_nics(self, context: Context) -> Sequence[Nic]:
        return [_nic("slot/1")]


class CrashingDriver:
    @hookimpl
    def bootsh_probe_nics(self, context: Context) -> Sequence[Nic]:
        raise RuntimeError("driver bug")


class FailingDriver:
    """A clear, expected failure: reported, but the plugin stays loaded."""

    @hookimpl
    def bootsh_probe_nics(self, context: Context) -> Sequence[Nic]:
        raise BootshError("XenStore timed out after 0.5 s reading device/vif")


def test_one_crashing_plugin_does_not_stop_the_others() -> None:
    reports: list[str] = []
    host = make_plugin_manager(
        entry_points=False,
        report=reports.append,
        extra=[("good", GoodDriver()), ("crashy", CrashingDriver())],
    )
    nics = host.probe_nics(Context(Config()))
    assert [(n.location, n.source) for n in nics] == [("slot/1", "good")]
    assert len(reports) == 1
    assert "crashy" in reports[0] and "RuntimeError: driver bug" in reports[0]
    assert "\n" not in reports[0]
    # Dropped for the rest of the session: no second report on the next call.
    host.probe_nics(Context(Config()))
    assert len(reports) == 1
    assert host.plugins["crashy"].state == "failed"


def test_expected_failure_is_reported_and_plugin_kept() -> None:
    reports: list[str] = []
    host = make_plugin_manager(
        entry_points=False, report=reports.append, extra=[("xen", FailingDriver())]
    )
    assert host.probe_nics(Context(Config())) == []
    assert reports == ["xen: XenStore timed out after 0.5 s reading device/vif"]
    assert host.plugins["xen"].state == "loaded"


class Misspelt:
    @hookimpl
    def bootsh_probe_nic(self, context: Context) -> None:  # no such hook
        return None


def test_unknown_hook_is_caught_by_check_pending() -> None:
    reports: list[str] = []
    host = make_plugin_manager(
        entry_points=False, report=reports.append, extra=[("typo", Misspelt())]
    )
    assert host.plugins["typo"].state == "failed"
    assert "bootsh_probe_nic" in reports[0] and "typo" in reports[0]
    assert not host.registry.is_registered(Misspelt)


class Wrapper:
    @hookimpl(wrapper=True)
    def bootsh_probe_nics(self, context: Context):  # type: ignore[no-untyped-def]
        return (yield)


def test_hook_wrappers_are_refused_clearly() -> None:
    reports: list[str] = []
    host = make_plugin_manager(
        entry_points=False, report=reports.append, extra=[("wrap", Wrapper())]
    )
    assert host.plugins["wrap"].state == "failed"
    assert "wrappers are not supported" in reports[0]


def test_blocking_is_by_name_and_loose_about_dashes() -> None:
    host = make_plugin_manager(
        entry_points=False, disabled=["Good-Driver"], extra=[("good_driver", GoodDriver())]
    )
    assert host.probe_nics(Context(Config())) == []
    assert host.plugins["good_driver"].state == "blocked"


def test_entry_point_that_fails_to_import_is_reported_and_skipped() -> None:
    reports: list[str] = []
    host = make_plugin_manager(entry_points=False, report=reports.append)
    host.load_entry_points([EntryPoint("ghost", "bootsh_no_such_module_anywhere", "bootsh")])
    assert host.plugins["ghost"].state == "failed"
    assert reports == [
        "plugin ghost failed to load: ModuleNotFoundError: No module named"
        " 'bootsh_no_such_module_anywhere'; skipped"
    ]


def test_builtin_plugins_come_from_entry_points_and_can_be_blocked() -> None:
    host = make_plugin_manager()
    for name in ("policies", "netfront", "pci_nics", "ipxe_cmds"):
        info = host.plugins[name]
        assert info.state == "loaded", (name, info.reason)
        assert info.distribution == "bootsh"
    blocked = make_plugin_manager(disabled=["netfront", "ipxe-cmds"])
    assert blocked.plugins["netfront"].state == "blocked"
    assert blocked.plugins["ipxe_cmds"].state == "blocked"
    assert "ifstat" not in blocked.commands().commands


class Commands:
    def __init__(self, name: str) -> None:
        self.name = name

    @hookimpl
    def bootsh_register_commands(self, register: Callable[[Command], None]) -> None:
        def handler(inv: Invocation) -> int:
            return 0

        register(Command("ifstat", handler, f"ifstat from {self.name}"))
        register(Command(f"only-{self.name}", handler, "mine"))


def test_command_name_clash_is_reported_and_first_wins() -> None:
    reports: list[str] = []
    host = make_plugin_manager(
        entry_points=False,
        report=reports.append,
        extra=[("one", Commands("one")), ("two", Commands("two"))],
    )
    table = host.commands()
    ifstat = table.get("ifstat")
    assert ifstat is not None
    # pluggy calls the last registered first; that plugin's registration wins.
    assert ifstat.source == "two"
    assert {"only-one", "only-two"} <= set(table.names())
    assert reports == ["command 'ifstat' from plugin one ignored: already provided by plugin two"]


def test_describe_lists_origin_and_hooks() -> None:
    host = make_plugin_manager(disabled=["pci_nics"])
    lines = host.describe()
    assert "policies: loaded from bootsh 0.1.0 (module bootsh_policies)" in lines
    index = lines.index("policies: loaded from bootsh 0.1.0 (module bootsh_policies)")
    assert lines[index + 1] == "  hooks: bootsh_register_twin_policies, bootsh_resolve_twins"
    assert "pci_nics: blocked from bootsh 0.1.0 (module bootsh_pci_nics)" in lines


def test_broken_third_party_distribution_end_to_end(tmp_path: Path) -> None:
    """A real installed-looking distribution whose plugin raises at import time."""
    site = tmp_path / "site"
    dist = site / "bootsh_broken-0.3.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: bootsh-broken\nVersion: 0.3\n")
    (dist / "entry_points.txt").write_text("[bootsh]\nbroken = bootsh_broken\n")
    (site / "bootsh_broken.py").write_text("raise ValueError('half-written plugin')\n")
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = subprocess.run(
        [sys.executable, "-m", "bootsh", "--sysfs-root", str(tmp_path), "-c", "echo still here"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "still here\n"
    assert proc.stderr == (
        "bootsh: plugin broken (bootsh-broken 0.3) failed to load:"
        " ValueError: half-written plugin; skipped\n"
    )


class BrokenRegistrar:
    @hookimpl
    def bootsh_register_commands(self, register: Callable[[Command], None]) -> None:
        raise KeyError("oops")


def test_plugin_raising_while_registering_commands_is_dropped() -> None:
    reports: list[str] = []
    host = make_plugin_manager(
        entry_points=False,
        report=reports.append,
        extra=[("one", Commands("one")), ("broken", BrokenRegistrar())],
    )
    assert "only-one" in host.commands().names()
    assert reports == [
        "plugin broken raised in bootsh_register_commands: KeyError: 'oops'; skipped"
    ]
    assert host.plugins["broken"].state == "failed"
