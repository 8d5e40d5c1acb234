"""The Internet checksum (RFC 1071), for the frames bootsh builds itself (DHCP, ping).

Its own module so that a lease does not import the ping code (and with it ``socket``).
"""

from __future__ import annotations

import struct


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF
