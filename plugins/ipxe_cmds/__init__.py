"""The iPXE commands, a plugin like any other (entry point ``ipxe_cmds``).

Each module holds one group of commands and a ``COMMANDS`` tuple of records. This module
registers each group by its names only (``CommandGroup``): a module, and whatever it imports
(downloads, DHCP, menus...), is loaded the first time one of its commands is needed, so that
``bootsh -c 'echo hi'`` loads ``flow`` and nothing else. ``LAZY`` must list each module's
command names and aliases exactly (a test compares it with the modules' records); a module
added to ``GROUPS`` instead is registered eagerly, as before.
"""

from __future__ import annotations

import importlib
import sys

from bootsh.api import Command, CommandGroup, hookimpl

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any

    from bootsh.api import Shell

#: Module -> the names and aliases of its commands, registered without importing it.
LAZY: dict[str, tuple[str, ...]] = {
    "flow": ("echo", "exit", "goto", "isset", "iseq", "sleep", "time", "help"),
    "setting_cmds": ("config", "show", "set", "clear", "inc"),
    "netdev_cmds": ("ifopen", "ifclose", "ifstat"),
    "extensions": ("twins", "plugins"),
    "console_cmds": ("prompt", "read", "login", "shell"),
    "menu_cmds": ("menu", "form", "item", "choose", "present"),
    "config_cmds": ("ifconf", "dhcp", "iflinkwait", "pxebs", "route"),
    "image_cmds": (
        *("imgfetch", "module", "initrd", "imgselect", "imgload", "kernel", "imgexec"),
        *("chain", "boot", "imgargs", "imgstat", "imgfree", "autoboot"),
        *("md5sum", "sha1sum", "sha224sum", "sha256sum", "sha384sum", "sha512sum"),
    ),
    "ip_cmds": ("ping", "nslookup", "ntp", "ipstat", "nstat"),
    "trust_cmds": ("imgverify", "imgtrust", "certstat", "certstore", "certfree"),
    "vlan_cmds": ("vcreate", "vdestroy"),
    "param_cmds": ("params", "param", "imgset"),
    "archive_cmds": ("imgextract", "imgmem"),
    "system_cmds": ("cpuid", "sync", "shim", "colour", "cpair", "console"),
    "san_cmds": ("sanhook", "sanboot", "sanunhook", "poweroff", "reboot"),
}

#: Modules registered eagerly (their records are read at start-up).
GROUPS: tuple[ModuleType, ...] = ()

#: The settings whose change reaches an open netdev's kernel interface: the route applicator
#: (``bootsh.net.ifmgmt``, which imports the network code) loads only for these.
ROUTE_SETTINGS = frozenset({"ip", "netmask", "gateway"})


def _loader(module: str) -> Callable[[], tuple[Command, ...]]:
    def load() -> tuple[Command, ...]:
        records: tuple[Command, ...] = importlib.import_module(f"{__name__}.{module}").COMMANDS
        return records

    return load


@hookimpl
def bootsh_register_commands(register: Callable[[Command | CommandGroup], None]) -> None:
    for module, names in LAZY.items():
        register(CommandGroup(names, _loader(module)))
    for group in GROUPS:
        for command in group.COMMANDS:
            register(command)


@hookimpl
def bootsh_shell_shutdown(shell: Shell) -> None:
    # SAN drives first: an image-backed drive's file lives in the image directory. Drives
    # exist only once bootsh.disks has its state in the shell, images only once
    # bootsh.boot.images has made the shell's store.
    if any(key.startswith("bootsh.disks") for key in shell.state):
        from bootsh_ipxe_cmds import san_cmds

        san_cmds.shutdown(shell)
    if "bootsh.boot.images" in sys.modules:
        from bootsh.api import close_store

        close_store(shell)


@hookimpl
def bootsh_shell_startup(shell: Shell) -> None:
    # iPXE recomputes routes on every settings change: a static net0/ip, netmask or gateway
    # of an open netdev reaches its kernel interface too.
    real: list[Callable[[Any, Any], None]] = []

    def apply(block: Any, setting: Any) -> None:
        if setting.name not in ROUTE_SETTINGS:
            return
        if not real:
            from bootsh.api import route_applicator

            real.append(route_applicator(shell))
        real[0](block, setting)

    shell.settings.applicators.append(apply)

    # iPXE reads the trusted roots once, at start-up: a later "set trust" is only a setting.
    def trust_is_fixed(value: str) -> None:
        shell.diagnose(
            "the trust setting changes nothing now: trusted roots are read at start-up, as in"
            " iPXE (bootsh --trust, BOOTSH_TRUST, or trust in the config file)"
        )

    shell.settings.validators["trust"] = trust_is_fixed
