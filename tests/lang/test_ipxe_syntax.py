"""Sanity of the iPXE command syntax table against strings read in iPXE's source and docs.

Expected usage blocks are assembled by hand from the ``OPTION_DESC``/``COMMAND_DESC`` lines
of ipxe/ipxe (versions named in ``bootsh/lang/ipxe_syntax.py``) and ``print_usage()``'s format
(docs/ipxe-reference.md section 5), not produced by the code under test.
"""

from __future__ import annotations

import pytest

from bootsh.lang.ipxe_syntax import COMMANDS, SYNTAX, ArgReq, CommandSyntax, synopsis, usage

# The command pages listed in ipxe.org's "cmd" namespace index ("digest" is the shared
# page of the *sum commands, not a command).
_IPXE_ORG_INDEX = """
autoboot boot certfree certstat certstore chain choose clear colour config console cpair
cpuid dhcp echo exit fcels fcstat fdt form gdbstub goto help ifclose ifconf iflinkwait
ifopen ifstat imgargs imgdecrypt imgexec imgextract imgfetch imgfree imgload imgselect
imgstat imgtrust imgverify inc initrd ipstat iseq isset item kernel login lotest md4sum
md5sum menu module nslookup nstat ntp param params pciscan ping poweroff present profstat
prompt pxebs read reboot route sanboot sanhook sanunhook set sha1sum sha224sum sha256sum
sha384sum sha512sum shell shim show sleep sync time usbscan vcreate vdestroy
"""
IPXE_ORG_COMMANDS = _IPXE_ORG_INDEX.split()

# Synonyms registered with another command's exec function (COMMAND ( alias, x_exec )).
ALIASES = {
    "module": "imgfetch",
    "initrd": "imgfetch",
    "imgload": "imgselect",
    "kernel": "imgselect",
    "chain": "imgexec",
    "boot": "imgexec",
    "dhcp": "ifconf",
    "form": "menu",
}


def _see(name: str) -> str:
    return f"\n\nSee https://ipxe.org/cmd/{name} for further information\n"


def test_every_ipxe_org_command_is_known() -> None:
    missing = [name for name in IPXE_ORG_COMMANDS if name not in SYNTAX]
    assert missing == []


def test_table_size() -> None:
    assert len(COMMANDS) == 84
    assert len(SYNTAX) == len(COMMANDS) + len(ALIASES)


@pytest.mark.parametrize(("alias", "canonical"), sorted(ALIASES.items()))
def test_alias_maps_to_its_command(alias: str, canonical: str) -> None:
    command = SYNTAX[alias]
    assert command is SYNTAX[canonical]
    assert command.name == canonical
    assert alias in command.aliases


def test_every_alias_is_listed_here() -> None:
    aliases = {alias: c.name for c in COMMANDS for alias in c.aliases}
    assert aliases == ALIASES


def test_keys_are_exactly_the_names() -> None:
    assert set(SYNTAX) == {name for c in COMMANDS for name in c.names}
    for name, command in SYNTAX.items():
        assert name in command.names


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_bounds(command: CommandSyntax) -> None:
    assert command.min_args >= 0
    if command.max_args is not None:
        assert command.min_args <= command.max_args


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_options_are_unique_and_well_formed(command: CommandSyntax) -> None:
    shorts = [o.short for o in command.options]
    longs = [o.long for o in command.options]
    assert len(shorts) == len(set(shorts))
    assert len(longs) == len(set(longs))
    for option in command.options:
        assert len(option.short) == 1 and option.short.isalnum()
        assert option.long and " " not in option.long
        # -h/--help is added by parse_options itself and never listed.
        assert option.short != "h" and option.long != "help"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_source_paths(command: CommandSyntax) -> None:
    assert command.source.startswith("src/") and command.source.endswith(".c")


def test_echo_usage_from_reference() -> None:
    # docs/ipxe-reference.md section 5, from exec.c: OPTION_DESC ( "n", 'n', no_argument...
    assert usage("echo") == (
        "Usage:\n\n  echo [-n|--n] [...]\n\nSee https://ipxe.org/cmd/echo for further information\n"
    )


