"""The Python side of the initramfs: the interpreter, its shared libraries, the standard library
bootsh can use, and the distributions of bootsh, its dependencies and every bootsh plugin.

Layout in the image (a Debian-like ``/usr`` prefix, so that the interpreter finds its standard
library from its own path, ``/usr/bin/python3`` → ``/usr/lib/python3.X``, with no environment
and no ``pyvenv.cfg``)::

    /usr/bin/python3                         the running interpreter's binary
    /usr/lib/x86_64-linux-gnu/, /usr/lib/    its shared libraries and those of every extension
    /lib64/ld-linux-x86-64.so.2              the dynamic loader, where the binary asks for it
    /usr/lib/python3.X/                      the standard library, byte code only
    /usr/lib/python3.X/lib-dynload/          its extension modules
    /usr/lib/python3.X/site-packages/        bootsh, dependencies, plugins (+ minimal dist-info)

Libraries outside the loader's built-in directories (a pyenv or venv ``libpython``) go to
``/usr/lib``, which the loader searches last without any ``ld.so.cache``; the ones it found in
a system directory keep their place. Byte code replaces sources: each module is compiled once,
by this interpreter, into an *unchecked hash-based* ``.pyc`` that stands where the ``.py`` was
(a sourceless module), so nothing depends on the build's timestamps and the interpreter never
looks for a source. What no boot shell needs is left out: tests, IDLE, tkinter, turtle, lib2to3,
distutils, ensurepip, venv, sqlite3, curses, the CJK codecs and most other encodings, and their
extension modules (whose shared libraries then stay out too).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import marshal
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from bootsh.errors import BootshError
from bootsh.initramfs.cpio import Archive, mode_of
from bootsh.records import dataclass, field

#: Standard library entries (first path component under lib/python3.X) never included.
STDLIB_EXCLUDED = frozenset(
    {
        "test",
        "idlelib",
        "tkinter",
        "turtledemo",
        "turtle.py",
        "lib2to3",
        "distutils",
        "ensurepip",
        "venv",
        "pydoc_data",
        "sqlite3",
        "curses",
        "dbm",
        "msilib",
        "site-packages",
        "__phello__",
        "__pycache__",
    }
)
#: Extension modules (lib-dynload, by module name) never included.
DYNLOAD_EXCLUDED = re.compile(
    r"^(_test\w*|_ctypes_test|_tkinter|xxlimited\w*|_xxtestfuzz|_xxsubinterpreters|_curses\w*"
    r"|_sqlite3|_dbm|_gdbm|nis|ossaudiodev|spwd|readline|audioop|_codecs_\w+|_multibytecodec)$"
)
#: The encodings kept (``encodings/NAME.py``): the ones Python itself, sockets, IDNA host names,
#: the console and bootsh's byte settings use.
ENCODINGS_KEPT = frozenset(
    {
        "__init__",
        "aliases",
        "ascii",
        "latin_1",
        "utf_8",
        "utf_8_sig",
        "utf_16",
        "utf_16_le",
        "utf_16_be",
        "utf_32",
        "utf_32_le",
        "utf_32_be",
        "idna",
        "punycode",
        "raw_unicode_escape",
        "unicode_escape",
        "charmap",
        "cp437",
        "hex_codec",
        "base64_codec",
    }
)
#: Directories inside distributions that are never needed at run time.
PACKAGE_SKIPPED_DIRS = frozenset({"__pycache__", "tests", "test"})
#: Files of a distribution's dist-info kept in the image (entry points make plugins work).
DIST_INFO_KEPT = ("METADATA", "entry_points.txt", "top_level.txt")

_LDD_LINE = re.compile(r"^\s*(?:(\S+)\s+=>\s+)?(/\S+)\s+\(0x[0-9a-f]+\)\s*$")


class PayloadError(BootshError):
    """Something of the Python installation cannot be put into the image (says what and why)."""


@dataclass
class Report:
    """What went in, for the size report: ``parts`` (bytes by part of the image) is filled by
    the builder from the final archive, after its excludes."""

    parts: dict[str, int] = field(default_factory=dict)
    distributions: list[str] = field(default_factory=list)
    not_compiled: list[str] = field(default_factory=list)

    def add(self, part: str, size: int) -> None:
        self.parts[part] = self.parts.get(part, 0) + size


@dataclass(frozen=True)
class Layout:
    """Where the running interpreter's pieces are on this machine, and where they go."""

    executable: Path
    stdlib: Path
    dynload: Path
    version: str  # "3.11"

    @property
    def image_stdlib(self) -> str:
        return f"usr/lib/python{self.version}"

    @property
    def image_site(self) -> str:
        return f"{self.image_stdlib}/site-packages"

    @classmethod
    def current(cls) -> Layout:
        executable = Path(getattr(sys, "_base_executable", sys.executable) or sys.executable)
        stdlib = Path(sysconfig.get_paths(vars={"base": sys.base_prefix})["stdlib"])
        dynload = Path(sysconfig.get_config_var("DESTSHARED") or stdlib / "lib-dynload")
        if not dynload.is_dir():
            dynload = stdlib / "lib-dynload"
        version = f"{sys.version_info[0]}.{sys.version_info[1]}"
        return cls(executable.resolve(), stdlib, dynload, version)


