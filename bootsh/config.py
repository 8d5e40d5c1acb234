"""Merging the user's choices: command line over environment over config file over defaults.

The config file is TOML. The first of these that exists is read (they are not merged):

1. ``--config FILE``
2. ``$BOOTSH_CONFIG``
3. ``$XDG_CONFIG_HOME/bootsh/config.toml`` (``~/.config/bootsh/config.toml``)
4. ``/etc/bootsh/config.toml``

A file named on purpose (``--config``, ``$BOOTSH_CONFIG``) that cannot be read is an error
(status 2); one only found by the search that cannot be read, or whose directory cannot be
looked at (an unreadable HOME), is skipped with a one-line warning (``find_config_file``).

Keys: ``twins``, ``sysfs-root``, ``xen-domid``, ``xenstore-dump``, ``xenstore-timeout``,
``verbose``, ``trust`` (trusted root fingerprints or PEM files: a string or a list of them,
see ``bootsh.trust.anchors``), ``disks`` (a list of paths: the local drives of ``sanboot``),
``allow-local-from-network`` (a script or DHCP filename from the network may fetch
``file://``; off by default) and ``[plugins] disable = ["name", ...]``. ``--allow-unplug``
has no config key on purpose: an irreversible unplug needs a fresh yes on each command line.
``--net`` has none either: it names this run's NICs, as iPXE's Linux build takes them.
"""

from __future__ import annotations

import errno
import os
import stat

from bootsh.context import DEFAULT_TWIN_POLICY, Config
from bootsh.errors import UsageError
from bootsh.lang.files import read_bounded
from bootsh.records import dataclass, field

TYPE_CHECKING = False  # not typing's: bootsh's start-up does not import typing (nor pathlib)
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path
    from typing import Any

ENV_SYSFS_ROOT = "BOOTSH_SYSFS_ROOT"
ENV_XEN_DOMID = "BOOTSH_XEN_DOMID"
ENV_TWINS = "BOOTSH_TWINS"
ENV_DISABLE = "BOOTSH_DISABLE_PLUGINS"
ENV_CONFIG = "BOOTSH_CONFIG"
ENV_XENSTORE_DUMP = "BOOTSH_XENSTORE_DUMP"
ENV_TRUST = "BOOTSH_TRUST"
ENV_DISKS = "BOOTSH_DISKS"
#: The largest config file bootsh reads: a few keys, never more than a few hundred bytes.
MAX_CONFIG_SIZE = 1 << 20


@dataclass
class Choices:
    """What the command line said; None means "not given". Paths may be given as text."""

    config_file: Path | str | None = None
    sysfs_root: Path | str | None = None
    xen_domid: int | None = None
    xenstore_dump: Path | str | None = None
    xenstore_timeout: float | None = None
    twins: str | None = None
    allow_unplug: bool = False
    port_device: Path | str | None = None
    verbose: bool = False
    machine: Path | str | None = None
    no_plugin: list[str] = field(default_factory=list)
    nets: list[str] = field(default_factory=list)
    dry_run: bool = False
    trust: list[str] = field(default_factory=list)
    disks: list[str] = field(default_factory=list)
    allow_local_from_network: bool = False


def _candidates(env: Mapping[str, str]) -> list[str]:
    # Text, not Path: most runs find no config file, and then never import pathlib.
    found = [env[ENV_CONFIG]] if env.get(ENV_CONFIG) else []
    xdg = env.get("XDG_CONFIG_HOME")
    if not xdg:
        home = os.path.expanduser(env.get("HOME", "~"))
        # "~" left as it is: no HOME and no passwd entry (a container's arbitrary uid).
        xdg = None if home.startswith("~") else os.path.join(home, ".config")
    user = [os.path.join(xdg, "bootsh", "config.toml")] if xdg else []
    return [*found, *user, "/etc/bootsh/config.toml"]


def config_candidates(env: Mapping[str, str]) -> list[Path]:
    from pathlib import Path

    return [Path(text) for text in _candidates(env)]


#: What Path.is_file() takes for "not there" (pathlib's _ignore_error); any other error of
#: the stat, EACCES above all, is a place that cannot be looked at.
_ABSENT = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP})


def find_config_file(env: Mapping[str, str], warn: Callable[[str], None]) -> str | None:
    """The first config file that exists among ``config_candidates``.

    A place that cannot even be looked at (a HOME the user may not read, as after ``su``
    without ``-``, or ``setpriv``) or a file found there that cannot be read is not the
    user's mistake in this run: ``warn`` gets one line naming the file and the reason, and
    the search goes on as if it were absent (the next place, else the defaults). A file
    named on purpose, ``$BOOTSH_CONFIG`` (or ``--config``), must be readable: that is a
    usage error (status 2) naming it.
    """
    named = env.get(ENV_CONFIG)
    for path in _candidates(env):
        try:
            try:
                mode = os.stat(path).st_mode
            except OSError as exc:
                if exc.errno in _ABSENT:
                    continue
                raise
            if not stat.S_ISREG(mode):
                continue
            with open(path, "rb"):
                return path
        except OSError as exc:
            reason = exc.strerror or str(exc)
            if named and path == named:
                raise UsageError(f"cannot read config file {path}: {reason}") from None
            warn(f"cannot read config file {path}: {reason}; going on without it")
    return None


