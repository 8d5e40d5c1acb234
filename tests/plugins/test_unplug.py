"""The ``unplug`` twin policy: the port protocol, every refusal, once per session.

The port device is never the real /dev/port here: a plain file stands in for it (what bytes
land where), and a recording fake that behaves like QEMU's Xen platform device checks the
exact order and width of every access.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import bootsh_netfront as netfront
from bootsh.cli import main
from bootsh.context import Config, Context, XenPlatform
from bootsh.errors import UnplugRefused
from bootsh.nics.nic import Nic
from bootsh.nics.twins import Decision, Evidence, Mark, Pair, TwinGroup, Verdict
from bootsh.plugins import make_plugin_manager
from bootsh_netfront import unplug
from bootsh_netfront.unplug import DevPort, Machine, Port

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "machines" / "xen-hvm"
MAC0, MAC1 = "00:16:3e:5f:48:e4", "00:16:3e:1a:2b:3c"
PLATFORM = XenPlatform("0000:00:02.0", "5853", "0001")

# -- fixtures ----------------------------------------------------------------------------------


def vif(n: int, mac: str) -> Nic:
    return Nic("netfront", f"vif/{n}", mac, "xen", paravirtual=True, order=10)


def pci(address: str, mac: str, driver: str = "rtl8139") -> Nic:
    return Nic(driver, address, mac, "pci")


def group(pv: Nic, *others: tuple[Nic, Verdict]) -> TwinGroup:
    evidence = (Evidence("mac-match", True, "same MAC"),)
    pairs = tuple(Pair(pv, other, evidence, verdict) for other, verdict in others)
    assert pv.mac is not None
    return TwinGroup(pv.mac, pv, pairs)


TWIN0 = group(vif(0, MAC0), (pci("0000:00:04.0", MAC0), Verdict.TWIN))
TWIN1 = group(
    vif(1, MAC1),
    (pci("0000:00:05.0", MAC1, "e1000"), Verdict.TWIN),
    (pci("0000:00:06.0", MAC1, "e1000"), Verdict.POSSIBLE),
)
POSSIBLE_ONLY = group(vif(2, MAC0), (pci("0000:00:07.0", MAC0), Verdict.POSSIBLE))


def seeded_port_file(path: Path, magic: int = 0x49D2, version: int = 1, size: int = 64) -> Path:
    """A plain file standing in for /dev/port: magic at 0x10, protocol version at 0x12."""
    data = bytearray(range(size)) if size > 0x13 else bytearray(size)
    if size > 0x13:
        data[0x10:0x12] = magic.to_bytes(2, "little")
        data[0x12] = version
        data[0x13] = 0xFF
    path.write_bytes(bytes(data))
    return path


@dataclass
class Setup:
    context: Context
    warnings: list[str]
    port: Path


def setup(
    tmp_path: Path,
    *,
    allow: bool = True,
    platform: bool = True,
    hypervisor: str | None = "xen",
    guest_type: str | None = None,
    port: Path | None = None,
) -> Setup:
    sysfs = tmp_path / "sysfs"
    (sysfs / "hypervisor").mkdir(parents=True, exist_ok=True)
    if hypervisor is not None:
        (sysfs / "hypervisor" / "type").write_text(hypervisor + "\n")
    if guest_type is not None:
        (sysfs / "hypervisor" / "guest_type").write_text(guest_type + "\n")
    if port is None:
        port = seeded_port_file(tmp_path / "port")
    config = Config(sysfs_root=sysfs, allow_unplug=allow, port_device=port, twins="unplug")
    warnings: list[str] = []
    context = Context(config, warn_sink=warnings.append)
    if platform:
        context.machine.xen_platform = PLATFORM
    return Setup(context, warnings, port)


@dataclass
class QemuPlatformPort:
    """Records every access and answers like QEMU's xen_platform.c fixed I/O ports."""

    version: int = 1
    blacklist: bool = False
    ops: list[tuple[object, ...]] = field(default_factory=list)
    closed: bool = False
    product: int | None = None
    build: int | None = None

    def read(self, port: int, width: int) -> int:
        self.ops.append(("read", port, width))
        if (port, width) == (0x10, 2):
            registered = self.product is not None and self.build is not None
            return 0xD249 if self.blacklist and registered else 0x49D2
        if (port, width) == (0x12, 1):
            return self.version
        return (1 << (8 * width)) - 1

    def write(self, port: int, width: int, value: int) -> None:
        self.ops.append(("write", port, width, value))
        if (port, width) == (0x12, 2):
            self.product = value
        elif (port, width) == (0x10, 4):
            self.build = value

    def close(self) -> None:
        self.closed = True


