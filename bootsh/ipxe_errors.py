"""iPXE's error numbers and texts.

An iPXE error number packs, from the top: the POSIX-like code (bits 30-24), the source
file's id (bits 23-13), a per-file number telling errors of the same code apart (bits 12-8)
and the platform's own error (bits 7-0; on Linux the kernel errno). ``strerror`` prints the
message and the error's page on ipxe.org.
"""

from __future__ import annotations


def ipxe_errno(posix: int, errfile: int, uniq: int, platform: int) -> int:
    """Compose an error number; ``errfile`` is the already-positioned ERRFILE value."""
    return (posix << 24) | errfile | (uniq << 8) | (platform & 0xFF)


def ipxe_strerror(message: str, number: int) -> str:
    """Format an error the way iPXE's ``strerror()`` does: ``Message (https://ipxe.org/hex)``."""
    return f"{message} (https://ipxe.org/{number:08x})"
