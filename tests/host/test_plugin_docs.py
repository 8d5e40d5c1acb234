"""The plugin guide's examples (docs/plugins.md) run as written: each one is loaded from the page
into a real plugin host next to the built-in plugins, and a shell drives it.
"""

from __future__ import annotations

import importlib.util
import io
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType

import pytest

from bootsh import hookimpl
from bootsh.context import Config, Context
from bootsh.nics.nic import Nic
from bootsh.plugins import make_plugin_manager
from bootsh.shell import Shell
from tests.helpers import ROOT

GUIDE = ROOT / "docs" / "plugins.md"
#: The drivers of this machine stay out: each example brings the NICs it needs.
QUIET = ("netfront", "pci_nics")


def examples() -> dict[str, str]:
    text = GUIDE.read_text(encoding="utf-8")
    return dict(re.findall(r"<!-- example: ([\w-]+) -->\n```python\n(.*?)```", text, re.S))


def load(name: str, tmp_path: Path) -> ModuleType:
    path = tmp_path / f"bootsh_doc_{name.replace('-', '_')}.py"
    path.write_text(examples()[name], encoding="utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shell_with(
    plugins: Sequence[tuple[str, object]], sysfs: Path, reports: list[str] | None = None
) -> Iterator[Shell]:
    host = make_plugin_manager(
        disabled=QUIET, report=(reports.append if reports is not None else None), extra=plugins
    )
    err = io.StringIO()
    with Shell(host, Context(Config(sysfs_root=sysfs), stderr=err), io.StringIO(), err) as shell:
        yield shell


@pytest.fixture
def sysfs(tmp_path: Path) -> Path:
    root = tmp_path / "sys"
    (root / "class" / "net").mkdir(parents=True)
    return root


def out(shell: Shell) -> str:
    assert isinstance(shell.out, io.StringIO)
    return shell.out.getvalue()


def err(shell: Shell) -> str:
    assert isinstance(shell.err, io.StringIO)
    return shell.err.getvalue()


def test_the_guide_has_one_example_per_kind_of_plugin() -> None:
    assert sorted(examples()) == ["command", "driver", "image-type", "policy", "scheme"]
    for source in examples().values():
        imports = re.findall(r"^from (\S+) import", source, re.M)
        assert {m for m in imports if m.startswith("bootsh")} <= {"bootsh.api"}


def test_the_command_example(tmp_path: Path, sysfs: Path) -> None:
    reports: list[str] = []
    for shell in shell_with([("hello", load("command", tmp_path))], sysfs, reports):
        assert shell.run_line("hello -n Xen 2") == 0
        assert out(shell) == "hello, Xen\nhello, Xen\n"
        # A bad number: iPXE's parse_integer message and error, through the shell.
        assert shell.run_line("hello x || echo status ${errno}") == 0
        assert out(shell).endswith('"x": invalid integer value\nstatus 0x1c162116\n')
        assert shell.run_line("hello 500 || echo status ${errno}") == 0
        assert out(shell).endswith("status 0x46162022\n")  # ERANGE in parseopt.c's file
        assert "bootsh: hello: 500 greetings are too many" in err(shell)
        assert shell.run_line("hello --help") != 0
        assert out(shell).endswith(
            "Usage:\n\n  hello [-n|--name <name>] [<count>]\n\n"
            "See https://ipxe.org/cmd/hello for further information\n"
        )
        assert shell.run_line("hello 1 2") != 0  # too many arguments: the usage again
        assert shell.run_line("help") == 0 and "hello" in out(shell)
    assert reports == []


def test_the_driver_example(tmp_path: Path, sysfs: Path) -> None:
    net = sysfs / "class" / "net"
    for name, kind, mac in (("veth0", "1", "02:00:00:00:00:01"), ("lo", "772", "00:" * 5 + "00"),
                            ("tap1", "1", "garbage")):  # fmt: skip
        (net / name).mkdir()
        (net / name / "type").write_text(kind + "\n")
        (net / name / "address").write_text(mac + "\n")
    (net / "eth0").mkdir()  # a real device: its bus driver reports it, not this one
    (net / "eth0" / "device").mkdir()
    (net / "eth0" / "type").write_text("1\n")
    (net / "eth0" / "address").write_text("52:54:00:12:34:56\n")
    for shell in shell_with([("vnet", load("driver", tmp_path))], sysfs):
        assert shell.run_line("ifstat") == 0
        netdevs = [line for line in out(shell).splitlines() if not line.startswith(" ")]
        assert netdevs == ["net0: 02:00:00:00:00:01 using vnet on veth0 (Ethernet) [closed]"]
        assert "bootsh: vnet tap1 is unusable: unreadable MAC 'garbage'" in err(shell)
        unusable = [nic.location for nic in shell.netdevs().unusable]
        assert unusable == ["tap1"]


class _Twins:
    """A netfront vif and an emulated NIC with its MAC, standing in for the two drivers."""

    @hookimpl
    def bootsh_probe_nics(self) -> Sequence[Nic]:
        mac = "00:16:3e:00:00:01"
        return [
            Nic("netfront", "vif/0", mac, "xen", paravirtual=True, order=10),
            Nic("rtl8139", "0000:00:04.0", mac, "pci", order=50),
        ]


def test_the_policy_example(tmp_path: Path, sysfs: Path) -> None:
    plugins = [("netfront-only", load("policy", tmp_path)), ("twins", _Twins())]
    for shell in shell_with(plugins, sysfs):
        # With a MAC alone the pair is only a possible twin: the built-in default shows both.
        assert [n.name for n in shell.netdevs().shown] == ["net0", "net1"]
        assert shell.run_line("set twins netfront-only") == 0
        resolution = shell.netdevs()
        assert [(n.nic.location, n.name) for n in resolution.netdevs] == [
            ("vif/0", "net0"), ("0000:00:04.0", None)
        ]  # fmt: skip
        hidden = resolution.hidden[0]
        assert hidden.hidden is not None and hidden.hidden.text == "shares the MAC of"
        assert resolution.groups[0][1].summary == "kept only netfront vif/0"
        assert resolution.groups[0][1].by == "netfront-only"
        assert shell.run_line("set twins no-such-policy") != 0


def test_the_scheme_example(tmp_path: Path, sysfs: Path) -> None:
    for shell in shell_with([("zeros", load("scheme", tmp_path))], sysfs):
        assert shell.run_line("imgfetch zeros:///4096") == 0
        assert "zeros:///4096... ok" in out(shell)
        assert shell.run_line("imgstat") == 0
        assert "4096 : 4096 bytes" in out(shell)
        assert shell.run_line("imgfetch zeros:///lots || echo failed ${errno}") == 0
        assert "zeros:///lots... Invalid argument" in out(shell)
        assert "failed 0x" in out(shell)


def test_the_image_type_example(tmp_path: Path, sysfs: Path) -> None:
    motd = tmp_path / "motd.txt"
    motd.write_bytes(b"#!motd\nWelcome to the lab.\n")
    for shell in shell_with([("motd", load("image-type", tmp_path))], sysfs):
        assert shell.run_line(f"imgfetch file://{motd}") == 0
        assert shell.run_line("imgstat") == 0
        assert f"motd.txt : {motd.stat().st_size} bytes [motd]" in out(shell)
        assert shell.run_line("chain motd.txt") == 0
        assert out(shell).endswith("Welcome to the lab.\n")
