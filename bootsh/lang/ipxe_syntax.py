"""The syntax of every command iPXE's shell knows, as a typed table.

For each command: its name, the other names iPXE registers for the same implementation
(``COMMAND ( chain, imgexec_exec )`` makes ``chain`` a synonym of ``imgexec``), the options
of its ``struct option_descriptor`` list in declaration order (short letter, long name,
argument requirement), the usage text of its ``struct command_descriptor`` (``None`` where
iPXE passes ``NULL``) and its argument bounds (``MAX_ARGUMENTS`` is ``None``: unlimited).
``source`` names the iPXE file that defines the descriptor.

Facts come from ipxe/ipxe upstream, read at these versions:

* 9d6b3600 (2026-07, "[image] Allow download progress messages to be silenced"), the
  newest stored version: ``image_cmd.c``, ``image_trust_cmd.c``, ``image_crypt_cmd.c``,
  ``image_archive_cmd.c``, ``image_set_cmd.c``, ``digest_cmd.c``, ``console_cmd.c``,
  ``cert_cmd.c``, ``shim_cmd.c``, ``fdt_cmd.c``. This commit added ``--quiet``/``-q`` to
  every command that downloads with a timeout.
* 9d4a2ee3 (2025-08, "[cmdline] Show commands in alphabetical order", which moved every
  command to the ``COMMAND()`` macro): ``autoboot_cmd.c``, ``dhcp_cmd.c``, ``dynui_cmd.c``,
  ``gdbstub_cmd.c``, ``ibmgmt_cmd.c``, ``ifmgmt_cmd.c``, ``image_mem_cmd.c``,
  ``lotest_cmd.c``, ``nvo_cmd.c``, ``param_cmd.c``, ``ping_cmd.c``, ``reboot_cmd.c``,
  ``sanboot_cmd.c``, ``time_cmd.c``, ``src/hci/shell.c``, ``src/image/script.c``,
  ``src/arch/x86/hci/commands/pxe_cmd.c``.
* 0062c07d (``FILE_SECBOOT`` era): ``src/core/exec.c``; 186cedeb/46510f36 (2025):
  ``src/crypto/mishmash/cmd_sha256.c``, ``cmd_md4.c``; adcaaf9b: ``config_digest_cmd.c``.
* The remaining files at an older stored version whose descriptors the 2025 rewrite did
  not touch (``config``, ``fcmgmt``, ``ipstat``, ``iwmgmt``, ``login``, ``neighbour``,
  ``nslookup``, ``ntp``, ``pci``, ``poweroff``, ``profstat``, ``route``, ``sync``,
  ``usb`` (2025), ``vlan``, ``cpuid``).

Builds differ in which commands they contain (``config/general.h``, ``config/crypto.h``):
this table is the union. ``startpxe``/``stoppxe``/``cpuid`` are x86 only; ``md4sum`` and
the SHA-2 sums exist only when the algorithm is compiled in (``config_digest_cmd.c``);
``shim`` is a do-nothing command (it skips option parsing) outside EFI builds.

Not included, because they are not upstream iPXE although the stored ``ipxe/ipxe`` history
holds them (forks, patches or long-gone gPXE code): ``efimap``, ``pnplist``, ``userdata``,
``fetchvar``, ``sha1verify``, the gPXE ``boot_cmd.c`` (``boot`` is now ``imgexec``), the
old ``menu_cmd.c`` (replaced by ``dynui_cmd.c``) and ``prompt --set``.

``help`` is special: it never calls ``parse_options()`` and ignores its arguments, so it
has no descriptor (``parses_options`` is false); ``usage("help")`` still renders the
block the general format would give.
"""

from __future__ import annotations

from enum import Enum

from bootsh.records import dataclass


class ArgReq(Enum):
    """An option's ``has_arg`` (``getopt.h``)."""

    NONE = "no_argument"
    REQUIRED = "required_argument"
    OPTIONAL = "optional_argument"


@dataclass(frozen=True)
class OptionSpec:
    """One ``OPTION_DESC ( long, short, has_arg, ... )``."""

    short: str
    long: str
    arg: ArgReq


