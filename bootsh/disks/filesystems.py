"""Reading files from a partition: what it holds, and one accessor per kind.

* ext2/3/4, XFS, btrfs, squashfs: mounted read-only (``noload``/``norecovery``: a journal is
  never replayed, the disk is never written) through a read-only loop device at the
  partition's offset, so no kernel partition support is needed; unmounted and detached on
  ``close`` whatever happened.
* FAT (EFI system partitions): mtools (``mtype``/``mdir``/``mcopy`` on ``image@@offset``),
  in user space: no kernel vfat needed, nothing mounted.
* ISO 9660: pycdlib on a file object (a file, a device, or ``httpio.HttpFile``), Rock Ridge
  names first, then Joliet, then plain ISO 9660 names.

``probe`` names the kind from the superblock; LVM, md RAID members, LUKS and swap are
recognised and refused with the reason. Every path is resolved inside the file system: a
symbolic link that leads out of the mount is not followed.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import struct
import subprocess
import tempfile
import uuid as uuidlib
from pathlib import Path
from typing import IO, Any, BinaryIO, Protocol, cast

from bootsh.errors import BootshError
from bootsh.records import dataclass

#: A configuration file larger than this is not read.
MAX_CONFIG = 1 << 20
#: Every helper process (losetup, mount, mtools) gets this long.
TOOL_TIMEOUT = 60.0
MOUNTABLE = {
    "ext4": ("ro,noload",),
    "xfs": ("ro,norecovery",),
    "btrfs": ("ro,rescue=nologreplay", "ro"),
    "squashfs": ("ro",),
}


class FsError(BootshError):
    """A file system that cannot be read; the text says why, in one line."""


@dataclass(frozen=True)
class Probe:
    kind: str  # ext4, xfs, btrfs, vfat, iso9660, squashfs, or a refused kind
    label: str = ""
    uuid: str = ""
    refused: str | None = None


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace").strip()


def probe(head: bytes, tail_read: Any = None) -> Probe | None:
    """What the first 64 KiB + 4 KiB of a partition (``head``) say it holds, or None."""
    if len(head) >= 1024 + 136 and head[1024 + 56 : 1024 + 58] == b"\x53\xef":
        sb = head[1024:]
        return Probe("ext4", _text(sb[120:136]), str(uuidlib.UUID(bytes=sb[104:120])))
    if head[:4] == b"XFSB" and len(head) >= 120:
        return Probe("xfs", _text(head[108:120]), str(uuidlib.UUID(bytes=head[32:48])))
    if len(head) >= 0x10140 and head[0x10040:0x10048] == b"_BHRfS_M":
        return Probe(
            "btrfs", _text(head[0x1012B:0x1022B]), str(uuidlib.UUID(bytes=head[0x10020:0x10030]))
        )
    if len(head) >= 0x8006 + 0x800 and head[0x8001:0x8006] == b"CD001":
        return Probe("iso9660", _text(head[0x8028:0x8048]))
    if head[:4] == b"hsqs":
        return Probe("squashfs")
    if head[:6] == b"LUKS\xba\xbe":
        return Probe("luks", refused="LUKS encrypted volume (not supported)")
    if len(head) >= 520 and head[512:520] == b"LABELONE":
        return Probe("LVM2_member", refused="LVM physical volume (LVM is not supported)")
    if len(head) >= 4100 and head[4096:4100] == b"\xfc\x4e\x2b\xa9":
        return Probe("linux_raid_member", refused="md RAID member (md RAID is not supported)")
    if len(head) >= 4096 and head[4086:4096] in (b"SWAPSPACE2", b"SWAP-SPACE"):
        return Probe("swap", refused="swap space")
    if len(head) >= 512 and head[510:512] == b"\x55\xaa" and head[0] in (0xEB, 0xE9):
        if head[82:87] == b"FAT32":
            serial = struct.unpack_from("<I", head, 67)[0]
            return Probe("vfat", _text(head[71:82]), f"{serial >> 16:04X}-{serial & 0xFFFF:04X}")
        if head[54:59] in (b"FAT12", b"FAT16"):
            serial = struct.unpack_from("<I", head, 39)[0]
            return Probe("vfat", _text(head[43:54]), f"{serial >> 16:04X}-{serial & 0xFFFF:04X}")
    return None


class FileSystem(Protocol):
    kind: str

    def exists(self, path: str) -> bool: ...

    def read_text(self, path: str) -> str | None: ...

    def listdir(self, path: str) -> list[str]: ...

    def copy_out(self, path: str, dest: Path) -> int: ...

    def close(self) -> None: ...


def _run(argv: list[str], what: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(argv, capture_output=True, timeout=TOOL_TIMEOUT, check=False)
    except FileNotFoundError:
        raise FsError(f"{argv[0]} is not installed (needed to {what})") from None
    except subprocess.TimeoutExpired:
        raise FsError(f"{argv[0]} did not finish within {TOOL_TIMEOUT:.0f} s ({what})") from None


def _one_line(data: bytes) -> str:
    lines = [line.strip() for line in data.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1] if lines else "no reason given"


class MountedFs:
    """A kernel file system on a read-only loop device at ``offset``, mounted read-only."""

    def __init__(self, device: str, offset: int, size: int, kind: str) -> None:
        self.kind = kind
        self.loop: str | None = None
        self.root: Path | None = None
        proc = _run(
            ["losetup", "--find", "--show", "--read-only", "--offset", str(offset),
             "--sizelimit", str(size), device],
            "attach a loop device",
        )  # fmt: skip
        if proc.returncode != 0:
            raise FsError(f"losetup: {_one_line(proc.stderr)}")
        self.loop = proc.stdout.decode().strip()
        try:
            root = Path(tempfile.mkdtemp(prefix="bootsh-mnt-"))
            self.root = root
            last = ""
            for options in MOUNTABLE[kind]:
                proc = _run(
                    ["mount", "-t", kind, "-o", f"{options},nodev,nosuid,noexec", self.loop,
                     str(root)],
                    f"mount {kind}",
                )  # fmt: skip
                if proc.returncode == 0:
                    return
                last = _one_line(proc.stderr)
            raise FsError(f"cannot mount the {kind} file system: {last}")
        except BaseException:
            self.close()
            raise

    def _path(self, path: str) -> Path | None:
        assert self.root is not None
        try:
            full = os.path.realpath(os.path.join(self.root, path.lstrip("/")))
        except OSError:
            return None
        root = str(self.root)
        if full != root and not full.startswith(root + "/"):
            return None
        return Path(full)

    def exists(self, path: str) -> bool:
        full = self._path(path)
        try:
            return full is not None and full.exists()
        except OSError:  # EIO from a failing disk: as good as absent
            return False

    def read_text(self, path: str) -> str | None:
        full = self._path(path)
        try:
            if full is None or not full.is_file():
                return None
            with full.open("rb") as f:
                return f.read(MAX_CONFIG).decode("utf-8", "replace")
        except OSError:
            return None

    def listdir(self, path: str) -> list[str]:
        full = self._path(path)
        try:
            return sorted(os.listdir(full)) if full is not None and full.is_dir() else []
        except OSError:
            return []

    def copy_out(self, path: str, dest: Path) -> int:
        full = self._path(path)
        try:
            if full is None or not full.is_file():
                raise FsError(f"{path}: no such file")
            with full.open("rb") as src, dest.open("wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
        except OSError as exc:
            raise FsError(f"{path}: {exc.strerror or exc}") from None
        return dest.stat().st_size

    def close(self) -> None:
        if self.root is not None:
            if os.path.ismount(self.root):
                proc = _run(["umount", str(self.root)], "unmount")
                if proc.returncode != 0:
                    _run(["umount", "-l", str(self.root)], "unmount")
            with contextlib.suppress(OSError):
                self.root.rmdir()
            self.root = None
        if self.loop is not None:
            _run(["losetup", "-d", self.loop], "detach a loop device")
            self.loop = None


class FatFs:
    """A FAT file system read with mtools, at ``offset`` in ``device``."""

    kind = "vfat"

    def __init__(self, device: str, offset: int) -> None:
        self.image = f"{device}@@{offset}"
        self.env = {**os.environ, "MTOOLS_SKIP_CHECK": "1", "MTOOLS_NO_VFAT": "0"}
        proc = self._mtools(["minfo", "-i", self.image, "::"])
        if proc.returncode != 0:
            raise FsError(f"cannot read the FAT file system: {_one_line(proc.stderr)}")

    def _mtools(self, argv: list[str]) -> subprocess.CompletedProcess[bytes]:
        try:
            return subprocess.run(
                argv, capture_output=True, timeout=TOOL_TIMEOUT, check=False, env=self.env
            )
        except FileNotFoundError:
            raise FsError("mtools is not installed (needed to read FAT file systems)") from None
        except subprocess.TimeoutExpired:
            raise FsError(f"{argv[0]} did not finish within {TOOL_TIMEOUT:.0f} s") from None

    @staticmethod
    def _clean(path: str) -> str | None:
        parts = [p for p in path.split("/") if p and p != "."]
        if any(p == ".." for p in parts):
            return None
        return "::/" + "/".join(parts)

    def exists(self, path: str) -> bool:
        target = self._clean(path)
        if target is None:
            return False
        return self._mtools(["mdir", "-b", "-i", self.image, target]).returncode == 0

    def read_text(self, path: str) -> str | None:
        target = self._clean(path)
        if target is None:
            return None
        proc = self._mtools(["mtype", "-i", self.image, target])
        if proc.returncode != 0:
            return None
        return proc.stdout[:MAX_CONFIG].decode("utf-8", "replace")

    def listdir(self, path: str) -> list[str]:
        target = self._clean(path)
        if target is None:
            return []
        proc = self._mtools(["mdir", "-b", "-i", self.image, target.rstrip("/") + "/"])
        if proc.returncode != 0:
            return []
        names = []
        for line in proc.stdout.decode("utf-8", "replace").splitlines():
            name = line.rstrip("/").rsplit("/", 1)[-1]
            if name and name not in (".", ".."):
                names.append(name)
        return sorted(names)

    def copy_out(self, path: str, dest: Path) -> int:
        target = self._clean(path)
        if target is None:
            raise FsError(f"{path}: no such file")
        proc = self._mtools(["mcopy", "-n", "-i", self.image, target, str(dest)])
        if proc.returncode != 0:
            raise FsError(f"{path}: {_one_line(proc.stderr)}")
        return dest.stat().st_size

    def close(self) -> None:
        pass


class _Window(io.RawIOBase):
    """A read-only view of ``size`` bytes at ``offset`` in ``fp`` (pycdlib seeks from 0)."""

    def __init__(self, fp: IO[bytes], offset: int, size: int) -> None:
        self.fp, self.offset, self.size, self.pos = fp, offset, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.pos, 2: self.size}[whence]
        self.pos = max(0, base + pos)
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, buffer: Any) -> int:
        n = max(0, min(len(buffer), self.size - self.pos))
        if n == 0:
            return 0
        self.fp.seek(self.offset + self.pos)
        data = self.fp.read(n)
        buffer[: len(data)] = data
        self.pos += len(data)
        return len(data)


class IsoFs:
    """An ISO 9660 file system read with pycdlib from a seekable file object."""

    kind = "iso9660"

    def __init__(
        self, fp: IO[bytes], offset: int = 0, size: int | None = None, *, owns: bool = False
    ) -> None:
        """``fp`` is closed with the file system when ``owns`` (also when this raises)."""
        self._owned = fp if owns else None
        try:
            self._open(fp, offset, size)
        except BaseException:
            self._close_fp()
            raise

    def _close_fp(self) -> None:
        if self._owned is not None:
            with contextlib.suppress(OSError):  # FUSE's flush fails once its daemon is gone
                self._owned.close()
            self._owned = None

    def _open(self, fp: IO[bytes], offset: int, size: int | None) -> None:
        import pycdlib  # only when an ISO is read
        from pycdlib.pycdlibexception import PyCdlibException

        self._errors: tuple[type[BaseException], ...] = (PyCdlibException, ValueError,
                                                        IndexError, KeyError, struct.error,
                                                        OSError, UnicodeError, AttributeError,
                                                        TypeError, AssertionError)  # fmt: skip
        if size is None:
            fp.seek(0, 2)
            size = fp.tell() - offset
        self.fp: IO[bytes] = fp if offset == 0 else _Window(fp, offset, size)  # type: ignore[assignment]
        self.iso = pycdlib.PyCdlib()
        try:
            self.iso.open_fp(cast(BinaryIO, self.fp))
        except self._errors as exc:
            raise FsError(f"not a readable ISO 9660 image: {exc}") from None
        except RecursionError:
            raise FsError("not a readable ISO 9660 image: directories nested too deep") from None
        self.name_kind = (
            "rr_path" if self.iso.has_rock_ridge() else "joliet_path" if self.iso.has_joliet()
            else "iso_path"
        )  # fmt: skip
        self._names: dict[str, list[tuple[str, str]]] = {}

    def _children(self, directory: str) -> list[tuple[str, str]]:
        """(shown name, name to ask pycdlib) of each entry of ``directory`` (an exact path)."""
        if directory in self._names:
            return self._names[directory]
        out: list[tuple[str, str]] = []
        try:
            for child in self.iso.list_children(**{self.name_kind: directory or "/"}):
                if child is None or child.is_dot() or child.is_dotdot():
                    continue
                if self.name_kind == "rr_path":
                    name = child.rock_ridge.name().decode("utf-8", "replace")
                elif self.name_kind == "joliet_path":
                    name = child.file_identifier().decode("utf-16-be", "replace")
                else:
                    name = child.file_identifier().decode("ascii", "replace")
                shown = name.split(";", 1)[0] if self.name_kind == "iso_path" else name
                out.append((shown, name))
                if len(out) > 10_000:
                    break
        except self._errors:
            out = []
        except RecursionError:
            out = []
        self._names[directory] = out
        return out

    def _resolve(self, path: str) -> str | None:
        """The exact pycdlib path of ``path``, matching names without regard to case."""
        current = ""
        for part in [p for p in path.split("/") if p and p != "."]:
            if part == "..":
                return None
            match = None
            for shown, name in self._children(current or "/"):
                if shown == part:
                    match = name
                    break
            if match is None:
                for shown, name in self._children(current or "/"):
                    if shown.lower() == part.lower():
                        match = name
                        break
            if match is None:
                return None
            current += "/" + match
        return current or "/"

    def exists(self, path: str) -> bool:
        return self._resolve(path) is not None

    def _get(self, exact: str, out: IO[bytes]) -> None:
        self.iso.get_file_from_iso_fp(cast(BinaryIO, out), **{self.name_kind: exact})

    def read_text(self, path: str) -> str | None:
        exact = self._resolve(path)
        if exact is None:
            return None
        buffer = io.BytesIO()
        try:
            record = self.iso.get_record(**{self.name_kind: exact})
            if record.is_dir() or record.get_data_length() > MAX_CONFIG:
                return None
            self._get(exact, buffer)
        except self._errors:
            return None
        return buffer.getvalue().decode("utf-8", "replace")

    def listdir(self, path: str) -> list[str]:
        exact = self._resolve(path)
        return sorted(shown for shown, _ in self._children(exact)) if exact else []

    def copy_out(self, path: str, dest: Path) -> int:
        exact = self._resolve(path)
        if exact is None:
            raise FsError(f"{path}: no such file")
        try:
            with dest.open("wb") as out:
                self._get(exact, out)
        except self._errors as exc:
            raise FsError(f"{path}: {exc}") from None
        return dest.stat().st_size

    def boot_catalog(self) -> list[str]:
        """El Torito: the platforms of the boot images (``BIOS``, ``EFI``), if any."""
        found: list[str] = []
        try:
            catalog = self.iso.eltorito_boot_catalog
            if catalog is None:
                return []
            entries = [catalog.initial_entry]
            for section in catalog.sections:
                entries.extend(section.section_entries)
            platforms = [catalog.validation_entry.platform_id]
            platforms += [s.platform_id for s in catalog.sections]
            found = ["EFI" if p == 0xEF else "BIOS" for p in platforms]
        except Exception:
            return found
        return sorted(set(found))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.iso.close()
        self._close_fp()
