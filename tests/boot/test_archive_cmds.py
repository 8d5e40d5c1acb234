"""``imgextract`` (gzip and zlib images, as upstream iPXE's core/archive.c) and ``imgmem``
(not possible from Linux: one clear line)."""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

from bootsh_ipxe_cmds.archive_cmds import archive_kind
from tests.helpers import run_cli

SCRIPT = b"#!ipxe\necho extracted and run\n"


def test_archive_kinds() -> None:
    assert archive_kind(gzip.compress(b"x")) == "gzip"
    assert archive_kind(zlib.compress(b"x")) == "zlib"
    assert archive_kind(b"#!ipxe\n") is None
    assert archive_kind(b"") is None


def test_gzip_extracts_under_the_name_without_its_suffix(tmp_path: Path) -> None:
    archive = tmp_path / "boot.ipxe.gz"
    archive.write_bytes(gzip.compress(SCRIPT))
    status, out, err = run_cli(f"imgextract {archive.as_uri()}", "imgstat", "chain boot.ipxe")
    assert status == 0, err
    assert out.splitlines()[1:] == [
        f"boot.ipxe : {len(SCRIPT)} bytes [script]",
        "extracted and run",
    ]


def test_zlib_with_a_name_and_keep(tmp_path: Path) -> None:
    archive = tmp_path / "blob.z"
    big = os.urandom(300_000) * 3  # several blocks of the streaming inflate
    archive.write_bytes(zlib.compress(big))
    status, out, err = run_cli(
        f"imgextract --keep --name data {archive.as_uri()}", "imgstat", "sha1sum data"
    )
    assert status == 0, err
    lines = out.splitlines()
    assert lines[1] == f"blob.z : {archive.stat().st_size} bytes"
    assert lines[2] == f"data : {len(big)} bytes"
    import hashlib

    assert lines[3] == f"{hashlib.sha1(big).hexdigest()}  data"


def test_not_an_archive_and_a_corrupt_one(tmp_path: Path) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"hello")
    status, out, _ = run_cli(f"imgextract {plain.as_uri()}", "imgstat")
    assert status == 1
    assert out.splitlines()[1] == (
        "Could not extract image: Operation not supported (https://ipxe.org/3c0a805f)"
    )
    broken = tmp_path / "broken.gz"
    broken.write_bytes(gzip.compress(SCRIPT)[:-12])
    status, out, err = run_cli(f"imgextract {broken.as_uri()} || echo ${{errno}}", "imgstat")
    assert status == 0
    assert out.splitlines()[1:] == [
        "Could not extract image: Invalid argument (https://ipxe.org/1c0c8016)",
        "0x1c0c8016",
    ]  # nothing registered, the archive discarded (no --keep)
    assert "cannot extract broken.gz" in err


def test_imgmem_is_not_possible_from_linux() -> None:
    status, out, err = run_cli("imgmem 0x100000 4096")
    assert status == 1
    assert out == "Could not create image: Operation not supported (https://ipxe.org/3c05e05f)\n"
    assert "physical memory cannot be read by a Linux program" in err
    assert run_cli("imgmem x 1")[1] == '"x": invalid integer value\n'
    assert (
        run_cli("imgmem 1")[1].splitlines()[2] == "  imgmem [-n|--name <name>] <address> <length>"
    )
