"""Disk images made with the real tools, as the sanboot tests need them: file systems built
from a directory tree without mounting (``mkfs.ext4 -d``, ``mkfs.vfat`` + mtools), laid
into GPT (``sgdisk``) or MBR (``sfdisk``) disks, and ISOs made with ``xorriso``; plus a loop
device that is always detached. Nothing here needs the kernel's vfat, iso9660 or partition
support (the CI kernel has none of them)."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from tests.initrd import kernel, newc

MIB = 1 << 20
Tree = Mapping[str, bytes | Path]


def need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"missing {', '.join(missing)} (run .ci/install-disks.sh)")


def run(*argv: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"{argv}: {proc.stderr}"


def initrd_bytes(tag: str) -> bytes:
    return newc({"init": b"#!/bin/sh\necho " + tag.encode() + b"\n"})


def _populate(root: Path, tree: Tree) -> None:
    for name, content in tree.items():
        path = root / name.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copyfile(content, path)
        else:
            path.write_bytes(content)


def ext4(work: Path, name: str, tree: Tree, *, size_mib: int = 48, label: str = "",
         uuid: str | None = None) -> Path:  # fmt: skip
    need("mkfs.ext4")
    src = work / f"{name}.d"
    src.mkdir()
    _populate(src, tree)
    image = work / f"{name}.ext4"
    argv = ["mkfs.ext4", "-q", "-F", "-E", "root_owner=0:0", "-d", str(src)]
    if label:
        argv += ["-L", label]
    if uuid:
        argv += ["-U", uuid]
    run(*argv, str(image), f"{size_mib}M")
    return image


def fat(work: Path, name: str, tree: Tree, *, size_mib: int = 34, label: str = "ESP") -> Path:
    need("mkfs.vfat", "mcopy", "mmd")
    image = work / f"{name}.vfat"
    run("mkfs.vfat", "-F", "32", "-n", label, "-C", str(image), str(size_mib * 1024))
    src = work / f"{name}.d"
    src.mkdir()
    _populate(src, tree)
    for child in sorted(src.iterdir()):
        run("mcopy", "-s", "-i", str(image), str(child), "::/")
    return image


def gpt_disk(path: Path, parts: list[tuple[str, Path, str]]) -> Path:
    """A GPT disk of ``parts`` (sgdisk type code, file system image, partition name)."""
    need("sgdisk")
    total = 2 * MIB + sum((p.stat().st_size + MIB - 1) // MIB * MIB for _, p, _ in parts)
    with path.open("wb") as f:
        f.truncate(total + 2 * MIB)
    argv = ["sgdisk", "-Z", str(path)]
    run(*argv)
    argv = ["sgdisk"]
    for i, (code, image, name) in enumerate(parts, 1):
        size_kib = (image.stat().st_size + MIB - 1) // MIB * 1024
        argv += ["-n", f"{i}:0:+{size_kib}K", "-t", f"{i}:{code}", "-c", f"{i}:{name}"]
    run(*argv, str(path))
    out = subprocess.run(["sgdisk", "-p", str(path)], capture_output=True, text=True, timeout=60)
    starts = {}
    for line in out.stdout.splitlines():
        words = line.split()
        if words and words[0].isdigit() and len(words) > 2:
            starts[int(words[0])] = int(words[1]) * 512
    for i, (_, image, _) in enumerate(parts, 1):
        run("dd", f"if={image}", f"of={path}", "bs=1M", f"seek={starts[i]}", "oflag=seek_bytes",
            "conv=notrunc", "status=none")  # fmt: skip
    return path


def mbr_disk(path: Path, parts: list[tuple[str, Path]]) -> Path:
    """An MBR disk (``sfdisk``) of ``parts`` (type hex like ``83``, file system image)."""
    need("sfdisk")
    total = MIB + sum((p.stat().st_size + MIB - 1) // MIB * MIB for _, p in parts)
    with path.open("wb") as f:
        f.truncate(total + MIB)
    script = "label: dos\n"
    start = 2048
    starts = []
    for kind, image in parts:
        sectors = (image.stat().st_size + MIB - 1) // MIB * 2048
        script += f"start={start}, size={sectors}, type={kind}\n"
        starts.append(start * 512)
        start += sectors
    proc = subprocess.run(["sfdisk", "-q", str(path)], input=script, capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for (_, image), offset in zip(parts, starts, strict=True):
        run("dd", f"if={image}", f"of={path}", "bs=1M", f"seek={offset}", "oflag=seek_bytes",
            "conv=notrunc", "status=none")  # fmt: skip
    return path


def iso(
    work: Path, name: str, tree: Tree, *, isolinux: bool = False, label: str = "BOOTSH"
) -> Path:
    """An ISO 9660 image (Rock Ridge) of ``tree``; with ``isolinux`` a BIOS El Torito image."""
    need("xorriso")
    src = work / f"{name}.iso.d"
    src.mkdir()
    _populate(src, tree)
    image = work / f"{name}.iso"
    argv = ["xorriso", "-as", "mkisofs", "-quiet", "-R", "-J", "-V", label, "-o", str(image)]
    if isolinux:
        (src / "isolinux").mkdir(exist_ok=True)
        shutil.copyfile("/usr/lib/ISOLINUX/isolinux.bin", src / "isolinux" / "isolinux.bin")
        shutil.copyfile(
            "/usr/lib/syslinux/modules/bios/ldlinux.c32", src / "isolinux" / "ldlinux.c32"
        )
        argv += ["-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat", "-no-emul-boot",
                 "-boot-load-size", "4", "-boot-info-table"]  # fmt: skip
    run(*argv, str(src))
    return image


@contextlib.contextmanager
def loop_device(image: Path | str, *, offset: int = 0, size: int = 0) -> Iterator[str]:
    """``image`` (or ``size`` bytes of it at ``offset``) as a real read-only block device,
    detached whatever happens."""
    need("losetup")
    argv = ["losetup", "--find", "--show", "--read-only", "--offset", str(offset)]
    if size:
        argv += ["--sizelimit", str(size)]
    proc = subprocess.run([*argv, str(image)], capture_output=True, text=True, timeout=60,
                          check=False)  # fmt: skip
    if proc.returncode != 0:
        pytest.skip(f"no loop device: {proc.stderr.strip()}")
    device = proc.stdout.strip()
    try:
        yield device
    finally:
        subprocess.run(["losetup", "-d", device], capture_output=True, timeout=60, check=False)


def partitions(disk: Path) -> list[tuple[int, int]]:
    """(byte offset, byte size) of each partition of ``disk``, as ``sfdisk --json`` reads them."""
    need("sfdisk")
    proc = subprocess.run(["sfdisk", "--json", str(disk)], capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    table = json.loads(proc.stdout)["partitiontable"]
    sector = int(table.get("sectorsize", 512))
    return [(p["start"] * sector, p["size"] * sector) for p in table["partitions"]]


@contextlib.contextmanager
def mounted(image: Path | str, offset: int, size: int) -> Iterator[tuple[str, Path]]:
    """The ext4 at ``offset`` in ``image`` mounted read-only through a loop device of its own,
    as the running system would have it; (loop device, mount point); undone whatever happens."""
    with loop_device(image, offset=offset, size=size) as device:
        point = Path(tempfile.mkdtemp(prefix="test-mounted-"))
        try:
            run("mount", "-t", "ext4", "-o", "ro,noload", device, str(point))
            try:
                yield device, point
            finally:
                run("umount", str(point))
        finally:
            point.rmdir()


def kernel_path() -> Path:
    return kernel()
