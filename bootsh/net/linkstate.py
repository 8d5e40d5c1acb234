"""Link state of a kernel interface, read live from sysfs for ``ifstat``.

iPXE prints ``Link:up`` or ``Link:down`` and, when down, the reason as an iPXE error text.
A netdev starts with "Unknown" until its driver reports; "Down" is the link-down error.
"""

from __future__ import annotations

import os

from bootsh.ipxe_errors import ipxe_errno, ipxe_strerror
from bootsh.lang.files import ATTR_SIZE, read_text_bounded
from bootsh.records import dataclass

# iPXE's link errors (net/netdevice.c): EUNKNOWN_LINK_STATUS is EINPROGRESS and
# ENOTCONN_LINK_DOWN is ENOTCONN, both uniquified 0x01 in that file. The numbers are those
# of iPXE's Linux build, whose low byte is the Linux errno (EINPROGRESS 115, ENOTCONN 107);
# BIOS and EFI builds differ only in that byte. See docs/ipxe-reference.md.
LINK_UNKNOWN = ("Unknown", ipxe_errno(0x1A, 0x00086000, 0x01, 115))
LINK_DOWN = ("Down", ipxe_errno(0x38, 0x00086000, 0x01, 107))


@dataclass(frozen=True)
class LinkState:
    up: bool
    reason: str = ""
    #: iPXE's error number of a link that is not up (LINK_DOWN's or LINK_UNKNOWN's), else 0.
    status: int = 0


def _read(path: str) -> str | None:
    try:
        # Bounded and never waiting: a FIFO in a sysfs tree blocked ifstat forever.
        return read_text_bounded(path, ATTR_SIZE).strip()
    except OSError:
        # carrier reads EINVAL while the interface is administratively down.
        return None


def read_link(sysfs_root: str | os.PathLike[str], ifname: str | None) -> LinkState:
    """Link state of ``ifname`` under ``sysfs_root``; unknown when there is no interface."""
    unknown = LinkState(False, ipxe_strerror(*LINK_UNKNOWN), LINK_UNKNOWN[1])
    if not ifname:
        return unknown
    base = os.path.join(sysfs_root, "class", "net", ifname)
    carrier = _read(os.path.join(base, "carrier"))
    operstate = _read(os.path.join(base, "operstate"))
    if carrier == "1" or operstate == "up":
        return LinkState(True)
    if carrier == "0" or operstate in {"down", "lowerlayerdown", "notpresent", "dormant"}:
        return LinkState(False, ipxe_strerror(*LINK_DOWN), LINK_DOWN[1])
    return unknown
