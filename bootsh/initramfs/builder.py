"""``bootsh initramfs``: write a bootable initramfs that runs bootsh as PID 1.

What goes in (see :mod:`bootsh.initramfs.python` and :mod:`bootsh.initramfs.modules`): the
running interpreter and its libraries, the standard library bootsh can use (byte code only),
bootsh, its dependencies and every installed bootsh plugin, the kernel modules asked for with
their dependencies, an optional embedded boot script (``/etc/bootsh/boot.ipxe``), extra files,
``/dev/console`` and ``/dev/null`` (the kernel opens the console for PID 1 before any devtmpfs
exists), and ``/init`` (:mod:`bootsh.initramfs.init`). The archive is a newc cpio, compressed
with zstd (the ``zstd`` program), gzip (Python's, with no name and mtime 0) or not at all.

Reproducible: the same inputs give the same bytes. Members are sorted, owned by root, with one
mtime (``--mtime``, else ``$SOURCE_DATE_EPOCH``, else 0); byte code is hash-based; the
compressors are deterministic for a given version and level.
"""

from __future__ import annotations

import argparse
import fnmatch
import gzip
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from bootsh.errors import BootshError
from bootsh.initramfs import init as init_module
from bootsh.initramfs.cpio import Archive, CpioError, mode_of
from bootsh.initramfs.modules import Module, ModuleError, ModuleTree, add_modules, resolve
from bootsh.initramfs.python import PayloadError, Report, add_python
from bootsh.lang.script import has_magic, parse_script
from bootsh.records import dataclass, field

COMPRESSIONS = ("zstd", "gzip", "none")
SUFFIXES = {"zstd": ".cpio.zst", "gzip": ".cpio.gz", "none": ".cpio"}
#: zstd's level: -19 costs several times the time of -12 for a few percent on this payload.
ZSTD_LEVEL = 12
EMBEDDED_SCRIPT = "etc/bootsh/boot.ipxe"
#: With a module source and no --module: the NIC drivers a VM or cloud machine may need (each
#: only if this kernel has it as a module), with the virtio-pci transport under virtio-net.
DEFAULT_MODULES = (
    "virtio_pci",
    "virtio_net",
    "xen-netfront",
    "vmxnet3",
    "hv_netvsc",
    "e1000",
    "e1000e",
    "8139cp",
    "8139too",
    "ne2k-pci",
    "pcnet32",
    "drivers/net/ethernet/*",
)


#: Left out unless --no-default-excludes: scapy's contributed protocols and its test tools
#: (bootsh uses scapy's DHCP dissector only, for ``-v``).
DEFAULT_EXCLUDES = (
    "usr/lib/python3*/site-packages/scapy/contrib/*",
    "usr/lib/python3*/site-packages/scapy/tools/*",
)


class BuildError(BootshError):
    """The build cannot go on; the message names the input at fault."""


@dataclass
class BuildOptions:
    output: Path
    compression: str = "zstd"
    kernel_deb: Path | None = None
    modules_dir: Path | None = None
    modules: list[str] = field(default_factory=list)
    script: Path | None = None
    extra: list[tuple[Path, str]] = field(default_factory=list)
    console: str = "auto"
    strip: bool = True
    excludes: list[str] = field(default_factory=list)
    mtime: int = 0


@dataclass
class BuildResult:
    output: Path
    compressed: int
    uncompressed: int
    files: int
    report: Report
    kernel: str | None = None
    modules: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        mib = 1024 * 1024
        out = [
            f"wrote {self.output}: {self.compressed / mib:.1f} MiB compressed, "
            f"{self.uncompressed / mib:.1f} MiB as cpio, {self.files} files"
        ]
        for part, size in sorted(self.report.parts.items()):
            out.append(f"  {part}: {size / mib:.1f} MiB")
        out.append(f"  distributions: {', '.join(self.report.distributions)}")
        if self.kernel is not None:
            modules = " ".join(self.modules) or "none"
            out.append(f"  kernel {self.kernel} modules (load order): {modules}")
        out.extend(f"  note: {note}" for note in self.notes)
        return out


def part_of(path: str) -> str:
    """Which part of the image a member belongs to, for the size report."""
    if path.startswith("usr/lib/modules/"):
        return "kernel modules"
    if re.match(r"usr/lib/python3\.\d+/site-packages/", path):
        return "site-packages (bootsh, dependencies, plugins)"
    if re.match(r"usr/lib/python3\.\d+/lib-dynload/", path):
        return "extension modules"
    if re.match(r"usr/lib/python3\.\d+/", path):
        return "standard library"
    if path.startswith(("usr/bin/", "usr/lib/", "usr/lib64/")):
        return "interpreter and libraries"
    return "other"