def machine_with(port: Port | None = None, euid: int = 0) -> Machine:
    def open_port(path: Path) -> Port:
        return port if port is not None else DevPort.open(path)

    return Machine(euid=lambda: euid, open_port=open_port)


def never_opened(path: Path) -> Port:
    raise AssertionError(f"the port device {path} must not be opened")


REGISTER_AND_UNPLUG: list[tuple[object, ...]] = [
    ("read", 0x10, 2),
    ("read", 0x12, 1),
    ("write", 0x12, 2, 0xFFFF),
    ("write", 0x10, 4, unplug.BUILD_NUMBER),
    ("read", 0x10, 2),
    ("write", 0x10, 2, 0x0002),
]

# -- the protocol ------------------------------------------------------------------------------


def test_unplug_sequence_exact_order(tmp_path: Path) -> None:
    s = setup(tmp_path)
    port = QemuPlatformPort()
    decision = unplug.resolve(TWIN0, s.context, machine_with(port))
    assert port.ops == REGISTER_AND_UNPLUG
    assert port.closed
    assert decision == Decision(
        "unplug",
        hide={"pci:0000:00:04.0": Mark("unplugged emulated twin of", "xen:vif/0")},
        label={},
        summary="emulated NICs unplugged; hid 1 emulated twin(s)",
    )
    assert s.context.machine.extra[unplug.STATE_KEY] == "done"
    assert s.warnings == []


def test_product_number_is_xens_experimental_one() -> None:
    # xen/include/public/hvm/pvdrivers.h: EACH("experimental", 0xffff)
    assert unplug.PRODUCT_EXPERIMENTAL == 0xFFFF
    assert unplug.UNPLUG_ALL_NICS == 0x0002


def test_dev_port_is_little_endian_pread_pwrite(tmp_path: Path) -> None:
    path = seeded_port_file(tmp_path / "port")
    port = DevPort.open(path)
    try:
        assert port.read(0x10, 2) == 0x49D2
        assert port.read(0x12, 1) == 1
        port.write(0x20, 2, 0xABCD)
        port.write(0x24, 4, 0x01020304)
    finally:
        port.close()
    data = path.read_bytes()
    assert data[0x20:0x22] == b"\xcd\xab"
    assert data[0x24:0x28] == b"\x04\x03\x02\x01"


def test_plain_file_run_writes_registration_and_stops(tmp_path: Path) -> None:
    """A file is not a device: the 32-bit build number lands on the magic's bytes, so the
    re-read does not confirm the registration, and the unplug mask is never written."""
    s = setup(tmp_path)
    before = s.port.read_bytes()
    with pytest.raises(UnplugRefused, match=r"did not confirm the registration.*0x0100"):
        unplug.perform(s.context, machine_with())
    after = s.port.read_bytes()
    # Product 0xffff at 0x12, then build 0x00000100 at 0x10..0x13 over it; nothing else.
    assert after[0x10:0x14] == unplug.BUILD_NUMBER.to_bytes(4, "little") == b"\x00\x01\x00\x00"
    assert after[:0x10] == before[:0x10] and after[0x14:] == before[0x14:]


# -- every refusal -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    reason: str
    options: dict[str, object] = field(default_factory=dict)
    euid: int = 0
    fake: Callable[[], QemuPlatformPort] | None = None
    #: What a fake port saw before the refusal (None: no fake used).
    ops: list[tuple[object, ...]] | None = None
    seed: dict[str, int] = field(default_factory=dict)


