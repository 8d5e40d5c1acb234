"""Kernel modules for the initramfs: found by name in a module tree or a ``linux-image`` .deb,
with their dependencies and load order read from the modules themselves.

A module tree is ``/lib/modules/VERSION`` (or a directory holding ``lib/modules/VERSION``); a
Debian ``linux-image-*`` package is read directly (an ``ar`` archive whose ``data.tar.*`` holds
``lib/modules/VERSION/``: it ships no ``modules.dep``, which depmod writes at install time).
Dependencies come from each module's ``.modinfo`` ELF section (``depends=``, what depmod itself
reads), so no list is kept by hand; the load order puts every module after what it depends on.
Modules listed in ``modules.builtin`` are part of the kernel and need nothing.

Each included module goes to ``lib/modules/VERSION/<its path>`` (decompressed: ``.ko.xz``,
``.ko.gz`` and ``.ko.zst`` become ``.ko``, so ``/init`` needs no decompressor) and the index
``lib/modules/VERSION/bootsh-modules.json`` lists them in load order with their dependencies and
their ``alias=`` patterns, which ``/init`` matches against the devices' modaliases.
"""

from __future__ import annotations

import fnmatch
import gzip
import io
import json
import lzma
import re
import shutil
import struct
import subprocess
import tarfile
from collections.abc import Iterable
from pathlib import Path

from bootsh.errors import BootshError
from bootsh.initramfs.cpio import Archive
from bootsh.records import dataclass, field

INDEX_NAME = "bootsh-modules.json"
_SUFFIXES = (".ko", ".ko.xz", ".ko.gz", ".ko.zst")
_MODULES_PATH = re.compile(r"^(?:\./)?(?:usr/)?lib/modules/([^/]+)/(.+)$")


class ModuleError(BootshError):
    """A module source or a module that cannot be used (names the file and the reason)."""


def module_name(path: str) -> str:
    """``kernel/drivers/net/xen-netfront.ko`` → ``xen_netfront`` (modprobe's normalisation)."""
    base = path.rsplit("/", 1)[-1]
    for suffix in _SUFFIXES:
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return base.replace("-", "_")


def _decompress(data: bytes, path: str) -> bytes:
    try:
        if path.endswith(".xz"):
            return lzma.decompress(data)
        if path.endswith(".gz"):
            return gzip.decompress(data)
    except (lzma.LZMAError, OSError, EOFError) as exc:
        raise ModuleError(f"{path}: cannot decompress: {exc}") from None
    if path.endswith(".zst"):
        return _zstd(["-d", "-c"], data, path)
    return data


def _zstd(args: list[str], data: bytes, what: str) -> bytes:
    tool = shutil.which("zstd")
    if tool is None:
        raise ModuleError(f"{what}: needs the zstd program (Debian's zstd package)")
    proc = subprocess.run([tool, "-q", *args], input=data, capture_output=True, check=False)
    if proc.returncode != 0:
        raise ModuleError(f"{what}: zstd failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


def modinfo(data: bytes, what: str) -> dict[str, list[str]]:
    """The ``key=value`` strings of an ELF object's ``.modinfo`` section, by key."""
    if data[:4] != b"\x7fELF" or len(data) < 64:
        raise ModuleError(f"{what}: not an ELF object")
    if data[4] != 2 or data[5] != 1:
        raise ModuleError(f"{what}: not a 64-bit little-endian module")
    try:
        shoff = struct.unpack_from("<Q", data, 0x28)[0]
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
        sections = [
            struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)
        ]
        strtab = sections[shstrndx][4]
        for name_off, _type, _flags, _addr, offset, size in sections:
            end = data.index(b"\0", strtab + name_off)
            if data[strtab + name_off : end] == b".modinfo":
                info: dict[str, list[str]] = {}
                for item in data[offset : offset + size].split(b"\0"):
                    key, sep, value = item.decode("utf-8", "replace").partition("=")
                    if sep:
                        info.setdefault(key, []).append(value)
                return info
    except (struct.error, IndexError, ValueError):
        raise ModuleError(f"{what}: damaged ELF section table") from None
    raise ModuleError(f"{what}: no .modinfo section (not a kernel module)")


