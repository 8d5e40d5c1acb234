"""``imgextract`` and ``imgmem``: upstream iPXE's ``hci/commands/image_archive_cmd.c``
(``core/archive.c``, ``image/gzip.c``, ``image/zlib.c``) and ``image_mem_cmd.c``.

- ``imgextract [--name N] [--keep] [--timeout T] [--quiet] <uri|name>`` acquires an image and
  decompresses it into a new image named N, or the archive's name without its last suffix
  (``initrd.gz`` -> ``initrd``), registered after it; the archive is then unregistered unless
  ``--keep``. iPXE extracts gzip (RFC 1952) and zlib (RFC 1950) images; anything else fails
  ``Could not extract image: Operation not supported``, a corrupt one ``... Invalid
  argument``. The data is streamed from file to file, never held whole in memory.
- ``imgmem [--name N] <address> <length>`` makes an image of physical memory. A Linux
  program cannot read physical memory (``/dev/mem`` is restricted to I/O regions by any
  current kernel), so bootsh checks the arguments as iPXE does and then fails with one
  line: ``Could not create image: Operation not supported``, the reason on stderr.
"""

from __future__ import annotations

from pathlib import Path

from bootsh.api import (
    Image,
    Invocation,
    error_number,
    parse_integer,
    store_of,
    strerror,
)
from bootsh_ipxe_cmds.image_cmds import acquire
from bootsh_ipxe_cmds.records import command_from_syntax

ERRFILE_ARCHIVE = 0x000A8000  # core/archive.c (ERRFILE_IMAGE | 0x000a0000)
ERRFILE_ZLIB = 0x000B8000  # image/zlib.c
ERRFILE_GZIP = 0x000C8000  # image/gzip.c
ERRFILE_IMGMGMT = 0x0005E000  # usr/imgmgmt.c
#: No extractor for this image's type.
ENOTSUP_EXTRACT = error_number("ENOTSUP", ERRFILE_ARCHIVE)
#: A corrupt archive.
EINVAL_GZIP = error_number("EINVAL", ERRFILE_GZIP)
EINVAL_ZLIB = error_number("EINVAL", ERRFILE_ZLIB)
#: ``imgmem``: no physical memory from Linux.
ENOTSUP_IMGMEM = error_number("ENOTSUP", ERRFILE_IMGMGMT)

_BLOCK = 256 * 1024


def archive_kind(header: bytes) -> str | None:
    """``gzip`` (magic 1f 8b, deflate) or ``zlib`` (CMF/FLG: deflate, checksum a multiple of
    31), as iPXE's probes tell them; None for anything else."""
    if len(header) >= 18 and header[:3] == b"\x1f\x8b\x08":
        return "gzip"
    if len(header) >= 2 and header[0] & 0x0F == 8 and ((header[0] << 8) | header[1]) % 31 == 0:
        return "zlib"
    return None


def _inflate(source: Path, target: Path, kind: str) -> None:
    """Decompress ``source`` into ``target`` block by block; ValueError when corrupt."""
    import zlib  # only when an archive is extracted

    wbits = 16 + zlib.MAX_WBITS if kind == "gzip" else zlib.MAX_WBITS
    engine = zlib.decompressobj(wbits)
    try:
        with source.open("rb") as src, target.open("wb") as dst:
            while block := src.read(_BLOCK):
                dst.write(engine.decompress(block))
            dst.write(engine.flush())
    except zlib.error as exc:
        raise ValueError(str(exc)) from None
    if not engine.eof:
        raise ValueError("truncated archive")


def imgextract(inv: Invocation) -> int:
    shell = inv.shell
    got = acquire(shell, inv.args[0], inv)
    if isinstance(got, int):
        return got
    store = store_of(shell)
    status = 0
    kind = archive_kind(got.header())
    if kind is None:
        status = ENOTSUP_EXTRACT
    else:
        name = inv.value("name")
        if name is None:
            name = got.name.rpartition(".")[0] if "." in got.name else got.name
        target = store.directory / store.new_file()
        try:
            _inflate(got.path, target, kind)
        except (ValueError, OSError) as exc:
            target.unlink(missing_ok=True)
            shell.diagnose(f"cannot extract {got.name}: {exc}")
            status = EINVAL_GZIP if kind == "gzip" else EINVAL_ZLIB
        else:
            image = Image(name, got.uri, target, target.stat().st_size, fetched_by=inv.name)
            image.flags |= got.flags & image.flags.TRUSTED
            store.register(image)
    if status:
        shell.print(f"Could not extract image: {strerror(status)}")
    if not inv.flag("keep"):
        store.free(got)
    return status


def imgmem(inv: Invocation) -> int:
    parse_integer(inv.args[0])
    parse_integer(inv.args[1])
    inv.shell.diagnose("imgmem: physical memory cannot be read by a Linux program")
    inv.shell.print(f"Could not create image: {strerror(ENOTSUP_IMGMEM)}")
    return ENOTSUP_IMGMEM


COMMANDS = (
    command_from_syntax(
        "imgextract", imgextract, "decompress a gzip or zlib image into a new image"
    ),
    command_from_syntax("imgmem", imgmem, "an image of physical memory (not possible from Linux)"),
)