def _module_tree(options: BuildOptions) -> ModuleTree | None:
    if options.kernel_deb is not None:
        return ModuleTree.from_deb(options.kernel_deb)
    if options.modules_dir is not None:
        return ModuleTree.from_directory(options.modules_dir)
    return None


def _init_source() -> bytes:
    source = Path(init_module.__file__).read_bytes()
    return b"#!/usr/bin/python3 -I\n" + source


#: The image is merged-/usr, as Debian: these top-level names are symlinks into /usr.
MERGED = {"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib", "lib64": "usr/lib64"}


def merged_usr(path: str) -> str:
    """``lib/x`` → ``usr/lib/x``: a path as it is stored, below the merged-/usr symlinks."""
    head, sep, rest = path.partition("/")
    return f"{MERGED[head]}{sep}{rest}" if head in MERGED else path


def _add_extra(archive: Archive, source: Path, target: str) -> None:
    target = merged_usr(target)
    if source.is_dir():
        for path in sorted(source.rglob("*")):
            if path.is_file():
                rel = path.relative_to(source).as_posix()
                archive.file(f"{target}/{rel}", path.read_bytes(), mode_of(path))
    elif source.is_file():
        archive.file(target, source.read_bytes(), mode_of(source))
    else:
        raise BuildError(f"--add {source}: no such file or directory")


