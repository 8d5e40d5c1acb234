"""The iPXE commands, a plugin like any other (entry point ``ipxe_cmds``).

Each module holds one group of commands and a ``COMMANDS`` tuple of records; this module
only registers them.
"""

from __future__ import annotations

from collections.abc import Callable

from bootsh.api import Command, Shell, hookimpl, route_applicator
from bootsh_ipxe_cmds import (
    archive_cmds,
    config_cmds,
    console_cmds,
    extensions,
    flow,
    image_cmds,
    ip_cmds,
    menu_cmds,
    netdev_cmds,
    param_cmds,
    san_cmds,
    setting_cmds,
    system_cmds,
    trust_cmds,
    vlan_cmds,
)

GROUPS = (
    flow,
    setting_cmds,
    netdev_cmds,
    extensions,
    console_cmds,
    menu_cmds,
    config_cmds,
    image_cmds,
    ip_cmds,
    trust_cmds,
    vlan_cmds,
    param_cmds,
    archive_cmds,
    system_cmds,
    san_cmds,
)


@hookimpl
def bootsh_register_commands(register: Callable[[Command], None]) -> None:
    for group in GROUPS:
        for command in group.COMMANDS:
            register(command)


@hookimpl
def bootsh_shell_shutdown(shell: Shell) -> None:
    # SAN drives first: an image-backed drive's file lives in the image directory.
    san_cmds.shutdown(shell)
    image_cmds.shutdown(shell)


@hookimpl
def bootsh_shell_startup(shell: Shell) -> None:
    # iPXE recomputes routes on every settings change: a static net0/ip, netmask or gateway
    # of an open netdev reaches its kernel interface too.
    shell.settings.applicators.append(route_applicator(shell))

    # iPXE reads the trusted roots once, at start-up: a later "set trust" is only a setting.
    def trust_is_fixed(value: str) -> None:
        shell.diagnose(
            "the trust setting changes nothing now: trusted roots are read at start-up, as in"
            " iPXE (bootsh --trust, BOOTSH_TRUST, or trust in the config file)"
        )

    shell.settings.validators["trust"] = trust_is_fixed
