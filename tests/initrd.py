"""Test data for boots: a real cpio initrd (the kernel's ``newc`` format) and the real kernel.

``newc`` writes what ``cpio -H newc -o`` writes: per member a 110-byte ASCII header
(``070701`` and thirteen 8-digit hex fields), the NUL-terminated name padded to 4 bytes,
the data padded to 4 bytes, and the ``TRAILER!!!`` member at the end. ``busybox cpio -t``
lists it (a test checks), so it is no private format.
"""

from __future__ import annotations

from pathlib import Path

#: Where .ci/install-kernel.sh puts the bzImage of Debian's linux-image-cloud-amd64.
KERNEL = Path("/opt/bootsh-kernel/vmlinuz")


def kernel() -> Path:
    """The real bzImage; a clear failure (never a skip) when it is missing."""
    if not KERNEL.is_file() or KERNEL.stat().st_size < 1 << 20:
        raise AssertionError(f"{KERNEL} is missing: run .ci/install-kernel.sh (as root)")
    return KERNEL


def _header(ino: int, mode: int, nlink: int, size: int, name: bytes) -> bytes:
    fields = (ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, len(name) + 1, 0)
    return b"070701" + b"".join(b"%08X" % f for f in fields)


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def newc(files: dict[str, bytes], dirs: tuple[str, ...] = ()) -> bytes:
    """A newc cpio archive of ``dirs`` (mode 0755) and ``files`` (mode 0644), in order."""
    out = b""
    ino = 1
    for name in dirs:
        raw = name.encode()
        out += _pad(_header(ino, 0o040755, 2, 0, raw) + raw + b"\0")
        ino += 1
    for name, data in files.items():
        raw = name.encode()
        out += _pad(_header(ino, 0o100644, 1, len(data), raw) + raw + b"\0")
        out += _pad(data)
        ino += 1
    trailer = b"TRAILER!!!"
    out += _pad(_header(0, 0, 1, 0, trailer) + trailer + b"\0")
    return out
