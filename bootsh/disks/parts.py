"""MBR and GPT partition tables, read by bootsh (the kernel's partition support may be absent,
as on this project's CI kernel, and a disk image has no kernel partitions anyway).

GPT (UEFI 2.10 section 5.3): the header at LBA 1 (``EFI PART``), its entry array (at most
``MAX_GPT_ENTRIES`` entries of at least 128 bytes), entries with a non-zero type GUID. The
header's CRC is checked; a bad one falls back to the backup header at the last LBA. A
protective MBR (type 0xEE) says "read the GPT". MBR: four primary entries, and the logical
partitions of an extended one (0x05, 0x0F, 0x85) by following its chain of EBRs, at most
``MAX_LOGICAL`` links, each inside the extended partition (a loop in a hostile chain ends).
Partitions numbered as Linux numbers them: primaries 1-4, logicals from 5.

Sectors are 512 bytes (4K-native disks put GPT at byte 4096: tried second).
"""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Callable

from bootsh.records import dataclass

MAX_GPT_ENTRIES = 1024
MAX_LOGICAL = 128

ESP_GUID = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
XBOOTLDR_GUID = "bc13c2ff-59e6-4262-a352-b275fd6f7172"
BIOS_BOOT_GUID = "21686148-6449-6e6f-744e-656564454649"
LVM_GUID = "e6d6d379-f507-44c2-a23c-238f2a3df928"
RAID_GUID = "a19d880f-05fc-4d3b-a006-743f0f84911e"
SWAP_GUID = "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f"
EXTENDED_TYPES = (0x05, 0x0F, 0x85)
BOOT_SECTOR_OEMS = (b"MSWIN4.1", b"mkfs.fat", b"MSDOS5.0", b"NTFS    ", b"EXFAT   ")

Reader = Callable[[int, int], bytes]


@dataclass(frozen=True)
class Partition:
    number: int
    start: int  # bytes
    size: int  # bytes
    type: str  # GPT type GUID, or the MBR type as "0x83"
    name: str = ""
    uuid: str = ""
    bootable: bool = False

    @property
    def esp(self) -> bool:
        return self.type in (ESP_GUID, "0xef")

    @property
    def skip_reason(self) -> str | None:
        """Why this partition cannot hold a file system bootsh reads, if it cannot."""
        if self.type in (BIOS_BOOT_GUID,):
            return "BIOS boot partition"
        if self.type in (LVM_GUID, "0x8e"):
            return "LVM physical volume (LVM is not supported)"
        if self.type in (RAID_GUID, "0xfd"):
            return "RAID member (md RAID is not supported)"
        if self.type in (SWAP_GUID, "0x82"):
            return "swap"
        return None


@dataclass(frozen=True)
class Table:
    kind: str  # "gpt", "mbr" or "none"
    partitions: tuple[Partition, ...]
    problems: tuple[str, ...] = ()


def _guid(raw: bytes) -> str:
    return str(uuid.UUID(bytes_le=raw))


def _gpt_at(read: Reader, lba: int, sector: int, disk_size: int) -> Table | None:
    header = read(lba * sector, 512)
    if len(header) < 92 or header[:8] != b"EFI PART":
        return None
    size = struct.unpack_from("<I", header, 12)[0]
    if not 92 <= size <= 512:
        return None
    crc = struct.unpack_from("<I", header, 16)[0]
    check = header[:16] + b"\0\0\0\0" + header[20:size]
    if zlib.crc32(check) & 0xFFFFFFFF != crc:
        return None
    entries_lba, count, entry_size = struct.unpack_from("<QII", header, 72)
    if entry_size < 128 or entry_size > 4096 or entry_size % 8:
        return None
    count = min(count, MAX_GPT_ENTRIES)
    array = read(entries_lba * sector, count * entry_size)
    partitions: list[Partition] = []
    problems: list[str] = []
    for i in range(len(array) // entry_size):
        raw = array[i * entry_size : (i + 1) * entry_size]
        if raw[:16] == b"\0" * 16:
            continue
        first, last = struct.unpack_from("<QQ", raw, 32)
        if last < first or first * sector >= disk_size:
            problems.append(f"GPT entry {i + 1}: sectors {first}-{last} are not on the disk")
            continue
        name = raw[56:128].decode("utf-16-le", "replace").split("\0", 1)[0]
        start = first * sector
        length = min((last - first + 1) * sector, disk_size - start)
        partitions.append(Partition(i + 1, start, length, _guid(raw[:16]), name, _guid(raw[16:32])))
    return Table("gpt", tuple(partitions), tuple(problems))


def _mbr(read: Reader, mbr: bytes, disk_size: int) -> Table:
    partitions: list[Partition] = []
    problems: list[str] = []
    extended: tuple[int, int] | None = None
    for i in range(4):
        raw = mbr[446 + 16 * i : 446 + 16 * (i + 1)]
        kind = raw[4]
        first, count = struct.unpack_from("<II", raw, 8)
        if kind == 0 or count == 0:
            continue
        if first * 512 >= disk_size:
            problems.append(f"MBR entry {i + 1}: starts beyond the end of the disk")
            continue
        if kind in EXTENDED_TYPES:
            extended = (first, count)
            continue
        start = first * 512
        partitions.append(
            Partition(
                i + 1,
                start,
                min(count * 512, disk_size - start),
                f"0x{kind:02x}",
                bootable=raw[0] == 0x80,
            )
        )
    if extended is not None:
        base, length = extended
        ebr = base
        seen: set[int] = set()
        number = 5
        for _ in range(MAX_LOGICAL):
            if ebr in seen or not base <= ebr < base + length or ebr * 512 >= disk_size:
                break
            seen.add(ebr)
            block = read(ebr * 512, 512)
            if len(block) < 512 or block[510:512] != b"\x55\xaa":
                problems.append(f"extended partition: no EBR at sector {ebr}")
                break
            kind = block[446 + 4]
            first, count = struct.unpack_from("<II", block, 446 + 8)
            if kind and count and (ebr + first) * 512 < disk_size:
                start = (ebr + first) * 512
                partitions.append(
                    Partition(number, start, min(count * 512, disk_size - start), f"0x{kind:02x}")
                )
                number += 1
            next_first = struct.unpack_from("<I", block, 446 + 16 + 8)[0]
            if not next_first:
                break
            ebr = base + next_first
    return Table("mbr", tuple(partitions), tuple(problems))


def read_table(read: Reader, disk_size: int) -> Table:
    """The partition table of a disk of ``disk_size`` bytes; ``none`` when it has none."""
    mbr = read(0, 512)
    has_mbr = len(mbr) == 512 and mbr[510:512] == b"\x55\xaa"
    protective = has_mbr and any(mbr[446 + 16 * i + 4] == 0xEE for i in range(4))
    for sector in (512, 4096):
        table = _gpt_at(read, 1, sector, disk_size)
        if table is None and disk_size >= 2 * sector:
            table = _gpt_at(read, disk_size // sector - 1, sector, disk_size)
        if table is not None:
            return table
    if protective:
        return Table("gpt", (), ("protective MBR but no valid GPT header",))
    # A FAT or NTFS boot sector also ends in 55 AA: its "partition entries" are code. A real
    # MBR's entries have status 0x00 or 0x80.
    if (
        has_mbr
        and all(mbr[446 + 16 * i] in (0, 0x80) for i in range(4))
        and mbr[3:11] not in BOOT_SECTOR_OEMS
    ):
        table = _mbr(read, mbr, disk_size)
        if table.partitions or table.problems:
            return table
    return Table("none", ())