@dataclass(frozen=True)
class CommandSyntax:
    """One command's ``struct command_descriptor`` and the names it is registered under."""

    name: str
    options: tuple[OptionSpec, ...]
    usage: str | None
    min_args: int
    max_args: int | None
    source: str
    aliases: tuple[str, ...] = ()
    parses_options: bool = True

    @property
    def names(self) -> tuple[str, ...]:
        """The canonical name followed by the aliases."""
        return (self.name, *self.aliases)


#: ``MAX_ARGUMENTS`` (``include/ipxe/parseopt.h``): no upper bound.
MAX_ARGUMENTS: int | None = None

_NONE = ArgReq.NONE
_REQ = ArgReq.REQUIRED


def _o(short: str, long: str, arg: ArgReq) -> OptionSpec:
    return OptionSpec(short, long, arg)


_HCI = "src/hci/commands/"

# -- shared option lists (C unions of option arrays: a prefix of one array) ------------------

# image_cmd.c: "imgexec" takes all five, the other img{single} commands the first four.
_IMGEXEC_OPTS = (
    _o("n", "name", _REQ),
    _o("t", "timeout", _REQ),
    _o("q", "quiet", _NONE),
    _o("a", "autofree", _NONE),
    _o("r", "replace", _NONE),
)
_IMGSINGLE_OPTS = _IMGEXEC_OPTS[:4]

# sanboot_cmd.c: "sanboot" takes all, "sanhook" --drive and --no-describe, "sanunhook" --drive.
_SANBOOT_OPTS = (
    _o("d", "drive", _REQ),
    _o("n", "no-describe", _NONE),
    _o("k", "keep", _NONE),
    _o("f", "filename", _REQ),
    _o("e", "extra", _REQ),
    _o("l", "label", _REQ),
    _o("u", "uuid", _REQ),
)

# cert_cmd.c: "certstore" takes both, "certstat" and "certfree" only --subject.
_CERT_OPTS = (_o("s", "subject", _REQ), _o("k", "keep", _NONE))

# digest_cmd.c: one descriptor shared by md5sum, sha1sum and the optional sums.
_DIGEST_OPTS = (_o("s", "set", _REQ),)
_DIGEST_USAGE = "<image> [<image>...]"

_IFACES = "[<interface>...]"


def _digest(name: str, source: str) -> CommandSyntax:
    return CommandSyntax(name, _DIGEST_OPTS, _DIGEST_USAGE, 1, MAX_ARGUMENTS, source)


