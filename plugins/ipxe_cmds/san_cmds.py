"""SAN and power commands: ``sanhook``, ``sanboot``, ``sanunhook`` (iPXE's
``hci/commands/sanboot_cmd.c`` and ``usr/autoboot.c``'s ``uriboot``), ``poweroff`` and
``reboot``.

``sanboot`` without a root path boots drive ``--drive`` (default ``${san-drive}``, else
0x80): a hooked SAN drive, or the local drive of that rank. With root paths it hooks the
first that attaches (multipath), boots and unhooks (``--keep`` or ``${keep-san}`` keeps it).
``--filename`` names the boot loader configuration to read instead of searching, or the EFI
boot loader whose configuration is to be read (``/EFI/fedora/shimx64.efi``: the grub.cfg
beside it); ``--label``/``--uuid`` limit the search to the file system of that label or UUID;
``--extra`` (an extra EFI file) has no meaning for a kexec boot and is ignored with a note.
A local drive the running system uses (a partition mounted, swap) is refused.
See ``bootsh.disks`` for what happens underneath.
"""

from __future__ import annotations

from bootsh.api import Invocation, Shell, parse_integer
from bootsh_ipxe_cmds.records import command_from_syntax


def _core(inv: Invocation, default_flags: int, no_root_path_flags: int) -> int:
    """iPXE's ``sanboot_core_exec``."""
    # The disk code (parsers, pycdlib, the SAN table) loads when a SAN command runs.
    from bootsh.api import (
        URIBOOT_NO_SAN_DESCRIBE,
        URIBOOT_NO_SAN_UNHOOK,
        san_default_drive,
        san_uriboot,
    )

    drive_text = inv.value("drive")
    drive = parse_integer(drive_text) & 0xFF if drive_text is not None else None
    if drive is None:
        drive = san_default_drive(inv.shell)
    flags = default_flags
    if inv.flag("no-describe"):
        flags |= URIBOOT_NO_SAN_DESCRIBE
    if inv.flag("keep"):
        flags |= URIBOOT_NO_SAN_UNHOOK
    assert (NO_DESCRIBE, NO_UNHOOK) == (URIBOOT_NO_SAN_DESCRIBE, URIBOOT_NO_SAN_UNHOOK)
    if not inv.args:
        flags |= no_root_path_flags
    if inv.value("extra") is not None:
        inv.shell.diagnose("sanboot --extra: an extra EFI file means nothing to a kexec boot")
    return san_uriboot(
        inv.shell,
        list(inv.args),
        drive,
        flags,
        filename=inv.value("filename"),
        label=inv.value("label"),
        uuid=inv.value("uuid"),
    )


# iPXE's URIBOOT_NO_SAN_DESCRIBE, _BOOT and _UNHOOK (bootsh.api has them too; spelt here so
# that registering the commands loads no disk code).
NO_DESCRIBE, NO_BOOT, NO_UNHOOK = 1, 2, 4


def sanhook(inv: Invocation) -> int:
    return _core(inv, NO_BOOT | NO_UNHOOK, 0)


def sanboot(inv: Invocation) -> int:
    return _core(inv, 0, NO_UNHOOK)


def sanunhook(inv: Invocation) -> int:
    return _core(inv, NO_DESCRIBE | NO_BOOT, 0)


def _power(inv: Invocation, action: str) -> int:
    from bootsh.api import PowerError, describe_power, power_act

    warm = inv.flag("warm")
    if inv.shell.context.config.dry_run:
        inv.shell.print(describe_power(action, warm))
        return 0
    try:
        power_act(action, warm=warm, setup=inv.flag("setup"))
    except PowerError as exc:
        inv.shell.diagnose(exc.why)
        return exc.errno
    return 0  # not reached


def poweroff(inv: Invocation) -> int:
    return _power(inv, "poweroff")


def reboot(inv: Invocation) -> int:
    return _power(inv, "reboot")


COMMANDS = (
    command_from_syntax("sanhook", sanhook, "attach a SAN drive (iSCSI, a disk or ISO image)"),
    command_from_syntax("sanboot", sanboot, "boot the OS on a local or SAN drive (kexec)"),
    command_from_syntax("sanunhook", sanunhook, "detach a SAN drive"),
    command_from_syntax("poweroff", poweroff, "power off"),
    command_from_syntax("reboot", reboot, "reboot"),
)


def shutdown(shell: Shell) -> None:
    if any(key.startswith("bootsh.disks") for key in shell.state):  # only if SAN was used
        from bootsh.api import san_unhook_all

        san_unhook_all(shell)
