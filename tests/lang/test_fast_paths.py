"""The interpreter's fast paths give what the definitions give.

* ``Template.expand`` (a word split once, looked up and joined) against ``expand`` (iPXE's
  innermost-first rescan), for words and values made of the characters that matter;
* the integer helpers' shortcuts (Python's ``int``/``str``/``int.from_bytes``) against the
  C-like walks they stand in for;
* ``Settings.get``'s look at the root against the full search, with blocks, tags and types.
"""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bootsh.lang import settypes
from bootsh.lang.script import Template, compile_commands, expand, split_commands
from bootsh.lang.settings import Settings

PIECES = st.sampled_from(["${", "}", "$", "{", "a", "b", ":", "/", "x", "${a}", "${b}", " "])
WORDS = st.lists(PIECES, max_size=8).map("".join)
VALUES = st.dictionaries(st.sampled_from(["a", "b", "x", "a:int32", ""]), WORDS, max_size=4)


class Endless(Exception):
    """A value that refers to itself: the bounds' business (tests/lang/test_language.py)."""


@settings(max_examples=800, deadline=None)
@given(WORDS, VALUES)
def test_templates_expand_as_the_definition(word: str, values: dict[str, str]) -> None:
    calls = [0]

    def lookup(name: str) -> str | None:
        calls[0] += 1
        if calls[0] > 1000:
            raise Endless
        return values.get(name)

    try:
        expected = expand(word, lookup)
    except Endless:
        assume(False)
    calls[0] = 0
    assert Template(word).expand(lookup) == expected


def test_simple_words_take_the_simple_path() -> None:
    assert Template("${x}").parts == ("", "x", "")
    assert Template("a${net0/mac:hex}b${y}").parts == ("a", "net0/mac:hex", "b", "y", "")
    assert Template("${net${i}/mac}").parts == ()  # nested: expand() decides
    assert Template("${x").parts == ("${x",)


def test_compiled_commands_are_the_split_commands() -> None:
    line = "set x ${y} || echo a${b}c ; # comment ; echo no"
    compiled = compile_commands(line)
    split = split_commands(line)
    assert [c.terminator for c in compiled] == [c.terminator for c in split]
    assert [c.literal for c in compiled] == [None, None, ()]
    assert compile_commands("echo a b")[0].literal == ("echo", "a", "b")


TEXTS = st.binary(max_size=12) | st.sampled_from(
    [b"0", b"00", b"012", b"0x1f", b"123", b"99999999999999999999999", b" 12", b"-5", b"+5"]
)


@settings(max_examples=1000, deadline=None)
@given(TEXTS, st.sampled_from([0, 10, 16]))
def test_strtoul_shortcut(data: bytes, base: int) -> None:
    assert settypes._strtoul(data, 0, base) == settypes._strtoul_c(data, 0, base)


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=10), st.booleans())
def test_numeric_value_shortcut(raw: bytes, signed: bool) -> None:
    def c(data: bytes) -> object:
        try:
            return settypes._numeric_value_c(data, signed)
        except settypes.SettingTypeError as exc:
            return str(exc)

    def fast(data: bytes) -> object:
        try:
            return settypes._numeric_value(data, signed)
        except settypes.SettingTypeError as exc:
            return str(exc)

    assert fast(raw) == c(raw)


@settings(max_examples=1000, deadline=None)
@given(st.integers(min_value=-(1 << 64), max_value=1 << 64))
def test_format_ld_shortcut(num: int) -> None:
    assert settypes._format_ld(num) == settypes._format_ld_c(num)


def test_long_min_keeps_ipxes_overflow() -> None:
    assert settypes._format_ld(-(1 << 63)) == settypes._format_ld_c(-(1 << 63))
    assert settypes.TYPES["int32"].format(b"\x80\x00\x00\x00") == "-2147483648"
    assert settypes.TYPES["uint8"].format(b"\xff") == "0xff"


@given(st.binary(min_size=0, max_size=9), st.sampled_from(sorted(settypes.TYPES)))
def test_integer_types_numerate_and_format_as_before(raw: bytes, type_name: str) -> None:
    kind = settypes.TYPES[type_name]
    if kind.integer is None:
        return
    try:
        value = settypes._numeric_value_c(raw, kind.integer.signed)
    except settypes.SettingTypeError:
        return
    expected = settypes._signed_long(value) if kind.integer.signed else value
    assert kind.numerate(raw) == expected


def test_root_lookups_match_the_search() -> None:
    store = Settings()
    store.set("x", "1")
    store.set("n:int32", "-5")
    store.set("hostname", "h")  # a tagged setting (DHCP option 12)
    store.set("sub/y", "2")
    for name in ("x", "x:int32", "n", "n:uint8", "hostname", "12", "12:string", "y", "nosuch"):
        found = store.lookup(name)
        expected = None
        if found is not None:
            try:
                expected = found.format()
            except Exception:
                expected = None
        assert store.get(name) == expected, name