# -- byte code ---------------------------------------------------------------------------------


def compile_source(source: bytes, runtime_path: str) -> bytes:
    """An unchecked hash-based ``.pyc`` for ``source`` (PEP 552): the same source gives the same
    bytes, and no timestamp is involved. ``runtime_path`` is the file name tracebacks show."""
    code = compile(source, runtime_path, "exec", dont_inherit=True, optimize=0)
    header = importlib.util.MAGIC_NUMBER
    header += (0b01).to_bytes(4, "little")  # hash-based, unchecked
    header += importlib.util.source_hash(source)
    return header + marshal.dumps(code)


def add_tree(
    archive: Archive,
    source: Path,
    target: str,
    report: Report,
    skip: Callable[[Path], bool] = lambda p: False,
    strip: bool = True,
) -> None:
    """Copy the tree ``source`` to ``target`` in the image, ``.py`` files as byte code."""
    for path in sorted(_walk(source, skip)):
        rel = path.relative_to(source).as_posix()
        add_file(archive, path, f"{target}/{rel}", report, strip)


def add_file(archive: Archive, path: Path, target: str, report: Report, strip: bool = True) -> None:
    data = path.read_bytes()
    if path.suffix == ".py":
        runtime = "/" + target
        try:
            data = compile_source(data, runtime)
        except (SyntaxError, ValueError):
            # Python 2 leftovers and templates in some packages: they could never be imported.
            report.not_compiled.append(runtime)
            return
        target = target[:-3] + ".pyc"
    elif path.suffix == ".pyc":
        return  # a stray cache file; the source (if any) is compiled above
    elif path.suffix == ".so":
        data = _maybe_strip(path, strip)
    archive.file(target, data, mode_of(path))


def _walk(root: Path, skip: Callable[[Path], bool]) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d for d in dirnames if d not in PACKAGE_SKIPPED_DIRS and not skip(here / d)
        )
        for name in filenames:
            path = here / name
            if path.is_file() and not skip(path):
                yield path


# -- the standard library ----------------------------------------------------------------------


def _stdlib_skip(root: Path, dynload: Path) -> Callable[[Path], bool]:
    def skip(path: Path) -> bool:
        try:
            rel = path.relative_to(root)
        except ValueError:
            return False
        parts = rel.parts
        if not parts:
            return False
        if parts[0] in STDLIB_EXCLUDED or parts[0].startswith("config-"):
            return True
        if path == dynload or (parts[0] == dynload.name and root / parts[0] == dynload):
            return True  # copied separately, filtered
        if parts[0] == "encodings" and len(parts) == 2 and path.suffix == ".py":
            return path.stem not in ENCODINGS_KEPT
        return path.suffix in (".exe", ".bat", ".pyo") or path.name == "README.txt"

    return skip


def add_stdlib(archive: Archive, layout: Layout, report: Report, strip: bool) -> list[Path]:
    """The standard library (byte code) and its extension modules; returns the extensions."""
    skip = _stdlib_skip(layout.stdlib, layout.dynload)
    add_tree(archive, layout.stdlib, layout.image_stdlib, report, skip, strip)
    extensions = []
    for path in sorted(layout.dynload.iterdir()):
        module = path.name.split(".", 1)[0]
        if path.suffix != ".so" or DYNLOAD_EXCLUDED.match(module):
            continue
        data = _maybe_strip(path, strip)
        archive.file(f"{layout.image_stdlib}/lib-dynload/{path.name}", data, 0o755)
        extensions.append(path)
    return extensions


