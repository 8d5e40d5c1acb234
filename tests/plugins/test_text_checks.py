"""The string checks that replaced regular expressions on ifstat's path give the patterns'
verdicts (the patterns are kept here as the reference): XenStore paths, dump lines, PCI
addresses, sysfs hex attributes, natural sort keys, MAC addresses."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bootsh.nics import nic
from bootsh_netfront import dump, probe, store
from bootsh_pci_nics import sysfs

_PATH = re.compile(r"^/?[A-Za-z0-9_@-]+(/[A-Za-z0-9_@-]+)*$")
_LINE = re.compile(r"^(?P<path>\S+) = \"(?P<rest>.*)$")
_UNREADABLE = re.compile(r"^(?P<path>\S+):$")
_PERMS_TAIL = re.compile(r"^(?P<value>.*)\"[ .]*\((?P<perms>[^()]*)\)$")
_PERM = re.compile(r"^[wrbn]\d+$")
_PCI = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-1][0-9a-f]\.[0-7]$")
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def pattern_parse_line(text: str) -> object:
    """dump.parse_line as it was written with the patterns."""
    stripped = text.rstrip("\r\n")
    if not stripped.strip() or stripped.lstrip().startswith("#"):
        return None
    if stripped[0].isspace():
        raise ValueError("indented")
    unreadable = _UNREADABLE.match(stripped.rstrip())
    if unreadable:
        return dump._checked_path(unreadable["path"]), None, None
    m = _LINE.match(stripped)
    if not m:
        raise ValueError("not a line")
    path = dump._checked_path(m["path"])
    rest = m["rest"].rstrip()
    perms = None
    if rest.endswith('"'):
        raw = rest[:-1]
    else:
        tail = _PERMS_TAIL.match(rest)
        if not tail:
            raise ValueError("no quote")
        raw = tail["value"]
        perms = tuple(p.strip() for p in tail["perms"].split(","))
        if not all(_PERM.match(p) for p in perms):
            raise ValueError("perms")
    return path, dump.unsanitise(raw), perms


def verdict(parse: object, text: str) -> object:
    try:
        return parse(text)  # type: ignore[operator]
    except ValueError:
        return ValueError


PIECES = ["a", "/b", " ", ' = "', '"', "(", ")", "n0", ",", "r7", ".", ":", "\t", "\\", "\xa0"]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=9).map("".join))
def test_dump_lines(text: str) -> None:
    assert verdict(dump.parse_line, text) == verdict(pattern_parse_line, text)


@given(st.text("aZ9_@-/\n.", max_size=12))
def test_xenstore_paths(text: str) -> None:
    assert store.valid_path(text) == (text == "/" or bool(_PATH.match(text)))


ADDRESSES = st.from_regex(r"[0-9a-f]{4}:[0-9a-f]{2}:[0-2][0-9a-g]\.[0-8]\n?", fullmatch=True)


@given(ADDRESSES | st.text("0123456789abcdef:.\n", max_size=13))
def test_pci_addresses(text: str) -> None:
    assert probe._is_pci_address(text) == bool(_PCI.match(text))


@given(st.text("0xX1aFg \n", max_size=8), st.integers(1, 6))
def test_sysfs_hex(text: str, digits: int) -> None:
    expected = bool(re.fullmatch(rf"0[xX][0-9a-fA-F]{{1,{digits}}}", text))
    ok = text[:2] in ("0x", "0X") and 0 < len(text) - 2 <= digits
    assert (ok and sysfs._HEX_DIGITS.issuperset(text[2:])) == expected


@given(st.text("eth0123456789/vif\u00b2\u0663", max_size=10))
def test_natural_keys(text: str) -> None:
    # As written with the pattern: a run of ASCII digits by its length, then its text.
    expected: list[tuple[int, int, str]] = []
    for part in re.split(r"([0-9]+)", text):
        if part and part.isascii() and part.isdigit():
            digits = part.lstrip("0") or "0"
            expected.append((0, len(digits), digits))
        elif part:
            expected.append((1, 0, part))
    assert sysfs.natural_key(text) == tuple(expected)
    pci = nic._is_pci_address(text)
    assert nic._natural(text) == (((1, 0, text),) if pci else tuple(expected))


@given(st.text("0123456789abcdefAg:-", max_size=18))
def test_macs(text: str) -> None:
    candidate = text.strip().lower().replace("-", ":")
    assert nic.normalise_mac(text) == (candidate if _MAC.match(candidate) else None)
