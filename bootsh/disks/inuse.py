"""Is a drive in use by the running system? A disk that is not must be the only kind bootsh opens.

``sanboot`` reads a local drive by attaching read-only loop devices to its partitions and
mounting them read-only. On a disk the running system uses, that would mount a live file
system a second time (through another block device: the kernel cannot tell) and read it while
it changes; on a test machine it would be the machine's own disk. So a drive is refused when
anything of it is in use:

* the drive itself, any of its partitions, or anything built on them (``holders/`` in sysfs:
  device-mapper, md), recursively;
* any loop device whose backing file is the drive or one of the above (a disk image file is
  "in use" when a loop device over it is), and for a loop device, what it shows (its backing
  device, and every other loop device over the same file);

is mounted (``/proc/self/mountinfo``: the device number, and the source for btrfs, whose
mounts carry an anonymous device number) or is active swap (``/proc/swaps``). The answer is
one line naming the device and where it is mounted.

Only the kernel's state is read (sysfs, procfs, ``stat``); nothing is opened for writing.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from bootsh.lang.files import PROC_TABLE_SIZE, read_text_bounded

DevNum = tuple[int, int]
#: What a path is: ("blk", its device number) or ("file", (st_dev, st_ino)).
Identity = tuple[str, tuple[int, int]]
#: Stop following partitions, holders and loops after this many devices (a hostile or odd
#: sysfs cannot make the walk long).
MAX_DEVICES = 4096


def _devnum_of_text(text: str) -> DevNum | None:
    major, _, minor = text.strip().partition(":")
    try:
        return int(major), int(minor)
    except ValueError:
        return None


def _rdev(path: str) -> DevNum | None:
    """The device number of block device ``path``, or None."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISBLK(st.st_mode):
        return None
    return os.major(st.st_rdev), os.minor(st.st_rdev)


def _read(path: Path) -> str | None:
    try:
        return read_text_bounded(path, PROC_TABLE_SIZE)  # bounded, never waiting on a FIFO
    except OSError:
        return None


def _children(sysfs: Path, dev: DevNum) -> list[DevNum]:
    """Partitions of ``dev`` and the devices holding it (dm, md), from sysfs."""
    base = sysfs / "dev" / "block" / f"{dev[0]}:{dev[1]}"
    out: list[DevNum] = []
    with contextlib.suppress(OSError):
        for child in base.iterdir():
            if (child / "partition").exists():
                text = _read(child / "dev")
                found = _devnum_of_text(text) if text else None
                if found is not None:
                    out.append(found)
    with contextlib.suppress(OSError):
        for holder in (base / "holders").iterdir():
            text = _read(sysfs / "class" / "block" / holder.name / "dev")
            found = _devnum_of_text(text) if text else None
            if found is not None:
                out.append(found)
    return out


def _loops(sysfs: Path) -> list[tuple[DevNum, str]]:
    """Every attached loop device: (its number, its backing file's path)."""
    out: list[tuple[DevNum, str]] = []
    with contextlib.suppress(OSError):
        for entry in (sysfs / "block").iterdir():
            if not entry.name.startswith("loop"):
                continue
            backing = _read(entry / "loop" / "backing_file")
            text = _read(entry / "dev")
            dev = _devnum_of_text(text) if text else None
            if backing and dev is not None:
                out.append((dev, backing.rstrip("\n").removesuffix(" (deleted)")))
    return out


def _identity(path: str) -> Identity | None:
    """What a loop device's backing file is: a block device number or a (dev, inode) pair."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if stat.S_ISBLK(st.st_mode):
        return "blk", (os.major(st.st_rdev), os.minor(st.st_rdev))
    return "file", (st.st_dev, st.st_ino)


def related_devices(path: str, sysfs: Path = Path("/sys")) -> set[DevNum]:
    """The block devices through which the drive ``path`` (device or image file) is reachable.

    From the drive: its partitions and holders; the loop devices over it; for a loop device,
    what it is a view of (its backing device, or the other loop devices over the same file).
    """
    over: dict[Identity, list[DevNum]] = {}
    backing_of: dict[DevNum, Identity] = {}
    for dev, backing in _loops(sysfs):
        ident = _identity(backing)
        if ident is not None:
            over.setdefault(ident, []).append(dev)
            backing_of[dev] = ident
    start = _identity(path)
    if start is None:
        return set()
    todo: list[DevNum] = []
    if start[0] == "blk":
        todo.append(start[1])
    todo.extend(over.get(start, []))
    seen: set[DevNum] = set()
    while todo and len(seen) < MAX_DEVICES:
        dev = todo.pop()
        if dev in seen:
            continue
        seen.add(dev)
        todo.extend(_children(sysfs, dev))
        todo.extend(over.get(("blk", dev), []))
        ident = backing_of.get(dev)
        if ident is not None:
            todo.extend(over.get(ident, []))
            if ident[0] == "blk":
                todo.append(ident[1])
    return seen


def _unescape(field: str) -> str:
    """mountinfo's octal escapes (``\\040`` for a space)."""
    out = ""
    i = 0
    while i < len(field):
        code = field[i + 1 : i + 4]
        if field[i] == "\\" and len(code) == 3 and all(c in "01234567" for c in code):
            out += chr(int(code, 8))
            i += 4
        else:
            out += field[i]
            i += 1
    return out


def in_use(path: str, sysfs: Path = Path("/sys"), proc: Path = Path("/proc")) -> str | None:
    """Why drive ``path`` is in use by this system (one line), or None when it is not."""
    devices = related_devices(path, sysfs)
    if not devices:
        return None
    for line in (_read(proc / "self" / "mountinfo") or "").splitlines():
        fields = line.split()
        if len(fields) < 10 or "-" not in fields[6:]:
            continue
        dash = fields.index("-", 6)
        mountpoint = _unescape(fields[4])
        source = _unescape(fields[dash + 2]) if len(fields) > dash + 2 else ""
        dev = _devnum_of_text(fields[2])
        if dev in devices or (source.startswith("/dev/") and _rdev(source) in devices):
            return f"{source or fields[2]} is mounted on {mountpoint}"
    for line in (_read(proc / "swaps") or "").splitlines()[1:]:
        fields = line.split()
        if fields and _rdev(_unescape(fields[0])) in devices:
            return f"{_unescape(fields[0])} is in use as swap"
    return None
