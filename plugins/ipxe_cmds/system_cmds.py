"""System commands: ``cpuid``, ``sync``, ``shim``, ``colour``, ``cpair`` and ``console``, as
iPXE's ``arch/x86/hci/commands/cpuid_cmd.c``, ``hci/commands/sync_cmd.c``, ``shim_cmd.c`` and
``console_cmd.c``.

- ``cpuid [--ext] [--ecx] <bit>`` succeeds when the CPU has the feature: bit ``<bit>`` of EDX
  (or ECX) of CPUID leaf 1 (``--ext``/``--amd``: leaf 0x80000001). The bits come from the CPU
  itself, by running the CPUID instruction (``cpuid.py``); without one (another architecture)
  every feature is absent, as iPXE treats a CPU without CPUID. Absent: ``-ENOENT``, silently.
  ``cpuid --ext 29`` (long mode) is how real menus choose between 64- and 32-bit kernels.
- ``sync [--timeout <timeout>]`` waits for iPXE's background operations; bootsh runs none in
  the background (a command's work ends with the command), so it succeeds at once.
- ``shim`` is iPXE's on a non-EFI platform, which a Linux program is: it does absolutely
  nothing and succeeds, before even parsing its options (measured against the real PC-BIOS
  iPXE: ``shim --nonsense`` succeeds silently).
- ``colour``/``cpair`` define a colour and a colour pair as iPXE does (indexes 0-7; the same
  "Could not define colour: Invalid argument" for others) and record them in the shell, where
  the console's menus read them; ``console`` accepts iPXE's options and, as iPXE does after
  reconfiguring, clears the screen (on a terminal).
"""

from __future__ import annotations

from bootsh.api import (
    Command,
    Invocation,
    Shell,
    dataclass,
    error_number,
    field,
    parse_integer,
    strerror,
)
from bootsh_ipxe_cmds.console_cmds import parse_timeout
from bootsh_ipxe_cmds.records import command_from_syntax

ERRFILE_CPUID_CMD = 0x0080E000  # arch/x86/hci/commands/cpuid_cmd.c (ARCH | OTHER | 0)
ERRFILE_ANSICOL = 0x001D2000  # core/ansicol.c
ERRFILE_ANSICOLDEF = 0x001E2000  # core/ansicoldef.c
#: ``cpuid``: the feature is absent.
ENOENT_CPUID = error_number("ENOENT", ERRFILE_CPUID_CMD)
#: ``colour`` index out of range.
EINVAL_COLOUR = error_number("EINVAL", ERRFILE_ANSICOLDEF)
#: ``cpair`` index out of range.
EINVAL_CPAIR = error_number("EINVAL", ERRFILE_ANSICOL)

#: iPXE's colour table has the eight basic colours; COLOUR_DEFAULT (9) means "the terminal's".
COLOURS = 8
COLOUR_DEFAULT = 9
#: ``ANSICOL_NO_RGB``: no 24-bit value given.
NO_RGB = 0x01000000
#: iPXE's colour pairs: default, normal, select, separator, edit, alert, URL, PXE.
CPAIRS = 8

_STATE_KEY = "bootsh_ipxe_cmds.console"


@dataclass
class ConsoleColours:
    """What ``colour`` and ``cpair`` defined, for the console's menus to use."""

    #: colour index -> (basic colour, 24-bit RGB or NO_RGB)
    colours: dict[int, tuple[int, int]] = field(default_factory=dict)
    #: pair index -> (foreground colour index, background colour index)
    pairs: dict[int, tuple[int, int]] = field(default_factory=dict)


def colours_of(shell: Shell) -> ConsoleColours:
    return shell.state_for(_STATE_KEY, ConsoleColours, ConsoleColours)


def cpuid(inv: Invocation) -> int:
    from bootsh_ipxe_cmds import cpuid as cpu  # ctypes and mmap: only when a command asks

    bit = parse_integer(inv.args[0])
    extended = inv.flag("ext") or inv.flag("amd")
    registers = cpu.features(extended)
    register = registers.ecx if inv.flag("ecx") else registers.edx
    # C's 1 << bit on a 32-bit int: x86 uses the low five bits of the count.
    return 0 if register & (1 << (bit & 31)) else ENOENT_CPUID


def sync(inv: Invocation) -> int:
    timeout = inv.value("timeout")
    if timeout is not None:
        parse_timeout(timeout)  # a bad number fails as in iPXE; nothing is pending anyway
    return 0


def shim(inv: Invocation) -> int:
    return 0


def colour(inv: Invocation) -> int:
    basic = parse_integer(inv.value("basic") or "") if inv.value("basic") is not None else None
    rgb = parse_integer(inv.value("rgb") or "") if inv.value("rgb") is not None else NO_RGB
    index = parse_integer(inv.args[0])
    if index >= COLOURS:
        inv.shell.print(f"Could not define colour: {strerror(EINVAL_COLOUR)}")
        return EINVAL_COLOUR
    colours_of(inv.shell).colours[index] = (COLOUR_DEFAULT if basic is None else basic, rgb)
    return 0


def cpair(inv: Invocation) -> int:
    fg_text, bg_text = inv.value("foreground"), inv.value("background")
    foreground = parse_integer(fg_text) if fg_text is not None else COLOUR_DEFAULT
    background = parse_integer(bg_text) if bg_text is not None else COLOUR_DEFAULT
    index = parse_integer(inv.args[0])
    if index >= CPAIRS:
        inv.shell.print(f"Could not define colour pair: {strerror(EINVAL_CPAIR)}")
        return EINVAL_CPAIR
    colours_of(inv.shell).pairs[index] = (foreground, background)
    return 0


def console(inv: Invocation) -> int:
    for name in ("x", "y", "left", "right", "top", "bottom", "depth"):
        value = inv.value(name)
        if value is not None:
            parse_integer(value)
    shell = inv.shell
    # iPXE reapplies the default colour pair and clears the screen after reconfiguring.
    isatty = getattr(shell.out, "isatty", None)
    if callable(isatty) and isatty():
        shell.out.write("\x1b[2J\x1b[H")
        shell.out.flush()
    return 0


COMMANDS = (
    command_from_syntax("cpuid", cpuid, "succeed if the CPU has a feature (CPUID bit)"),
    command_from_syntax("sync", sync, "wait for background operations (none in bootsh)"),
    Command(
        "shim",
        shim,
        "UEFI shim (does nothing, as iPXE on a non-EFI platform)",
        args="[...]",
        max_args=None,
        raw_args=True,
    ),
    command_from_syntax("colour", colour, "define a colour"),
    command_from_syntax("cpair", cpair, "define a colour pair"),
    command_from_syntax("console", console, "configure the console"),
)
