"""The built-in plugins load their parts when a hook needs them; what they know up front
about those parts (command names, the unplug policy's name, the route settings) is what the
parts say."""

from __future__ import annotations

import importlib

import bootsh_ipxe_cmds
import bootsh_netfront
from bootsh.net import ifmgmt
from bootsh_netfront import unplug
from tests.helpers import python_output


def test_lazy_command_names_are_the_modules_records() -> None:
    for module, names in bootsh_ipxe_cmds.LAZY.items():
        records = importlib.import_module(f"bootsh_ipxe_cmds.{module}").COMMANDS
        assert names == tuple(word for cmd in records for word in (cmd.name, *cmd.aliases))


def test_constants_known_without_the_modules() -> None:
    assert bootsh_netfront.UNPLUG == unplug.POLICY
    assert bootsh_ipxe_cmds.ROUTE_SETTINGS == ifmgmt.ROUTE_SETTINGS


def test_a_command_module_loads_with_its_first_command() -> None:
    code = (
        "import io, sys\n"
        "from bootsh.cli import main\n"
        "main(['--sysfs-root', '/nonexistent', '-c', 'echo hi'], stdout=io.StringIO())\n"
        "print(sorted(m.split('.')[1] for m in sys.modules if m.startswith('bootsh_ipxe_cmds.')))\n"
    )
    assert python_output(code) == "['flow']\n"


def test_help_and_completion_still_see_every_command() -> None:
    from bootsh.plugins import make_plugin_manager
    from tests.helpers import make_shell

    shell = make_shell(make_plugin_manager())
    assert {"imgfetch", "dhcp", "menu", "ping"} <= set(shell.commands.names())
    imgfetch = shell.commands.get("initrd")  # an alias loads its module
    assert imgfetch is not None and imgfetch.name == "imgfetch"
