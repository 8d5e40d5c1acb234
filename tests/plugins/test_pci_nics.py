"""The pci_nics plugin against sysfs trees shaped like real ones, and against this machine's /sys.

Trees are built by ``sysfs_tree`` in a temporary directory; the hookimpls are called directly
with a ``Context`` and through a plugin host built by ``make_plugin_manager``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType

import pytest

import bootsh_policies as policies
from bootsh.context import Config, Context, XenPlatform
from bootsh.nics.netdevs import resolve
from bootsh.nics.nic import Nic
from bootsh.nics.twins import Evidence, Verdict, mac_evidence, weigh
from bootsh.plugins import make_plugin_manager
from tests.sysfs_tree import MODELS, SysfsTree, Vif, nic_addresses, xen_hvm_guest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_SYSFS = REPO / "examples" / "machines" / "xen-hvm" / "sysfs"
BUILD_SCRIPT = REPO / "examples" / "machines" / "build_xen_hvm.py"

# The plugin is imported by its installed name, as the bootsh entry point names it. (mypy
# cannot see it under that name, since it lives in plugins/pci_nics; hence ModuleType and
# the typed wrappers below.)
pci_nics: ModuleType = importlib.import_module("bootsh_pci_nics")

MAC0 = "00:16:3e:5f:48:e4"
MAC1 = "00:16:3e:1a:2b:3c"
MAC2 = "52:54:00:12:34:56"


def context(root: Path, lines: list[str] | None = None) -> Context:
    sink = lines.append if lines is not None else None
    return Context(Config(sysfs_root=root, verbose=True), warn_sink=sink)


def probe(root: Path, lines: list[str] | None = None) -> tuple[list[Nic], Context]:
    ctx = context(root, lines)
    found: Sequence[Nic] = pci_nics.bootsh_probe_nics(ctx)
    return list(found), ctx


def by_location(nics: list[Nic]) -> dict[str, Nic]:
    return {n.location: n for n in nics}


def vif(index: int, mac: str) -> Nic:
    """What the netfront plugin reports for a vif (stand-in, this plugin does not read it)."""
    return Nic("netfront", f"vif/{index}", mac, "xen", ifname=None, paravirtual=True, order=10)


# -- the seed's machine and the built-in example ---------------------------------------------


def test_seed_machine_rtl8139_twin(tmp_path: Path) -> None:
    """XEN.md's guest: one vif, its rtl8139 twin at 00:04.0, platform device at 00:02.0."""
    xen_hvm_guest(tmp_path, [MAC0])
    nics, ctx = probe(tmp_path)
    assert nics == [
        Nic(
            driver="rtl8139",
            location="0000:00:04.0",
            mac=MAC0,
            bus="pci",
            ifname="eth0",
            order=50,
            facts={
                "pci-id": "10ec:8139",
                "subsystem": "1af4:1100",
                "class": "0x020000",
                "revision": "0x20",
                "kernel-driver": "8139cp",
                "ipxe-name": "rtl8139",
                "interface": "net/eth0",
            },
        )
    ]
    assert nics[0].usable
    assert ctx.machine.xen_platform == XenPlatform("0000:00:02.0", "5853", "0001")
    assert ctx.machine.hvm_guest is True


def test_example_machine() -> None:
    nics, ctx = probe(EXAMPLE_SYSFS)
    found = {(n.driver, n.location, n.mac, n.ifname, n.facts["kernel-driver"]) for n in nics}
    assert found == {
        ("rtl8139", "0000:00:04.0", MAC0, "eth1", "8139cp"),
        ("e1000", "0000:00:05.0", MAC1, "eth2", "e1000"),
    }
    assert all(n.usable for n in nics)
    assert ctx.machine.xen_platform == XenPlatform("0000:00:02.0", "5853", "0001")
    # The netfront side of the same tree, as XEN.md shows it.
    root = EXAMPLE_SYSFS
    assert (root / "devices/vif-0/nodename").read_text() == "device/vif/0\n"
    assert os.readlink(root / "class/net/eth0") == "../../devices/vif-0/net/eth0"
    assert os.readlink(root / "class/net/eth0/device") == "../../../vif-0"
    assert os.readlink(root / "devices/vif-1/driver") == "../../bus/xen/drivers/vif"
    assert (root / "class/net/eth3/address").read_text() == MAC1 + "\n"
    assert (root / "hypervisor/type").read_text() == "xen\n"