@pytest.mark.parametrize("name", ["ifopen", "autoboot", "iwstat"])
def test_interface_list_usage(name: str) -> None:
    # docs/ipxe-reference.md: ifopen/autoboot/iwstat synopsis "[<interface>...]".
    assert usage(name) == f"Usage:\n\n  {name} [<interface>...]" + _see(name)


def test_imgexec_and_its_synonyms() -> None:
    # image_cmd.c at 9d6b3600: opts.imgexec = name, timeout, quiet, autofree, replace;
    # imgexec_cmd usage "[<uri|image> [<arguments>...]]".
    opts = "[-n|--name <name>] [-t|--timeout <timeout>] [-q|--quiet] [-a|--autofree] [-r|--replace]"
    for name in ("imgexec", "chain", "boot"):
        assert usage(name) == (
            f"Usage:\n\n  {name} {opts} [<uri|image> [<arguments>...]]" + _see(name)
        )


def test_imgfetch_takes_no_replace() -> None:
    assert usage("initrd") == (
        "Usage:\n\n  initrd [-n|--name <name>] [-t|--timeout <timeout>] [-q|--quiet] "
        "[-a|--autofree] <uri> [<arguments>...]" + _see("initrd")
    )


def test_no_usage_text_means_nothing_after_options() -> None:
    # reboot_cmd.c: COMMAND_DESC ( ..., 0, 0, NULL )
    assert usage("reboot") == "Usage:\n\n  reboot [-w|--warm] [-s|--setup]" + _see("reboot")
    assert usage("route") == "Usage:\n\n  route" + _see("route")


def test_empty_usage_text_keeps_its_space() -> None:
    # ibmgmt_cmd.c: COMMAND_DESC ( ..., 0, 0, "" ) -- print_usage tests the pointer.
    assert synopsis("ibstat") == "ibstat "


def test_sanboot_family_shares_a_prefix_of_one_option_array() -> None:
    assert synopsis("sanunhook") == "sanunhook [-d|--drive <drive>]"
    assert synopsis("sanhook") == ("sanhook [-d|--drive <drive>] [-n|--no-describe] <root-path>")
    assert synopsis("sanboot").endswith(
        "[-e|--extra <extra>] [-l|--label <label>] [-u|--uuid <uuid>] [<root-path>]"
    )


def test_digest_commands_share_one_descriptor() -> None:
    # digest_cmd.c: OPTION_DESC ( "set", 's', required_argument, ... ), 1, MAX_ARGUMENTS
    for name in ("md4sum", "md5sum", "sha1sum", "sha224sum", "sha256sum", "sha384sum"):
        assert synopsis(name) == f"{name} [-s|--set <set>] <image> [<image>...]"
        assert SYNTAX[name].max_args is None


def test_unlimited_and_bounded_arguments() -> None:
    assert SYNTAX["set"].min_args == 1 and SYNTAX["set"].max_args is None
    assert (SYNTAX["iseq"].min_args, SYNTAX["iseq"].max_args) == (2, 2)
    assert (SYNTAX["inc"].min_args, SYNTAX["inc"].max_args) == (1, 2)
    assert (SYNTAX["exit"].min_args, SYNTAX["exit"].max_args) == (0, 1)


def test_argument_requirements() -> None:
    read = SYNTAX["read"].options
    assert [(o.short, o.long, o.arg) for o in read] == [("t", "timeout", ArgReq.REQUIRED)]
    assert SYNTAX["param"].options[1].short == "H"
    # No upstream command declares an optional_argument option.
    assert all(o.arg is not ArgReq.OPTIONAL for c in COMMANDS for o in c.options)


def test_help_does_not_parse_options() -> None:
    assert SYNTAX["help"].parses_options is False
    assert all(c.parses_options for c in COMMANDS if c.name != "help")


def test_unknown_command() -> None:
    with pytest.raises(KeyError):
        usage("efimap")