@dataclass
class ModuleTree:
    """The modules of one kernel version: ``files`` maps a path relative to
    ``lib/modules/VERSION`` to a function returning its (compressed as stored) bytes."""

    version: str
    files: dict[str, bytes] = field(default_factory=dict)
    builtin: frozenset[str] = frozenset()

    def by_name(self) -> dict[str, str]:
        return {module_name(p): p for p in sorted(self.files) if p.endswith(_SUFFIXES)}

    @classmethod
    def from_directory(cls, root: Path) -> ModuleTree:
        """``root`` is ``lib/modules/VERSION``, or a directory with exactly one such tree."""
        root = root.resolve()
        if not root.is_dir():
            raise ModuleError(f"{root}: no such directory")
        if not (root / "kernel").is_dir():
            candidates = sorted((root / "lib" / "modules").glob("*/kernel"))
            candidates += sorted((root / "usr" / "lib" / "modules").glob("*/kernel"))
            if len(candidates) != 1:
                raise ModuleError(
                    f"{root}: not a module tree (no kernel/ here, and "
                    f"{len(candidates)} lib/modules/VERSION/kernel below)"
                )
            root = candidates[0].parent
        tree = cls(root.name)
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root).as_posix()
            if path.is_file() and rel.endswith(_SUFFIXES):
                tree.files[rel] = path.read_bytes()
        tree.builtin = _builtin((root / "modules.builtin").read_text()
                                if (root / "modules.builtin").exists() else "")  # fmt: skip
        return tree

    @classmethod
    def from_deb(cls, deb: Path) -> ModuleTree:
        """The modules of a ``linux-image-*`` package, read without dpkg."""
        try:
            data_name, payload = _deb_data(deb.read_bytes())
        except OSError as exc:
            raise ModuleError(f"{deb}: {exc.strerror}") from None
        except ModuleError as exc:
            raise ModuleError(f"{deb}: {exc}") from None
        if data_name.endswith(".zst"):
            payload = _zstd(["-d", "-c"], payload, str(deb))
            data_name = data_name[:-4]
        versions: set[str] = set()
        files: dict[str, bytes] = {}
        builtin = ""
        try:
            with tarfile.open(fileobj=io.BytesIO(payload), mode="r:*") as tar:
                for member in tar:
                    match = _MODULES_PATH.match(member.name)
                    if not match or not member.isfile():
                        continue
                    versions.add(match[1])
                    rel = match[2]
                    if rel.endswith(_SUFFIXES) or rel == "modules.builtin":
                        extracted = tar.extractfile(member)
                        assert extracted is not None  # a regular file
                        content = extracted.read()
                        if rel == "modules.builtin":
                            builtin = content.decode()
                        else:
                            files[rel] = content
        except (tarfile.TarError, lzma.LZMAError, EOFError) as exc:
            raise ModuleError(f"{deb}: damaged {data_name}: {exc}") from None
        if len(versions) != 1:
            raise ModuleError(
                f"{deb}: {'no' if not versions else len(versions)} kernel module trees "
                "(lib/modules/VERSION) in it: is it a linux-image package?"
            )
        return cls(versions.pop(), files, _builtin(builtin))


def _builtin(text: str) -> frozenset[str]:
    return frozenset(module_name(line.strip()) for line in text.splitlines() if line.strip())


def _deb_data(raw: bytes) -> tuple[str, bytes]:
    """The ``data.tar.*`` member of a .deb (an ``ar`` archive)."""
    if not raw.startswith(b"!<arch>\n"):
        raise ModuleError("not a Debian package (no ar archive)")
    pos = 8
    while pos + 60 <= len(raw):
        header = raw[pos : pos + 60]
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError:
            raise ModuleError("damaged ar header") from None
        body = raw[pos + 60 : pos + 60 + size]
        if name.startswith("data.tar"):
            return name, body
        pos += 60 + size + (size & 1)
    raise ModuleError("no data.tar member")


@dataclass(frozen=True)
class Module:
    name: str
    path: str  # relative to lib/modules/VERSION, as stored in the image (.ko)
    depends: tuple[str, ...]
    aliases: tuple[str, ...]
    data: bytes


def resolve(
    tree: ModuleTree, requests: Iterable[str], *, missing_ok: bool = False
) -> tuple[list[Module], list[str]]:
    """The modules ``requests`` name, with everything they depend on, in load order (each after
    its dependencies); and notes for requests that are built into the kernel.

    A request is a module name (``virtio_net``, ``xen-netfront``) or, when it holds a ``/`` or
    a wildcard, a pattern matched against the paths below ``kernel/`` (``drivers/net/*``).
    With ``missing_ok`` (the default set), a request this kernel has no module for is skipped.
    """
    names = tree.by_name()
    notes: list[str] = []
    roots: list[str] = []
    for request in requests:
        if "/" in request or any(c in request for c in "*?["):
            pattern = request if request.startswith("kernel/") else f"kernel/{request}"
            matched = [n for n, p in names.items() if fnmatch.fnmatchcase(p, pattern)
                       or fnmatch.fnmatchcase(p, pattern + "/*")]  # fmt: skip
            if not matched and not missing_ok:
                raise ModuleError(f"no module of kernel {tree.version} matches {request!r}")
            roots += sorted(matched)
            continue
        name = module_name(request)
        if name in names:
            roots.append(name)
        elif name in tree.builtin:
            if not missing_ok:
                notes.append(f"{request} is built into kernel {tree.version}: nothing to add")
        elif not missing_ok:
            raise ModuleError(f"kernel {tree.version} has no module {request!r}")
    order: list[Module] = []
    done: set[str] = set()
    active: list[str] = []

    def visit(name: str) -> None:
        if name in done:
            return
        if name in active:
            raise ModuleError(f"modules depend on each other in a circle: {' -> '.join(active)}")
        path = names.get(name)
        if path is None:
            if name in tree.builtin:
                return
            raise ModuleError(f"kernel {tree.version} has no module {name!r} (a dependency)")
        data = _decompress(tree.files[path], path)
        info = modinfo(data, path)
        depends = tuple(d for d in ",".join(info.get("depends", [])).split(",") if d)
        active.append(name)
        for dep in depends:
            visit(module_name(dep))
        active.pop()
        done.add(name)
        stored = path
        for suffix in (".xz", ".gz", ".zst"):
            stored = stored.removesuffix(suffix)
        order.append(Module(name, stored, depends, tuple(info.get("alias", [])), data))

    for root in roots:
        visit(root)
    return order, notes


def add_modules(archive: Archive, tree: ModuleTree, modules: list[Module]) -> int:
    """The modules and their index into the image; returns the bytes added."""
    base = f"usr/lib/modules/{tree.version}"  # /lib is a symlink to usr/lib in the image
    size = 0
    for module in modules:
        archive.file(f"{base}/{module.path}", module.data)
        size += len(module.data)
    index = {
        "kernel": tree.version,
        "modules": [
            {"name": m.name, "path": m.path, "depends": list(m.depends), "aliases": list(m.aliases)}
            for m in modules
        ],
    }
    text = json.dumps(index, indent=1, sort_keys=True).encode() + b"\n"
    archive.file(f"{base}/{INDEX_NAME}", text)
    return size + len(text)
