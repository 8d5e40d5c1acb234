"""iPXE's error texts: a message followed by the error's page on ipxe.org."""

from __future__ import annotations


def ipxe_strerror(message: str, number: int) -> str:
    """Format an error the way iPXE's ``strerror()`` does: ``Message (https://ipxe.org/hex)``."""
    return f"{message} (https://ipxe.org/{number:08x})"
