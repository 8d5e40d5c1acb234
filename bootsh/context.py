"""What hooks are given about the machine and the user's choices, instead of global state."""

from __future__ import annotations

import os
import sys

from bootsh.records import dataclass, field

TYPE_CHECKING = False  # not typing's: bootsh's start-up does not import typing
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import TextIO

#: The twin policy when the user names none. It needs no plugin to be valid: with the
#: ``policies`` plugin disabled nobody decides, every NIC is shown and ``twins`` says so.
DEFAULT_TWIN_POLICY = "hide-emulated"


#: C0 and C1 control characters and DEL, as ``\xNN``: what ``visible`` replaces. A C1 byte
#: read with ``surrogateescape`` (U+DC80-U+DC9F) would go out as that byte: shown too.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))} | {
    0xDC00 + c: f"\\x{c:02x}" for c in range(0x80, 0xA0)
}


def visible(text: str) -> str:
    """``text`` with control characters shown as ``\\xNN`` instead of acted on.

    bootsh's own lines (``bootsh: ...``) carry text from outside: a DHCPNAK's message, a
    TFTP server's error text, an HTTP status line, a file name. An escape sequence there
    must not reach the terminal raw (it could clear the screen, retitle the window or hide
    the rest of the line); iPXE's own output (``echo``) stays bytes for bytes.
    """
    return text if text.isprintable() else text.translate(_CONTROLS)


@dataclass(frozen=True)
class XenPlatform:
    """The Xen platform PCI device (5853:0001 or 5853:0002): proof of an HVM guest."""

    location: str
    vendor: str
    device: str


@dataclass
class MachineFacts:
    """Facts about the whole machine that one driver reads and others' evidence uses.

    ``pci_nics`` fills ``xen_platform``; ``netfront`` fills ``passthrough`` from the PCI
    backend directory (guest address such as ``0000:00:05.0`` -> host address).
    """

    xen_platform: XenPlatform | None = None
    passthrough: dict[str, str] = field(default_factory=dict)
    hvm_guest: bool | None = None
    extra: dict[str, str] = field(default_factory=dict)


class _PathField:
    """A ``Path`` field of ``Config`` that keeps what it was given (a ``Path`` or its text)
    and makes it a ``Path`` when first read.

    ``pathlib`` imports ``re``, ``fnmatch`` and ``urllib.parse``: more than the rest of a
    ``bootsh -c`` start. Most runs never read these paths, or read them as text
    (``Config.path_text``), so they never pay for it; a plugin reading ``config.sysfs_root``
    gets the ``Path`` it always got.
    """

    def __init__(self, default: str | None) -> None:
        self.default = default
        self.key = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.key = "_" + name

    def _get(self, obj: object) -> Path | None:
        value = obj.__dict__[self.key]
        if isinstance(value, str):
            from pathlib import Path

            value = Path(value)
            obj.__dict__[self.key] = value
        return value  # type: ignore[no-any-return]

    def text(self, obj: object) -> str | None:
        value = obj.__dict__[self.key]
        return None if value is None else os.fspath(value)


class _Path(_PathField):
    def __get__(self, obj: object, owner: type | None = None) -> Path:
        if obj is None:
            return self.default  # type: ignore[return-value]  # the default for __init__
        found = self._get(obj)
        assert found is not None
        return found

    def __set__(self, obj: object, value: str | os.PathLike[str]) -> None:
        obj.__dict__[self.key] = value


class _OptionalPath(_PathField):
    def __get__(self, obj: object, owner: type | None = None) -> Path | None:
        if obj is None:
            return self.default  # type: ignore[return-value]  # the default for __init__
        return self._get(obj)

    def __set__(self, obj: object, value: str | os.PathLike[str] | None) -> None:
        obj.__dict__[self.key] = value


@dataclass(frozen=True)
class Config:
    """The user's choices, already merged from command line, environment and config file.

    The path options (``sysfs_root``, ``xenstore_dump``, ``port_device``, ``config_file``)
    accept a ``Path`` or its text and read as ``Path`` (see ``_PathField``).
    """

    sysfs_root: _Path = _Path("/sys")
    xen_domid: int | None = None
    xenstore_dump: _OptionalPath = _OptionalPath(None)
    xenstore_socket: str | None = None
    xenstore_timeout: float = 5.0
    twins: str = DEFAULT_TWIN_POLICY
    allow_unplug: bool = False
    port_device: _Path = _Path("/dev/port")
    verbose: bool = False
    disabled_plugins: frozenset[str] = frozenset()
    config_file: _OptionalPath = _OptionalPath(None)
    #: ``--net DRIVER,key=value,...`` (iPXE's Linux-build syntax), in order. When given,
    #: bootsh uses exactly these NICs: discovery drivers probe nothing.
    nets: tuple[str, ...] = ()
    #: ``--dry-run``: ``boot`` of a kernel prints the boot plan (kernel, initrds, command
    #: line) instead of loading it with kexec.
    dry_run: bool = False
    #: The trusted root certificates' SHA-256 fingerprints, fixed at start-up (``--trust``,
    #: ``BOOTSH_TRUST``, ``trust`` in the config file); empty: no root is trusted.
    trust: tuple[bytes, ...] = ()
    #: Where ``trust`` came from, for messages ("" when nothing was given).
    trust_source: str = ""
    #: ``--disk PATH`` (repeatable, env ``BOOTSH_DISKS``, config ``disks``): the local drives
    #: of ``sanboot`` in drive order (the first is 0x80); empty: every disk in sysfs.
    disks: tuple[str, ...] = ()
    #: ``--allow-local-from-network``: a script or DHCP answer that came from the network
    #: may fetch ``file://`` and other local-only URIs (refused by default).
    allow_local_from_network: bool = False

    def path_text(self, name: str) -> str | None:
        """A path option as text, without making a ``Path`` (for code on the start-up path):
        ``config.path_text("sysfs_root")`` is ``str(config.sysfs_root)``."""
        option = type(self).__dict__[name]
        assert isinstance(option, _PathField), name
        return option.text(self)


@dataclass
class Context:
    """Handed to probe, evidence and resolution hooks."""

    config: Config
    machine: MachineFacts = field(default_factory=MachineFacts)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    #: Called with each diagnostic line; tests replace it to collect them.
    warn_sink: Callable[[str], None] | None = None

    def warn(self, message: str) -> None:
        """A problem the user should see: one line, on stderr."""
        message = visible(message)
        if self.warn_sink is not None:
            self.warn_sink(message)
        else:
            print(f"bootsh: {message}", file=self.stderr)

    def debug(self, message: str) -> None:
        """Detail shown only with ``-v`` (for example: why netfront found nothing)."""
        if self.config.verbose:
            self.warn(message)
