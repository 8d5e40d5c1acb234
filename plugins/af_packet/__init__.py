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
pci_nics) see ``context.config.nets`` and probe nothing. The driver is declared with
``bootsh_register_net_drivers``, so the CLI refuses a spec without ``if=`` or naming an
interface the kernel does not have before anything runs (status 2, the interfaces named).
One that vanished after that check is still an unusable NIC (``ifstat --all`` lists it).
"""

from __future__ import annotations

import os

from bootsh.api import hookimpl

TYPE_CHECKING = False  # bootsh's start-up imports this module: no typing, no pathlib, and
if TYPE_CHECKING:  # the driver's parts only once a --net is given
    from collections.abc import Callable, Sequence

    from bootsh.api import Config, Context, NetDriver, NetSpec, Nic

DRIVER = "af_packet"
FORM = f"{DRIVER},if=IFACE[,key=value...]"
BUS = "linux"
#: Before any discovered NIC (they do not coexist, but the order stays defined).
ORDER = 0


def parse_net(spec: str) -> tuple[str, dict[str, str]]:
    """Split ``driver,key=value,...`` into the driver and its pairs (iPXE's ``--net``)."""
    from bootsh.api import parse_net_spec

    parsed = parse_net_spec(spec)
    return parsed.driver, dict(parsed.settings)


def check_spec(spec: NetSpec, config: Config) -> str | None:
    """What is wrong with ``--net af_packet,...`` here, before anything runs: no ``if=``, or
    an interface the kernel does not have (the ones it has are named)."""
    from bootsh.api import kernel_interfaces

    ifname = spec.settings.get("if", "")
    if not ifname:
        return f"no if=IFACE; the form is --net {FORM}"
    sysfs_root = config.path_text("sysfs_root") or "/sys"
    if not os.path.exists(os.path.join(sysfs_root, "class", "net", ifname)):
        known = ", ".join(kernel_interfaces(sysfs_root)) or "none"
        return f"no interface {ifname!r} here (interfaces: {known})"
    return None


def check_settings(spec: str, settings: dict[str, str], warn: Callable[[str], None]) -> None:
    """Say which pairs will not become settings of the netdev, and why (iPXE's Linux build
    drops them silently): a name iPXE does not know, or a value its type cannot parse."""
    from bootsh.api import SettingsError, driver_setting

    for key, value in settings.items():
        try:
            driver_setting(key, value)
        except SettingsError as exc:
            why = f" ({exc.detail})" if exc.detail else ""
            warn(f"--net {spec}: {key}={value} not applied: {exc}{why}")


def nic_for(
    spec: str,
    index: int,
    sysfs_root: str | os.PathLike[str],
    warn: Callable[[str], None] | None = None,
) -> Nic | None:
    from bootsh.api import ATTR_SIZE, BootshError, Nic, normalise_mac, read_text_bounded

    driver, settings = parse_net(spec)
    if driver != DRIVER:
        return None  # another driver plugin's --net
    ifname = settings.pop("if", "")
    if not ifname:
        raise BootshError(f"--net {spec}: no if=INTERFACE")
    if warn is not None:
        check_settings(spec, settings, warn)
    facts = {"net": spec, **{f"setting/{k}": v for k, v in settings.items()}}
    address = os.path.join(sysfs_root, "class", "net", ifname, "address")
    problem = None
    mac = None
    try:
        mac = normalise_mac(read_text_bounded(address, ATTR_SIZE))
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
def bootsh_register_net_drivers(register: Callable[[NetDriver], None]) -> None:
    from bootsh.api import NetDriver

    register(NetDriver(DRIVER, FORM, check_spec))


@hookimpl
def bootsh_probe_nics(context: Context) -> Sequence[Nic]:
    nics = []
    sysfs_root = context.config.path_text("sysfs_root") or "/sys"
    for index, spec in enumerate(context.config.nets):
        nic = nic_for(spec, index, sysfs_root, context.warn)
        if nic is not None:
            nics.append(nic)
    return nics