COMMANDS: tuple[CommandSyntax, ...] = (
    # -- src/core/exec.c ---------------------------------------------------------------------
    CommandSyntax("echo", (_o("n", "n", _NONE),), "[...]", 0, MAX_ARGUMENTS, "src/core/exec.c"),
    CommandSyntax("exit", (), "[<status>]", 0, 1, "src/core/exec.c"),
    CommandSyntax("isset", (), "<value>", 1, 1, "src/core/exec.c"),
    CommandSyntax("iseq", (), "<value1> <value2>", 2, 2, "src/core/exec.c"),
    CommandSyntax("sleep", (), "<seconds>", 1, 1, "src/core/exec.c"),
    # -- src/hci/shell.c ---------------------------------------------------------------------
    CommandSyntax("help", (), None, 0, MAX_ARGUMENTS, "src/hci/shell.c", parses_options=False),
    CommandSyntax("shell", (), None, 0, 0, "src/hci/shell.c"),
    # -- src/image/script.c ------------------------------------------------------------------
    CommandSyntax("goto", (), "<label>", 1, 1, "src/image/script.c"),
    CommandSyntax(
        "prompt",
        (_o("k", "key", _REQ), _o("t", "timeout", _REQ)),
        "[<text>]",
        0,
        MAX_ARGUMENTS,
        "src/image/script.c",
    ),
    # -- boot --------------------------------------------------------------------------------
    CommandSyntax("autoboot", (), _IFACES, 0, MAX_ARGUMENTS, _HCI + "autoboot_cmd.c"),
    # -- network interfaces (ifmgmt_cmd.c; "dhcp" is registered in dhcp_cmd.c) ---------------
    CommandSyntax("ifopen", (), _IFACES, 0, MAX_ARGUMENTS, _HCI + "ifmgmt_cmd.c"),
    CommandSyntax("ifclose", (), _IFACES, 0, MAX_ARGUMENTS, _HCI + "ifmgmt_cmd.c"),
    CommandSyntax("ifstat", (), _IFACES, 0, MAX_ARGUMENTS, _HCI + "ifmgmt_cmd.c"),
    CommandSyntax(
        "ifconf",
        (_o("c", "configurator", _REQ), _o("t", "timeout", _REQ)),
        _IFACES,
        0,
        MAX_ARGUMENTS,
        _HCI + "ifmgmt_cmd.c",
        aliases=("dhcp",),
    ),
    CommandSyntax(
        "iflinkwait",
        (_o("t", "timeout", _REQ),),
        _IFACES,
        0,
        MAX_ARGUMENTS,
        _HCI + "ifmgmt_cmd.c",
    ),
    CommandSyntax("pxebs", (), "<interface> <server type>", 2, 2, _HCI + "dhcp_cmd.c"),
    CommandSyntax("iwstat", (), _IFACES, 0, MAX_ARGUMENTS, _HCI + "iwmgmt_cmd.c"),
    CommandSyntax("iwlist", (), _IFACES, 0, MAX_ARGUMENTS, _HCI + "iwmgmt_cmd.c"),
    CommandSyntax("ibstat", (), "", 0, 0, _HCI + "ibmgmt_cmd.c"),
    CommandSyntax(
        "vcreate",
        (_o("t", "tag", _REQ), _o("p", "priority", _REQ)),
        "<trunk interface>",
        1,
        1,
        _HCI + "vlan_cmd.c",
    ),
    CommandSyntax("vdestroy", (), "<VLAN interface>", 1, 1, _HCI + "vlan_cmd.c"),
    CommandSyntax(
        "lotest",
        (_o("m", "mtu", _REQ), _o("b", "broadcast", _NONE)),
        "<sending interface> <receiving interface>",
        2,
        2,
        _HCI + "lotest_cmd.c",
    ),
    CommandSyntax("route", (), None, 0, 0, _HCI + "route_cmd.c"),
    CommandSyntax("nstat", (), None, 0, 0, _HCI + "neighbour_cmd.c"),
    CommandSyntax("ipstat", (), None, 0, 0, _HCI + "ipstat_cmd.c"),
    CommandSyntax(
        "ping",
        (
            _o("s", "size", _REQ),
            _o("t", "timeout", _REQ),
            _o("c", "count", _REQ),
            _o("q", "quiet", _NONE),
        ),
        "<host>",
        1,
        1,
        _HCI + "ping_cmd.c",
    ),
    CommandSyntax("nslookup", (), "<setting> <name>", 2, 2, _HCI + "nslookup_cmd.c"),
    CommandSyntax("ntp", (), "<server>", 1, 1, _HCI + "ntp_cmd.c"),
    # -- images (image_cmd.c) ----------------------------------------------------------------
    CommandSyntax(
        "imgfetch",
        _IMGSINGLE_OPTS,
        "<uri> [<arguments>...]",
        1,
        MAX_ARGUMENTS,
        _HCI + "image_cmd.c",
        aliases=("module", "initrd"),
    ),
    CommandSyntax(
        "imgselect",
        _IMGSINGLE_OPTS,
        "<uri|image> [<arguments>...]",
        1,
        MAX_ARGUMENTS,
        _HCI + "image_cmd.c",
        aliases=("imgload", "kernel"),
    ),
    CommandSyntax(
        "imgexec",
        _IMGEXEC_OPTS,
        "[<uri|image> [<arguments>...]]",
        0,
        MAX_ARGUMENTS,
        _HCI + "image_cmd.c",
        aliases=("chain", "boot"),
    ),
    CommandSyntax(
        "imgargs",
        _IMGSINGLE_OPTS,
        "<uri|image> [<arguments>...]",
        1,
        MAX_ARGUMENTS,
        _HCI + "image_cmd.c",
    ),
    CommandSyntax("imgstat", (), "[<image>...]", 0, MAX_ARGUMENTS, _HCI + "image_cmd.c"),
    CommandSyntax("imgfree", (), "[<image>...]", 0, MAX_ARGUMENTS, _HCI + "image_cmd.c"),
    # -- other image commands ----------------------------------------------------------------
    CommandSyntax(
        "imgtrust",
        (_o("a", "allow", _NONE), _o("p", "permanent", _NONE)),
        None,
        0,
        0,
        _HCI + "image_trust_cmd.c",
    ),
    CommandSyntax(
        "imgverify",
        (
            _o("s", "signer", _REQ),
            _o("k", "keep", _NONE),
            _o("t", "timeout", _REQ),
            _o("q", "quiet", _NONE),
        ),
        "<uri|image> <signature uri|image>",
        2,
        2,
        _HCI + "image_trust_cmd.c",
    ),
    CommandSyntax(
        "imgdecrypt",
        (
            _o("n", "name", _REQ),
            _o("k", "keep", _NONE),
            _o("t", "timeout", _REQ),
            _o("q", "quiet", _NONE),
        ),
        "<uri|image> <envelope uri|image>",
        2,
        2,
        _HCI + "image_crypt_cmd.c",
    ),
    CommandSyntax(
        "imgextract",
        (
            _o("n", "name", _REQ),
            _o("k", "keep", _NONE),
            _o("t", "timeout", _REQ),
            _o("q", "quiet", _NONE),
        ),
        None,
        1,
        1,
        _HCI + "image_archive_cmd.c",
    ),
    CommandSyntax(
        "imgmem",
        (_o("n", "name", _REQ),),
        "<address> <length>",
        2,
        2,
        _HCI + "image_mem_cmd.c",
    ),
    CommandSyntax(
        "imgset",
        (_o("k", "keep", _NONE), _o("t", "timeout", _REQ), _o("q", "quiet", _NONE)),
        None,
        2,
        2,
        _HCI + "image_set_cmd.c",
    ),
    CommandSyntax(
        "shim",
        (
            _o("t", "timeout", _REQ),
            _o("q", "quiet", _NONE),
            _o("l", "require-loader", _NONE),
            _o("p", "allow-pxe", _NONE),
            _o("s", "allow-sbat", _NONE),
        ),
        None,
        0,
        1,
        _HCI + "shim_cmd.c",
    ),
    CommandSyntax(
        "fdt",
        (_o("t", "timeout", _REQ), _o("q", "quiet", _NONE)),
        "[<uri>]",
        0,
        1,
        _HCI + "fdt_cmd.c",
    ),
    # -- digests -----------------------------------------------------------------------------
    _digest("md5sum", _HCI + "digest_cmd.c"),
    _digest("sha1sum", _HCI + "digest_cmd.c"),
    _digest("md4sum", "src/crypto/mishmash/cmd_md4.c"),
    _digest("sha224sum", "src/crypto/mishmash/cmd_sha224.c"),
    _digest("sha256sum", "src/crypto/mishmash/cmd_sha256.c"),
    _digest("sha384sum", "src/crypto/mishmash/cmd_sha384.c"),
    _digest("sha512sum", "src/crypto/mishmash/cmd_sha512.c"),
    # -- certificates ------------------------------------------------------------------------
    CommandSyntax("certstat", _CERT_OPTS[:1], None, 0, 0, _HCI + "cert_cmd.c"),
    CommandSyntax("certstore", _CERT_OPTS, "[<uri|image>]", 0, 1, _HCI + "cert_cmd.c"),
    CommandSyntax("certfree", _CERT_OPTS[:1], None, 0, 0, _HCI + "cert_cmd.c"),
    # -- SAN ---------------------------------------------------------------------------------
    CommandSyntax(
        "sanhook", _SANBOOT_OPTS[:2], "<root-path>", 1, MAX_ARGUMENTS, _HCI + "sanboot_cmd.c"
    ),
    CommandSyntax(
        "sanboot", _SANBOOT_OPTS, "[<root-path>]", 0, MAX_ARGUMENTS, _HCI + "sanboot_cmd.c"
    ),
    CommandSyntax("sanunhook", _SANBOOT_OPTS[:1], None, 0, 0, _HCI + "sanboot_cmd.c"),
    CommandSyntax("fcstat", (), None, 0, 0, _HCI + "fcmgmt_cmd.c"),
    CommandSyntax(
        "fcels",
        (_o("p", "port", _REQ), _o("i", "id", _REQ)),
        "<request>",
        1,
        1,
        _HCI + "fcmgmt_cmd.c",
    ),
    # -- settings (nvo_cmd.c, config_cmd.c) --------------------------------------------------
    CommandSyntax("show", (), "<setting>", 1, 1, _HCI + "nvo_cmd.c"),
    CommandSyntax("set", (), "<setting> <value>", 1, MAX_ARGUMENTS, _HCI + "nvo_cmd.c"),
    CommandSyntax("clear", (), "<setting>", 1, 1, _HCI + "nvo_cmd.c"),
    CommandSyntax("read", (_o("t", "timeout", _REQ),), "<setting>", 1, 1, _HCI + "nvo_cmd.c"),
    CommandSyntax("inc", (), "<setting> [<increment>]", 1, 2, _HCI + "nvo_cmd.c"),
    CommandSyntax("config", (), "[<scope>]", 0, 1, _HCI + "config_cmd.c"),
    # -- menus and forms (dynui_cmd.c) -------------------------------------------------------
    CommandSyntax(
        "menu",
        (_o("n", "name", _REQ), _o("d", "delete", _NONE)),
        "[<title>]",
        0,
        MAX_ARGUMENTS,
        _HCI + "dynui_cmd.c",
        aliases=("form",),
    ),
    CommandSyntax(
        "item",
        (
            _o("m", "menu", _REQ),
            _o("f", "form", _REQ),
            _o("k", "key", _REQ),
            _o("d", "default", _NONE),
            _o("s", "secret", _NONE),
            _o("g", "gap", _NONE),
        ),
        "[<name> [<text>]]",
        0,
        MAX_ARGUMENTS,
        _HCI + "dynui_cmd.c",
    ),
    CommandSyntax(
        "choose",
        (
            _o("m", "menu", _REQ),
            _o("d", "default", _REQ),
            _o("t", "timeout", _REQ),
            _o("r", "retimeout", _REQ),
            _o("k", "keep", _NONE),
        ),
        "<setting>",
        1,
        1,
        _HCI + "dynui_cmd.c",
    ),
    CommandSyntax(
        "present",
        (_o("f", "form", _REQ), _o("k", "keep", _NONE)),
        None,
        0,
        0,
        _HCI + "dynui_cmd.c",
    ),
    CommandSyntax("login", (), None, 0, 0, _HCI + "login_cmd.c"),
    # -- request parameters (param_cmd.c) ----------------------------------------------------
    CommandSyntax(
        "params",
        # Upstream's order (hci/commands/param_cmd.c, 2026): --name, --method, --delete.
        (_o("n", "name", _REQ), _o("m", "method", _REQ), _o("d", "delete", _NONE)),
        None,
        0,
        0,
        _HCI + "param_cmd.c",
    ),
    CommandSyntax(
        "param",
        (_o("p", "params", _REQ), _o("H", "header", _NONE)),
        "<key> [<value>]",
        1,
        MAX_ARGUMENTS,
        _HCI + "param_cmd.c",
    ),
    # -- console (console_cmd.c) -------------------------------------------------------------
    CommandSyntax(
        "console",
        (
            _o("x", "x", _REQ),
            _o("y", "y", _REQ),
            _o("l", "left", _REQ),
            _o("r", "right", _REQ),
            _o("t", "top", _REQ),
            _o("b", "bottom", _REQ),
            _o("d", "depth", _REQ),
            _o("p", "picture", _REQ),
            _o("k", "keep", _NONE),
        ),
        None,
        0,
        0,
        _HCI + "console_cmd.c",
    ),
    CommandSyntax(
        "colour",
        (_o("b", "basic", _REQ), _o("r", "rgb", _REQ)),
        "<colour>",
        1,
        1,
        _HCI + "console_cmd.c",
    ),
    CommandSyntax(
        "cpair",
        (_o("f", "foreground", _REQ), _o("b", "background", _REQ)),
        "<cpair>",
        1,
        1,
        _HCI + "console_cmd.c",
    ),
    # -- miscellaneous -----------------------------------------------------------------------
    CommandSyntax("time", (), "<command>", 1, MAX_ARGUMENTS, _HCI + "time_cmd.c"),
    CommandSyntax("sync", (_o("t", "timeout", _REQ),), None, 0, 0, _HCI + "sync_cmd.c"),
    CommandSyntax(
        "reboot",
        (_o("w", "warm", _NONE), _o("s", "setup", _NONE)),
        None,
        0,
        0,
        _HCI + "reboot_cmd.c",
    ),
    CommandSyntax("poweroff", (), None, 0, 0, _HCI + "poweroff_cmd.c"),
    CommandSyntax("pciscan", (), "<setting>", 1, 1, _HCI + "pci_cmd.c"),
    CommandSyntax("usbscan", (), "<setting>", 1, 1, _HCI + "usb_cmd.c"),
    CommandSyntax("profstat", (), None, 0, 0, _HCI + "profstat_cmd.c"),
    CommandSyntax(
        "gdbstub", (), "<transport> [<options>...]", 1, MAX_ARGUMENTS, _HCI + "gdbstub_cmd.c"
    ),
    # -- x86 only (src/arch/x86/hci/commands/) -----------------------------------------------
    CommandSyntax(
        "cpuid",
        (_o("e", "ext", _NONE), _o("a", "amd", _NONE), _o("c", "ecx", _NONE)),
        "<bit>",
        1,
        1,
        "src/arch/x86/hci/commands/cpuid_cmd.c",
    ),
    CommandSyntax(
        "startpxe",
        (),
        "[<interface>]",
        0,
        MAX_ARGUMENTS,
        "src/arch/x86/hci/commands/pxe_cmd.c",
    ),
    CommandSyntax("stoppxe", (), None, 0, 0, "src/arch/x86/hci/commands/pxe_cmd.c"),
)