# -- distributions -----------------------------------------------------------------------------


_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(dist: importlib.metadata.Distribution) -> list[tuple[str, bool]]:
    """The distributions ``dist`` needs at run time, each with whether it is conditional:
    extras are left out; any other marker (``python_full_version < '3.11'``) is taken as
    met exactly when the distribution it names is installed (pip evaluated it on this
    machine, whose interpreter goes into the image)."""
    names = []
    for requirement in dist.requires or ():
        requirement_text, _, marker = requirement.partition(";")
        if "extra" in marker:
            continue
        match = _REQ_NAME.match(requirement_text)
        if match:
            names.append((match[1], bool(marker.strip())))
    return names


def bootsh_distributions(
    extra: Iterable[str] = (),
) -> list[importlib.metadata.Distribution]:
    """bootsh, every distribution registering ``bootsh`` entry points, ``extra`` ones, and all
    that they require (installed ones; a requirement not installed is an error)."""
    wanted = [(name, False) for name in ("bootsh", *extra)]
    for ep in importlib.metadata.entry_points(group="bootsh"):
        if ep.dist is not None:
            wanted.append((ep.dist.name, False))
    found: dict[str, importlib.metadata.Distribution] = {}
    while wanted:
        name, conditional = wanted.pop(0)
        key = _canonical(name)
        if key in found:
            continue
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            if conditional:  # its marker did not hold here (cryptography's typing-extensions)
                continue
            raise PayloadError(f"distribution {name} is needed but not installed") from None
        found[key] = dist
        wanted.extend(_requirements(dist))
    return [found[k] for k in sorted(found)]


def top_level_names(dist: importlib.metadata.Distribution) -> list[str]:
    """The import names a distribution provides (``top_level.txt``, else its RECORD)."""
    text = dist.read_text("top_level.txt")
    if text:
        return sorted({line.strip() for line in text.splitlines() if line.strip()})
    names = set()
    for file in dist.files or ():
        parts = file.parts
        if not parts or parts[0].endswith((".dist-info", ".egg-info", ".data")):
            continue
        if parts[0] in ("..", "__pycache__") or parts[0].startswith("__editable__"):
            continue
        if len(parts) == 1:
            if parts[0].endswith(".py"):
                names.add(parts[0][:-3])
            elif parts[0].endswith(".so"):
                names.add(parts[0].split(".", 1)[0])
        else:
            names.add(parts[0])
    return sorted(names)


def add_distribution(
    archive: Archive,
    layout: Layout,
    dist: importlib.metadata.Distribution,
    report: Report,
    strip: bool = True,
) -> list[Path]:
    """Copy one distribution's modules (found as the interpreter imports them, so that editable
    installs work too) and a minimal dist-info; returns its extension modules."""
    names = top_level_names(dist)
    if not names:
        raise PayloadError(f"cannot tell which modules distribution {dist.name} provides")
    site = layout.image_site
    extensions = []
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None or (spec.origin is None and not spec.submodule_search_locations):
            raise PayloadError(f"{name} (of distribution {dist.name}) cannot be imported")
        if spec.submodule_search_locations:
            root = Path(next(iter(spec.submodule_search_locations)))
            add_tree(archive, root, f"{site}/{name}", report, strip=strip)
            extensions += [p for p in _walk(root, lambda p: False) if p.suffix == ".so"]
        else:
            origin = Path(str(spec.origin))
            add_file(archive, origin, f"{site}/{origin.name}", report, strip)
            if origin.suffix == ".so":
                extensions.append(origin)
    info = f"{site}/{_canonical(dist.name).replace('-', '_')}-{dist.version}.dist-info"
    for kept in DIST_INFO_KEPT:
        text = dist.read_text(kept)
        if kept == "METADATA" and text is None:
            text = dist.read_text("PKG-INFO")  # an egg-info (an older editable install)
        if text is not None:
            archive.file(f"{info}/{kept}", text.encode())
    report.distributions.append(f"{dist.name} {dist.version}")
    return extensions