def _load_build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_xen_hvm", BUILD_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _snapshot(root: Path) -> dict[str, tuple[str, str]]:
    """Every file and symlink under root: kind and content or target (dirs are implied)."""
    out: dict[str, tuple[str, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                out[rel] = ("link", os.readlink(path))
            elif path.is_file():
                out[rel] = ("file", path.read_text())
    return out


def test_example_tree_is_what_the_script_builds(tmp_path: Path) -> None:
    """The committed tree must be regenerated when the shapes change (and nothing else)."""
    script = _load_build_script()
    script.build(tmp_path / "sysfs")
    fresh, committed = _snapshot(tmp_path / "sysfs"), _snapshot(EXAMPLE_SYSFS)
    assert sorted(set(fresh) ^ set(committed)) == []
    changed = [k for k in fresh if fresh[k] != committed[k]]
    assert changed == [], "run examples/machines/build_xen_hvm.py"


# -- shapes ----------------------------------------------------------------------------------


def test_tree_shapes_match_xen_md(tmp_path: Path) -> None:
    tree = SysfsTree(tmp_path)
    tree.add_pci(
        "0000:00:04.0", 0x10EC, 0x8139, revision=0x20, driver="8139cp", ifname="eth1", mac=MAC0
    )
    tree.add_vif(0, "eth0", MAC0)
    dev = tmp_path / "devices/pci0000:00/0000:00:04.0"
    assert (dev / "vendor").read_text() == "0x10ec\n"
    assert (dev / "class").read_text() == "0x020000\n"
    assert (dev / "revision").read_text() == "0x20\n"
    assert (dev / "subsystem_device").read_text() == "0x1100\n"
    assert os.readlink(dev / "driver") == "../../../bus/pci/drivers/8139cp"
    assert (tmp_path / "bus/pci/drivers/8139cp").is_dir()
    assert os.readlink(tmp_path / "bus/pci/devices/0000:00:04.0") == (
        "../../../devices/pci0000:00/0000:00:04.0"
    )
    assert os.readlink(tmp_path / "class/net/eth1") == (
        "../../devices/pci0000:00/0000:00:04.0/net/eth1"
    )
    assert os.readlink(dev / "net/eth1/device") == "../../../0000:00:04.0"
    for name, text in (("address", MAC0), ("operstate", "up"), ("carrier", "1"), ("mtu", "1500")):
        assert (dev / "net/eth1" / name).read_text() == text + "\n"
    assert os.readlink(tmp_path / "bus/xen/devices/vif-0") == "../../../devices/vif-0"
    assert (tmp_path / "devices/vif-0/devtype").read_text() == "vif\n"


def test_virtio_child_link_is_the_kernels(tmp_path: Path) -> None:
    tree = SysfsTree(tmp_path)
    tree.add_pci(
        "0000:00:03.0",
        0x1AF4,
        0x1041,
        revision=0x01,
        driver="virtio-pci",
        ifname="eth0",
        mac=MAC2,
        virtio=2,
    )
    iface = tmp_path / "devices/pci0000:00/0000:00:03.0/virtio2/net/eth0"
    assert os.readlink(iface / "device") == "../../../virtio2"
    assert os.readlink(iface / "subsystem") == "../../../../../../class/net"
    assert (
        os.readlink(iface.parent.parent / "driver") == "../../../../bus/virtio/drivers/virtio_net"
    )


# -- virtio, unbound, odd cards ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "pci_id"), [("virtio-net-pci", "1af4:1000"), ("virtio-net-pci-modern", "1af4:1041")]
)
def test_virtio_interface_one_level_down(tmp_path: Path, model: str, pci_id: str) -> None:
    SysfsTree(tmp_path).add_nic("0000:00:03.0", model, ifname="eth0", mac=MAC2)
    [nic] = probe(tmp_path)[0]
    assert (nic.driver, nic.mac, nic.ifname, nic.problem) == ("virtio-net", MAC2, "eth0", None)
    assert nic.facts["pci-id"] == pci_id
    assert nic.facts["kernel-driver"] == "virtio-pci"
    assert nic.facts["interface"] == "virtio0/net/eth0"


def test_every_qemu_model_is_named(tmp_path: Path) -> None:
    tree = SysfsTree(tmp_path)
    names = sorted(set(MODELS) - {"virtio-net"})
    addresses = nic_addresses(tree)
    for n, model in enumerate(names):
        tree.add_nic(next(addresses), model, ifname=f"eth{n}", mac=f"00:16:3e:00:00:{n:02x}")
    nics = probe(tmp_path)[0]
    assert {n.facts["pci-id"]: n.driver for n in nics} == {
        "10ec:8139": "rtl8139",
        "8086:100e": "e1000",
        "10ec:8029": "rtl8029",
        "1022:2000": "pcnet32",
        "15ad:07b0": "vmxnet3",
        "8086:1229": "eepro100",
        "1af4:1000": "virtio-net",
        "1af4:1041": "virtio-net",
    }
    assert all(n.usable for n in nics)


def test_unbound_nic_is_listed_with_a_problem(tmp_path: Path) -> None:
    tree = SysfsTree(tmp_path)
    tree.add_nic("0000:00:04.0", "rtl8139", ifname=None, mac=None, bound=False)
    tree.add_nic("0000:00:05.0", "virtio-net-pci", ifname=None, mac=None, bound=False)
    tree.add_pci("0000:00:06.0", 0x14E4, 0x1657)  # an unknown id, unbound
    nics = by_location(probe(tmp_path)[0])
    assert [n.driver for n in nics.values()] == ["rtl8139", "virtio-net", "pci"]
    for nic in nics.values():
        assert nic.mac is None and nic.ifname is None and not nic.usable
        assert nic.problem is not None and "no kernel driver is bound" in nic.problem
        assert "kernel-driver" not in nic.facts


def test_unknown_ids_take_the_kernel_driver_name(tmp_path: Path) -> None:
    SysfsTree(tmp_path).add_pci(
        "0000:00:04.0", 0x14E4, 0x1657, subsystem=(0x103C, 0x22BE), driver="tg3",
        ifname="eno1", mac="3C:A8:2A:0B:11:22",
    )  # fmt: skip
    [nic] = probe(tmp_path)[0]
    assert (nic.driver, nic.mac, nic.problem) == ("tg3", "3c:a8:2a:0b:11:22", None)
    assert "ipxe-name" not in nic.facts


def test_bound_driver_without_interface(tmp_path: Path) -> None:
    SysfsTree(tmp_path).add_pci("0000:00:04.0", 0x10EC, 0x8139, revision=0x20, driver="8139cp")
    [nic] = probe(tmp_path)[0]
    assert nic.problem is not None
    assert "8139cp is bound but shows no network interface" in nic.problem


def test_non_network_functions_are_ignored(tmp_path: Path) -> None:
    xen_hvm_guest(tmp_path, [], netfront=False)
    nics, ctx = probe(tmp_path)
    assert nics == []
    assert ctx.machine.xen_platform is not None  # any class: 0xff8000


def test_several_interfaces_on_one_function(tmp_path: Path) -> None:
    tree = SysfsTree(tmp_path)
    dev = tree.add_pci("0000:03:00.0", 0x15B3, 0x1003, driver="mlx4_core", ifname="eth10", mac=MAC2)
    tree.add_net(dev, "eth2", "52:54:00:12:34:57")
    [nic] = probe(tmp_path)[0]
    assert (nic.ifname, nic.mac, nic.facts["other-interfaces"]) == (
        "eth2",
        "52:54:00:12:34:57",
        "eth10",
    )


# -- Xen platform device --------------------------------------------------------------------


@pytest.mark.parametrize("device", [0x0001, 0x0002])
def test_platform_device_variants(tmp_path: Path, device: int) -> None:
    SysfsTree(tmp_path).add_xen_platform("0000:00:03.0", device)
    ctx = probe(tmp_path)[1]
    assert ctx.machine.xen_platform == XenPlatform("0000:00:03.0", "5853", f"{device:04x}")
    assert ctx.machine.hvm_guest is True


def test_no_platform_device_leaves_the_facts_alone(tmp_path: Path) -> None:
    tree = SysfsTree(tmp_path)
    tree.add_nic("0000:00:04.0", "e1000", ifname="eth0", mac=MAC0)
    tree.add_pci("0000:00:05.0", 0x5853, 0x0003, pci_class=0xFF8000)  # not a platform id
    ctx = probe(tmp_path)[1]
    assert ctx.machine.xen_platform is None
    assert ctx.machine.hvm_guest is None


# -- damaged trees ----------------------------------------------------------------------------


def _healthy_neighbour(tree: SysfsTree) -> None:
    tree.add_nic("0000:00:05.0", "e1000", ifname="eth9", mac=MAC1)


def _replace_with_dir(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _replace_with_dangling_link(path: Path) -> None:
    path.unlink()
    path.symlink_to("no-such-file")


def _write(text: bytes) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        path.write_bytes(text)

    return damage


DAMAGE: list[tuple[str, Callable[[Path], None], str]] = [
    ("vendor", _replace_with_dir, "Is a directory"),
    ("device", _replace_with_dangling_link, "No such file or directory"),
    ("device", _write(b"0x81390\n"), "is not a hex value like 0x0000"),
    ("subsystem_vendor", _write(b"hello\n"), "'hello' is not a hex value"),
    ("subsystem_device", _replace_with_dangling_link, "No such file or directory"),
    ("revision", _write(b"\xff\xfe\n"), "not text"),
    ("revision", _write(b""), "'' is not a hex value"),
    ("class", _write(b"0x02000000000\n"), "is not a hex value like 0x000000"),
    ("net/eth1/address", _write(b"zz:16:3e:5f:48:e4\n"), "is not an Ethernet MAC address"),
    ("net/eth1/address", _replace_with_dir, "Is a directory"),
    ("net/eth1/address", _write(b"a" * 5000), "longer than a sysfs attribute"),
]


@pytest.mark.parametrize(
    ("name", "damage", "says"), DAMAGE, ids=[f"{d[0]}-{i}" for i, d in enumerate(DAMAGE)]
)
def test_damaged_file_gives_that_device_a_problem(
    tmp_path: Path, name: str, damage: Callable[[Path], None], says: str
) -> None:
    tree = SysfsTree(tmp_path)
    dev = tree.add_nic("0000:00:04.0", "rtl8139", ifname="eth1", mac=MAC0)
    _healthy_neighbour(tree)
    damage(dev / name)
    nics = by_location(probe(tmp_path)[0])
    broken, healthy = nics["0000:00:04.0"], nics["0000:00:05.0"]
    assert broken.problem is not None
    assert not broken.usable
    assert f"bus/pci/devices/0000:00:04.0/{name}" in broken.problem
    assert says in broken.problem
    assert "\n" not in broken.problem
    assert healthy.usable and healthy.mac == MAC1 and healthy.problem is None


def test_class_unreadable_on_a_known_nic_is_reported(tmp_path: Path) -> None:
    tree = SysfsTree(tmp_path)
    dev = tree.add_nic("0000:00:04.0", "rtl8139", ifname="eth1", mac=MAC0)
    _replace_with_dir(dev / "class")
    [nic] = probe(tmp_path)[0]
    assert nic.driver == "rtl8139" and nic.mac == MAC0
    assert nic.problem == (
        f"cannot read {tmp_path}/bus/pci/devices/0000:00:04.0/class: Is a directory"
    )


def test_unidentifiable_function_is_skipped_with_a_reason(tmp_path: Path) -> None:
    tree = SysfsTree(tmp_path)
    dev = tree.add_pci("0000:00:07.0", 0x1234, 0x1111, pci_class=0x030000)
    _replace_with_dangling_link(dev / "class")
    _healthy_neighbour(tree)
    lines: list[str] = []
    nics = probe(tmp_path, lines)[0]
    assert [n.location for n in nics] == ["0000:00:05.0"]
    assert any("0000:00:07.0 skipped" in line and "class" in line for line in lines)


def test_dangling_device_link(tmp_path: Path) -> None:
    tree = SysfsTree(tmp_path)
    _healthy_neighbour(tree)
    (tmp_path / "bus/pci/devices/0000:00:09.0").symlink_to("../../../devices/pci0000:00/gone")
    nics = probe(tmp_path)[0]
    assert [n.location for n in nics] == ["0000:00:05.0"]


def test_driver_link_that_is_a_file(tmp_path: Path) -> None:
    tree = SysfsTree(tmp_path)
    dev = tree.add_nic("0000:00:04.0", "rtl8139", ifname="eth1", mac=MAC0)
    (dev / "driver").unlink()
    (dev / "driver").write_text("8139cp\n")
    [nic] = probe(tmp_path)[0]
    assert nic.problem is not None and "driver: not a driver symlink" in nic.problem
    assert nic.mac == MAC0  # the interface is still found


@pytest.mark.parametrize("layout", ["no-root", "empty-root", "root-is-a-file", "devices-is-a-file"])
def test_no_pci_bus(tmp_path: Path, layout: str) -> None:
    root = tmp_path / "sys"
    if layout == "empty-root":
        root.mkdir()
    elif layout == "root-is-a-file":
        root.write_text("")
    elif layout == "devices-is-a-file":
        (root / "bus/pci").mkdir(parents=True)
        (root / "bus/pci/devices").write_text("")
    lines: list[str] = []
    nics, ctx = probe(root, lines)
    assert nics == []
    assert ctx.machine.xen_platform is None
    assert len(lines) == 1 and lines[0].startswith("pci_nics: no PCI NICs: ")
    assert str(root) in lines[0]


def test_quiet_without_verbose(tmp_path: Path) -> None:
    lines: list[str] = []
    ctx = Context(Config(sysfs_root=tmp_path / "nothing"), warn_sink=lines.append)
    assert list(pci_nics.bootsh_probe_nics(ctx)) == []
    assert lines == []


# -- many NICs --------------------------------------------------------------------------------


def test_256_vifs(tmp_path: Path) -> None:
    macs = [f"00:16:3e:00:{i >> 8:02x}:{i & 0xFF:02x}" for i in range(256)]
    start = time.monotonic()
    xen_hvm_guest(tmp_path, macs)
    nics, ctx = probe(tmp_path)
    assert time.monotonic() - start < 30
    assert len(nics) == 256
    assert sorted(n.mac for n in nics if n.mac) == sorted(macs)
    assert all(n.usable and n.driver == "rtl8139" for n in nics)
    locations = by_location(nics)
    assert len(locations) == 256
    # 27 NICs on bus 0 (00:04-00:1e), then 31 per bus behind chained bridges at slot 1f.
    assert "0000:00:1e.0" in locations and "0000:00:1f.0" not in locations
    assert locations["0000:01:00.0"].mac == macs[27]
    assert locations["0000:02:00.0"].mac == macs[27 + 31]
    assert os.readlink(tmp_path / "bus/pci/devices/0000:02:00.0") == (
        "../../../devices/pci0000:00/0000:00:1f.0/0000:01:1f.0/0000:02:00.0"
    )
    assert (tmp_path / "devices/pci0000:00/0000:00:1f.0/class").read_text() == "0x060400\n"
    assert ctx.machine.xen_platform is not None


# -- twin evidence ----------------------------------------------------------------------------


def _other(subsystem: str | None, bus: str = "pci", pci_id: str = "10ec:8139") -> Nic:
    facts = {"pci-id": pci_id}
    if subsystem is not None:
        facts["subsystem"] = subsystem
    return Nic("rtl8139", "0000:00:04.0", MAC0, bus, order=50, facts=facts)


def _evidence(other: Nic, platform: bool = True) -> dict[str, Evidence]:
    ctx = Context(Config())
    if platform:
        ctx.machine.xen_platform = XenPlatform("0000:00:02.0", "5853", "0001")
    found: Sequence[Evidence] = pci_nics.bootsh_twin_evidence(vif(0, MAC0), other, ctx)
    return {e.key: e for e in found}


def test_evidence_for_an_emulated_twin() -> None:
    found = _evidence(_other("1af4:1100"))
    assert set(found) == {"xen-platform", "qemu-subsystem"}
    assert all(e.supports and not e.decisive for e in found.values())
    assert "0000:00:02.0" in found["xen-platform"].detail
    assert "5853:0001" in found["xen-platform"].detail
    assert "1af4:1100" in found["qemu-subsystem"].detail
    pv, other = vif(0, MAC0), _other("1af4:1100")
    assert weigh([mac_evidence(pv, other), *found.values()]) is Verdict.TWIN


@pytest.mark.parametrize(
    ("subsystem", "pci_id"),
    [("5853:0001", "10ec:8139"), ("1af4:0001", "1af4:1000"), ("15ad:07b0", "15ad:07b0")],
)
def test_other_virtual_subsystems_support(subsystem: str, pci_id: str) -> None:
    found = _evidence(_other(subsystem, pci_id=pci_id))
    assert found["qemu-subsystem"].supports
    assert subsystem in found["qemu-subsystem"].detail


def test_real_hardware_subsystem_is_against_but_not_decisive() -> None:
    found = _evidence(_other("8086:a01f", pci_id="8086:100e"))
    against = found["qemu-subsystem"]
    assert not against.supports and not against.decisive
    assert "looks like real hardware" in against.detail
    assert weigh(found.values()) is Verdict.POSSIBLE


def test_evidence_only_for_pci_nics() -> None:
    assert _evidence(_other("1af4:1100", bus="usb")) == {}
    assert _evidence(vif(1, MAC0)) == {}


def test_evidence_without_platform_or_subsystem() -> None:
    assert set(_evidence(_other("1af4:1100"), platform=False)) == {"qemu-subsystem"}
    assert set(_evidence(_other(None))) == {"xen-platform"}
    assert set(_evidence(_other("garbage"))) == {"xen-platform"}


# -- through the plugin host ------------------------------------------------------------------


def test_through_the_plugin_host(tmp_path: Path) -> None:
    xen_hvm_guest(tmp_path, [MAC0, Vif(1, MAC1, model="e1000")])
    reports: list[str] = []
    host = make_plugin_manager(
        entry_points=False,
        report=reports.append,
        extra=[("policies", policies), ("pci_nics", pci_nics)],
    )
    assert host.plugins["pci_nics"].state == "loaded"
    assert host.hooks_of("pci_nics") == ["bootsh_probe_nics", "bootsh_twin_evidence"]
    ctx = context(tmp_path)
    nics = host.probe_nics(ctx)
    assert {(n.driver, n.source) for n in nics} == {("rtl8139", "pci_nics"), ("e1000", "pci_nics")}
    evidence = host.twin_evidence(vif(0, MAC0), nics[0], ctx)
    assert {(e.key, e.source) for e in evidence} == {
        ("xen-platform", "pci_nics"),
        ("qemu-subsystem", "pci_nics"),
    }

    # With netfront's vifs beside them (stand-ins), the twins are confirmed and hidden.
    vifs = [vif(0, MAC0).with_source("netfront"), vif(1, MAC1).with_source("netfront")]
    result = resolve(host, [*vifs, *nics], "hide-emulated", ctx)
    assert [(n.name, n.nic.driver) for n in result.shown] == [
        ("net0", "netfront"),
        ("net1", "netfront"),
    ]
    assert sorted(n.nic.location for n in result.hidden) == ["0000:00:04.0", "0000:00:05.0"]
    assert all(p.verdict is Verdict.TWIN for g, _ in result.groups for p in g.pairs)
    assert reports == []


def test_disabled_by_name(tmp_path: Path) -> None:
    xen_hvm_guest(tmp_path, [MAC0])
    host = make_plugin_manager(
        disabled=["pci-nics"], entry_points=False, extra=[("pci_nics", pci_nics)]
    )
    assert host.probe_nics(context(tmp_path)) == []


# -- this machine's real /sys -----------------------------------------------------------------

ID_FILES = ("vendor", "device", "class", "revision", "subsystem_vendor", "subsystem_device")
_PCI_ADDRESS = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")


def _real_network_functions(sys_root: Path) -> dict[str, Path]:
    """PCI network functions of this machine, read independently of the plugin."""
    found = {}
    for entry in sorted((sys_root / "bus/pci/devices").iterdir()):
        try:
            cls = int((entry / "class").read_text(), 16)
        except (OSError, ValueError):
            continue
        if cls >> 16 == 0x02:
            found[entry.name] = entry.resolve()
    return found


def _real_interfaces(sys_root: Path) -> Iterator[tuple[str, str, Path]]:
    """(interface, mac, resolved device directory) for each interface in class/net."""
    for link in sorted((sys_root / "class/net").iterdir()):
        device = link / "device"
        if not device.exists():
            continue  # virtual interfaces (lo, bridges, veth) have no device
        yield link.name, (link / "address").read_text().strip(), device.resolve()


@pytest.mark.skipif(not Path("/sys/bus/pci/devices").is_dir(), reason="no PCI bus in /sys here")
def test_this_machines_real_sys() -> None:
    sys_root = Path("/sys")
    expected = _real_network_functions(sys_root)
    nics, _ = probe(sys_root)
    found = by_location(nics)
    assert set(found) == set(expected)
    for location, nic in found.items():
        assert _PCI_ADDRESS.match(location)
        vendor, device_id = (
            (expected[location] / n).read_text()[2:6] for n in ("vendor", "device")
        )
        assert nic.facts["pci-id"] == f"{vendor}:{device_id}"
        if nic.facts["pci-id"] in ("1af4:1000", "1af4:1041"):
            assert nic.driver == "virtio-net"
    # Every interface whose device is a PCI network function (directly, or through a child
    # such as virtio2) belongs to that function's NIC, with the same MAC.
    owners = {path: location for location, path in expected.items()}
    primary = set()
    for ifname, mac, device in _real_interfaces(sys_root):
        owner = next((owners[p] for p in (device, *device.parents) if p in owners), None)
        if owner is None:
            continue
        nic = found[owner]
        assert ifname == nic.ifname or ifname in nic.facts.get("other-interfaces", "").split(",")
        if ifname == nic.ifname:
            assert nic.mac == mac.lower() and nic.problem is None and nic.usable
            primary.add(owner)
    # ... and a NIC without an interface really has none in class/net.
    assert primary == {n.location for n in nics if n.ifname is not None}


@pytest.mark.skipif(not Path("/sys/bus/pci/devices").is_dir(), reason="no PCI bus in /sys here")
def test_builder_reproduces_a_real_nic(tmp_path: Path) -> None:
    """A tree built from a real NIC's attributes reads exactly like the real /sys does."""
    real = _real_network_functions(Path("/sys"))
    if not real:
        pytest.skip("no PCI network function on this machine")
    real_nics = by_location(probe(Path("/sys"))[0])
    tree = SysfsTree(tmp_path)
    for location, path in real.items():
        attrs = {name: int((path / name).read_text(), 16) for name in ID_FILES}
        nic = real_nics[location]
        where = nic.facts.get("interface", "")
        child = where.split("/")[0] if where.count("/") == 2 else None
        tree.add_pci(
            location,
            attrs["vendor"],
            attrs["device"],
            pci_class=attrs["class"],
            revision=attrs["revision"],
            subsystem=(attrs["subsystem_vendor"], attrs["subsystem_device"]),
            driver=nic.facts.get("kernel-driver"),
            ifname=nic.ifname,
            mac=nic.mac,
            virtio=int(child.removeprefix("virtio")) if child else None,
        )
    assert by_location(probe(tmp_path)[0]) == real_nics
