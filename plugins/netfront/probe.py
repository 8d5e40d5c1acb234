"""Reading a guest's vifs (and its passed-through PCI devices) from XenStore.

Per vif: one listing for all of them, then five frontend reads (``mac``, ``backend``,
``backend-id``, ``handle``, ``state``) and four backend reads (``type``, ``bridge``,
``model``, ``script``) following the ``backend`` path, never listing the backend's parent
(a guest may be refused that). The passed-through PCI list costs one to two reads plus two
per device. Everything is linear in the number of vifs and devices.
"""

from __future__ import annotations

import os

from bootsh.api import Nic, dataclass, field, normalise_mac

from .dump import sanitise
from .store import Guest, XenStoreDenied, small_number, valid_path

DRIVER = "netfront"
#: Before PCI NICs: iPXE finds netfront through the Xen platform device, which enumerates
#: before the emulated NICs.
ORDER = 10

FRONTEND_KEYS = ("mac", "backend", "backend-id", "handle", "state")
BACKEND_KEYS = ("type", "bridge", "model", "script")

#: XenbusState (xen/include/public/io/xenbus.h), stored as decimal text.
XENBUS_STATES = (
    "Unknown",
    "Initialising",
    "InitWait",
    "Initialised",
    "Connected",
    "Closing",
    "Closed",
    "Reconfiguring",
    "Reconfigured",
)

#: A bound on ``num_devs`` so that a corrupt value cannot make the probe read forever.
MAX_PASSTHROUGH = 256
_HEX = frozenset("0123456789abcdef")


def _is_pci_address(text: str) -> bool:
    """``^[0-9a-f]{4}:[0-9a-f]{2}:[0-1][0-9a-f]\\.[0-7]$`` (one trailing newline allowed),
    without re: this module is on ifstat's path."""
    if text.endswith("\n"):
        text = text[:-1]
    return (
        len(text) == 12
        and text[4] == ":"
        and text[7] == ":"
        and text[10] == "."
        and _HEX.issuperset(text[:4] + text[5:7] + text[9])
        and text[8] in "01"
        and text[11] in "01234567"
    )


@dataclass
class ProbeResult:
    nics: list[Nic] = field(default_factory=list)
    #: Guest PCI address (``0000:00:05.0``) -> host address, from the PCI backend.
    passthrough: dict[str, str] = field(default_factory=dict)
    #: Why things were skipped or absent; shown with ``-v``.
    notes: list[str] = field(default_factory=list)


def probe(guest: Guest, sysfs_root: str | os.PathLike[str]) -> ProbeResult:
    """Read every vif of ``guest`` and its passed-through PCI devices."""
    result = ProbeResult()
    where = guest.path("device/vif")
    ids = guest.store.directory(where)
    if not ids:
        result.notes.append(f"no vifs under {where} ({guest.describe()})")
    ordered = sorted(ids or [], key=_vif_order)
    _prefetch(guest, ordered)
    for vif_id in ordered:
        result.nics.append(probe_vif(guest, vif_id, sysfs_root, result.notes))
    result.passthrough = read_passthrough(guest, result.notes)
    return result


def _prefetch(guest: Guest, vif_ids: list[str]) -> None:
    """Ask for every key ``probe_vif`` will read in two batches (the frontends', then the
    backends' they name): the same requests, in two round trips instead of nine per vif."""
    store = guest.store
    bases = [guest.path(f"device/vif/{vif_id}") for vif_id in vif_ids]
    store.prefetch([f"{base}/{key}" for base in bases for key in FRONTEND_KEYS])
    backends = []
    for base in bases:
        backend = store.peek(f"{base}/backend")
        if backend is not None and backend.isascii():
            path = backend.decode("ascii")
            if path.startswith("/") and valid_path(path):
                backends.append(path)
    store.prefetch([f"{path}/{key}" for path in backends for key in BACKEND_KEYS])


def _vif_order(name: str) -> tuple[int, int, str]:
    number = small_number(name)
    return (0, number, "") if number is not None else (1, 0, name)


def _preview(text: str, width: int = 40) -> str:
    """A value from the store short enough for a message."""
    return text if len(text) <= width else text[:width] + "..."


def _text(value: bytes) -> str:
    """A value as printable text (XenStore values are bytes; escape what is not ASCII)."""
    return sanitise(value)


def probe_vif(
    guest: Guest, vif_id: str, sysfs_root: str | os.PathLike[str], notes: list[str]
) -> Nic:
    """One vif as a ``Nic``; a malformed one carries ``problem`` instead of being dropped."""
    location = f"vif/{vif_id}"
    base = guest.path(f"device/vif/{vif_id}")
    facts: dict[str, str] = {}
    problems: list[str] = []
    values: dict[str, bytes | None] = {}
    for key in FRONTEND_KEYS:
        try:
            values[key] = guest.store.read(f"{base}/{key}")
        except XenStoreDenied:
            values[key] = None
            problems.append(f"{key} is not readable")
        value = values[key]
        if value is not None:
            facts[key] = _text(value)

    mac = _check_mac(values["mac"], problems)
    _check_state(values["state"], facts, problems)
    if not vif_id.isdigit():
        problems.append(f"{vif_id!r} is not a vif number")

    backend = values["backend"]
    if backend is None:
        if "backend is not readable" not in problems:
            problems.append("no backend path")
    else:
        path = backend.decode("ascii", "replace")
        if not path.startswith("/") or not valid_path(path) or not backend.isascii():
            problems.append(f"backend {_text(backend)!r} is not an absolute XenStore path")
        else:
            _read_backend(guest, path, facts, notes, location)

    return Nic(
        driver=DRIVER,
        location=location,
        mac=mac,
        bus="xen",
        ifname=kernel_interface(sysfs_root, vif_id),
        paravirtual=True,
        order=ORDER,
        facts=facts,
        problem="; ".join(problems) or None,
    )