def _check_script(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BuildError(f"--script {path}: {exc.strerror}") from None
    text = data.decode("utf-8", "surrogateescape")
    if not has_magic(text):
        raise BuildError(f"--script {path}: no #!ipxe line: not an iPXE script")
    try:
        parse_script(text, str(path))
    except BootshError as exc:
        raise BuildError(f"--script {exc}") from None
    return data


def compress(data: bytes, method: str) -> bytes:
    if method == "none":
        return data
    if method == "gzip":
        out = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=9, mtime=0) as gz:
            gz.write(data)
        return out.getvalue()
    tool = shutil.which("zstd")
    if tool is None:
        raise BuildError("zstd not found: install Debian's zstd, or use --compression gzip")
    proc = subprocess.run(
        [tool, "-q", f"-{ZSTD_LEVEL}", "-T1", "-c", "-"],
        input=data,
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BuildError(f"zstd failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


def build(options: BuildOptions) -> BuildResult:
    """Build the initramfs described by ``options``; ``BuildError`` names what is wrong."""
    archive = Archive()
    report = Report()
    notes: list[str] = []
    script = _check_script(options.script) if options.script else None
    try:
        tree = _module_tree(options)
        modules: list[Module] = []
        if tree is not None:
            requests = options.modules or list(DEFAULT_MODULES)
            modules, notes = resolve(tree, requests, missing_ok=not options.modules)
        elif options.modules:
            raise BuildError("--module needs --kernel-deb or --modules-dir (where modules are)")
        add_python(archive, report, strip=options.strip)
        for directory in ("proc", "sys", "dev", "tmp", "run", "root", "etc/bootsh"):
            archive.directory(directory)
        # Before /init mounts devtmpfs: the console for PID 1's stdio, and urandom for the
        # interpreter's hash seed (getrandom() would block until the kernel's pool is ready).
        archive.chardev("dev/console", 5, 1)
        archive.chardev("dev/null", 1, 3, 0o666)
        archive.chardev("dev/urandom", 1, 9, 0o666)
        archive.file("etc/hosts", b"127.0.0.1 localhost\n")
        archive.file("init", _init_source(), 0o755)
        config: dict[str, object] = {"console": options.console}
        if script is not None:
            archive.file(EMBEDDED_SCRIPT, script)
            config["script"] = "/" + EMBEDDED_SCRIPT
        archive.file("etc/bootsh/init.json", json.dumps(config, sort_keys=True).encode() + b"\n")
        if tree is not None:
            add_modules(archive, tree, modules)
        for source, target in options.extra:
            _add_extra(archive, source, target)
        for pattern in options.excludes:
            for path in [p for p in archive.entries if fnmatch.fnmatchcase(p, pattern.lstrip("/"))]:
                archive.remove(path)
    except (ModuleError, PayloadError, CpioError) as exc:
        raise BuildError(str(exc)) from None
    report.parts = {}
    for entry in archive.entries.values():
        report.add(part_of(entry.path), len(entry.data))
    raw = io.BytesIO()
    archive.write(raw, options.mtime)
    data = compress(raw.getvalue(), options.compression)
    try:
        options.output.parent.mkdir(parents=True, exist_ok=True)
        tmp = options.output.with_name(options.output.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, options.output)
    except OSError as exc:
        raise BuildError(f"cannot write {options.output}: {exc.strerror}") from None
    if report.not_compiled:
        notes.append(f"{len(report.not_compiled)} source files that do not compile left out")
    return BuildResult(
        options.output,
        len(data),
        len(raw.getvalue()),
        sum(1 for e in archive.entries.values() if e.kind == "file"),
        report,
        tree.version if tree is not None else None,
        [m.name for m in modules],
        notes,
    )


# -- command line ------------------------------------------------------------------------------


def _add_option(text: str) -> tuple[Path, str]:
    source, sep, target = text.partition(":")
    if not sep or not source or not target.startswith("/"):
        raise argparse.ArgumentTypeError(f"{text!r} is not SOURCE:/PATH (an absolute image path)")
    return Path(source), target.lstrip("/")


def _console_option(text: str) -> str:
    name = text.removeprefix("/dev/")
    if not name or ("/" in name.strip("/") and not name.startswith("pts/")):
        raise argparse.ArgumentTypeError(f"{text!r} is not a tty name (ttyS0, tty1, hvc0, auto)")
    return name


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o", "--output", type=Path, metavar="FILE",
        help="where to write it (default: bootsh-initramfs.cpio.zst, .gz, .cpio)",
    )  # fmt: skip
    parser.add_argument(
        "--compression", choices=COMPRESSIONS, default="zstd", help="(default %(default)s)"
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--kernel-deb", type=Path, metavar="DEB",
        help="take kernel modules from this linux-image-*.deb (read directly, not installed)",
    )  # fmt: skip
    source.add_argument(
        "--modules-dir", type=Path, metavar="DIR",
        help="take kernel modules from DIR (/lib/modules/VERSION, or a root holding one)",
    )  # fmt: skip
    parser.add_argument(
        "-m", "--module", dest="modules", action="append", default=[], metavar="NAME",
        help="a module to include with its dependencies (repeatable; a name, or a path pattern"
        " below kernel/ such as 'drivers/net/*'); default: the common NIC drivers",
    )  # fmt: skip
    parser.add_argument(
        "--script", type=Path, metavar="FILE",
        help="embed this iPXE script: /init runs it instead of autoboot",
    )  # fmt: skip
    parser.add_argument(
        "--add", dest="extra", action="append", default=[], type=_add_option,
        metavar="SOURCE:/PATH", help="put a file or directory into the image (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--console", type=_console_option, default="auto", metavar="TTY",
        help="the tty bootsh runs on (default auto: the kernel's console=, last one)",
    )  # fmt: skip
    parser.add_argument(
        "--exclude", dest="excludes", action="append", default=[], metavar="PATTERN",
        help="leave out image paths matching PATTERN (repeatable, fnmatch)",
    )  # fmt: skip
    parser.add_argument(
        "--no-default-excludes", dest="default_excludes", action="store_false",
        help="keep what is left out by default: " + ", ".join(DEFAULT_EXCLUDES),
    )  # fmt: skip
    parser.add_argument(
        "--no-strip", dest="strip", action="store_false",
        help="keep debugging symbols in binaries (default: strip --strip-unneeded)",
    )  # fmt: skip
    parser.add_argument(
        "--mtime", type=int, metavar="SECONDS",
        help="every member's mtime (default $SOURCE_DATE_EPOCH, else 0)",
    )  # fmt: skip
    parser.add_argument("-q", "--quiet", action="store_true", help="no size report")


def run(ns: argparse.Namespace, environ: dict[str, str] | None = None) -> int:
    environ = dict(os.environ) if environ is None else environ
    mtime = ns.mtime
    if mtime is None:
        try:
            mtime = int(environ.get("SOURCE_DATE_EPOCH", "0"))
        except ValueError:
            print("bootsh initramfs: SOURCE_DATE_EPOCH is not a number", file=sys.stderr)
            return 2
    options = BuildOptions(
        output=ns.output or Path("bootsh-initramfs" + SUFFIXES[ns.compression]),
        compression=ns.compression,
        kernel_deb=ns.kernel_deb,
        modules_dir=ns.modules_dir,
        modules=list(ns.modules),
        script=ns.script,
        extra=list(ns.extra),
        console=ns.console,
        strip=ns.strip,
        excludes=[*(DEFAULT_EXCLUDES if ns.default_excludes else ()), *ns.excludes],
        mtime=mtime,
    )
    try:
        result = build(options)
    except BootshError as exc:
        print(f"bootsh initramfs: {exc}", file=sys.stderr)
        return 1
    if not ns.quiet:
        for line in result.lines():
            print(f"bootsh initramfs: {line}" if not line.startswith(" ") else line)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bootsh initramfs", description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv))


DESCRIPTION = (
    "Write a bootable initramfs (newc cpio, compressed) running bootsh as PID 1: this Python"
    " interpreter and the standard library it needs, bootsh, its dependencies and every"
    " installed bootsh plugin, kernel modules with their dependencies, an optional embedded"
    " script. Boot it with a kernel: qemu-system-x86_64 -kernel vmlinuz -initrd FILE"
    " -append console=ttyS0 -nographic."
)
