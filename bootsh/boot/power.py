"""``poweroff`` and ``reboot`` from Linux: ``reboot(2)`` after ``sync``.

Two safeties, as for kexec: ``--dry-run`` prints what would happen and returns; and
``BOOTSH_NEVER_KEXEC`` in the environment makes the command refuse (``Operation not
permitted``), so that no test can ever power off or reboot the machine it runs on.

``reboot --warm`` writes ``warm`` to ``/sys/kernel/reboot/mode`` first (Linux 5.11 and
later; the kernel's ``reboot=warm``); ``reboot --setup`` (into the firmware's setup) needs
the EFI ``OsIndications`` variable, which bootsh does not write: refused as unsupported.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path

from bootsh.boot.kexec import NEVER_ENV
from bootsh.errors import BootshError
from bootsh.ipxe_errors import error_number

ERRFILE_REBOOT = 0x00000000  # iPXE's reboot/poweroff errors are the platform's
LINUX_REBOOT_CMD_RESTART = 0x01234567
LINUX_REBOOT_CMD_POWER_OFF = 0x4321FEDC
REBOOT_MODE = Path("/sys/kernel/reboot/mode")

EPERM_POWER = error_number("EPERM", ERRFILE_REBOOT)
ENOTSUP_POWER = error_number("ENOTSUP", ERRFILE_REBOOT)
EIO_POWER = error_number("EIO", ERRFILE_REBOOT)


class PowerError(BootshError):
    def __init__(self, number: int, why: str) -> None:
        super().__init__(why)
        self.errno = number
        self.why = why


def describe(action: str, warm: bool) -> str:
    return f"{action}: would {'power off' if action == 'poweroff' else 'reboot'}" + (
        " (warm)" if warm else ""
    )


def act(action: str, *, warm: bool = False, setup: bool = False) -> None:
    """Power off or reboot now; returns only by raising ``PowerError``."""
    if setup:
        raise PowerError(ENOTSUP_POWER, "rebooting into the firmware setup is not supported")
    if os.environ.get(NEVER_ENV) is not None:
        raise PowerError(EPERM_POWER, f"{NEVER_ENV} is set: not going to {action}")
    if warm and action == "reboot":
        try:
            REBOOT_MODE.write_text("warm")
        except OSError as exc:
            raise PowerError(
                ENOTSUP_POWER, f"cannot ask for a warm reboot ({REBOOT_MODE}: {exc.strerror})"
            ) from None
    os.sync()
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    command = LINUX_REBOOT_CMD_POWER_OFF if action == "poweroff" else LINUX_REBOOT_CMD_RESTART
    libc.reboot(ctypes.c_int(command))
    err = ctypes.get_errno()
    if err == 1:
        raise PowerError(EPERM_POWER, f"{action} needs CAP_SYS_BOOT (run bootsh as root)")
    raise PowerError(EIO_POWER, f"reboot(2) failed: {os.strerror(err)}")
