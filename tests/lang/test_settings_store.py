"""The settings store and the setting commands, against iPXE's behaviour.

Facts from iPXE's ``src/core/settings.c`` (blocks, fetch order, builtins, names),
``src/net/netdev_settings.c`` (per-netdev settings), ``src/core/parseopt.c`` and
``src/hci/commands/nvo_cmd.c`` (usage and messages).
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from bootsh.cli import main
from bootsh.errors import BootshError
from bootsh.lang.settings import (
    ENODEV_SCOPE,
    ENOENT_SETTING,
    ENOTSUP_SETTING,
    InvalidSetting,
    Settings,
    SettingsError,
    buildarch,
)
from bootsh.nics.nic import Nic

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "machines" / "xen-hvm"


@dataclass(frozen=True)
class Dev:
    name: str | None
    nic: Nic


VIF = Nic("netfront", "vif/0", "00:16:3e:5f:48:e4", "xen", ifname="eth0", order=10)
RTL = Nic(
    "rtl8139",
    "0000:00:04.0",
    "00:16:3e:5f:48:e4",
    "pci",
    ifname="eth1",
    facts={"pci-id": "10ec:8139"},
)


def store(*devs: Dev) -> Settings:
    listed = list(devs)
    settings = Settings(netdevs=lambda: listed)
    settings.errno_source = lambda: 0
    return settings


def run(*lines: str, machine: bool = True) -> tuple[int, str, str]:
    argv = ["--machine", str(EXAMPLE)] if machine else ["--sysfs-root", "/nonexistent"]
    return run_with(argv, *lines)


def run_with(argv: list[str], *lines: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    argv = list(argv)
    for line in lines:
        argv += ["-c", line]
    status = main(argv, env={"HOME": "/nonexistent"}, stdin=io.StringIO(""), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


# -- names, scopes and lookup order -------------------------------------------------------------


def test_get_formats_in_the_requested_own_or_default_type() -> None:
    s = store()
    s.set("n:uint8", "17")
    assert s.get("n") == "0x11"  # its own type
    assert s.get("n:int8") == "17"
    s.set("ip", "10.0.2.15")  # a known name brings its type
    assert s.get("ip") == "10.0.2.15"
    assert s.get("ip:hex") == "0a:00:02:0f"
    s.set("x", "hello")  # a new name is a string
    assert s.get("x:hexraw") == "68656c6c6f"
    assert s.get("x:ipv4") == "104.101.108.108"
    assert s.get("nosuch") is None
    assert s.get("x:bogus") is None and s.get("x:") is None
    assert s.get("nosuch/x") is None


def test_unformattable_value_reads_as_none() -> None:
    s = store()
    s.set("x", "5")
    assert s.get("x:ipv4") is None  # one byte is no IPv4 address
    assert s.get("x:uuid") is None


def test_set_creates_scopes_and_show_names_the_holder() -> None:
    s = store(Dev("net0", VIF))
    s.set("net0.dhcp/ip", "10.0.2.15")
    found = s.fetch(s.parse("ip"))
    assert (found.label, found.format()) == ("net0.dhcp/ip:ipv4", "10.0.2.15")
    assert s.get("net0/ip") == "10.0.2.15"  # a block searches its children
    assert s.get("net0.dhcp/ip") == "10.0.2.15"


def test_unscoped_lookup_tries_the_root_first_then_children_in_order() -> None:
    s = store(Dev("net0", VIF), Dev("net1", RTL))
    s.set("net1/foo", "one")
    s.set("net0/foo", "zero")
    assert s.fetch(s.parse("foo")).origin.path() == "net0"
    s.set("foo", "global")
    assert s.fetch(s.parse("foo")).label == "foo:string"


def test_priority_reorders_siblings() -> None:
    s = store()
    s.set("a/x", "from a")
    s.set("b/x", "from b")
    assert s.get("x") == "from a"
    s.set("b/priority", "1")  # priority is an int8; higher first
    assert s.get("x") == "from b"
    s.clear("b/priority")
    s.set("a/priority", "-1")
    assert s.get("x") == "from b"


def test_a_new_child_moves_its_parent_last_among_equals() -> None:
    # iPXE's reprioritise_settings() walks up from a new block: net0 gaining net0.dhcp
    # goes after net1, so an unscoped name found in both now comes from net1.
    # (netX, registered before the netdevs, still finds the opened netdev's first.)
    s = store(Dev("net0", VIF), Dev("net1", RTL))
    s.set("net1/foo", "one")
    s.set("net0/foo", "zero")
    assert s.get("foo") == "zero"
    s.set("net0.dhcp/ip", "10.0.2.15")
    assert s.get("foo") == "one"
    s.last_opened = "net0"
    assert s.get("foo") == "zero"


def test_scope_depth_is_bounded() -> None:
    s = store()
    s.set(".".join(["a"] * 32) + "/x", "1")
    assert s.fetch(s.parse("x")).label == "a.a.a.a.a.a.a.a/x:string"  # iPXE: 15 chars
    with pytest.raises(InvalidSetting):
        s.set(".".join(["a"] * 33) + "/x", "1")
    status, out, _ = run("set " + ".".join(["a"] * 5000) + "/x 1", machine=False)
    assert status != 0 and out.endswith('/x": invalid setting\n')


def test_scope_errors_and_type_errors_are_invalid_settings() -> None:
    s = store()
    with pytest.raises(InvalidSetting) as no_scope:
        s.parse("nosuch/x")
    assert no_scope.value.errno == ENODEV_SCOPE
    with pytest.raises(InvalidSetting) as bad_type:
        s.parse("x:bogus")
    assert bad_type.value.errno == ENOTSUP_SETTING
    assert s.parse("/x").block is s.root  # an empty scope is the root
    s.set("nosuch/x", "1")  # set creates the scope ...
    assert s.get("nosuch/x") == "1"  # ... and then it exists


def test_numeric_names_are_dhcp_tags() -> None:
    s = store()
    s.set("12", "box")  # option 12 is hostname
    assert s.fetch(s.parse("hostname")).label == "hostname:string"
    assert s.get("12") == "box"
    s.set("175.2", "10.0.0.1")  # iPXE's encapsulated option 175.2 is ip
    assert s.get("ip") == "10.0.0.1"
    s.set("209:string", "pxelinux.cfg")  # an unknown option matches by number
    found = s.fetch(s.parse("0xd1"))
    assert (found.label, found.format()) == ("0xd1:string", "pxelinux.cfg")
    s.clear("0xd1")
    assert s.get("209") is None
    with pytest.raises(SettingsError, match="Invalid argument"):
        s.set("1", "x")  # option 1 is the netmask, an ipv4


def test_empty_value_deletes() -> None:
    s = store()
    s.set("x", "1")
    s.set("x", "")
    assert s.get("x") is None
    s.set("x", "1")
    s.clear("x")
    with pytest.raises(SettingsError) as missing:
        s.fetch(s.parse("x"))
    assert missing.value.errno == ENOENT_SETTING
    assert str(missing.value) == "No such file or directory (https://ipxe.org/2d0c2002)"


# -- builtins --------------------------------------------------------------------------------------


def test_builtins() -> None:
    s = store()
    assert s.fetch(s.parse("platform")).label == "builtin/platform:string"
    assert s.get("platform") == "linux"
    assert s.get("buildarch") == buildarch()
    assert s.get("builtin/errno") == "0x0"
    assert abs(int(s.get("unixtime") or "0", 16) - time.time()) < 5
    assert s.get("version")
    assert buildarch("aarch64") == "arm64" and buildarch("i686") == "i386"
    assert buildarch("armv7l") == "arm32"


def test_a_global_named_like_a_builtin_hides_it() -> None:
    s = store()
    s.errno_source = lambda: 0x2D028002
    assert s.get("errno") == "0x2d028002"
    s.set("errno", "5")  # errno is a known uint32
    assert s.get("errno") == "0x5"
    assert s.fetch(s.parse("errno")).label == "errno:uint32"
    assert s.get("builtin/errno") == "0x2d028002"


def test_smbios_from_linux_dmi(tmp_path: Path) -> None:
    dmi = tmp_path / "class" / "dmi" / "id"
    dmi.mkdir(parents=True)
    (dmi / "product_uuid").write_text("1a6a749d-0eda-461a-a87a-7cfe4fca4a57\n")
    (dmi / "sys_vendor").write_text("Xen\n")
    (dmi / "product_name").write_text("HVM domU\n")
    (dmi / "chassis_asset_tag").write_text("\n")  # empty: no asset tag
    s = store()
    s.sysfs_root = tmp_path
    found = s.fetch(s.parse("uuid"))
    assert (found.label, found.format()) == (
        "smbios/uuid:uuid",
        "1a6a749d-0eda-461a-a87a-7cfe4fca4a57",
    )
    assert s.get("manufacturer") == "Xen"
    assert s.get("smbios/product") == "HVM domU"
    assert s.get("serial") is None  # no file (or not root)
    assert s.get("asset") is None
    with pytest.raises(SettingsError, match="Operation not supported"):
        s.set("smbios/manufacturer", "x")
    s.set("manufacturer", "Mine")  # a global one hides it
    assert s.get("manufacturer") == "Mine"
    status, out, _ = run_with(["--sysfs-root", str(tmp_path)], "show product")
    assert (status, out) == (0, "smbios/product:string = HVM domU\n")


def test_builtin_block_stores_nothing() -> None:
    s = store()
    with pytest.raises(SettingsError, match=r"https://ipxe\.org/3d0c2019"):
        s.set("builtin/foo", "1")  # does not apply there (ENOTTY)
    with pytest.raises(SettingsError, match="Operation not supported"):
        s.set("builtin/errno", "1")


def test_no_errno_without_a_shell() -> None:
    assert Settings().get("errno") is None


# -- the subtle rules ------------------------------------------------------------------------------


def test_typed_read_shows_the_stored_bytes() -> None:
    s = store()
    s.set("x", "5")
    assert s.get("x:int32") == "53"
    assert s.get("x:uint8") == "0x35"


def test_inc_creates_an_int32_and_fails_on_a_string() -> None:
    s = store()
    s.increment(s.parse("i"), 1)
    found = s.fetch(s.parse("i"))
    assert (found.label, found.format(), found.raw) == ("i:int32", "1", b"\0\0\0\1")
    s.increment(s.parse("i"), 41)
    assert s.get("i") == "42"
    s.set("t", "5")
    with pytest.raises(SettingsError, match="Operation not supported"):
        s.increment(s.parse("t"), 1)
    s.set("small:int8", "127")
    s.increment(s.parse("small"), 1)
    assert s.get("small") == "-128"  # truncated silently


def test_inc_stores_into_the_named_block() -> None:
    s = store()
    s.set("a/n:int16", "7")
    s.increment(s.parse("n"), 1)  # read from a, stored globally as iPXE does
    assert s.fetch(s.parse("n")).label == "n:int16"
    assert (s.get("n"), s.get("a/n")) == ("8", "7")


# -- netdevs ------------------------------------------------------------------------------------


def test_netdev_settings_xen() -> None:
    s = store(Dev("net0", VIF))
    assert s.get("net0/mac") == "00:16:3e:5f:48:e4"
    assert s.get("net0/hwaddr") == "00:16:3e:5f:48:e4"
    assert s.get("net0/bustype") == "XEN"
    assert s.get("net0/busloc") == "0x0"
    assert s.get("net0/busid") == "08:00:00:00:00"
    assert s.get("net0/chip") == "netfront"
    assert s.get("net0/ifname") == "net0"
    assert s.get("net0/linux-ifname") == "eth0"
    assert s.get("net0/linktype") == "Ethernet"
    assert s.get("net0/mtu") is None  # iPXE has no fetchable mtu: only a DHCP option
    assert s.fetch(s.parse("mac")).label == "net0/mac:hex"


def test_netdev_settings_pci() -> None:
    s = store(Dev("net0", RTL))
    assert s.get("net0/bustype") == "PCI"
    assert s.get("net0/busloc") == "0x20"  # 00:04.0 = bus 0, slot 4, function 0
    assert s.get("net0/busloc:busdevfn") == "00:04.0"
    assert s.get("net0/busid") == "01:10:ec:81:39"


def test_netdev_mac_can_be_set_and_reset_others_cannot() -> None:
    s = store(Dev("net0", VIF))
    s.set("net0/mac", "52:54:00:12:34:56")
    assert s.get("mac") == "52:54:00:12:34:56"
    s.clear("net0/mac")
    assert s.get("mac") == "00:16:3e:5f:48:e4"
    with pytest.raises(SettingsError, match="Invalid argument"):
        s.set("net0/mac", "52:54")
    with pytest.raises(SettingsError, match="Operation not supported"):
        s.set("net0/chip", "x")
    s.set("net0/foo", "bar")  # anything else is stored in the block
    assert s.get("net0/foo") == "bar"


def test_netx_follows_the_last_opened_netdev() -> None:
    s = store(Dev("net0", VIF), Dev("net1", RTL))
    # Nothing opened: netX is the empty redirect block, as in iPXE (measured: `show
    # netX/mac` before any ifopen fails "Operation not supported").
    with pytest.raises(SettingsError, match="Operation not supported"):
        s.fetch(s.parse("netX/chip"))
    s.netx_fallback = True  # bootsh's optional fallback: net0 until one is opened
    assert s.fetch(s.parse("netX/chip")).label == "net0/chip:string"
    s.last_opened = "net1"
    assert s.get("netX/chip") == "rtl8139"
    s.set("netX/foo", "1")
    assert s.get("net1/foo") == "1"


def test_netx_without_netdevs_is_an_empty_block() -> None:
    s = store()
    with pytest.raises(SettingsError, match="Operation not supported"):
        s.fetch(s.parse("netX/mac"))
    with pytest.raises(SettingsError, match="Operation not supported"):
        s.set("netX/foo", "1")


def test_netdev_blocks_follow_the_naming() -> None:
    devs = [Dev("net0", VIF)]
    s = Settings(netdevs=lambda: devs)
    s.set("net0/foo", "1")
    assert s.get("net0/chip") == "netfront"
    devs[:] = [Dev("net0", RTL), Dev("net1", VIF)]  # renamed: a new device is net0
    assert s.get("net0/chip") == "rtl8139"
    assert s.get("net0/foo") is None
    devs[:] = []
    assert s.get("net0/chip") is None
    assert s.netdev_names() == []


def test_validators_see_the_value() -> None:
    s = store()
    seen: list[str] = []

    def check(value: str) -> None:
        seen.append(value)
        if value == "bad":
            raise BootshError("bad value")

    s.validators["twins"] = check
    s.set("twins", "label")
    with pytest.raises(BootshError, match="bad value"):
        s.set("twins", "bad")
    assert s.get("twins") == "label"
    s.set("twins", "")  # deleting is always allowed
    assert seen == ["label", "bad"]


def test_names_lists_stored_settings() -> None:
    s = store(Dev("net0", VIF))
    s.set("x", "1")
    s.set("net0.dhcp/ip", "10.0.2.15")
    assert s.names() == ["x", "net0.dhcp/ip"]


# -- the commands through the CLI ----------------------------------------------------------------


def test_show_on_the_example_machine() -> None:
    assert run("show net0/mac") == (0, "net0/mac:hex = 00:16:3e:5f:48:e4\n", "")
    assert run("show net0/bustype")[1] == "net0/bustype:string = XEN\n"
    assert run("show netX/bustype")[0] == 1  # nothing opened
    assert run("show mac")[1] == "net0/mac:hex = 00:16:3e:5f:48:e4\n"
    assert run("show net1/mac:hexhyp")[1] == "net1/mac:hexhyp = 00-16-3e-1a-2b-3c\n"


@pytest.mark.parametrize(
    ("line", "out"),
    [
        ("set n:uint8 17 ; show n", "n:uint8 = 0x11\n"),
        ("set i:int32 -5 ; show i", "i:int32 = -5\n"),
        ("set foo bar   baz ; show foo", "foo:string = bar baz\n"),
        ("set u:uristring a%20b ; show u", None),
        ("set ip 10.0.2.15 ; show ip", "ip:ipv4 = 10.0.2.15\n"),
        ("set a:ipv6 fe80::1 ; show a", "a:ipv6 = fe80::1\n"),
        ("set h:hex 52:54:00 ; show h", "h:hex = 52:54:00\n"),
        ("set h:hexhyp 52-54-00 ; show h", "h:hexhyp = 52-54-00\n"),
        ("set h:hexraw 525400 ; show h", "h:hexraw = 525400\n"),
        ("set b:base64 aGk= ; show b", "b:base64 = aGk=\n"),
        ("set w:int16 0x7fff ; show w", "w:int16 = 32767\n"),
        ("set w:uint16 0 ; show w", "w:uint16 = 0x0\n"),
        ("set w:uint32 0xb598d21 ; show w", "w:uint32 = 0xb598d21\n"),
        ("set w:int8 0x1234 ; show w", "w:int8 = 52\n"),
        ("set u:uuid 1a6a749d-0eda-461a-a87a-7cfe4fca4a57 ; show u", None),
        ("set nosuch/x 1 ; show nosuch/x", "nosuch/x:string = 1\n"),
        ("set net0.dhcp/ip 10.0.2.15 ; show ip", "net0.dhcp/ip:ipv4 = 10.0.2.15\n"),
        ("set x 5 ; show x:int32", "x:int32 = 53\n"),
        ("inc x ; inc x 41 ; show x", "x:int32 = 42\n"),
        ("set errno 5 ; show errno", "errno:uint32 = 0x5\n"),
        ("show platform", "builtin/platform:string = linux\n"),
        ("set x 1 ; set x ; show x", None),
    ],
)
def test_show_formats(line: str, out: str | None) -> None:
    status, printed, _ = run(line)
    if out is not None:
        assert (status, printed) == (0, out)
    elif line.endswith("show x"):
        assert status != 0 and printed.startswith('Could not find "x"')
    else:
        assert status == 0 and " = " in printed


@pytest.mark.parametrize(
    ("line", "out"),
    [
        ("show nosuch/x", '"nosuch/x": invalid setting\n'),
        ("show x:bogus", '"x:bogus": invalid setting\n'),
        ("set x:bogus 1", '"x:bogus": invalid setting\n'),
        ("inc nosuch/x", '"nosuch/x": invalid setting\n'),
        ("show x", 'Could not find "x": No such file or directory (https://ipxe.org/2d0c2002)\n'),
        (
            "show net0/foo:int8",
            'Could not find "foo": No such file or directory (https://ipxe.org/2d0c2002)\n',
        ),
        ("set x:ipv4 bogus", 'Could not store "x": Invalid argument (https://ipxe.org/1c056016)\n'),
        (
            "set t 5 ; inc t",
            'Could not store "t": Operation not supported (https://ipxe.org/3c0c205f)\n',
        ),
        ("inc x zz", '"zz": invalid integer value\n'),
        (
            "set net0/chip x",
            'Could not store "chip": Operation not supported (https://ipxe.org/3c14605f)\n',
        ),
        (
            "set y:int8 1 ; show y:ipv4",
            'Could not find "y": Invalid argument (https://ipxe.org/1c056016)\n',
        ),
    ],
)
def test_command_errors(line: str, out: str) -> None:
    status, printed, _ = run(line)
    assert status != 0
    assert printed == out


@pytest.mark.parametrize(
    ("line", "synopsis"),
    [
        ("show", "show <setting>"),
        ("show a b", "show <setting>"),
        ("set", "set <setting> <value>"),
        ("clear", "clear <setting>"),
        ("clear a b", "clear <setting>"),
        ("inc", "inc <setting> [<increment>]"),
        ("inc a 1 2", "inc <setting> [<increment>]"),
        ("show --help", "show <setting>"),
    ],
)
def test_usage(line: str, synopsis: str) -> None:
    name = synopsis.split()[0]
    status, printed, _ = run(line, machine=False)
    assert status != 0
    assert printed.endswith(
        f"Usage:\n\n  {synopsis}\n\nSee https://ipxe.org/cmd/{name} for further information\n"
    )


def test_show_has_no_options() -> None:
    status, printed, _ = run("show -q x", machine=False)
    assert status != 0 and printed.startswith('Unrecognised option "-q"\n')


def test_set_twins_still_validates() -> None:
    assert run("set twins label", "show twins", machine=False)[:2] == (
        0,
        "twins:string = label\n",
    )
    status, printed, _ = run("set twins nonsense", machine=False)
    assert status == 1 and printed.startswith("unknown twin policy 'nonsense'")


def test_set_twins_changes_the_netdevs_settings_see() -> None:
    # With "label" both twins are shown: the emulated PCI NICs become net2 and net3.
    assert run("show net2/chip")[0] != 0
    status, printed, _ = run("set twins label", "show net2/bustype")
    assert (status, printed) == (0, "net2/bustype:string = PCI\n")