def read_config_file(path: Path) -> dict[str, Any]:
    import tomllib  # only when a config file exists: most runs have none

    try:
        # Bounded (``--config /dev/zero`` grew until the kernel killed bootsh).
        data = read_bounded(path, MAX_CONFIG_SIZE)
    except OSError as exc:
        raise UsageError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        # TOML is UTF-8 by definition: any other byte is the file's mistake, said as such
        # (tomllib's own decode raised UnicodeDecodeError, a traceback).
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{path}: not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start});"
            " a TOML file is UTF-8"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from None


KNOWN_KEYS: dict[str, type | tuple[type, ...]] = {
    "twins": str,
    "sysfs-root": str,
    "xen-domid": int,
    "xenstore-dump": str,
    "xenstore-timeout": (int, float),
    "verbose": bool,
    "trust": (str, list),
    "allow-local-from-network": bool,
    "plugins": dict,
    "disks": list,
}


def _check_types(path: Path, data: Mapping[str, Any]) -> None:
    for key, value in data.items():
        expected = KNOWN_KEYS.get(key)
        if expected is None:
            raise UsageError(f"{path}: unknown key {key!r} (known: {', '.join(KNOWN_KEYS)})")
        # bool is an int in Python; a TOML `xen-domid = true` is still a mistake.
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise UsageError(f"{path}: {key!r} has the wrong type ({type(value).__name__})")
    disable = data.get("plugins", {}).get("disable", [])
    if not isinstance(disable, list) or not all(isinstance(x, str) for x in disable):
        raise UsageError(f"{path}: [plugins] disable must be a list of plugin names")
    disks = data.get("disks", [])
    if not all(isinstance(x, str) and x for x in disks):
        raise UsageError(f"{path}: disks must be a list of device or image paths")


def _env_int(env: Mapping[str, str], name: str) -> int | None:
    text = env.get(name, "").strip()
    if not text:
        return None
    try:
        return int(text, 10)
    except ValueError:
        raise UsageError(f"{name}={text!r} is not a domain id (a decimal number)") from None


def merge(
    choices: Choices, env: Mapping[str, str], warn: Callable[[str], None] | None = None
) -> Config:
    """Build the Config from the command line, the environment and the first config file.

    ``warn`` gets the one-line warnings of the search (``find_config_file``); none by default.
    """
    path = _as_path(choices.config_file)
    if path is None:
        path = _as_path(find_config_file(env, warn or (lambda line: None)))
    data: dict[str, Any] = {}
    if path is not None:
        data = read_config_file(path)
        _check_types(path, data)

    sysfs_root = (
        choices.sysfs_root or _path(env.get(ENV_SYSFS_ROOT)) or _path(data.get("sysfs-root"))
    )
    dump = (
        choices.xenstore_dump
        or _path(env.get(ENV_XENSTORE_DUMP))
        or _path(data.get("xenstore-dump"))
    )
    if choices.machine is not None:
        # A machine directory is a sysfs tree plus a XenStore dump, as in examples/machines.
        if not os.path.isdir(choices.machine):
            raise UsageError(f"--machine {_as_path(choices.machine)}: not a directory")
        sysfs_root = sysfs_root or os.path.join(choices.machine, "sysfs")
        dump = dump or os.path.join(choices.machine, "xenstore.txt")
    domid = choices.xen_domid
    if domid is None:
        domid = _env_int(env, ENV_XEN_DOMID)
    if domid is None:
        domid = data.get("xen-domid")
    disabled = [*choices.no_plugin, *env.get(ENV_DISABLE, "").replace(",", " ").split()]
    disabled += data.get("plugins", {}).get("disable", [])
    timeout = choices.xenstore_timeout or data.get("xenstore-timeout") or 5.0
    if timeout <= 0:
        raise UsageError("the XenStore timeout must be positive")
    trust: tuple[bytes, ...] = ()
    trust_source = ""
    if choices.trust or env.get(ENV_TRUST) or "trust" in data:
        # Only when roots are configured (cryptography only for a PEM file): most runs have none.
        from bootsh.trust.anchors import from_sources

        anchors = from_sources(choices.trust, env.get(ENV_TRUST), data.get("trust"), path)
        trust, trust_source = anchors.fingerprints, anchors.source
    return Config(
        sysfs_root=sysfs_root or "/sys",
        xen_domid=domid,
        xenstore_dump=dump,
        xenstore_socket=env.get("XENSTORED_PATH") or None,
        xenstore_timeout=float(timeout),
        twins=choices.twins or env.get(ENV_TWINS) or data.get("twins") or DEFAULT_TWIN_POLICY,
        # Deliberately command-line only: an irreversible unplug needs a fresh yes each time.
        allow_unplug=choices.allow_unplug,
        port_device=choices.port_device or "/dev/port",
        verbose=choices.verbose or bool(data.get("verbose", False)),
        disabled_plugins=frozenset(disabled),
        config_file=path,
        # Command line only, like iPXE's --net: the NICs of this run.
        nets=tuple(choices.nets),
        # Command line only: a config file must never turn a real boot into a rehearsal.
        dry_run=choices.dry_run,
        # Read once, here: as in iPXE, nothing later (``set trust``, DHCP) changes them.
        trust=trust,
        trust_source=trust_source,
        disks=tuple(
            choices.disks
            or env.get(ENV_DISKS, "").replace(",", " ").split()
            or data.get("disks", [])
        ),
        allow_local_from_network=choices.allow_local_from_network
        or bool(data.get("allow-local-from-network", False)),
    )


def _path(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _as_path(value: Path | str | None) -> Path | None:
    """A path given as text becomes a ``Path`` only where one is needed (a config file)."""
    if isinstance(value, str):
        from pathlib import Path

        return Path(value)
    return value