def _index(commands: tuple[CommandSyntax, ...]) -> dict[str, CommandSyntax]:
    table: dict[str, CommandSyntax] = {}
    for command in commands:
        for name in command.names:
            if name in table:
                raise ValueError(f"command name {name!r} registered twice")
            table[name] = command
    return table


#: Every command name and alias iPXE registers, mapped to its syntax.
SYNTAX: dict[str, CommandSyntax] = _index(COMMANDS)


def synopsis(name: str) -> str:
    """The synopsis line ``print_usage()`` prints, without its indent: ``NAME [-x|--x <x>]...``.

    ``name`` is argv[0], so an alias shows itself (``chain ...``), as it does in iPXE.
    """
    command = SYNTAX[name]
    text = name
    for option in command.options:
        text += f" [-{option.short}|--{option.long}"
        if option.arg is ArgReq.REQUIRED:
            text += f" <{option.long}>"
        elif option.arg is ArgReq.OPTIONAL:
            text += f" [<{option.long}>]"
        text += "]"
    if command.usage is not None:
        # iPXE tests the pointer, not the text: ibstat's "" gives a trailing space.
        text += f" {command.usage}"
    return text


def usage(name: str) -> str:
    """The block iPXE's ``print_usage()`` prints for argv[0] ``name``, final newline included.

    Raises ``KeyError`` for a name iPXE does not know.
    """
    return (
        f"Usage:\n\n  {synopsis(name)}\n\nSee https://ipxe.org/cmd/{name} for further information\n"
    )
