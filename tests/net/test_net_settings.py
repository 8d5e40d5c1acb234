"""``--net af_packet,if=IFACE,key=value...``: the pairs become settings of that netdev, as in
iPXE's Linux build (``linux_apply_settings``): predefined settings only, each parsed in its
type; what cannot be applied is reported once, with the reason, and the rest still applies.

The NICs come from a sysfs tree made for the test (``class/net/IF/address``); the CLI runs
in-process.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bootsh.cli import main
from bootsh.lang.settings import SettingsError, driver_setting, driver_settings

MAC = "02:00:00:00:ab:09"


@pytest.fixture
def sysfs(tmp_path: Path) -> Path:
    for ifname, mac in (("veth-a", MAC), ("veth-b", "02:00:00:00:ab:0a")):
        iface = tmp_path / "class" / "net" / ifname
        iface.mkdir(parents=True)
        (iface / "address").write_text(mac + "\n")
        (iface / "operstate").write_text("up\n")
        (iface / "carrier").write_text("1\n")
    return tmp_path


def bootsh(sysfs: Path, nets: list[str], *lines: str) -> tuple[int, str, str]:
    argv = ["--sysfs-root", str(sysfs)]
    for spec in nets:
        argv += ["--net", spec]
    for line in lines:
        argv += ["-c", line]
    out, err = io.StringIO(), io.StringIO()
    empty = sysfs / "empty.toml"
    empty.write_text("")
    status = main(
        argv,
        env={"HOME": "/nonexistent", "BOOTSH_CONFIG": str(empty)},
        stdin=io.StringIO(),
        stdout=out,
        stderr=err,
    )
    return status, out.getvalue(), err.getvalue()


def test_pairs_become_the_netdevs_settings(sysfs: Path) -> None:
    status, out, err = bootsh(
        sysfs,
        ["af_packet,if=veth-a,ip=10.77.0.5,netmask=255.255.255.0,gateway=10.77.0.1,"
         "dns=10.77.0.1,domain=bootsh.test,hostname=client,filename=boot.ipxe"],
        "show net0/ip",
        "show net0/netmask",
        "show gateway",  # found by the global search, in net0's block
        "show dns",
        "show net0/domain",
        "echo ${hostname} ${net0/filename} ${netX/ip}",
        "show net0/12",  # by DHCP option number: hostname
    )  # fmt: skip
    assert (status, err) == (0, "")
    assert out.splitlines() == [
        "net0/ip:ipv4 = 10.77.0.5",
        "net0/netmask:ipv4 = 255.255.255.0",
        "net0/gateway:ipv4 = 10.77.0.1",
        "net0/dns:ipv4 = 10.77.0.1",
        "net0/domain:string = bootsh.test",
        # netX is no netdev until one is opened, as in iPXE: ${netX/ip} is empty.
        "client boot.ipxe ",
        "net0/hostname:string = client",
    ]


def test_each_netdev_gets_its_own(sysfs: Path) -> None:
    status, out, _ = bootsh(
        sysfs,
        ["af_packet,if=veth-a,ip=10.0.0.1", "af_packet,if=veth-b,ip=10.0.0.2"],
        "show net0/ip",
        "show net1/ip",
        "clear net1/ip",
        "show net1/ip ||",
    )
    assert status == 0
    assert out.splitlines() == [
        "net0/ip:ipv4 = 10.0.0.1",
        "net1/ip:ipv4 = 10.0.0.2",
        'Could not find "ip": No such file or directory (https://ipxe.org/2d0c2002)',
    ]


def test_bad_pairs_are_reported_once_and_the_good_ones_applied(sysfs: Path) -> None:
    spec = "af_packet,if=veth-a,ip=10.77.0.300,foo=bar,chip=x,netmask=255.255.255.0,mac=zz"
    status, out, err = bootsh(
        sysfs, [spec], "show net0/netmask", "show net0/ip ||", "show net0/foo ||", "show net0/chip"
    )
    assert status == 0
    assert out.splitlines() == [
        "net0/netmask:ipv4 = 255.255.255.0",
        'Could not find "ip": No such file or directory (https://ipxe.org/2d0c2002)',
        'Could not find "foo": No such file or directory (https://ipxe.org/2d0c2002)',
        "net0/chip:string = af_packet",
    ]
    assert err.splitlines() == [
        f"bootsh: --net {spec}: ip=10.77.0.300 not applied: Invalid argument"
        " (https://ipxe.org/1c056016) (not an IPv4 address: b'10.77.0.300')",
        f"bootsh: --net {spec}: foo=bar not applied: No such file or directory"
        " (https://ipxe.org/2d0c2002) ('foo' is not a setting iPXE knows)",
        f"bootsh: --net {spec}: chip=x not applied: Operation not supported"
        " (https://ipxe.org/3c14605f) ('chip' is the NIC's own)",
        f"bootsh: --net {spec}: mac=zz not applied: Invalid argument"
        " (https://ipxe.org/1c112016) (invalid hex digits in b'zz')",
    ]


def test_mac_pair_sets_the_netdevs_address(sysfs: Path) -> None:
    status, out, err = bootsh(
        sysfs, ["af_packet,if=veth-a,mac=02:00:00:00:00:77"], "show net0/mac", "show net0/hwaddr"
    )
    assert (status, err) == (0, "")
    assert out.splitlines() == ["net0/mac:hex = 02:00:00:00:00:77", f"net0/hwaddr:hex = {MAC}"]


def test_driver_setting_types() -> None:
    assert driver_setting("ip", "10.0.0.1") == (bytes([10, 0, 0, 1]), "ipv4")
    assert driver_setting("priority", "-3") == (b"\xfd", "int8")
    assert driver_setting("username", "alice") == (b"alice", "string")
    for key, value in (("errno", "1"), ("nosuch", "1"), ("busloc", "1"), ("mac", "01:02")):
        with pytest.raises(SettingsError):
            driver_setting(key, value)
    facts = {"net": "x", "setting/ip": "10.0.0.1", "setting/bad": "1", "setting/dns": ""}
    assert driver_settings(facts) == [("ip", bytes([10, 0, 0, 1]), "ipv4")]
