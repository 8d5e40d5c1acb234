"""``file://``: a local file, copied in blocks like any download.

iPXE's Linux build has no ``file`` scheme (its EFI build reads ``file:`` from the boot
volume); bootsh offers it so that scripts and tests can use local images. Errors use the
numbers of iPXE's generic open code: a missing file is ``No such file or directory``.
"""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path

from bootsh.fetch import ERRFILE_OPEN, FetchError, FetchRequest, error_number

#: Read in blocks this large: the copy never holds the file in memory.
BLOCK = 1 << 20


def path_of(parts: urllib.parse.SplitResult) -> Path:
    return Path(urllib.parse.unquote(parts.path))


def validate(parts: urllib.parse.SplitResult) -> None:
    # file:///p and file://localhost/p name a local file; any other host cannot be opened.
    if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
        raise FetchError(
            error_number("EINVAL", ERRFILE_OPEN),
            f"{urllib.parse.urlunsplit(parts)}: a file URI needs an absolute local path",
            start=True,
        )


def open_file(request: FetchRequest) -> None:
    path = path_of(request.parts)
    try:
        source = path.open("rb")
    except FileNotFoundError as exc:
        raise FetchError(error_number("ENOENT", ERRFILE_OPEN), f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise FetchError(error_number("EISDIR", ERRFILE_OPEN), f"{path}: a directory") from exc
    except PermissionError as exc:
        raise FetchError(error_number("EACCES", ERRFILE_OPEN), f"{path}: {exc.strerror}") from exc
    except OSError as exc:
        raise FetchError(error_number("EIO", ERRFILE_OPEN), f"{path}: {exc.strerror}") from exc
    with source:
        total: int | None = os.fstat(source.fileno()).st_size or None
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
