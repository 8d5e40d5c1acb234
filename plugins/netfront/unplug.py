"""The ``unplug`` twin policy: ask Xen's device model to remove the emulated NICs.

This is irreversible for the running guest: the next OS loaded by kexec will not see the
emulated NICs either, so an OS without netfront drivers would have no network. It is only
attempted with every one of:

* the policy ``unplug`` (``--twins unplug``, the ``twins`` setting, the config file);
* ``--allow-unplug`` on the command line (deliberately not a setting or config key);
* an effective uid of 0;
* the Xen platform PCI device (found by ``pci_nics``: ``context.machine.xen_platform``);
* a Xen guest (``{sysfs_root}/hypervisor/type`` is ``xen``) that is HVM (``guest_type``, when
  the kernel has it, is ``HVM``);
* the machine described is this one: with the real ``/dev/port``, the NICs must come from the
  real ``/sys`` and XenStore, not from ``--machine``, ``--sysfs-root`` or ``--xenstore-dump``.

The protocol (Xen's docs/misc/hvm-emulated-unplug.pandoc, Linux's platform-pci-unplug.c):
16-bit read of port 0x10 must give the magic 0x49d2; 8-bit read of port 0x12 gives the protocol
version; for version 1 the driver writes its 16-bit product number to 0x12 and a 32-bit build
number to 0x10 and re-reads the magic (0xd249 means "blacklisted"); finally a 16-bit write of
a device mask to 0x10 unplugs (bit 1: all emulated NICs).

When any condition is missing the policy refuses, warns once per session and falls back to
what ``hide-emulated`` does, touching nothing, so the next OS keeps its NICs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from bootsh.api import (
    ATTR_SIZE,
    Context,
    Decision,
    Mark,
    TwinGroup,
    TwinPolicy,
    UnplugRefused,
    dataclass,
    possible_labels,
    read_bounded,
)

POLICY = "unplug"
SUMMARY = (
    "unplug the emulated NICs through the Xen platform device (irreversible; needs"
    " --allow-unplug, root, an HVM guest)"
)
POLICY_RECORD = TwinPolicy(POLICY, SUMMARY)

#: I/O ports of the Xen platform device (fixed, not in its PCI BARs).
PORT_MAGIC = 0x10  # 16-bit read: magic; 32-bit write: build number; 16-bit write: unplug
PORT_VERSION = 0x12  # 8-bit read: protocol version; 16-bit write: product number
MAGIC = 0x49D2
BLACKLISTED = 0xD249
#: xen/include/public/hvm/pvdrivers.h reserves 0xffff, "experimental", for drivers that have
#: no product number allocated by xen-devel. bootsh has none (and is not a PV driver stack
#: for the next OS), so it must not borrow another product's number such as Linux's 0x0003:
#: a host's blacklist for that product must not be dodged, nor applied to us by mistake.
PRODUCT_EXPERIMENTAL = 0xFFFF
#: The build number that goes with the product number; bootsh 0.1.0 -> 0x000100.
BUILD_NUMBER = 0x000100
UNPLUG_ALL_NICS = 1 << 1

REAL_PORT_DEVICE = Path("/dev/port")
REAL_SYSFS = Path("/sys")

#: Where the outcome is remembered for the session (``context.machine.extra``).
STATE_KEY = "netfront.unplug"
DONE = "done"


class Port(Protocol):
    """x86 I/O port access of a given width (1, 2 or 4 bytes), little-endian."""

    def read(self, port: int, width: int) -> int: ...

    def write(self, port: int, width: int, value: int) -> None: ...

    def close(self) -> None: ...


class DevPort:
    """Port I/O through ``/dev/port`` (or a plain file standing in for it in tests).

    Caution: Linux's ``/dev/port`` (drivers/char/mem.c) performs each read or write as a
    sequence of *8-bit* ``inb``/``outb`` at consecutive ports, whatever the length. The Xen
    platform device answers byte reads of 0x10 with its flags, not the magic, so on a real
    guest the very first check fails and nothing is written: the protocol refuses safely, but
    it cannot succeed through ``/dev/port``. A ``Port`` doing real 16/32-bit accesses (iopl
    plus in/out instructions in a helper) can be passed instead; see ``Machine.open_port``.
    """

    def __init__(self, fd: int, path: Path) -> None:
        self.fd = fd
        self.path = path

    @classmethod
    def open(cls, path: Path) -> DevPort:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except OSError as exc:
            raise UnplugRefused(f"cannot open {path}: {exc.strerror or exc}") from None
        return cls(fd, path)

    def read(self, port: int, width: int) -> int:
        try:
            data = os.pread(self.fd, width, port)
        except OSError as exc:
            raise UnplugRefused(
                f"cannot read port {port:#x} from {self.path}: {exc.strerror}"
            ) from None
        if len(data) != width:
            raise UnplugRefused(f"short read of port {port:#x} from {self.path}")
        return int.from_bytes(data, "little")

    def write(self, port: int, width: int, value: int) -> None:
        try:
            written = os.pwrite(self.fd, value.to_bytes(width, "little"), port)
        except OSError as exc:
            raise UnplugRefused(
                f"cannot write port {port:#x} of {self.path}: {exc.strerror}"
            ) from None
        if written != width:
            raise UnplugRefused(f"short write of port {port:#x} of {self.path}")

    def close(self) -> None:
        os.close(self.fd)


def read_sysfs(path: Path) -> str | None:
    try:
        data = read_bounded(path, ATTR_SIZE, regular=True)  # a FIFO must not block
        return data.decode("utf-8", "surrogateescape").strip()
    except OSError:
        return None


@dataclass(frozen=True)
class Machine:
    """What the unplug asks of the machine; tests replace any part."""

    euid: Callable[[], int] = os.geteuid
    open_port: Callable[[Path], Port] = DevPort.open
    read_sysfs: Callable[[Path], str | None] = read_sysfs


DEFAULT_MACHINE = Machine()


def check_conditions(context: Context, machine: Machine = DEFAULT_MACHINE) -> None:
    """Raise ``UnplugRefused`` naming the first missing condition (module docstring)."""
    config = context.config
    if not config.allow_unplug:
        raise UnplugRefused("--allow-unplug was not given (unplugging is irreversible)")
    euid = machine.euid()
    if euid != 0:
        raise UnplugRefused(f"not running as root (effective uid {euid})")
    if config.port_device == REAL_PORT_DEVICE:
        # The hardware checks below read config.sysfs_root; when that (or the XenStore) is a
        # picture of another machine they would vouch for a machine that is not this one.
        if config.sysfs_root != REAL_SYSFS:
            raise UnplugRefused(
                f"the NICs were read from {config.sysfs_root}, not this machine's {REAL_SYSFS}"
            )
        if config.xenstore_dump is not None:
            raise UnplugRefused(
                f"the vifs were read from the dump {config.xenstore_dump}, not this machine"
            )
    if context.machine.xen_platform is None:
        raise UnplugRefused("no Xen platform PCI device (5853:0001 or 5853:0002) was found")
    hypervisor = machine.read_sysfs(config.sysfs_root / "hypervisor" / "type")
    if hypervisor != "xen":
        seen = f"reads {hypervisor!r}" if hypervisor is not None else "is missing"
        raise UnplugRefused(f"not a Xen guest ({config.sysfs_root / 'hypervisor' / 'type'} {seen})")
    guest_type = machine.read_sysfs(config.sysfs_root / "hypervisor" / "guest_type")
    if guest_type is not None and guest_type != "HVM":
        raise UnplugRefused(f"not an HVM guest (guest_type {guest_type})")


def unplug_emulated_nics(port: Port) -> None:
    """Run the protocol on ``port``; ``UnplugRefused`` before any write that is not safe."""
    magic = port.read(PORT_MAGIC, 2)
    if magic != MAGIC:
        raise UnplugRefused(
            f"no Xen unplug interface: port {PORT_MAGIC:#x} reads {magic:#06x},"
            f" not the magic {MAGIC:#06x}"
        )
    version = port.read(PORT_VERSION, 1)
    if version != 1:
        # Linux's driver refuses anything but 1 too; Xen's document lets version 0 skip the
        # registration, but QEMU has always said 1, so anything else is a device model we
        # do not know, and this step cannot be undone.
        raise UnplugRefused(f"unsupported unplug protocol version {version} (bootsh knows 1)")
    port.write(PORT_VERSION, 2, PRODUCT_EXPERIMENTAL)
    port.write(PORT_MAGIC, 4, BUILD_NUMBER)
    answer = port.read(PORT_MAGIC, 2)
    if answer == BLACKLISTED:
        raise UnplugRefused(
            f"the host blacklisted this driver (product {PRODUCT_EXPERIMENTAL:#06x},"
            f" build {BUILD_NUMBER:#x}): port {PORT_MAGIC:#x} reads {BLACKLISTED:#06x}"
        )
    if answer != MAGIC:
        raise UnplugRefused(
            f"the platform device did not confirm the registration: port {PORT_MAGIC:#x}"
            f" reads {answer:#06x}, not {MAGIC:#06x}"
        )
    port.write(PORT_MAGIC, 2, UNPLUG_ALL_NICS)


def perform(context: Context, machine: Machine = DEFAULT_MACHINE) -> None:
    """Check every condition, then unplug; ``UnplugRefused`` with the reason otherwise."""
    check_conditions(context, machine)
    port = machine.open_port(context.config.port_device)
    try:
        unplug_emulated_nics(port)
    finally:
        port.close()


def resolve(group: TwinGroup, context: Context, machine: Machine = DEFAULT_MACHINE) -> Decision:
    """The ``unplug`` decision for one group: unplug once per session, or refuse and hide.

    Only confirmed twins are hidden; possible twins are labelled, as the built-in policies do.
    A group without a confirmed twin never triggers the unplug.
    """
    twins = group.twins()
    labels = possible_labels(group)
    state = context.machine.extra.get(STATE_KEY)
    if state is None and twins:
        try:
            perform(context, machine)
        except UnplugRefused as exc:
            state = f"refused: {exc}"
            context.warn(f"unplug refused: {exc}; emulated twins are hidden, not unplugged")
        else:
            state = DONE
        context.machine.extra[STATE_KEY] = state
    if state == DONE:
        return Decision(
            POLICY,
            hide={
                p.other.key: Mark("unplugged emulated twin of", p.paravirtual.key) for p in twins
            },
            label=labels,
            summary=(
                f"emulated NICs unplugged; hid {len(twins)} emulated twin(s)"
                if twins
                else "emulated NICs unplugged; no confirmed twin here"
            ),
        )
    if not twins:
        return Decision(POLICY, label=labels, summary="no confirmed twin: nothing to unplug")
    reason = (state or "").removeprefix("refused: ")
    return Decision(
        POLICY,
        hide={
            p.other.key: Mark("emulated twin (unplug refused) of", p.paravirtual.key) for p in twins
        },
        label=labels,
        summary=f"unplug refused: {reason}; hid {len(twins)} emulated twin(s), untouched",
    )
