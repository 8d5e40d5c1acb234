"""``file://``: a local file, copied in blocks like any download.

iPXE's Linux build has no ``file`` scheme (its EFI build reads ``file:`` from the boot
volume); bootsh offers it so that scripts and tests can use local images. Errors use the
numbers of iPXE's generic open code: a missing file is ``No such file or directory``.
"""

from __future__ import annotations

import os
import stat
import urllib.parse
from pathlib import Path

from bootsh.api import ERRFILE_OPEN, FetchError, FetchRequest, error_number

#: Read in blocks this large: the copy never holds the file in memory.
BLOCK = 1 << 20


def path_of(parts: urllib.parse.SplitResult) -> Path:
    # Percent-decoded as bytes, then as the file system decodes names: %FF is the byte
    # 0xFF (urllib's unquote would make it U+FFFD, another file).
    raw = urllib.parse.unquote_to_bytes(parts.path.encode("utf-8", "surrogateescape"))
    return Path(os.fsdecode(raw))


def validate(parts: urllib.parse.SplitResult) -> None:
    # file:///p and file://localhost/p name a local file; any other host cannot be opened.
    if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
        raise FetchError(
            error_number("EINVAL", ERRFILE_OPEN),
            f"{urllib.parse.urlunsplit(parts)}: a file URI needs an absolute local path",
            start=True,
        )
    if "\0" in str(path_of(parts)):
        # No file name holds one; open() raised ValueError ("embedded null byte").
        raise FetchError(
            error_number("EINVAL", ERRFILE_OPEN),
            f"{urllib.parse.urlunsplit(parts)}: a NUL byte (%00) in the path",
            start=True,
        )


def open_file(request: FetchRequest) -> None:
    path = path_of(request.parts)
    try:
        # O_NONBLOCK: opening a FIFO would otherwise wait for a writer forever (no -t
        # applies to a local open); it is refused below like any other non-regular file.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError as exc:
        raise FetchError(error_number("ENOENT", ERRFILE_OPEN), f"{path}: no such file") from exc
    except PermissionError as exc:
        raise FetchError(error_number("EACCES", ERRFILE_OPEN), f"{path}: {exc.strerror}") from exc
    except OSError as exc:
        raise FetchError(error_number("EIO", ERRFILE_OPEN), f"{path}: {exc.strerror}") from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        if stat.S_ISDIR(info.st_mode):
            raise FetchError(error_number("EISDIR", ERRFILE_OPEN), f"{path}: a directory")
        # A FIFO or a device (/dev/zero) blocks or never ends, with no bound: an image is a
        # file.
        raise FetchError(error_number("EINVAL", ERRFILE_OPEN), f"{path}: not a regular file")
    os.set_blocking(fd, True)
    with os.fdopen(fd, "rb") as source:
        total: int | None = info.st_size or None
        done = 0
        request.progress(0, total)
        while True:
            try:
                block = source.read(BLOCK)
            except OSError as exc:
                raise FetchError(error_number("EIO", ERRFILE_OPEN), f"{path}: {exc}") from exc
            if not block:
                break
            request.sink.write(block)
            done += len(block)
            request.progress(done, total)
