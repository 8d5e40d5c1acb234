"""iPXE's setting types: iPXE's own vectors, cross-type reads, invalid input, properties.

Vectors marked SETTINGS_TEST come from iPXE's ``src/tests/settings_test.c`` (ipxe/ipxe,
version 09ad8e5bd948dfd96b88ae69e82e3e99c5358e51): ``storef_ok`` (text -> raw),
``fetchf_ok`` (raw -> text), ``storen_ok`` (number -> raw), ``fetchn_ok`` (raw -> number).
UUID_TEST marks ``src/tests/uuid_test.c`` (2024). The rest follow from iPXE's code as cited.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bootsh.errors import BootshError
from bootsh.lang.settypes import (
    DEFAULT_TYPES,
    EINVAL,
    ENOTSUP,
    ERANGE,
    TYPES,
    SettingTypeError,
    split_type,
)

# --- SETTINGS_TEST: storef_ok (type, formatted text, expected raw) ---------------------
STOREF = [
    ("string", "hello", b"hello"),
    ("uristring", "hello%20world", b"hello world"),
    ("ipv4", "192.168.0.1", bytes([192, 168, 0, 1])),
    ("ipv6", "2001:ba8:0:1d4::6950:5845", bytes.fromhex("20010ba8000001d40000000069505845")),
    ("int8", "54", bytes([54])),
    ("int8", "0x7f", bytes([0x7F])),
    ("int8", "0x1234", bytes([0x34])),
    ("int8", "-32", bytes([0xE0])),
    ("uint8", "129", bytes([129])),
    ("uint8", "0x3421", bytes([0x21])),
    ("int16", "29483", bytes([0x73, 0x2B])),
    ("uint16", "48727", bytes([0xBE, 0x57])),
    ("int32", "2901274", bytes([0x00, 0x2C, 0x45, 0x1A])),
    ("uint32", "0xb598d21", bytes([0x0B, 0x59, 0x8D, 0x21])),
    (
        "hex",
        "08:12:f5:22:90:1b:4b:47:a8:30:cb:4d:67:4c:d6:76",
        bytes.fromhex("0812f522901b4b47a830cb4d674cd676"),
    ),
    ("hexhyp", "11-33-22", bytes([0x11, 0x33, 0x22])),
    ("hexraw", "012345abcdef", bytes.fromhex("012345abcdef")),
    ("base64", "cGFzc6\nNwaHJhc2U= ", bytes.fromhex("70617373a3706872617365")),
]

# --- SETTINGS_TEST: fetchf_ok (type, raw, expected formatted text) ---------------------
FETCHF = [
    ("string", b"world", "world"),
    ("uristring", bytes([1, 2, 3, 4, 5]), "%01%02%03%04%05"),
    ("uristring", b"\0 %/#:@?=&", "%00%20%25%2F%23%3A%40%3F%3D%26"),
    ("ipv4", bytes([212, 13, 204, 60]), "212.13.204.60"),
    ("ipv6", bytes.fromhex("fe80000000000000020c29fffec539a1"), "fe80::20c:29ff:fec5:39a1"),
    ("int8", bytes([0xF7]), "-9"),
    ("int8", bytes([106]), "106"),
    ("uint8", bytes([0x54]), "0x54"),
    ("int16", bytes([0x82, 0x14]), "-32236"),
    ("int16", bytes([0x12, 0x78]), "4728"),
    ("uint16", bytes([0x9A, 0x24]), "0x9a24"),
    ("int32", bytes([0xFF, 0x34, 0x2D, 0xAF]), "-13357649"),
    ("int32", bytes([0x01, 0x00, 0x34, 0xAB]), "16790699"),
    ("uint32", bytes([0xF2, 0x37, 0xB2, 0x18]), "0xf237b218"),
    (
        "hex",
        bytes.fromhex("62d9d4c47e3b414691c6fd0cbf"),
        "62:d9:d4:c4:7e:3b:41:46:91:c6:fd:0c:bf",
    ),
    (
        "hexhyp",
        bytes.fromhex("9fe56dfb243a4cbba9096c6613c1a8ec27"),
        "9f-e5-6d-fb-24-3a-4c-bb-a9-09-6c-66-13-c1-a8-ec-27",
    ),
    (
        "hexraw",
        bytes.fromhex("9e4b6eef36b646fe8f1706396bf4484e"),
        "9e4b6eef36b646fe8f1706396bf4484e",
    ),
    ("base64", bytes([0x80, 0x81, 0x82, 0x83, 0x84, 0x00, 0xFF]), "gIGCg4QA/w=="),
    (
        "uuid",
        bytes.fromhex("1a6a749d0eda461aa87a7cfe4fca4a57"),
        "1a6a749d-0eda-461a-a87a-7cfe4fca4a57",
    ),
    ("busdevfn", bytes([0x03, 0x45]), "03:08.5"),
]

# --- SETTINGS_TEST: storen_ok (type, number, expected raw) -----------------------------
STOREN = [
    ("int8", 72, bytes([72])),
    ("int8", 0xABCD, bytes([0xCD])),
    ("uint8", 84, bytes([84])),
    ("int16", 0x87BD, bytes([0x87, 0xBD])),
    ("uint16", 1, bytes([0x00, 0x01])),
    ("int32", 0x0812BFD2, bytes([0x08, 0x12, 0xBF, 0xD2])),
    ("uint32", 0xB5927AB8, bytes([0xB5, 0x92, 0x7A, 0xB8])),
]

# --- SETTINGS_TEST: fetchn_ok (type, raw, expected number) -----------------------------
FETCHN = [
    ("int8", bytes([0xFE]), -2),
    ("uint8", bytes([0xFE]), 0xFE),
    ("int16", bytes([0x3D, 0x14]), 0x3D14),
    ("int16", bytes([0x80]), -128),
    ("uint16", bytes([0xBD, 0x87]), 0xBD87),
    ("uint16", bytes([0x80]), 0x0080),
    ("int32", bytes([0x43, 0x87, 0x91, 0xB4]), 0x438791B4),
    ("int32", bytes([0xFF, 0xFF, 0xFE]), -2),
    ("uint32", bytes([0x98, 0xAB, 0x41, 0x81]), 0x98AB4181),
    ("uint32", bytes([0xFF, 0xFF, 0xFE]), 0x00FFFFFE),
    ("uint32", bytes([0, 0, 0, 0x12, 0x34, 0x56, 0x78]), 0x12345678),
    ("int32", bytes([0, 0, 0, 0x12, 0x34, 0x56, 0x78]), 0x12345678),
    ("int32", bytes([0xFF, 0xFF, 0x87, 0x65, 0x43, 0x21]), -0x789ABCDF),
]

# --- UUID_TEST (uuid_aton/uuid_ntoa) and ipxe.org/cfgtype/guid --------------------------
UUID_PARSE = [
    ("62b907a8-e1a7-460e-82f7-667d84270c84", "62b907a8e1a7460e82f7667d84270c84"),
    ("F5D0349C-EF7C-4AD4-B40B-FC2E522A7327", "f5d0349cef7c4ad4b40bfc2e522a7327"),
    ("4edd80ff7b43465589a02b1e7cffa196", "4edd80ff7b43465589a02b1e7cffa196"),
]
UUID_FORMAT = [
    ("18725ca6d6994e4db501c38091d2a433", "18725ca6-d699-4e4d-b501-c38091d2a433"),
    ("1a969b23c7d540feb79ac92ea34ab45b", "1a969b23-c7d5-40fe-b79a-c92ea34ab45b"),
]
UUID_INVALID = [
    "628d677b-cf38-471e-9ad9-c8a5d9220055b6",
    "5071ca26-fc5f-4580-887a-46d9a103e4",
    "453aee96:0fb5-4aeb-aecd-d060b2121218",
    "1ccb524a-b8b9-4b17-x5e2-7996867edc7d",
    "",
]


@pytest.mark.parametrize(("type_name", "text", "raw"), STOREF)
def test_ipxe_storef_vectors(type_name: str, text: str, raw: bytes) -> None:
    assert TYPES[type_name].parse(text) == raw


@pytest.mark.parametrize(("type_name", "raw", "text"), FETCHF)
def test_ipxe_fetchf_vectors(type_name: str, raw: bytes, text: str) -> None:
    assert TYPES[type_name].format(raw) == text


@pytest.mark.parametrize(("type_name", "number", "raw"), STOREN)
def test_ipxe_storen_vectors(type_name: str, number: int, raw: bytes) -> None:
    assert TYPES[type_name].denumerate(number) == raw


@pytest.mark.parametrize(("type_name", "raw", "number"), FETCHN)
def test_ipxe_fetchn_vectors(type_name: str, raw: bytes, number: int) -> None:
    assert TYPES[type_name].numerate(raw) == number


@pytest.mark.parametrize(("text", "hexed"), UUID_PARSE)
def test_uuid_parse_vectors(text: str, hexed: str) -> None:
    assert TYPES["uuid"].parse(text) == bytes.fromhex(hexed)


@pytest.mark.parametrize(("hexed", "text"), UUID_FORMAT)
def test_uuid_format_vectors(hexed: str, text: str) -> None:
    assert TYPES["uuid"].format(bytes.fromhex(hexed)) == text


@pytest.mark.parametrize("text", UUID_INVALID)
@pytest.mark.parametrize("type_name", ["uuid", "guid"])
def test_uuid_invalid_vectors(type_name: str, text: str) -> None:
    with pytest.raises(SettingTypeError) as caught:
        TYPES[type_name].parse(text)
    assert caught.value.posix == EINVAL


def test_uuid_hyphens_may_stand_between_any_bytes() -> None:
    # uuid_aton's commit message: "The placement of the separators is not checked".
    assert TYPES["uuid"].parse("62-b9-07a8e1a7460e82f7667d84270c-84") == bytes.fromhex(
        "62b907a8e1a7460e82f7667d84270c84"
    )
    for bad in ("-62b907a8e1a7460e82f7667d84270c84", "62b907a8e1a7460e82f7667d84270c84-"):
        with pytest.raises(SettingTypeError):
            TYPES["uuid"].parse(bad)


def test_guid_is_the_uuid_with_its_first_three_fields_byte_swapped() -> None:
    # ipxe.org/cfgtype/guid: ${uuid} 00112233-4455-6677-8899-aabbccddeeff shows as
    # ${uuid:guid} 33221100-5544-7766-8899-aabbccddeeff.
    raw = TYPES["uuid"].parse("00112233-4455-6677-8899-aabbccddeeff")
    assert TYPES["guid"].format(raw) == "33221100-5544-7766-8899-aabbccddeeff"
    assert TYPES["guid"].parse("33221100-5544-7766-8899-aabbccddeeff") == raw


# --- Cross-type reads: the same bytes through another type ----------------------------


@pytest.mark.parametrize(
    ("stored_type", "text", "read_type", "shown"),
    [
        ("string", "5", "int32", "53"),  # DESIGN.md section 4
        ("string", "5", "uint8", "0x35"),
        ("string", "5", "hex", "35"),
        ("string", "hello", "int32", "448378203247"),  # 5 bytes still fit a 64-bit long
        ("string", "hello", "hexhyp", "68-65-6c-6c-6f"),
        ("string", "hello", "base64", "aGVsbG8="),
        ("string", "a b/c", "uristring", "a%20b%2Fc"),
        ("string", "ABCD", "ipv4", "65.66.67.68"),
        ("string", "ABCDE", "ipv4", "65.66.67.68"),  # only the first four bytes
        ("ipv4", "10.0.2.15", "uint32", "0xa00020f"),
        ("ipv4", "10.0.2.15", "int8", "167772687"),  # int8 reads all four bytes
        ("ipv4", "10.0.2.15", "hexraw", "0a00020f"),
        ("hex", "52:54:00:12:34:56", "hexhyp", "52-54-00-12-34-56"),
        ("hex", "52:54:00:12:34:56", "string", "RT"),  # stops at the NUL byte
        ("int8", "-1", "uint32", "0xff"),  # unsigned: no sign extension
        ("int8", "-1", "int32", "-1"),
        ("uint8", "255", "int8", "-1"),
        ("int16", "0", "uint16", "0x0"),  # %#lx of zero
        ("uint32", "0x18", "busdevfn", "00:03.0"),  # ipxe.org/cfg/busloc
        ("base64", "AA==", "int8", "0"),
        ("uristring", "%e9", "uint8", "0xe9"),
    ],
)
def test_cross_type_reads(stored_type: str, text: str, read_type: str, shown: str) -> None:
    assert TYPES[read_type].format(TYPES[stored_type].parse(text)) == shown


@pytest.mark.parametrize(
    ("type_name", "raw", "posix"),
    [
        ("ipv4", b"5", EINVAL),
        ("ipv4", b"", EINVAL),
        ("ipv6", bytes(15), EINVAL),
        ("uuid", bytes(15), ERANGE),
        ("uuid", bytes(17), ERANGE),
        ("guid", bytes(4), ERANGE),
        ("int32", bytes([1]) + bytes(8), ERANGE),  # wider than unsigned long, not padding
        ("uint8", bytes([0xFF]) * 9, ERANGE),  # unsigned: the pad is 0x00
        ("busdevfn", bytes([1]) + bytes(8), ERANGE),
        ("dnssl", b"\x05abc", EINVAL),  # label overruns the value
        ("dnssl", b"\xc0\x00", EINVAL),  # pointer that does not point backwards
    ],
)
def test_format_fails_where_ipxe_fails(type_name: str, raw: bytes, posix: int) -> None:
    setting_type = TYPES[type_name]
    with pytest.raises(SettingTypeError) as caught:
        setting_type.format(raw)
    assert caught.value.posix == posix
    assert str(caught.value) in ("Invalid argument", "Result too large")
    assert isinstance(caught.value, BootshError)
    assert setting_type.expand(raw) == ""


def test_integers_read_values_of_any_width_up_to_a_long() -> None:
    assert TYPES["int32"].format(bytes([0xFF]) * 9 + b"\x80") == "-128"  # sign padding
    assert TYPES["uint32"].format(bytes(9) + b"\x80") == "0x80"
    assert TYPES["uint8"].format(bytes([0xFF]) * 8) == "0xffffffffffffffff"
    assert TYPES["int8"].format(b"") == "0"
    assert TYPES["uint8"].format(b"") == "0x0"


def test_signed_long_min_prints_as_ipxe_printf_does() -> None:
    # format_decimal() negates LONG_MIN, which overflows: the digits come out below '0'.
    assert TYPES["int8"].format(bytes([0x80]) + bytes(7)) == "-'..--).0-*(+,))+(0("
    assert TYPES["int8"].format(bytes([0x80]) + bytes(6) + b"\x01") == "-9223372036854775807"


def test_uristring_escapes_high_bytes_as_a_signed_char() -> None:
    assert TYPES["uristring"].format("é".encode()) == "%FFFFFFC3%FFFFFFA9"
    assert TYPES["uristring"].format(b"AZaz09-_.~!$'()*+,;") == "AZaz09-_.~!$'()*+,;"
    assert TYPES["uristring"].format(b"\x7f\t") == "%7F%09"


def test_string_stops_at_nul_and_keeps_any_other_byte() -> None:
    assert TYPES["string"].format(b"ab\0cd") == "ab"
    assert TYPES["string"].format(b"\xff\xfe").encode("utf-8", "surrogateescape") == b"\xff\xfe"
    assert TYPES["string"].parse("caf\u00e9") == b"caf\xc3\xa9"
    assert TYPES["string"].parse("ab\0cd") == b"ab"


def test_dnssl_decodes_names_and_compression_pointers() -> None:
    raw = b"\x07example\x03com\x00\x03sub\xc0\x00\x00\x00"  # trailing padding is skipped
    assert TYPES["dnssl"].format(raw) == "example.com sub.example.com"
    assert TYPES["dnssl"].format(b"\x00") == ""


# --- Parsing: iPXE's strtoul and friends ------------------------------------------------


@pytest.mark.parametrize(
    ("type_name", "text", "raw"),
    [
        ("int8", "010", b"\x08"),  # leading zero: octal
        ("int8", "0", b"\x00"),
        ("int8", "0x", b"\x00"),  # prefix without digits is still a number
        ("int8", "-", b"\x00"),
        ("int8", "+7", b"\x07"),
        ("int8", " \t5", b"\x05"),  # leading whitespace is skipped
        ("int8", "0XfF", b"\xff"),
        ("int8", "256", b"\x00"),  # truncated silently
        ("int16", "-1", b"\xff\xff"),
        ("uint32", "4294967296", b"\x00\x00\x00\x00"),
        ("uint32", "99999999999999999999999", (99999999999999999999999 % 2**64).to_bytes(8)[4:]),
        ("ipv4", "010.0x10.1.255", bytes([8, 16, 1, 255])),  # each part is strtoul(0)
        ("ipv4", " 1.+2.3.-0", bytes([1, 2, 3, 0])),
        ("ipv6", "::", bytes(16)),
        ("ipv6", "::1", bytes(15) + b"\x01"),
        ("ipv6", "1::", b"\x00\x01" + bytes(14)),
        ("ipv6", "1:2:3:4:5:6:7:8", bytes.fromhex("00010002000300040005000600070008")),
        ("ipv6", "1:2:3:4::5:6:7", bytes.fromhex("00010002000300040000000500060007")),
        ("ipv6", "FE80::1", bytes.fromhex("fe800000000000000000000000000001")),
        ("hex", "AB:cd", b"\xab\xcd"),
        ("hex", "", b""),
        ("hexraw", "00ff", b"\x00\xff"),
        ("uristring", "%41%4a%", b"AJ%"),
        ("uristring", "%zz", b"%zz"),  # no hex digit: the '%' stays
        ("uristring", "%a", b"\x0a"),  # one digit at the end
        ("uristring", "%-1", b"\xff"),  # strtoul takes a sign
        ("uristring", "% 5", b"\x05"),  # ... and skips whitespace
        ("uristring", "%0x", b"\x00x"),
        ("uristring", "%00", b"\x00"),
        ("base64", "QQ==", b"A"),
        ("base64", "QR==", b"A"),  # unused low bits are not checked
        ("base64", "QUI=", b"AB"),
        ("base64", " Q U J D ", b"ABC"),
        ("base64", "", b""),
        ("string", "", b""),
    ],
)
def test_parse_quirks(type_name: str, text: str, raw: bytes) -> None:
    assert TYPES[type_name].parse(text) == raw


@pytest.mark.parametrize(
    ("type_name", "text"),
    [
        ("int8", "08"),  # octal has no 8
        ("int8", "5 "),
        ("int8", "- 5"),
        ("int8", "1.5"),
        ("int8", "ten"),
        ("int32", "0x1g"),
        ("uint16", "\u00e9"),
        ("ipv4", ""),
        ("ipv4", "1.2.3"),
        ("ipv4", "1.2.3.4.5"),
        ("ipv4", "1.2.3.256"),
        ("ipv4", "1.2.3.-1"),
        ("ipv4", "1..3.4"),
        ("ipv4", "1.2.3.4 "),
        ("ipv4", "localhost"),
        ("ipv6", ""),
        ("ipv6", "1"),
        ("ipv6", ":1"),
        ("ipv6", ":::"),
        ("ipv6", "1::2::3"),
        ("ipv6", "1:2:3:4:5:6:7:8:9"),
        ("ipv6", "1:2:3:4:5:6:7:8:"),
        ("ipv6", "10000::"),
        ("ipv6", "::ffff:1.2.3.4"),  # no dotted-quad tail
        ("ipv6", "0x1::"),  # base 16 takes no 0x prefix
        ("hex", "1"),
        ("hex", "123"),
        ("hex", "12:"),
        ("hex", ":12"),
        ("hex", "12-34"),
        ("hex", "1234"),  # the separator is not optional
        ("hex", "12::34"),
        ("hex", "g1"),
        ("hexhyp", "12:34"),
        ("hexraw", "12:34"),
        ("hexraw", "0x12"),
        ("base64", "Q"),
        ("base64", "QQ"),
        ("base64", "QQ="),
        ("base64", "QQ==="),
        ("base64", "Q=Q="),
        ("base64", "="),
        ("base64", "QQ==QQ=="),
        ("base64", "Q!=="),
    ],
)
def test_parse_rejects_invalid_text(type_name: str, text: str) -> None:
    with pytest.raises(SettingTypeError) as caught:
        TYPES[type_name].parse(text)
    assert caught.value.posix == EINVAL
    assert str(caught.value) == "Invalid argument"


@pytest.mark.parametrize("type_name", ["busdevfn", "dnssl"])
def test_types_without_a_parser(type_name: str) -> None:
    with pytest.raises(SettingTypeError) as caught:
        TYPES[type_name].parse("00:03.0")
    assert caught.value.posix == ENOTSUP
    assert str(caught.value) == "Operation not supported"


def test_numeric_interface_only_for_integers() -> None:
    for type_name in ("string", "ipv4", "hex", "uuid", "busdevfn"):
        with pytest.raises(SettingTypeError, match="Operation not supported"):
            TYPES[type_name].numerate(b"\x01")
        with pytest.raises(SettingTypeError, match="Operation not supported"):
            TYPES[type_name].denumerate(1)
    # inc: fetchn, add, storen, all modulo the width.
    int8 = TYPES["int8"]
    assert int8.denumerate(int8.numerate(int8.parse("127")) + 1) == b"\x80"
    assert TYPES["int32"].denumerate(-5) == b"\xff\xff\xff\xfb"
    with pytest.raises(SettingTypeError, match="Result too large"):
        int8.numerate(b"\x01" + bytes(8))


# --- Names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ip", ("ip", None)),
        ("ip:ipv4", ("ip", "ipv4")),
        ("net0.dhcp/ip:ipv4", ("net0.dhcp/ip", "ipv4")),
        ("net0/mac:hexhyp", ("net0/mac", "hexhyp")),
        ("a:b/c", ("a:b/c", None)),  # the scope ends at the first '/'
        ("a:b/c:int8", ("a:b/c", "int8")),
        ("net0/", ("net0/", None)),
        ("", ("", None)),
    ],
)
def test_split_type(name: str, expected: tuple[str, str | None]) -> None:
    assert split_type(name) == expected


@pytest.mark.parametrize("name", ["x:bogus", "x:", "x:int8:y", "x:INT8", "net0/x:Hex"])
def test_split_type_rejects_unknown_types(name: str) -> None:
    with pytest.raises(SettingTypeError) as caught:
        split_type(name)
    assert caught.value.posix == ENOTSUP
    assert str(caught.value) == "Operation not supported"


def test_default_types_name_known_types() -> None:
    assert set(DEFAULT_TYPES.values()) <= set(TYPES)
    expected = {
        "ip": "ipv4",
        "netmask": "ipv4",
        "gateway": "ipv4",
        "dns": "ipv4",
        "next-server": "ipv4",
        "dhcp-server": "ipv4",
        "mac": "hex",
        "busid": "hex",
        "busloc": "uint32",
        "bustype": "string",
        "chip": "string",
        "ifname": "string",
        "mtu": "int16",
        "uuid": "uuid",
        "priority": "int8",
        "errno": "uint32",
    }
    assert {name: DEFAULT_TYPES[name] for name in expected} == expected


def test_types_are_keyed_by_their_names() -> None:
    assert all(name == setting_type.name for name, setting_type in TYPES.items())
    assert list(TYPES)[:4] == ["string", "uristring", "ipv4", "ipv6"]


# --- Properties --------------------------------------------------------------------------

_NEVER_FAILS = ["string", "uristring", "hex", "hexhyp", "hexraw", "base64"]


@given(raw=st.binary(max_size=40), type_name=st.sampled_from(sorted(TYPES)))
def test_format_returns_text_or_raises_only_setting_type_error(raw: bytes, type_name: str) -> None:
    setting_type = TYPES[type_name]
    try:
        shown = setting_type.format(raw)
    except SettingTypeError:
        assert type_name not in _NEVER_FAILS
        assert setting_type.expand(raw) == ""
    else:
        assert isinstance(shown, str)
        assert setting_type.expand(raw) == shown


@given(text=st.text(max_size=40), type_name=st.sampled_from(sorted(TYPES)))
def test_parse_returns_bytes_or_raises_only_setting_type_error(text: str, type_name: str) -> None:
    try:
        raw = TYPES[type_name].parse(text)
    except SettingTypeError:
        return
    assert isinstance(raw, bytes)


def _lossless_raw(type_name: str) -> st.SearchStrategy[bytes]:
    """The raw values whose formatted text iPXE parses back to the same bytes."""
    widths = {"int8": 1, "int16": 2, "int32": 4, "uint8": 1, "uint16": 2, "uint32": 4}
    fixed = {"ipv4": 4, "ipv6": 16, "uuid": 16, "guid": 16, **widths}
    if type_name in fixed:
        return st.binary(min_size=fixed[type_name], max_size=fixed[type_name])
    if type_name == "string":
        return st.binary(max_size=40).filter(lambda raw: 0 not in raw)
    if type_name == "uristring":  # bytes >= 0x80 print as %FFFFFFxx
        return st.binary(max_size=40).filter(lambda raw: all(byte < 0x80 for byte in raw))
    return st.binary(max_size=40)


_ROUND_TRIP_TYPES = [name for name, setting_type in TYPES.items() if setting_type.parser]


@given(data=st.data(), type_name=st.sampled_from(_ROUND_TRIP_TYPES))
def test_parse_of_format_round_trips(data: st.DataObject, type_name: str) -> None:
    raw = data.draw(_lossless_raw(type_name))
    setting_type = TYPES[type_name]
    assert setting_type.parse(setting_type.format(raw)) == raw


@given(value=st.integers(min_value=-(2**70), max_value=2**70))
def test_integer_text_round_trips_modulo_the_width(value: int) -> None:
    for type_name, bits in [("int8", 8), ("int16", 16), ("int32", 32)]:
        raw = TYPES[type_name].parse(str(value))
        assert raw == (value % 2**bits).to_bytes(bits // 8, "big")
        number = int(TYPES[type_name].format(raw))
        assert number % 2**bits == value % 2**bits
        assert -(2 ** (bits - 1)) <= number < 2 ** (bits - 1)
    for type_name, bits in [("uint8", 8), ("uint16", 16), ("uint32", 32)]:
        shown = TYPES[type_name].format(TYPES[type_name].parse(hex(value)))
        assert int(shown, 16) == value % 2**bits
