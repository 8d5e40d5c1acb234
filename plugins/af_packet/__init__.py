"""The ``af_packet`` driver: any Linux interface as a NIC, named with ``--net``.

``--net af_packet,if=IFACE[,key=value...]`` is the syntax of iPXE's own Linux build
(``bin-x86_64-linux/ipxe.linux --net af_packet,if=eth0``). Each ``--net`` gives one NIC, in
command-line order: driver ``af_packet``, bus ``linux``, location and kernel interface
``IFACE``, MAC from ``SYSFS/class/net/IFACE/address``. The other ``key=value`` pairs are
recorded in the NIC's facts as ``setting/KEY``; the settings store gives them to the netdev's
block (``show net0/ip``), as iPXE's Linux build does: only settings iPXE predefines, each
parsed in its type. A pair that cannot be applied (unknown name, bad value) is reported here,
once, with the reason; iPXE drops it silently. The whole spec is in ``net``.

When ``--net`` is given, bootsh uses exactly these NICs: the discovery drivers (netfront,
pci_nics) see ``context.config.nets`` and probe nothing. A ``--net`` whose interface does not
exist is reported as an unusable NIC (listed by ``ifstat --all``, never named), as iPXE's
probe of it would fail.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from bootsh.api import (
    ATTR_SIZE,
    BootshError,
    Context,
    Nic,
    SettingsError,
    driver_setting,
    hookimpl,
    normalise_mac,
    read_text_bounded,
)

DRIVER = "af_packet"
BUS = "linux"
#: Before any discovered NIC (they do not coexist, but the order stays defined).
ORDER = 0


def parse_net(spec: str) -> tuple[str, dict[str, str]]:
    """Split ``driver,key=value,...`` into the driver and its pairs (iPXE's ``--net``)."""
    driver, *pairs = spec.split(",")
    settings: dict[str, str] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key:
            raise BootshError(f"--net {spec}: {pair!r} is not key=value")
        settings[key] = value
    return driver.strip(), settings


def check_settings(spec: str, settings: dict[str, str], warn: Callable[[str], None]) -> None:
    """Say which pairs will not become settings of the netdev, and why (iPXE's Linux build
    drops them silently): a name iPXE does not know, or a value its type cannot parse."""
    for key, value in settings.items():
        try:
            driver_setting(key, value)
        except SettingsError as exc:
            why = f" ({exc.detail})" if exc.detail else ""
            warn(f"--net {spec}: {key}={value} not applied: {exc}{why}")


def nic_for(
    spec: str, index: int, sysfs_root: Path, warn: Callable[[str], None] | None = None
) -> Nic | None:
    driver, settings = parse_net(spec)
    if driver != DRIVER:
        return None  # another driver plugin's --net
    ifname = settings.pop("if", "")
    if not ifname:
        raise BootshError(f"--net {spec}: no if=INTERFACE")
    if warn is not None:
        check_settings(spec, settings, warn)
    facts = {"net": spec, **{f"setting/{k}": v for k, v in settings.items()}}
    base = sysfs_root / "class" / "net" / ifname
    problem = None
    mac = None
    try:
        mac = normalise_mac(read_text_bounded(base / "address", ATTR_SIZE))
        if mac is None:
            problem = f"interface {ifname} has no Ethernet address"
    except OSError:
        problem = f"no such interface {ifname!r}"
    return Nic(
        driver=DRIVER,
        location=ifname,
        mac=mac,
        bus=BUS,
        ifname=ifname,
        order=ORDER + index,
        facts=facts,
        problem=problem,
    )


@hookimpl
def bootsh_probe_nics(context: Context) -> Sequence[Nic]:
    nics = []
    for index, spec in enumerate(context.config.nets):
        nic = nic_for(spec, index, context.config.sysfs_root, context.warn)
        if nic is not None:
            nics.append(nic)
    return nics
