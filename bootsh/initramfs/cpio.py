"""A reproducible newc ("070701") cpio writer, the format the kernel unpacks as initramfs.

Reproducible means: the same entries give the same bytes whatever the order they were added
in, the file system's timestamps, owners or inode numbers. Entries are written sorted by path
(a parent directory before what it holds), with uid/gid 0, one fixed mtime, inode numbers
counted from 1 in that order, and no hard links.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import BinaryIO

from bootsh.errors import BootshError
from bootsh.records import dataclass

TRAILER = "TRAILER!!!"


class CpioError(BootshError):
    """An entry that cannot go into the archive (a bad path, two different entries for one)."""


@dataclass(frozen=True)
class Entry:
    """One archive member: ``path`` relative to the root (no leading ``/``)."""

    path: str
    mode: int  # st_mode: type and permission bits
    data: bytes = b""  # a file's contents, a symlink's target
    rdev: tuple[int, int] = (0, 0)  # a device node's major, minor

    @property
    def kind(self) -> str:
        if stat.S_ISDIR(self.mode):
            return "dir"
        if stat.S_ISLNK(self.mode):
            return "symlink"
        if stat.S_ISCHR(self.mode):
            return "chardev"
        return "file"


def _clean(path: str) -> str:
    pure = PurePosixPath("/" + path)
    parts = [p for p in pure.parts[1:] if p not in ("", ".")]
    if not parts or ".." in parts:
        raise CpioError(f"bad archive path {path!r}")
    return "/".join(parts)


class Archive:
    """The members of one initramfs, keyed by path; ``write`` puts them out in newc form."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}

    def __contains__(self, path: str) -> bool:
        return _clean(path) in self.entries

    def _add(self, entry: Entry) -> None:
        parent = str(PurePosixPath(entry.path).parent)
        if parent != ".":
            self.directory(parent)
        old = self.entries.get(entry.path)
        if old is not None and old != entry:
            if old.kind == entry.kind == "dir":
                return
            raise CpioError(f"{entry.path} is already in the archive as another {old.kind}")
        self.entries[entry.path] = entry

    def directory(self, path: str, mode: int = 0o755) -> None:
        path = _clean(path)
        if path in self.entries:
            if self.entries[path].kind != "dir":
                raise CpioError(f"{path} is already in the archive as a {self.entries[path].kind}")
            return
        self._add(Entry(path, stat.S_IFDIR | mode))

    def file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        self._add(Entry(_clean(path), stat.S_IFREG | (mode & 0o7777), data))

    def symlink(self, path: str, target: str) -> None:
        self._add(Entry(_clean(path), stat.S_IFLNK | 0o777, target.encode()))

    def chardev(self, path: str, major: int, minor: int, mode: int = 0o600) -> None:
        self._add(Entry(_clean(path), stat.S_IFCHR | mode, rdev=(major, minor)))

    def remove(self, path: str) -> None:
        self.entries.pop(_clean(path), None)

    def sizes(self) -> int:
        """Bytes of file contents (what the unpacked initramfs holds, roughly)."""
        return sum(len(e.data) for e in self.entries.values() if e.kind == "file")

    def write(self, out: BinaryIO, mtime: int = 0) -> int:
        """Write the archive (sorted, then the trailer); returns the bytes written."""
        written = 0
        for ino, path in enumerate(sorted(self.entries), start=1):
            written += _member(out, self.entries[path], ino, mtime)
        written += _member(out, Entry(TRAILER, 0), 0, 0)
        return written


def _header(entry: Entry, ino: int, mtime: int) -> bytes:
    name = entry.path.encode("utf-8", "surrogateescape") + b"\0"
    nlink = 2 if entry.kind == "dir" else 1
    fields = (
        ino,
        entry.mode,
        0,  # uid
        0,  # gid
        nlink,
        mtime,
        len(entry.data),
        0,  # dev major
        0,  # dev minor
        entry.rdev[0],
        entry.rdev[1],
        len(name),
        0,  # check (only for the "070702" crc format)
    )
    header = b"070701" + b"".join(b"%08X" % f for f in fields) + name
    return header + b"\0" * (-len(header) % 4)


def _member(out: BinaryIO, entry: Entry, ino: int, mtime: int) -> int:
    header = _header(entry, ino, mtime)
    out.write(header)
    out.write(entry.data)
    pad = -len(entry.data) % 4
    out.write(b"\0" * pad)
    return len(header) + len(entry.data) + pad


@dataclass(frozen=True)
class Member:
    """One member as read back from an archive."""

    path: str
    mode: int
    mtime: int
    data: bytes
    rdev: tuple[int, int]


def read_archive(data: bytes) -> Iterable[Member]:
    """The members of an uncompressed newc archive, in order; stops at the trailer."""
    pos = 0
    while pos + 110 <= len(data):
        if data[pos : pos + 6] != b"070701":
            raise CpioError(f"not a newc archive at offset {pos}")
        fields = [int(data[pos + 6 + 8 * i : pos + 14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        name = data[pos + 110 : pos + 110 + namesize - 1].decode("utf-8", "surrogateescape")
        pos += 110 + namesize
        pos += -pos % 4
        body = data[pos : pos + size]
        pos += size
        pos += -pos % 4
        if name == TRAILER:
            return
        yield Member(name, mode, fields[5], body, (fields[9], fields[10]))


def mode_of(path: os.PathLike[str] | str) -> int:
    """The permission bits a copied file keeps: executable or not, never setuid or writable
    by others (the build must not depend on the builder's umask)."""
    return 0o755 if os.stat(path).st_mode & 0o111 else 0o644