# -- the interpreter and shared libraries ------------------------------------------------------


def shared_libraries(binaries: Iterable[Path]) -> dict[str, Path]:
    """``ldd``'s answer for each binary: the path each needed library is loaded from (the
    loader itself included), by that path."""
    ldd = shutil.which("ldd")
    if ldd is None:
        raise PayloadError("ldd not found (Debian's libc-bin): it lists the shared libraries")
    found: dict[str, Path] = {}
    for binary in binaries:
        proc = subprocess.run(
            [ldd, str(binary)], capture_output=True, text=True, timeout=60, check=False
        )
        if "not a dynamic executable" in proc.stdout + proc.stderr:
            continue
        if proc.returncode != 0:
            raise PayloadError(f"ldd {binary}: {proc.stderr.strip() or proc.returncode}")
        for line in proc.stdout.splitlines():
            if "not found" in line:
                raise PayloadError(
                    f"{binary} needs a library that is not installed: {line.strip()}"
                )
            match = _LDD_LINE.match(line)
            if match:
                found[match[2]] = Path(match[2])
    return found


#: The loader's built-in search directories on Debian (``ld.so --list-diagnostics``).
_SYSTEM_DIRS = (
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/lib",
    "/usr/lib",
    "/lib64",
    "/usr/lib64",
)


def library_target(path: str) -> str:
    """Where a library goes in the image: its own directory when the loader searches it (``/lib``
    and ``/lib64`` become ``/usr/...``: the image is merged-/usr), else ``/usr/lib``."""
    directory, name = os.path.split(path)
    if directory in _SYSTEM_DIRS or "ld-linux" in name:
        if directory.startswith(("/lib/", "/lib64")) or directory == "/lib":
            directory = "/usr" + directory
        return f"{directory.lstrip('/')}/{name}"
    return f"usr/lib/{name}"


def add_interpreter(
    archive: Archive, layout: Layout, extensions: Iterable[Path], strip: bool
) -> None:
    """The interpreter binary and every shared library it or an included extension needs."""
    binary = layout.executable
    archive.file("usr/bin/python3", _maybe_strip(binary, strip), 0o755)
    archive.symlink(f"usr/bin/python{layout.version}", "python3")
    libraries = shared_libraries([binary, *extensions])
    for key in sorted(libraries):
        path = libraries[key]
        data = _maybe_strip(path.resolve(), strip and "ld-linux" not in path.name)
        archive.file(library_target(key), data, 0o755)
    # Merged /usr, as on Debian: /lib64/ld-linux-x86-64.so.2 (the PT_INTERP path) and /lib/...
    archive.symlink("lib", "usr/lib")
    archive.symlink("lib64", "usr/lib64")
    archive.symlink("bin", "usr/bin")
    archive.symlink("sbin", "usr/sbin")
    archive.directory("usr/sbin")


def _maybe_strip(path: Path, strip: bool) -> bytes:
    """The file's bytes, without debugging symbols when ``strip`` and binutils' strip exists
    (deterministic: the same input gives the same output)."""
    tool = shutil.which("strip") if strip else None
    if tool is None:
        return path.read_bytes()
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bootsh-strip-") as tmp:
        out = Path(tmp) / path.name
        proc = subprocess.run(
            [tool, "--strip-unneeded", "-o", str(out), str(path)],
            capture_output=True,
            timeout=120,
            check=False,
        )
        if proc.returncode != 0:
            return path.read_bytes()  # not an ELF file strip knows: keep it as it is
        return out.read_bytes()


def add_python(
    archive: Archive, report: Report, *, strip: bool = True, extra_distributions: Iterable[str] = ()
) -> Layout:
    """Everything Python: interpreter, libraries, stdlib, bootsh and the plugins."""
    layout = Layout.current()
    if not layout.stdlib.is_dir():
        raise PayloadError(f"the standard library is not at {layout.stdlib}")
    extensions = add_stdlib(archive, layout, report, strip)
    for dist in bootsh_distributions(extra_distributions):
        extensions += add_distribution(archive, layout, dist, report, strip)
    add_interpreter(archive, layout, extensions, strip)
    return layout
