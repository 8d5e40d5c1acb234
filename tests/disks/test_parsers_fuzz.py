"""Garbage configurations and partition tables: never a traceback, always quick (hypothesis),
and the power commands' two safeties."""

from __future__ import annotations

import contextlib
import io
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from bootsh.disks import bls
from bootsh.disks.filesystems import FsError, IsoFs, probe
from bootsh.disks.grub import GrubError, parse_grub
from bootsh.disks.parts import read_table
from bootsh.disks.syslinux import parse_syslinux
from tests.helpers import run_cli

WORDS = st.sampled_from([
    "menuentry", "submenu", "function", "if", "then", "elif", "else", "fi", "{", "}", "[", "]",
    "linux", "initrd", "set", "default=1", "search", "--set=root", "blscfg", "load_env", "$x",
    "${y}", "'q'", '"d $z"', ";", "\n", "while", "do", "done", "x=1", "f", "\\", "#", "-f",
    "LABEL", "DEFAULT", "KERNEL", "APPEND", "INCLUDE", "MENU", "initrd=a,b", "title", "options",
])  # fmt: skip
TEXT = st.one_of(st.text(max_size=2000), st.lists(WORDS, max_size=400).map(" ".join))


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_garbage_configs_parse_quickly_or_fail_cleanly(text: str) -> None:
    start = time.monotonic()
    with contextlib.suppress(GrubError):
        parse_grub(text, "/boot/grub/grub.cfg", None, lambda root, env: [])
    parse_syslinux(text, "/isolinux/isolinux.cfg", lambda path: text)  # includes itself
    bls.menu([("a.conf", text), ("b.conf", text)], "/loader/entries", text)
    assert time.monotonic() - start < 5


def test_a_self_calling_function_and_a_runaway_script_end() -> None:
    try:
        parse_grub("function f { f }\nf\n", "/g.cfg")
    except GrubError as exc:
        assert "nested" in str(exc)
    text = "menuentry a { linux /v }\n" * 2000
    try:
        parse_grub(text, "/g.cfg")
    except GrubError as exc:
        assert "more than" in str(exc)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=4096), st.integers(0, 1 << 40))
def test_garbage_partition_tables(blob: bytes, size: int) -> None:
    disk = bytearray(blob.ljust(8192, b"\0"))
    disk[510:512] = b"\x55\xaa"

    def read(offset: int, length: int) -> bytes:
        return bytes(disk[offset : offset + length]) if offset < len(disk) else b""

    table = read_table(read, max(size, 1))
    assert table.kind in ("gpt", "mbr", "none")
    probe(bytes(disk))


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=0, max_size=8192))
def test_garbage_isos_are_refused_in_one_line(blob: bytes) -> None:
    image = bytearray(b"\0" * 0x8000 + blob)
    image[0x8000:0x8006] = b"\x01CD001"
    try:
        IsoFs(io.BytesIO(bytes(image))).close()
    except FsError as exc:
        assert "\n" not in str(exc)


def test_poweroff_and_reboot_dry_run_and_guard() -> None:
    status, out, _ = run_cli("reboot -w", "poweroff")
    assert status == 0
    assert out.splitlines() == ["reboot: would reboot (warm)", "poweroff: would power off"]
    # Without --dry-run the guard refuses (the guard reads the process's environment, which
    # conftest.py sets for every test here).
    status, out, err = run_cli("reboot || echo errno ${errno}", options=())
    assert status == 0
    assert out.splitlines() == ["errno 0x41000001"]
    assert "BOOTSH_NEVER_KEXEC is set" in err


class _SelfIncluding:
    """A file system where every file is the same grub.cfg (which includes itself)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def exists(self, path: str) -> bool:
        return True

    def read_text(self, path: str) -> str | None:
        return self.text


def test_a_configuration_that_includes_itself_ends() -> None:
    text = "menuentry a { linux /v }\nconfigfile $prefix/grub.cfg\nsource /boot/grub/grub.cfg\n"
    start = time.monotonic()
    try:
        parse_grub(text, "/boot/grub/grub.cfg", _SelfIncluding(text))
    except GrubError as exc:
        assert "nested more than" in str(exc)
    else:
        raise AssertionError("a self-including grub.cfg parsed")
    assert time.monotonic() - start < 5
