"""Reading a whole file with a bound: scripts, the config file, XenStore dumps, sysfs attributes.

Every file bootsh reads whole can be something else than its author meant: ``/dev/zero``
never ends (a plain ``read()`` grows until the kernel kills the process, deaf to Ctrl-C on
the way), a FIFO blocks the ``open`` until a writer comes, a 100 MB "script" costs gigabytes
once split into lines. ``read_bounded`` reads at most ``limit`` bytes in blocks (so Ctrl-C is
seen between them) and fails with an ``OSError`` whose ``strerror`` says what was wrong, so
callers that already report ``OSError`` (``cannot read FILE: REASON``) need nothing new.
``regular=True`` is for files that are regular in every sane tree (sysfs and procfs
attributes, a CA file): the open never waits (``O_NONBLOCK``) and anything else is refused.

This lives in ``lang`` because it is the lowest layer: the settings store reads SMBIOS
strings from sysfs through it, and every other layer and plugin (through ``bootsh.api``)
uses the same reader.
"""

from __future__ import annotations

import errno
import os
import stat

#: Read in blocks this large: between two blocks Python sees a pending Ctrl-C.
BLOCK = 1 << 20
#: A sysfs attribute is at most a page.
ATTR_SIZE = 4096
#: A procfs table (/proc/net/route, /proc/net/snmp): generous for a router's routes.
PROC_TABLE_SIZE = 16 << 20


def read_bounded(path: str | os.PathLike[str], limit: int, *, regular: bool = False) -> bytes:
    """The whole content of ``path``, at most ``limit`` bytes.

    Raises ``OSError`` as ``open``/``read`` do, and also ``EFBIG`` ("larger than N bytes")
    past ``limit`` and, with ``regular``, ``EINVAL`` ("not a regular file") for a FIFO, a
    device or a socket. A FIFO without ``regular`` is read like a pipe (``bootsh <(cmd)``):
    the open waits for a writer, as ``cat`` does, and Ctrl-C ends the wait.
    """
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY
    if regular:
        flags |= os.O_NONBLOCK
    fd = os.open(path, flags)
    try:
        if regular:
            mode = os.fstat(fd).st_mode
            if stat.S_ISDIR(mode):  # what read() would say
                raise OSError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
            if not stat.S_ISREG(mode):
                raise OSError(errno.EINVAL, "not a regular file", str(path))
            # O_NONBLOCK stays: a regular file's reads never wait whatever the flag says
            # (two fcntl calls saved per file: a sysfs probe reads thousands).
        return read_fd(fd, limit, str(path))
    finally:
        os.close(fd)


def read_fd(fd: int, limit: int, name: str) -> bytes:
    """At most ``limit`` bytes from ``fd`` up to its end, in blocks; ``EFBIG`` past it."""
    parts: list[bytes] = []
    size = 0
    while True:
        block = os.read(fd, min(BLOCK, limit + 1 - size))
        if not block:
            return b"".join(parts)
        parts.append(block)
        size += len(block)
        if size > limit:
            raise OSError(errno.EFBIG, f"larger than {describe_size(limit)}", name)


def read_stream(stream: object, limit: int, name: str) -> bytes:
    """At most ``limit`` bytes of a binary stream (standard input's ``buffer``), in blocks."""
    read = getattr(stream, "read", None)
    assert read is not None
    parts: list[bytes] = []
    size = 0
    while True:
        block = read(min(BLOCK, limit + 1 - size))
        if not block:
            return b"".join(parts)
        if isinstance(block, str):  # a text stream without a buffer (a test's StringIO)
            block = block.encode("utf-8", "surrogateescape")
        parts.append(block)
        size += len(block)
        if size > limit:
            raise OSError(errno.EFBIG, f"larger than {describe_size(limit)}", name)


def describe_size(size: int) -> str:
    """``2 MiB``, ``4 KiB``, ``100 bytes``: a bound as a person reads it."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return f"{size} bytes"


def read_text_bounded(path: str | os.PathLike[str], limit: int) -> str:
    """A small regular text file (a sysfs or procfs attribute), decoded as UTF-8 with
    ``surrogateescape``: never a ``UnicodeDecodeError``, never a wait."""
    return read_bounded(path, limit, regular=True).decode("utf-8", "surrogateescape")
