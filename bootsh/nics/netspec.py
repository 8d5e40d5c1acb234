"""``--net DRIVER,key=value,...``: iPXE's Linux-build syntax, and the drivers that take it.

The syntax is generic (``driver,key=value,...``), the drivers are plugins: a plugin declares
each driver name it handles with a ``NetDriver`` record (hook
``bootsh_register_net_drivers``), giving the form to show users and a ``check`` that says
what is wrong with one spec (an ``if=`` missing, an interface that does not exist). The CLI
checks every ``--net`` when it starts, before anything runs, so a mistake is one line and
status 2 instead of a ``failed`` at the first network command.
"""

from __future__ import annotations

import os

from bootsh.errors import UsageError
from bootsh.records import dataclass, field

TYPE_CHECKING = False  # every start imports this module: no typing, no pathlib
if TYPE_CHECKING:
    from collections.abc import Callable

    from bootsh.context import Config


@dataclass(frozen=True)
class NetSpec:
    """One ``--net`` value split: the driver and its ``key=value`` pairs, in order."""

    text: str
    driver: str
    settings: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NetDriver:
    """A ``--net`` driver a plugin handles.

    ``form`` is shown to users as the valid spelling (``af_packet,if=IFACE[,key=value...]``);
    ``check(spec, config)`` returns what is wrong with one spec for this driver, or None. The
    host fills in ``source``.
    """

    name: str
    form: str
    check: Callable[[NetSpec, Config], str | None] | None = None
    source: str = ""


def parse_net_spec(text: str) -> NetSpec:
    """Split ``driver,key=value,...``; a pair without ``=`` is a ``UsageError``."""
    driver, *pairs = text.split(",")
    settings: dict[str, str] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key:
            raise UsageError(
                f"--net {text}: {pair!r} is not key=value (the form is DRIVER,key=value,...)"
            )
        settings[key] = value
    return NetSpec(text, driver.strip(), settings)


def kernel_interfaces(sysfs_root: str | os.PathLike[str]) -> list[str]:
    """The kernel's network interfaces (``SYSFS/class/net``), sorted; none if unreadable."""
    try:
        return sorted(os.listdir(os.path.join(sysfs_root, "class", "net")))
    except OSError:
        return []


def check_net_specs(specs: tuple[str, ...], drivers: dict[str, NetDriver], config: Config) -> None:
    """Raise a ``UsageError`` (one line) for the first ``--net`` that no driver accepts.

    The usual slip, ``--net eth0`` (the driver forgotten), gets the spelling that works.
    """
    forms = "; ".join(f"--net {d.form}" for d in drivers.values()) or "none (no plugin has one)"
    for text in specs:
        spec = parse_net_spec(text)
        driver = drivers.get(spec.driver)
        if driver is None:
            hint = ""
            first = next(iter(drivers.values()), None)
            if (
                first is not None
                and not spec.settings
                and spec.driver in kernel_interfaces(config.sysfs_root)
            ):
                hint = f" ({spec.driver} is an interface: --net {first.name},if={spec.driver}?)"
            raise UsageError(
                f"--net {text}: unknown driver {spec.driver!r}{hint}; the forms are: {forms}"
            )
        problem = driver.check(spec, config) if driver.check is not None else None
        if problem:
            raise UsageError(f"--net {text}: {problem}")
