"""The differential harness's own rules, without QEMU: normalisation, the error-number
translation, case directives, and the deliberate list against README.md."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.differential.harness import (
    CASES,
    DELIBERATE,
    HERE,
    Case,
    HarnessError,
    Run,
    all_cases,
    compare,
    load_deliberate,
    normalise,
    screen_lines,
    unwrap80,
)

BANNER = (
    "\x1bc\x1b[?7l\x1b[2J\x1b[0mSeaBIOS (version 1.16.2-debian-1.16.2-1)\r\n"
    "iPXE initialising devices...\r\n\n\n\n"
    "\x1b[0;1miPXE 1.21.1\x1b[0m -- Open Source Network Boot Firmware -- \r\n"
)
TRAILER = "Booting from Hard Disk...\r\nBoot failed: could not read the boot disk\r\n"


def ipxe_raw(body: str) -> str:
    """A serial transcript as SeaBIOS writes it: CR LF lines after the banner."""
    return BANNER + "@@begin\r\n" + body.replace("\n", "\r\n") + TRAILER


def test_unwrap_joins_full_rows_only() -> None:
    row = "x" * 80
    # 85 characters: a full row and the rest; exactly 80: a full row and the empty row its
    # newline made; 160: two full rows and the empty row.
    assert unwrap80([row, "abcde", "next"]) == [row + "abcde", "next"]
    assert unwrap80([row, "", "next"]) == [row, "next"]
    assert unwrap80([row, row, "", "end"]) == [row + row, "end"]
    assert unwrap80(["short", "lines"]) == ["short", "lines"]


def test_screen_lines_apply_carriage_returns_and_backspaces() -> None:
    assert screen_lines("10%\r20%\r100% ok") == ["100% ok"]
    # iPXE's prompt: the text, then backspace-space-backspace over it.
    erase = "\b \b" * 5
    assert screen_lines("Press" + erase + "next") == ["next"]
    assert screen_lines("trailing space kept ") == ["trailing space kept "]


def test_ipxe_side_is_cut_to_the_case_and_unwrapped() -> None:
    long = "y" * 85
    raw = ipxe_raw(f"hello\n{long[:80]}\n{long[80:]}\n@@status 0x0\n")
    assert normalise(raw, "ipxe") == ["hello", long, "@@status 0x0"]


def test_missing_status_line_is_reported() -> None:
    assert normalise(ipxe_raw("hello\n"), "ipxe")[-1] == "<no status line>"


def test_bootsh_error_numbers_become_the_pcbios_builds() -> None:
    # ENOENT in settings.c: Linux platform byte 2 (ENOENT), PC-BIOS 0x3b (TFTP file not found).
    out = normalise(
        '@@begin\nCould not find "x": No such file or directory'
        " (https://ipxe.org/2d0c2002)\nerrno 0x2d0c2002\n@@status 0x2d0c2002\n",
        "bootsh",
    )
    assert out == [
        'Could not find "x": No such file or directory (https://ipxe.org/2d0c203b)',
        "errno 0x2d0c203b",
        "@@status 0x2d0c203b",
    ]


def test_a_wrong_platform_byte_is_left_to_differ() -> None:
    # 0x2d0c2016 has EINVAL's Linux byte on an ENOENT: no translation, so it shows as a
    # difference instead of being hidden.
    assert normalise("@@begin\n0x2d0c2016\n@@status 0x0\n", "bootsh")[0] == "0x2d0c2016"


def test_small_posix_codes_print_seven_digits() -> None:
    # EACCES (0x02) in ${errno}: uint32 prints 0x2..., not 0x02...
    assert normalise("@@begin\n@@status 0x20c200d\n", "bootsh") == ["@@status 0x20c203c"]


def test_placeholders_apply_to_both_sides() -> None:
    ipxe = normalise(
        ipxe_raw(
            "net0: 52:54:00:12:34:56 using virtio-net on 0000:00:02.0 (Ethernet) [closed]\n"
            "builtin/buildarch:string = i386\npcbios\nConfiguring (net0 x)...... ok\n"
            "img : 5 bytes [PXE-NBP]\n@@status 0x0\n"
        ),
        "ipxe",
    )
    bootsh = normalise(
        "@@begin\nnet0: 52:54:00:12:34:56 using af_packet on veth-cli (Ethernet) [closed]\n"
        "builtin/buildarch:string = x86_64\nlinux\nConfiguring (net0 x)... ok\n"
        "img : 5 bytes\n@@status 0x0\n",
        "bootsh",
    )
    assert ipxe == bootsh
    assert ipxe[0] == "net0: 52:54:00:12:34:56 using NIC (Ethernet) [closed]"


def test_compare_applies_deliberate_rewrites() -> None:
    case = Case("flow/help", CASES / "flow/help.ipxe")
    ipxe = Run(ipxe_raw("\nAvailable commands:\n\n  echo   exit\n\nType x\n@@status 0x0\n"))
    bootsh = Run(
        "@@begin\n\nAvailable commands:\n\n  exit   echo\n  more\n\nType x\n@@status 0x0\n"
    )
    result = compare(case, ipxe, bootsh, load_deliberate())
    assert result.same, result.diff()
    assert result.deliberate == ["help-command-set"]
    other = Case("flow/echo-basic", CASES / "flow/echo-basic.ipxe")
    assert not compare(other, ipxe, bootsh, load_deliberate()).same


def test_deliberate_entries_need_a_reason(tmp_path: Path) -> None:
    bad = tmp_path / "d.toml"
    bad.write_text('[[difference]]\nid = "x"\nreason = ""\n')
    with pytest.raises(HarnessError, match="has no reason"):
        load_deliberate(bad)


def test_every_deliberate_entry_is_in_the_readme_and_names_existing_cases() -> None:
    readme = (HERE / "README.md").read_text()
    names = {c.name for c in all_cases()}
    ids = {rule.id for rule in load_deliberate()}
    assert ids, DELIBERATE
    for ident in ids:
        assert f"| `{ident}` |" in readme, f"{ident} is not in README.md's list"
    for rule in load_deliberate():
        for pattern in rule.cases:
            assert any(re.fullmatch(pattern, n) for n in names), (rule.id, pattern)


def test_case_directives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tests.differential.harness.CASES", tmp_path)
    path = tmp_path / "g" / "c.ipxe"
    path.parent.mkdir()
    path.write_text(
        "#!ipxe\n#@ timeout: 5\n#@ keys: ab enter esc\n#@ after: Menu\n#@ keys: down\necho\n"
    )
    case = Case.load(path)
    assert (case.name, case.timeout) == ("g/c", 5.0)
    assert case.steps == (("@@begin", b"ab\r\x1b"), ("Menu", b"\x1b[B"))
    path.write_text("#!ipxe\n#@ nonsense: 1\n")
    with pytest.raises(HarnessError, match="unknown case directive"):
        Case.load(path)
    path.write_text("#!ipxe\n#@ keys: abcdefghijklmnopq\n")
    with pytest.raises(HarnessError, match="at most 16"):
        Case.load(path)


def test_the_corpus_is_large_enough() -> None:
    assert len(all_cases()) >= 200


def _drive(steps: tuple[tuple[str, bytes], ...], timeout: float) -> tuple[list[bytes], bool]:
    """A fake console: typing "a" shows a second menu, typing "b" ends the case."""
    from tests.differential.harness import _read_until

    read_end, write_end = os.pipe()
    typed: list[bytes] = []
    replies = {b"a": b"Second menu\n", b"b": b"@@status 0x0\n"}

    def type_keys(keys: bytes) -> None:
        typed.append(keys)
        os.write(write_end, replies.get(keys, b""))

    os.write(write_end, b"@@begin\nFirst menu\n")
    try:
        _, timed_out = _read_until(read_end, lambda d: b"@@status" in d, timeout, steps, type_keys)
    finally:
        os.close(read_end)
        os.close(write_end)
    return typed, timed_out


def test_keys_are_typed_step_by_step_after_their_text() -> None:
    assert _drive((("First menu", b"a"), ("Second menu", b"b")), 10) == ([b"a", b"b"], False)
    # A step's text must appear after the point where the previous step typed: "First menu"
    # was shown before "a" was typed, so "b" waits for a new one, which never comes.
    assert _drive((("First menu", b"a"), ("First menu", b"b")), 0.5) == ([b"a"], True)