REFUSALS = {
    "no --allow-unplug": Refusal("--allow-unplug was not given", {"allow": False}),
    "not root": Refusal(r"not running as root \(effective uid 1000\)", euid=1000),
    "no platform device": Refusal("no Xen platform PCI device", {"platform": False}),
    "no hypervisor file": Refusal(
        r"not a Xen guest \(.*hypervisor/type is missing\)", {"hypervisor": None}
    ),
    "not xen": Refusal(r"not a Xen guest \(.*reads 'kvm'\)", {"hypervisor": "kvm"}),
    "pv guest": Refusal(r"not an HVM guest \(guest_type PV\)", {"guest_type": "PV"}),
    # 0xff00 is what a real guest's /dev/port gets: it reads byte by byte, and QEMU answers a
    # byte read of 0x10 with the platform flags (0) and of 0x11 with 0xff.
    "bad magic": Refusal(r"port 0x10 reads 0xff00, not the magic 0x49d2", seed={"magic": 0xFF00}),
    "version 2": Refusal(r"unsupported unplug protocol version 2", seed={"version": 2}),
    "version 0": Refusal(r"unsupported unplug protocol version 0", seed={"version": 0}),
    "blacklisted": Refusal(
        r"blacklisted .*reads 0xd249",
        fake=lambda: QemuPlatformPort(blacklist=True),
        ops=REGISTER_AND_UNPLUG[:5],
    ),
    "fake version 3": Refusal(
        "unsupported unplug protocol version 3",
        fake=lambda: QemuPlatformPort(version=3),
        ops=REGISTER_AND_UNPLUG[:2],
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refusal(tmp_path: Path, case: str) -> None:
    r = REFUSALS[case]
    port_file = seeded_port_file(tmp_path / "port", **r.seed)
    s = setup(tmp_path, port=port_file, **r.options)  # type: ignore[arg-type]
    before = port_file.read_bytes()
    fake = r.fake() if r.fake is not None else None
    machine = machine_with(fake, euid=r.euid)
    with pytest.raises(UnplugRefused, match=r.reason):
        unplug.perform(s.context, machine)
    assert port_file.read_bytes() == before, "the port file was written"
    if fake is not None:
        assert fake.ops == r.ops and fake.closed
    # Through the policy: warned once, nothing unplugged, twins hidden as hide-emulated would.
    decision = unplug.resolve(TWIN0, s.context, machine)
    assert len(s.warnings) == 1 and s.warnings[0].startswith("unplug refused: ")
    [(key, mark)] = decision.hide.items()
    assert key == "pci:0000:00:04.0" and mark.peer == "xen:vif/0"
    assert mark.text == "emulated twin (unplug refused) of"
    assert (
        decision.summary.startswith("unplug refused: ") and s.warnings[0][16:40] in decision.summary
    )
    assert "untouched" in decision.summary
    assert s.context.machine.extra[unplug.STATE_KEY].startswith("refused: ")


def test_refusal_port_device_missing(tmp_path: Path) -> None:
    s = setup(tmp_path, port=tmp_path / "no-such-port")
    with pytest.raises(UnplugRefused, match=r"cannot open .*no-such-port: No such file"):
        unplug.perform(s.context, machine_with())


def test_refusal_port_device_unopenable(tmp_path: Path) -> None:
    directory = tmp_path / "port.d"
    directory.mkdir()
    s = setup(tmp_path, port=directory)
    with pytest.raises(UnplugRefused, match=r"cannot open .*port.d: Is a directory"):
        unplug.perform(s.context, machine_with())


def test_refusal_short_port_device(tmp_path: Path) -> None:
    s = setup(tmp_path, port=seeded_port_file(tmp_path / "port", size=4))
    with pytest.raises(UnplugRefused, match="short read of port 0x10"):
        unplug.perform(s.context, machine_with())
    assert s.port.read_bytes() == bytes(4)


def test_refusal_for_a_picture_of_a_machine(tmp_path: Path) -> None:
    """With the real /dev/port, sysfs must be the real /sys: never unplug on a description."""
    s = setup(tmp_path)
    config = Config(sysfs_root=EXAMPLE / "sysfs", allow_unplug=True)
    assert config.port_device == Path("/dev/port")
    context = Context(config, s.context.machine)
    machine = Machine(euid=lambda: 0, open_port=never_opened)
    with pytest.raises(UnplugRefused, match=r"read from .*xen-hvm/sysfs, not this machine"):
        unplug.perform(context, machine)
    dumped = Config(allow_unplug=True, xenstore_dump=EXAMPLE / "xenstore.txt")
    with pytest.raises(UnplugRefused, match=r"read from the dump .*xenstore.txt"):
        unplug.perform(Context(dumped, s.context.machine), machine)


def test_conditions_are_checked_before_the_port_is_opened(tmp_path: Path) -> None:
    s = setup(tmp_path, hypervisor="kvm")
    with pytest.raises(UnplugRefused, match="not a Xen guest"):
        unplug.perform(s.context, Machine(euid=lambda: 0, open_port=never_opened))


# -- the policy over a session ------------------------------------------------------------------


def test_unplug_happens_once_per_session(tmp_path: Path) -> None:
    s = setup(tmp_path)
    port = QemuPlatformPort()
    machine = machine_with(port)
    first = unplug.resolve(TWIN0, s.context, machine)
    second = unplug.resolve(TWIN1, s.context, machine)
    assert port.ops == REGISTER_AND_UNPLUG
    assert set(first.hide) == {"pci:0000:00:04.0"}
    assert second.hide == {"pci:0000:00:05.0": Mark("unplugged emulated twin of", "xen:vif/1")}
    # The possible twin is labelled, never hidden, as the built-in policies do.
    assert second.label == {"pci:0000:00:06.0": Mark("possible twin of", "xen:vif/1")}


def test_refusal_is_warned_once_per_session(tmp_path: Path) -> None:
    s = setup(tmp_path, allow=False)
    machine = Machine(euid=lambda: 0, open_port=never_opened)
    unplug.resolve(TWIN0, s.context, machine)
    decision = unplug.resolve(TWIN1, s.context, machine)
    assert s.warnings == [
        "unplug refused: --allow-unplug was not given (unplugging is irreversible);"
        " emulated twins are hidden, not unplugged"
    ]
    assert set(decision.hide) == {"pci:0000:00:05.0"}
    assert decision.label == {"pci:0000:00:06.0": Mark("possible twin of", "xen:vif/1")}


def test_possible_twins_alone_never_unplug(tmp_path: Path) -> None:
    s = setup(tmp_path)
    decision = unplug.resolve(
        POSSIBLE_ONLY, s.context, Machine(euid=lambda: 0, open_port=never_opened)
    )
    assert decision.hide == {}
    assert decision.label == {"pci:0000:00:07.0": Mark("possible twin of", "xen:vif/2")}
    assert unplug.STATE_KEY not in s.context.machine.extra and s.warnings == []


# -- the hooks ---------------------------------------------------------------------------------


def test_hooks_declare_and_only_take_unplug(tmp_path: Path) -> None:
    host = make_plugin_manager(entry_points=False, extra=[("netfront", netfront)])
    policies = host.twin_policies()
    assert list(policies) == ["unplug"] and policies["unplug"].source == "netfront"
    s = setup(tmp_path, allow=False)
    assert netfront.bootsh_resolve_twins(TWIN0, "hide-emulated", s.context) is None
    assert netfront.bootsh_resolve_twins(TWIN0, "label", s.context) is None
    decision = netfront.bootsh_resolve_twins(TWIN0, "unplug", s.context)
    assert decision is not None and decision.policy == "unplug"


def test_cli_unplug_without_confirmation(tmp_path: Path) -> None:
    port = seeded_port_file(tmp_path / "port")
    before = port.read_bytes()
    out, err = io.StringIO(), io.StringIO()
    argv = ["--machine", str(EXAMPLE), "--twins", "unplug", "--port-device", str(port)]
    status = main([*argv, "-c", "ifstat"], env={}, stdout=out, stderr=err)
    assert status == 0
    assert err.getvalue().count("unplug refused: --allow-unplug was not given") == 1
    assert "net0: 00:16:3e:5f:48:e4 using netfront on vif/0" in out.getvalue()
    assert "rtl8139" not in out.getvalue()  # hidden, as hide-emulated would
    assert port.read_bytes() == before
