"""A drive's file systems and the boot entries on them; the local drives.

For a drive (a block device, or an image file): read its partition table (``parts``), probe
each partition (or the whole drive when it has no table, or is an ISO), open the readable
file systems (``filesystems``) and look for configurations at the places boot loaders keep
them, in this order per file system: GRUB (``/boot/grub/grub.cfg``, ``/grub/grub.cfg``,
``/boot/grub2/grub.cfg``, ``/grub2/grub.cfg``, ``/EFI/*/grub.cfg``), systemd-boot's BLS
entries (``/loader/entries``), syslinux/extlinux/isolinux. The first configuration, in
partition order, that yields a bootable Linux entry decides; its default entry is chosen as
its boot loader would. The kernel and initrds of the choice are copied out and every file
system is closed (unmounted) before anything boots.

The local drives, iPXE's ``0x80``, ``0x81``...: ``--disk`` (repeatable, config ``disks``,
env ``BOOTSH_DISKS``) names them in order; otherwise every whole disk in sysfs that is not a
loop, RAM, zram, device-mapper, md or optical device, in name order (``nvme``, ``sd``,
``vd``, ``xvd``, ``hd``, ``mmcblk``).
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
from collections.abc import Callable
from pathlib import Path

from bootsh.disks import bls as blsmod
from bootsh.disks.entries import BootEntry, Menu
from bootsh.disks.filesystems import FatFs, FileSystem, FsError, IsoFs, MountedFs, probe
from bootsh.disks.grub import GrubError, parse_grub
from bootsh.disks.parts import Partition, Table, read_table
from bootsh.disks.syslinux import parse_syslinux
from bootsh.errors import BootshError
from bootsh.records import dataclass, field

GRUB_PATHS = ("/boot/grub/grub.cfg", "/grub/grub.cfg", "/boot/grub2/grub.cfg", "/grub2/grub.cfg")
SYSLINUX_PATHS = (
    "/boot/extlinux/extlinux.conf", "/extlinux/extlinux.conf", "/extlinux.conf",
    "/boot/syslinux/syslinux.cfg", "/syslinux/syslinux.cfg", "/syslinux.cfg",
    "/isolinux/isolinux.cfg", "/boot/isolinux/isolinux.cfg", "/isolinux.cfg",
)  # fmt: skip
BLS_DIRS = ("/loader/entries", "/boot/loader/entries")
SKIPPED_DISKS = ("loop", "ram", "zram", "dm-", "md", "sr", "fd", "nbd", "zd")
HEAD = 0x10000 + 0x1000


class ScanError(BootshError):
    """A drive that cannot be read at all."""


@dataclass
class Volume:
    """A file system on a drive: a partition, or the whole drive (``partition`` None)."""

    drive: str  # the device or file
    partition: Partition | None
    offset: int
    size: int
    kind: str = ""
    label: str = ""
    uuid: str = ""
    fs: FileSystem | None = None
    problem: str | None = None

    def describe(self) -> str:
        where = f"partition {self.partition.number}" if self.partition else "whole disk"
        kind = self.kind or "unknown"
        label = f' "{self.label}"' if self.label else ""
        return f"{where} ({kind}{label})"


@dataclass
class Found:
    """The decision: the entry, the volume of its configuration and of its files."""

    entry: BootEntry
    menu: Menu
    config_volume: Volume
    files_volume: Volume


@dataclass
class DriveScan:
    """An open drive: its table and volumes; ``close`` releases every file system."""

    path: str
    table: Table
    volumes: list[Volume] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    menus: list[tuple[Volume, Menu]] = field(default_factory=list)

    def close(self) -> None:
        for volume in self.volumes:
            if volume.fs is not None:
                with contextlib.suppress(Exception):
                    volume.fs.close()
                volume.fs = None

    def __enter__(self) -> DriveScan:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _size(fd: int) -> int:
    return os.lseek(fd, 0, os.SEEK_END)


def open_drive(path: str, iso_opener: Callable[[], IsoFs] | None = None) -> DriveScan:
    """Read ``path``'s partition table and open its file systems (close the result!)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise ScanError(f"cannot open {path}: {exc.strerror}") from None
    try:
        scan = _read_layout(fd, path)
    except OSError as exc:
        raise ScanError(f"cannot read {path}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(OSError):  # FUSE's flush fails once its daemon is gone
            os.close(fd)
    try:
        for volume in scan.volumes:
            if volume.problem is None and volume.kind:
                _open(volume, iso_opener)
    except BaseException:
        scan.close()
        raise
    return scan


def _read_layout(fd: int, path: str) -> DriveScan:
    """The partition table and what each partition holds (nothing opened yet)."""
    size = _size(fd)

    def read(offset: int, length: int) -> bytes:
        if offset < 0 or length <= 0 or offset >= size:
            return b""
        return os.pread(fd, min(length, size - offset, 1 << 24), offset)

    head = read(0, HEAD)
    whole = probe(head)
    if whole is not None and whole.kind == "iso9660":
        table = Table("none", ())
    else:
        table = read_table(read, size)
    scan = DriveScan(path, table, problems=list(table.problems))
    if table.partitions:
        for part in sorted(table.partitions, key=lambda p: p.number):
            volume = Volume(path, part, part.start, part.size)
            reason = part.skip_reason
            if reason is not None:
                volume.problem = reason
            else:
                _identify(volume, read(part.start, HEAD))
            scan.volumes.append(volume)
    else:
        volume = Volume(path, None, 0, size)
        _identify(volume, head)
        scan.volumes.append(volume)
    return scan


def _identify(volume: Volume, head: bytes) -> None:
    found = probe(head)
    if found is None:
        volume.problem = "no file system bootsh can read"
        return
    volume.kind, volume.label, volume.uuid = found.kind, found.label, found.uuid
    if found.refused:
        volume.problem = found.refused


def _open(volume: Volume, iso_opener: Callable[[], IsoFs] | None) -> None:
    try:
        if volume.kind == "vfat":
            volume.fs = FatFs(volume.drive, volume.offset)
        elif volume.kind == "iso9660":
            if iso_opener is not None and volume.offset == 0:
                volume.fs = iso_opener()
            else:
                fp = open(volume.drive, "rb")  # noqa: SIM115 (owned by the IsoFs)
                volume.fs = IsoFs(fp, volume.offset, volume.size, owns=True)
        else:
            volume.fs = MountedFs(volume.drive, volume.offset, volume.size, volume.kind)
    except FsError as exc:
        volume.problem = str(exc)
    except OSError as exc:
        volume.problem = f"cannot read it: {exc.strerror or exc}"


# -- configurations ---------------------------------------------------------------------------


def _bls_files(fs: FileSystem, directory: str) -> list[tuple[str, str]]:
    files = []
    for name in fs.listdir(directory)[: blsmod.MAX_ENTRIES]:
        if name.endswith(".conf"):
            text = fs.read_text(f"{directory}/{name}")
            if text is not None:
                files.append((name, text))
    return files


def _grub_paths(fs: FileSystem) -> list[str]:
    paths = [p for p in GRUB_PATHS if fs.exists(p)]
    for efi in ("/EFI", "/boot/efi/EFI"):
        for vendor in fs.listdir(efi):
            candidate = f"{efi}/{vendor}/grub.cfg"
            if fs.exists(candidate):
                paths.append(candidate)
    return paths


class _Devices:
    """The drive's file systems as GRUB names them, seen from ``volume`` (grub.Devices)."""

    def __init__(self, scan: DriveScan, volume: Volume) -> None:
        self.scan, self.volume = scan, volume

    def _fs(self, root: str) -> FileSystem | None:
        target = find_root(self.scan, self.volume, root)
        return target.fs if target is not None else None

    def exists(self, root: str, path: str) -> bool:
        fs = self._fs(root)
        return fs is not None and fs.exists(path)

    def read_text(self, root: str, path: str) -> str | None:
        fs = self._fs(root)
        return fs.read_text(path) if fs is not None else None


def grub_menu(scan: DriveScan, volume: Volume, path: str, text: str) -> Menu:
    """The menu of GRUB configuration ``path`` (``text``) on ``volume``."""
    assert volume.fs is not None

    def bls_for(root: str | None, env: dict[str, str]) -> list[BootEntry]:
        target = find_root(scan, volume, root) or volume
        if target.fs is None:
            return []
        entries: list[BootEntry] = []
        for directory in BLS_DIRS:
            for name, body in _bls_files(target.fs, directory):
                entry = blsmod.parse_entry(body, name, f"{directory}/{name}", env)
                if entry.kernel:
                    entry.root = root
                    entries.append(entry)
            if entries:
                break
        return blsmod.sort_entries(entries, grub=True)

    try:
        return parse_grub(text, path, volume.fs, bls_for, _Devices(scan, volume))
    except GrubError as exc:
        return Menu([], 0, path, "grub", [f"{path}: {exc}"])


def menus_of(scan: DriveScan, volume: Volume) -> list[Menu]:
    """The menus of one volume's configurations, in the order above."""
    fs = volume.fs
    if fs is None:
        return []
    menus: list[Menu] = []
    for path in _grub_paths(fs):
        text = fs.read_text(path)
        if text is not None:
            menus.append(grub_menu(scan, volume, path, text))
    for directory in BLS_DIRS:
        files = _bls_files(fs, directory)
        if files:
            conf = fs.read_text(directory.rsplit("/", 1)[0] + "/loader.conf")
            menus.append(blsmod.menu(files, directory, conf))
    for path in SYSLINUX_PATHS:
        text = fs.read_text(path)
        if text is not None:
            menus.append(parse_syslinux(text, path, fs.read_text))
    return menus


def menu_of_file(scan: DriveScan, volume: Volume, path: str) -> Menu | None:
    """``sanboot --filename``: the menu of the file ``path`` names on ``volume``, or None.

    A GRUB configuration (``*.cfg`` under a ``grub``/``grub2``/``EFI`` directory), a BLS entry
    (``*.conf`` under ``loader/entries``), a syslinux/extlinux/isolinux file; or an EFI boot
    loader (iPXE's use of ``--filename``, e.g. ``\\EFI\\BOOT\\BOOTX64.EFI``): what it would
    read, ``grub.cfg`` beside it (GRUB, shim) or, for systemd-boot, the BLS entries.
    """
    fs = volume.fs
    if fs is None or not fs.exists(path):
        return None
    name = path.rsplit("/", 1)[-1]
    directory = path.rsplit("/", 1)[0] or "/"
    lower = path.lower()
    if name.lower().endswith(".efi"):
        beside = f"{directory.rstrip('/')}/grub.cfg"
        text = fs.read_text(beside)
        if text is not None:
            return grub_menu(scan, volume, beside, text)
        for entries in BLS_DIRS:
            files = _bls_files(fs, entries)
            if files:
                conf = fs.read_text(entries.rsplit("/", 1)[0] + "/loader.conf")
                return blsmod.menu(files, entries, conf)
        return Menu([], 0, path, "efi", [
            "an EFI program cannot be booted with kexec, and no grub.cfg is beside it nor BLS"
            " entries on its file system"
        ])  # fmt: skip
    text = fs.read_text(path)
    if text is None:
        return None
    if name.endswith(".conf") and "/entries/" in lower:
        return blsmod.menu([(name, text)], directory)
    if name.endswith(".cfg") and any(d in lower for d in ("/grub/", "/grub2/", "/efi/")):
        return grub_menu(scan, volume, path, text)
    return parse_syslinux(text, path, fs.read_text)


def find_root(scan: DriveScan, volume: Volume, root: str | None) -> Volume | None:
    """The volume a GRUB ``root`` names: ``uuid:``, ``label:``, ``file:`` or ``hdN,gptM``."""
    if not root:
        return volume
    kind, _, key = root.partition(":")
    usable = [v for v in scan.volumes if v.fs is not None]
    if kind == "uuid":
        return next((v for v in usable if v.uuid.lower() == key.lower()), None)
    if kind == "label":
        return next((v for v in usable if v.label == key), None)
    if kind == "file":
        return next((v for v in usable if v.fs is not None and v.fs.exists(key)), None)
    # A GRUB device: hd0,gpt2 / hd0,msdos1 / hd0,2 / cd0 / hd0
    spec = root.split(",", 1)
    if len(spec) == 2:
        digits = "".join(ch for ch in spec[1] if ch.isdigit())
        if digits:
            number = int(digits[:6])
            return next(
                (v for v in usable if v.partition is not None and v.partition.number == number),
                None,
            )
    if len(spec) == 1 and spec[0].startswith(("cd", "hd")) and len(scan.volumes) == 1:
        return scan.volumes[0]
    return volume


def _usable(scan: DriveScan, volume: Volume, menu: Menu) -> Found | None:
    """The menu's default entry when its kernel is there (else why not, in the menu)."""
    entry = menu.chosen()
    if entry is None:
        return None
    target = find_root(scan, volume, entry.root)
    if target is None or target.fs is None:
        menu.problems.append(f"{entry.title!r}: its file system ({entry.root}) is absent")
        return None
    if not target.fs.exists(entry.kernel):
        menu.problems.append(f"{entry.title!r}: {entry.kernel} is not there")
        return None
    return Found(entry, menu, volume, target)


def everywhere(volume: Volume) -> bool:
    return True


def choose(scan: DriveScan, wanted: Callable[[Volume], bool] = everywhere) -> Found | None:
    """The first menu, in partition order, with a bootable default, searching the ``wanted``
    volumes only (GRUB's ``search`` still reaches the others); ``scan.menus`` keeps all."""
    for volume in scan.volumes:
        if not wanted(volume):
            continue
        for menu in menus_of(scan, volume):
            scan.menus.append((volume, menu))
            found = _usable(scan, volume, menu)
            if found is not None:
                return found
    return None


def choose_file(
    scan: DriveScan, filename: str, wanted: Callable[[Volume], bool] = everywhere
) -> Found | None:
    """``sanboot --filename``: the first ``wanted`` volume holding ``filename`` (``\\`` read
    as ``/``) decides, through ``menu_of_file``."""
    path = "/" + "/".join(p for p in filename.replace("\\", "/").split("/") if p)
    for volume in scan.volumes:
        if not wanted(volume):
            continue
        menu = menu_of_file(scan, volume, path)
        if menu is None:
            continue
        scan.menus.append((volume, menu))
        return _usable(scan, volume, menu)
    scan.problems.append(f"no file system has {path}")
    return None


# -- the local drives --------------------------------------------------------------------------

_ORDER = ("nvme", "sd", "vd", "xvd", "hd", "mmcblk")


def local_drives(sysfs: Path, configured: tuple[str, ...]) -> list[str]:
    """The local drives in drive order (``0x80`` first)."""
    if configured:
        return list(configured)
    try:
        names = os.listdir(sysfs / "block")
    except OSError:
        return []
    disks = []
    for name in names:
        if name.startswith(SKIPPED_DISKS):
            continue
        if not fnmatch.fnmatch(name, "*[a-z0-9]"):
            continue
        rank = next((i for i, p in enumerate(_ORDER) if name.startswith(p)), len(_ORDER))
        disks.append((rank, len(name), name))
    return [f"/dev/{name}" for _, _, name in sorted(disks)]