def _check_mac(value: bytes | None, problems: list[str]) -> str | None:
    if value is None:
        if "mac is not readable" not in problems:
            problems.append("no mac in XenStore")
        return None
    mac = normalise_mac(value.decode("ascii", "replace")) if value.isascii() else None
    if mac is None:
        problems.append(f"invalid MAC {_text(value)!r}")
    return mac


def _check_state(value: bytes | None, facts: dict[str, str], problems: list[str]) -> None:
    if value is None:
        if "state is not readable" not in problems:
            problems.append("no state in XenStore")
        return
    text = _text(value)
    number = small_number(text)
    if number is None:
        problems.append(f"state {_preview(text)!r} is not a XenbusState number")
        return
    if number >= len(XENBUS_STATES):
        problems.append(f"state {number} is not a XenbusState (0-{len(XENBUS_STATES) - 1})")
        return
    facts["state"] = f"{number} ({XENBUS_STATES[number]})"


def _read_backend(
    guest: Guest, path: str, facts: dict[str, str], notes: list[str], location: str
) -> None:
    for key in BACKEND_KEYS:
        try:
            value = guest.store.read(f"{path}/{key}")
        except XenStoreDenied:
            notes.append(f"{location}: backend {path}/{key} is not readable")
            continue
        if value is not None:
            facts[f"backend/{key}"] = _text(value)
    if "backend/type" not in facts:
        notes.append(f"{location}: backend {path} has no type (vif or vif_ioemu)")


def kernel_interface(sysfs_root: str | os.PathLike[str], vif_id: str) -> str | None:
    """The Linux interface bound to ``vif-N`` on the xen bus, if the kernel has one."""
    net = os.path.join(sysfs_root, "bus", "xen", "devices", f"vif-{vif_id}", "net")
    try:
        names = sorted(entry.name for entry in os.scandir(net))
    except OSError:
        return None
    return names[0] if names else None


def read_passthrough(guest: Guest, notes: list[str]) -> dict[str, str]:
    """Guest PCI address -> host address of each passed-through device.

    The PCI backend directory is found through the guest's ``device/pci/0/backend`` when
    present (it also covers a driver domain), else at ``/local/domain/0/backend/pci/D/0``.
    A device without ``vdevfn-i`` has no fixed guest address and cannot be matched.
    """
    store = guest.store
    backend: str | None = None
    try:
        value = store.read(guest.path("device/pci/0/backend"))
    except XenStoreDenied:
        value = None
    if value is not None:
        text = value.decode("ascii", "replace")
        if text.startswith("/") and valid_path(text):
            backend = text
        else:
            notes.append(f"PCI frontend names a bad backend path {_text(value)!r}")
    if backend is None:
        domid = guest.domid if guest.domid is not None else _own_domid(guest)
        if domid is None:
            notes.append("passed-through PCI devices not read: the guest's domain id is unknown")
            return {}
        backend = f"/local/domain/0/backend/pci/{domid}/0"
    try:
        count_value = store.read(f"{backend}/num_devs")
    except XenStoreDenied:
        notes.append(f"passed-through PCI devices not readable ({backend})")
        return {}
    if count_value is None:
        return {}  # nothing passed through: the usual case
    count_text = _text(count_value)
    count = small_number(count_text)
    if count is None and count_text.isascii() and count_text.isdigit():
        count = MAX_PASSTHROUGH + 1  # more digits than MAX_DIGITS: huge, and no int() of it
    if count is None:
        notes.append(f"{backend}/num_devs = {_preview(count_text)!r} is not a number")
        return {}
    if count > MAX_PASSTHROUGH:
        shown = _preview(count_text)
        notes.append(f"{backend}/num_devs = {shown}: reading the first {MAX_PASSTHROUGH}")
        count = MAX_PASSTHROUGH
    found: dict[str, str] = {}
    for i in range(count):
        host = store.read(f"{backend}/dev-{i}")
        vdevfn = store.read(f"{backend}/vdevfn-{i}")
        if host is None:
            notes.append(f"{backend}/dev-{i} is missing")
            continue
        host_addr = _text(host).strip().lower()
        if not _is_pci_address(host_addr):
            notes.append(f"{backend}/dev-{i} = {host_addr!r} is not a PCI address")
            continue
        if vdevfn is None:
            notes.append(f"passed-through {host_addr} has no vdevfn-{i}: guest address unknown")
            continue
        guest_addr = guest_address(_text(vdevfn))
        if guest_addr is None:
            notes.append(f"{backend}/vdevfn-{i} = {_text(vdevfn)!r} is not a devfn")
            continue
        found[guest_addr] = host_addr
    return found


def guest_address(vdevfn: str) -> str | None:
    """``28`` (hex devfn: slot 5, function 0) -> ``0000:00:05.0``; None if not a devfn."""
    text = vdevfn.strip().lower().removeprefix("0x")
    if not text or len(text) > 2 or any(c not in "0123456789abcdef" for c in text):
        return None
    devfn = int(text, 16)
    return f"0000:00:{devfn >> 3:02x}.{devfn & 7}"


def _own_domid(guest: Guest) -> int | None:
    """The guest's domain id from its own ``domid`` node (libxl writes it; the guest may read)."""
    try:
        value = guest.store.read(guest.path("domid"))
    except XenStoreDenied:
        return None
    domid = small_number(_text(value)) if value is not None else None
    if domid is None:
        return None
    guest.domid = domid
    return guest.domid
