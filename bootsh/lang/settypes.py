"""iPXE's setting types, as pure functions over the raw bytes a setting stores.

iPXE stores every setting as raw bytes; the *type* only says how text becomes those bytes
(``parse``) and how the bytes are shown (``format``). Reading a value through another type
(``${x:int32}``) formats the same bytes differently and converts nothing: the string ``5``
(one byte, 0x35) read as ``:int32`` is ``53``.

Everything here follows iPXE's own code, byte for byte (facts from ``src/core/settings.c``,
``src/core/string.c`` (strtoul), ``src/core/uri.c``, ``src/core/base16.c``,
``src/core/base64.c``, ``src/core/uuid.c``, ``src/net/ipv4.c``, ``src/net/ipv6.c``,
``src/net/dns.c`` and ``src/core/vsprintf.c``), including its quirks:

* Integers are parsed by iPXE's ``strtoul`` with base 0: leading whitespace and a sign are
  accepted, ``0x`` means hex and a leading ``0`` means *octal* (``08`` is invalid). The value
  is truncated silently to the type's width (``0x1234`` as ``:int8`` stores ``0x34``) and
  stored big-endian in exactly the type's width.
* Integers are *read* from a value of any length: big-endian, sign-extended from the first
  byte for the signed types. A value longer than ``unsigned long`` (8 bytes: the x86_64
  build; see ``LONG_BITS``) reads only if the excess leading bytes are padding, else
  "Result too large".
* Unsigned integers print as ``%#lx`` with iPXE's printf, so zero is ``0x0``.
* ``uristring`` escapes with a *signed* ``char``: a byte >= 0x80 prints as ``%FFFFFF80``
  on x86 (the sign-extended int), so it is not lossless for such bytes.
* ``ipv4``/``ipv6`` read the first 4/16 bytes of a longer value and fail on a shorter one;
  ``uuid``/``guid`` need exactly 16 bytes.
* String values are C strings: a format stops at the first NUL byte.

Text and bytes: parse encodes text as UTF-8 (lone surrogates from ``surrogateescape`` become
the bytes they stand for) and cuts it at the first NUL, as a C string would be; format
decodes UTF-8 with ``surrogateescape``, so any stored bytes come back out unchanged by
``.encode("utf-8", "surrogateescape")``. A caller writing to a terminal should encode with
``errors="surrogateescape"`` (or ``"backslashreplace"``).

Errors: iPXE's format functions *can* fail (``:ipv4`` of a one-byte value is "Invalid
argument"); ``SettingType.format`` then raises ``SettingTypeError``, never anything else,
so ``show`` can print iPXE's ``Could not find "x": <reason>``. ``SettingType.expand`` is the
variant for ``${...}`` expansion: it never raises and gives ``""`` where iPXE expands to
nothing.
"""

from __future__ import annotations

from bootsh.errors import BootshError
from bootsh.records import dataclass

TYPE_CHECKING = False  # not typing's: the interpreter's start-up does not import typing
if TYPE_CHECKING:
    from collections.abc import Callable

# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------

#: iPXE's POSIX-like error codes (``src/include/errno.h``) used by the setting types.
EINVAL = 0x1C
ENOTSUP = 0x3C
ERANGE = 0x46

#: The iPXE source files of errors a type's own file does not raise (include/ipxe/errfile.h).
ERRFILE_BASE16 = 0x00112000  # core/base16.c
ERRFILE_UUID = 0x002A2000  # core/uuid.c

#: iPXE's ``strerror`` texts for those codes (``src/include/errno.h``).
REASONS: dict[int, str] = {
    EINVAL: "Invalid argument",
    ENOTSUP: "Operation not supported",
    ERANGE: "Result too large",
}


class SettingTypeError(BootshError):
    """Text that a type cannot parse, raw bytes it cannot format, or an unknown type name.

    ``str(error)`` is iPXE's ``strerror`` text (``Invalid argument``, ``Result too large``,
    ``Operation not supported``); ``posix`` is iPXE's POSIX-like code (``EINVAL`` ...) for a
    caller that composes the full iPXE error number, and ``detail`` says what exactly was
    wrong (iPXE only logs that in debug builds). The commands wrap the reason as iPXE does:
    ``Could not store "x": Invalid argument``, ``Could not find "x": Result too large``,
    ``"x:bogus": invalid setting: Operation not supported``.
    """

    def __init__(self, posix: int, detail: str = "", *, errfile: int | None = None) -> None:
        self.posix = posix
        self.reason = REASONS[posix]
        self.detail = detail
        #: The iPXE source file that fails, when it is not the type's own (a UUID's bad hex
        #: digits fail in core/base16.c, its length in core/uuid.c).
        self.errfile = errfile
        super().__init__(self.reason)


# --------------------------------------------------------------------------------------
# C helpers: strings, iPXE's strtoul, printf's %ld
# --------------------------------------------------------------------------------------

#: Width of C ``unsigned long`` in the emulated iPXE build. 64 is the x86_64 (EFI) build;
#: the i386 BIOS build has 32, where a value longer than 4 bytes fails to read as a number.
LONG_BITS = 64
_LONG_BYTES = LONG_BITS // 8
_ULONG_MASK = (1 << LONG_BITS) - 1
_LONG_MAX = (1 << (LONG_BITS - 1)) - 1

#: iPXE's ``isspace`` (``src/core/ctype.c``).
_SPACE = frozenset(b" \f\n\r\t\v")


def _cstr(text: str) -> bytes:
    """The bytes iPXE would see for ``text``: UTF-8, cut at the first NUL (a C string)."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogatepass")
    nul = raw.find(0)
    return raw if nul < 0 else raw[:nul]


def _text(raw: bytes) -> str:
    """Formatted bytes as text: cut at the first NUL as iPXE's C string is."""
    nul = raw.find(0)
    if nul >= 0:
        raw = raw[:nul]
    return raw.decode("utf-8", "surrogateescape")


def _hex_byte(raw: bytes, pos: int, error: str) -> int:
    """The byte written as two hex digits at ``pos``; EINVAL with ``error`` otherwise."""
    sixteens = _digit_value(_at(raw, pos))
    units = _digit_value(_at(raw, pos + 1))
    if not (0 <= sixteens < 16 and 0 <= units < 16):
        raise SettingTypeError(EINVAL, error)
    return (sixteens << 4) | units


def _at(data: bytes, pos: int) -> int:
    """The byte at ``pos``, or the terminating NUL past the end."""
    return data[pos] if pos < len(data) else 0


def _digit_value(char: int) -> int:
    """iPXE's ``digit_value()``: anything not a digit comes out >= 16 (or negative here)."""
    if char >= 0x80:  # a negative signed char, a huge unsigned int in C
        return 1 << 32
    if char >= ord("a"):
        return char - (ord("a") - 10)
    if char >= ord("A"):
        return char - (ord("A") - 10)
    if char <= ord("9"):
        return char - ord("0")  # negative below '0': invalid
    return char


def _strtoul(data: bytes, pos: int, base: int) -> tuple[int, int]:
    """iPXE's ``strtoul`` (``src/core/string.c``) from ``pos``: ``(value, end position)``.

    Skips leading whitespace, takes one sign, autodetects ``0x`` / ``0`` (octal) when
    ``base`` is 0, wraps modulo 2**LONG_BITS. Unlike glibc, the end position is past the
    whitespace, sign and prefix even when no digit follows ("-" parses as 0).
    """
    # Plain decimal digits (a loop counter, an option's number) are Python's int(); the
    # rest takes the C walk. tests/lang/test_settypes.py holds the two against each other.
    if (
        pos == 0
        and data.isdigit()
        and (base == 10 or (base == 0 and (data[0] != 0x30 or len(data) == 1)))
    ):
        return int(data) & _ULONG_MASK, len(data)
    return _strtoul_c(data, pos, base)


def _strtoul_c(data: bytes, pos: int, base: int) -> tuple[int, int]:
    """``_strtoul`` as iPXE's C does it, character by character."""
    while _at(data, pos) in _SPACE:
        pos += 1
    negate = False
    if _at(data, pos) == ord("-"):
        pos += 1
        negate = True
    elif _at(data, pos) == ord("+"):
        pos += 1
    if base == 0:
        base = 10
        if _at(data, pos) == ord("0"):
            pos += 1
            base = 8
            if (_at(data, pos) & ~0x20) == ord("X"):
                pos += 1
                base = 16
    value = 0
    while True:
        digit = _digit_value(_at(data, pos))
        if not 0 <= digit < base:
            break
        value = (value * base + digit) & _ULONG_MASK
        pos += 1
    if negate:
        value = -value & _ULONG_MASK
    return value, pos


def _signed_long(value: int) -> int:
    """An ``unsigned long`` reinterpreted as ``long``."""
    return value - (1 << LONG_BITS) if value > _LONG_MAX else value


def _format_ld(num: int) -> str:
    """iPXE's ``%ld`` (``format_decimal`` in ``src/core/vsprintf.c``), overflow included.

    iPXE negates a negative number before taking digits; for LONG_MIN the negation
    overflows and the digits come out as characters below '0'. Reproduced literally.
    """
    if -_LONG_MAX <= num <= _LONG_MAX:
        return str(num)  # what the digit walk below gives for any number it can negate
    return _format_ld_c(num)


def _format_ld_c(num: int) -> str:
    """``_format_ld`` as iPXE's C does it, digit by digit."""
    negative = num < 0
    if negative:
        num = -num
        if num > _LONG_MAX:  # -LONG_MIN wraps to LONG_MIN
            num -= 1 << LONG_BITS
    digits: list[str] = []
    while True:
        quotient = -(-num // 10) if num < 0 else num // 10  # C truncating division
        digits.append(chr(ord("0") + num - 10 * quotient))
        num = quotient
        if num == 0:
            break
    text = "".join(reversed(digits))
    return "-" + text if negative else text


# --------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------


def _numeric_value(raw: bytes, is_signed: bool) -> int:
    """iPXE's ``numeric_setting_value()``: the big-endian value as an ``unsigned long``.

    Sign-extended from the first byte for a signed type. Bytes beyond ``unsigned long``'s
    width must be padding (0x00, or 0xff for a negative signed value): else ERANGE.
    """
    if len(raw) <= _LONG_BYTES:  # no padding to check: the sign-extended value itself
        return int.from_bytes(raw, "big", signed=is_signed) & _ULONG_MASK
    return _numeric_value_c(raw, is_signed)


def _numeric_value_c(raw: bytes, is_signed: bool) -> int:
    """``_numeric_value`` as iPXE's C does it, byte by byte."""
    negative = bool(raw) and raw[0] >= 0x80
    value = _ULONG_MASK if (is_signed and negative) else 0
    pad = value & 0xFF
    for index, byte in enumerate(raw):
        value = ((value << 8) | byte) & _ULONG_MASK
        if index + _LONG_BYTES < len(raw) and byte != pad:
            raise SettingTypeError(ERANGE, f"{len(raw)}-byte value does not fit a long")
    return value


@dataclass(frozen=True)
class _Integer:
    width: int  # bytes
    signed: bool

    def denumerate(self, value: int) -> bytes:
        return (value & ((1 << (8 * self.width)) - 1)).to_bytes(self.width, "big")

    def numerate(self, raw: bytes) -> int:
        if len(raw) <= _LONG_BYTES:  # the sign-extended value is already in long's range
            return int.from_bytes(raw, "big", signed=self.signed)
        value = _numeric_value(raw, self.signed)
        return _signed_long(value) if self.signed else value

    def parse(self, raw: bytes) -> bytes:
        value, end = _strtoul(raw, 0, 0)
        if end != len(raw):
            raise SettingTypeError(EINVAL, f"not a number: {raw!r}")
        return self.denumerate(value)

    def format(self, raw: bytes) -> str:
        if self.signed:
            return _format_ld(self.numerate(raw))
        return f"0x{_numeric_value(raw, False):x}"


# --------------------------------------------------------------------------------------
# The other types' parse and format functions (raw C-string bytes in, bytes/str out)
# --------------------------------------------------------------------------------------


def _parse_string(raw: bytes) -> bytes:
    return raw


def _format_string(raw: bytes) -> str:
    return _text(raw)


#: Characters ``uri_encode()`` escapes for field 0 (scheme/default) besides non-printing
#: ones, space and '%' (``uri_character_escaped()`` in ``src/core/uri.c``).
_URI_ESCAPED = frozenset(b"/#:@?=&")


def _parse_uristring(raw: bytes) -> bytes:
    """``uri_decode()``: ``%`` takes up to two following characters through strtoul(16)."""
    out = bytearray()
    pos = 0
    while pos < len(raw):
        char = raw[pos]
        pos += 1
        if char == ord("%"):
            hexbuf = raw[pos : pos + 2]
            decoded, skip = _strtoul(hexbuf, 0, 16)
            pos += skip
            if skip:
                char = decoded & 0xFF
        out.append(char)
    return bytes(out)


def _format_uristring(raw: bytes) -> str:
    """``uri_encode(0, ...)`` with x86's signed ``char``: 0x80 becomes ``%FFFFFF80``."""
    parts: list[str] = []
    for byte in raw:
        signed = byte - 0x100 if byte >= 0x80 else byte
        if not 0x20 <= signed <= 0x7E or byte in (0x20, 0x25) or byte in _URI_ESCAPED:
            parts.append(f"%{signed & 0xFFFFFFFF:02X}")
        else:
            parts.append(chr(byte))
    return "".join(parts)


def _parse_ipv4(raw: bytes) -> bytes:
    """``inet_aton()`` (``src/net/ipv4.c``): four strtoul(0) parts <= 255 joined by dots."""
    out = bytearray()
    pos = 0
    while True:
        value, end = _strtoul(raw, pos, 0)
        if end == pos or value > 0xFF:
            raise SettingTypeError(EINVAL, f"not an IPv4 address: {raw!r}")
        out.append(value)
        separator = ord(".") if len(out) < 4 else 0
        if _at(raw, end) != separator:
            raise SettingTypeError(EINVAL, f"not an IPv4 address: {raw!r}")
        if not separator:
            return bytes(out)
        pos = end + 1


def _format_ipv4(raw: bytes) -> str:
    if len(raw) < 4:
        raise SettingTypeError(EINVAL, f"{len(raw)}-byte value is no IPv4 address")
    return ".".join(str(byte) for byte in raw[:4])


def _parse_ipv6(raw: bytes) -> bytes:
    """``inet6_aton()`` (``src/net/ipv6.c``): words by strtoul(16), one ``::`` allowed."""
    words: list[int] = []
    pad: int | None = None
    nptr = 0
    while True:
        value, end = _strtoul(raw, nptr, 16)
        if value > 0xFFFF:
            raise SettingTypeError(EINVAL, f"IPv6 invalid word value {value:#x}")
        words.append(value)
        separator = _at(raw, end)
        if not separator:
            break
        if separator != ord(":"):
            raise SettingTypeError(EINVAL, f"IPv6 invalid separator {chr(separator)!r}")
        if end == nptr and nptr != 0:
            if pad is not None:
                raise SettingTypeError(EINVAL, 'IPv6 invalid multiple "::"')
            pad = len(words)
        nptr = end + 1
        if len(words) == 8:
            raise SettingTypeError(EINVAL, "IPv6 too many words")
    if pad is not None:
        words = words[:pad] + [0] * (8 - len(words)) + words[pad:]
    elif len(words) != 8:
        raise SettingTypeError(EINVAL, "IPv6 underlength address")
    return b"".join(word.to_bytes(2, "big") for word in words)


def _format_ipv6(raw: bytes) -> str:
    """``inet6_ntoa()``: RFC 5952, the first longest run of >= 2 zero words becomes ``::``."""
    if len(raw) < 16:
        raise SettingTypeError(EINVAL, f"{len(raw)}-byte value is no IPv6 address")
    words = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, 16, 2)]
    longest_start: int | None = None
    longest_len = 1
    start = 0
    run = 0
    for index, word in enumerate(words):
        if word == 0:
            if run == 0:
                start = index
            run += 1
            if run > longest_len:
                longest_start, longest_len = start, run
        else:
            run = 0
    parts = [f"{word:x}" for word in words]
    if longest_start is None:
        return ":".join(parts)
    head = ":".join(parts[:longest_start])
    tail = ":".join(parts[longest_start + longest_len :])
    return f"{head}::{tail}"


def _hex_decode(separator: int, raw: bytes) -> bytes:
    """``hex_decode()`` (``src/core/base16.c``): two digits a byte, the separator between."""
    out = bytearray()
    pos = 0
    while pos < len(raw):
        if out and separator:
            if raw[pos] != separator:
                raise SettingTypeError(EINVAL, f"expected {chr(separator)!r} in {raw!r}")
            pos += 1
        out.append(_hex_byte(raw, pos, f"invalid hex digits in {raw!r}"))
        pos += 2
    return bytes(out)


def _hex_codec(separator: str) -> tuple[Callable[[bytes], bytes], Callable[[bytes], str]]:
    sep_byte = ord(separator) if separator else 0

    def parse(raw: bytes) -> bytes:
        return _hex_decode(sep_byte, raw)

    def format_(raw: bytes) -> str:
        return separator.join(f"{byte:02x}" for byte in raw)

    return parse, format_


_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _parse_base64(raw: bytes) -> bytes:
    """``base64_decode()``: whitespace anywhere, at most two trailing ``=``, whole bytes.

    Lenient like iPXE: the unused low bits of the last character are not checked.
    """
    out = bytearray(len(raw) + 2)
    bit = 0  # C unsigned int
    pad_count = 0
    for char in raw:
        if char in _SPACE:
            continue
        if char == ord("="):
            if pad_count >= 2:
                raise SettingTypeError(EINVAL, "Base64 has too many pad characters")
            pad_count += 1
            bit = (bit - 2) & 0xFFFFFFFF
            continue
        if pad_count:
            raise SettingTypeError(EINVAL, "Base64 has invalid pad sequence")
        index = _BASE64_ALPHABET.find(char)
        if index < 0:
            raise SettingTypeError(EINVAL, f"Base64 contains invalid character {chr(char)!r}")
        in_bits = index << 2
        offset = bit // 8
        out[offset] |= (in_bits >> (bit % 8)) & 0xFF
        out[offset + 1] |= (in_bits << (8 - bit % 8)) & 0xFF
        bit += 6
    if bit % 8:
        raise SettingTypeError(EINVAL, f"Base64 has invalid bit length {bit}")
    return bytes(out[: bit // 8])


def _format_base64(raw: bytes) -> str:
    import base64  # with re: only for a base64 setting

    return base64.b64encode(raw).decode("ascii")


def _mangle(raw: bytes) -> bytes:
    """``uuid_mangle()``: byte-swap the first three fields (UUID <-> little-endian GUID)."""
    return raw[3::-1] + raw[5:3:-1] + raw[7:5:-1] + raw[8:]


def _uuid_aton(raw: bytes) -> bytes:
    """``uuid_aton()``: 32 hex digits; a '-' may stand between any two bytes, or not.

    Rebuilt from the commit that added it to iPXE (2024: "optional hyphen separators. The
    placement of the separators is not checked") and ``src/tests/uuid_test.c``; a leading,
    trailing or doubled '-' is rejected here.
    """
    out = bytearray()
    pos = 0
    while pos < len(raw):
        if out and raw[pos] == ord("-"):
            pos += 1
        try:
            out.append(_hex_byte(raw, pos, f"invalid UUID {raw!r}"))
        except SettingTypeError as exc:
            # hex_decode() fails, in core/base16.c
            raise SettingTypeError(EINVAL, exc.detail, errfile=ERRFILE_BASE16) from None
        pos += 2
    if len(out) != 16:
        raise SettingTypeError(EINVAL, f"UUID of {len(out)} bytes", errfile=ERRFILE_UUID)
    return bytes(out)


def _format_uuid_bytes(raw: bytes) -> str:
    if len(raw) != 16:
        raise SettingTypeError(ERANGE, f"{len(raw)}-byte value is no UUID")
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _parse_uuid(raw: bytes) -> bytes:
    return _uuid_aton(raw)


def _format_uuid(raw: bytes) -> str:
    return _format_uuid_bytes(raw)


def _parse_guid(raw: bytes) -> bytes:
    return _mangle(_uuid_aton(raw))


def _format_guid(raw: bytes) -> str:
    if len(raw) != 16:
        raise SettingTypeError(ERANGE, f"{len(raw)}-byte value is no GUID")
    return _format_uuid_bytes(_mangle(raw))


def _format_busdevfn(raw: bytes) -> str:
    """``%02lx:%02lx.%lx`` of PCI_BUS, PCI_SLOT, PCI_FUNC, as ``settings_test.c`` expects.

    No PCI segment is shown (bits 16 and up are ignored).
    """
    value = _numeric_value(raw, False)
    return f"{(value >> 8) & 0xFF:02x}:{(value >> 3) & 0x1F:02x}.{value & 0x07:x}"


def _dns_label(data: bytes, offset: int) -> int:
    """``dns_label()`` (``src/net/dns.c``): follow compression pointers to a whole label."""
    while True:
        if offset + 1 > len(data):
            raise SettingTypeError(EINVAL, "DNS name overrun")
        if data[offset] & 0xC0:
            if offset + 2 > len(data):
                raise SettingTypeError(EINVAL, "DNS name overrun")
            pointer = int.from_bytes(data[offset : offset + 2], "big") & 0x3FFF
            if pointer >= offset:
                raise SettingTypeError(EINVAL, "DNS compression pointer does not point back")
            offset = pointer
            continue
        if offset + 1 + data[offset] > len(data):
            raise SettingTypeError(EINVAL, "DNS label overrun")
        return offset


def _dns_decode(data: bytes, offset: int) -> bytes:
    out = bytearray()
    for _ in range(len(data)):
        offset = _dns_label(data, offset)
        label_len = data[offset]
        if label_len == 0:
            return bytes(out)
        if out:
            out += b"."
        out += data[offset + 1 : offset + 1 + label_len]
        offset += 1 + label_len
    raise SettingTypeError(EINVAL, "DNS name recursion limit")


def _dns_skip_search(data: bytes, offset: int) -> int:
    for _ in range(len(data)):
        previous = offset
        offset = _dns_label(data, previous)
        if offset != previous:
            offset = previous + 2
            break
        label_len = data[offset]
        offset += 1 + label_len
        if label_len == 0:
            break
    else:
        raise SettingTypeError(EINVAL, "DNS name recursion limit")
    while offset < len(data) and data[offset] == 0:
        offset += 1
    return offset


def _format_dnssl(raw: bytes) -> str:
    """``format_dnssl_setting()``: RFC 1035 names (compression allowed), space-separated."""
    out = bytearray()
    offset = 0
    while offset < len(raw):
        out += _dns_decode(raw, offset)
        try:
            offset = _dns_skip_search(raw, offset)
        except SettingTypeError:
            offset = -1  # a negative int in a size_t: the loop ends after a separator
        if offset != len(raw):
            out += b" "
        if offset < 0:
            break
    return _text(bytes(out))


# --------------------------------------------------------------------------------------
# The types
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingType:
    """One of iPXE's setting types (``struct setting_type``).

    ``parser`` is ``None`` for a type iPXE cannot store text through (``busdevfn``,
    ``dnssl``); ``integer`` is set for the six integer types, the only ones with iPXE's
    numeric interface (``inc``).
    """

    name: str
    parser: Callable[[bytes], bytes] | None
    formatter: Callable[[bytes], str]
    integer: _Integer | None = None

    def parse(self, text: str) -> bytes:
        """The raw bytes iPXE stores for ``text`` (``setting_parse()``).

        Raises ``SettingTypeError`` ("Invalid argument") for text invalid for the type, and
        ("Operation not supported") for a type without a parser. Note that iPXE's
        ``set x ""`` deletes before any parsing: call this only for a non-empty value.
        """
        if self.parser is None:
            raise SettingTypeError(ENOTSUP, f"type {self.name} cannot be parsed")
        return self.parser(_cstr(text))

    def format(self, raw: bytes) -> str:
        """The text iPXE shows for ``raw`` (``setting_format()``), for bytes of any type.

        Raises ``SettingTypeError`` exactly where iPXE's format fails: ``ipv4``/``ipv6`` of
        a too-short value (Invalid argument), ``uuid``/``guid`` of other than 16 bytes and
        an integer wider than ``unsigned long`` (Result too large), a malformed ``dnssl``
        (Invalid argument). Never raises anything else.
        """
        return self.formatter(raw if type(raw) is bytes else bytes(raw))

    def expand(self, raw: bytes) -> str:
        """``${name:type}`` expansion: ``format``, or ``""`` where iPXE's format fails."""
        try:
            return self.format(raw)
        except SettingTypeError:
            return ""

    def numerate(self, raw: bytes) -> int:
        """``setting_numerate()``: ``raw`` as a number (signed for ``intN``, as ``%ld``).

        Raises ``SettingTypeError`` ("Operation not supported") for a non-integer type, as
        iPXE's ``inc`` reports for a ``string`` setting, or ("Result too large").
        """
        if self.integer is None:
            raise SettingTypeError(ENOTSUP, f"type {self.name} is not numeric")
        return self.integer.numerate(raw if type(raw) is bytes else bytes(raw))

    def denumerate(self, value: int) -> bytes:
        """``setting_denumerate()``: ``value`` truncated to the width, big-endian."""
        if self.integer is None:
            raise SettingTypeError(ENOTSUP, f"type {self.name} is not numeric")
        return self.integer.denumerate(value)


def _integer_type(name: str, width: int, signed: bool) -> SettingType:
    spec = _Integer(width, signed)
    return SettingType(name, spec.parse, spec.format, spec)


_HEX_PARSE, _HEX_FORMAT = _hex_codec(":")
_HEXHYP_PARSE, _HEXHYP_FORMAT = _hex_codec("-")
_HEXRAW_PARSE, _HEXRAW_FORMAT = _hex_codec("")

#: Every type iPXE knows, by name, in iPXE's table order.
TYPES: dict[str, SettingType] = {
    setting_type.name: setting_type
    for setting_type in (
        SettingType("string", _parse_string, _format_string),
        SettingType("uristring", _parse_uristring, _format_uristring),
        SettingType("ipv4", _parse_ipv4, _format_ipv4),
        SettingType("ipv6", _parse_ipv6, _format_ipv6),
        _integer_type("int8", 1, True),
        _integer_type("int16", 2, True),
        _integer_type("int32", 4, True),
        _integer_type("uint8", 1, False),
        _integer_type("uint16", 2, False),
        _integer_type("uint32", 4, False),
        SettingType("hex", _HEX_PARSE, _HEX_FORMAT),
        SettingType("hexhyp", _HEXHYP_PARSE, _HEXHYP_FORMAT),
        SettingType("hexraw", _HEXRAW_PARSE, _HEXRAW_FORMAT),
        SettingType("base64", _parse_base64, _format_base64),
        SettingType("uuid", _parse_uuid, _format_uuid),
        SettingType("guid", _parse_guid, _format_guid),
        SettingType("busdevfn", None, _format_busdevfn),
        SettingType("dnssl", None, _format_dnssl),
    )
}

#: The type of a setting created without one (``fetch_setting()`` defaults to string).
DEFAULT_TYPE = "string"

#: The type ``inc`` gives a setting it creates (DESIGN.md section 4).
INC_TYPE = "int32"

#: The types of the settings iPXE predefines (``struct setting`` definitions).
DEFAULT_TYPES: dict[str, str] = {
    # src/net/netdev_settings.c
    "mac": "hex",
    "hwaddr": "hex",
    "bustype": "string",
    "busloc": "uint32",
    "busid": "hex",
    "linktype": "string",
    "chip": "string",
    "ifname": "string",
    "mtu": "int16",
    # src/net/ipv4.c
    "ip": "ipv4",
    "netmask": "ipv4",
    "gateway": "ipv4",
    # src/net/ipv6.c
    "ip6": "ipv6",
    "len6": "int8",
    "gateway6": "ipv6",
    # src/net/dns.c
    "dns": "ipv4",
    "dns6": "ipv6",
    "dnssl": "dnssl",
    # src/net/udp/dhcp.c
    "dhcp-server": "ipv4",
    # src/core/settings.c
    "hostname": "string",
    "domain": "string",
    "next-server": "ipv4",
    "filename": "string",
    "root-path": "string",
    "username": "string",
    "password": "string",
    "priority": "int8",
    "user-class": "string",
    "errno": "uint32",
    "buildarch": "string",
    "platform": "string",
    "version": "string",
    # src/interface/smbios/smbios_settings.c
    "uuid": "uuid",
    # ipxe.org/cfg (SMBIOS strings, SAN, iSCSI, authentication, wireless)
    "manufacturer": "string",
    "product": "string",
    "serial": "string",
    "asset": "string",
    "san-filename": "string",
    "initiator-iqn": "string",
    "keep-san": "int8",
    "skip-san-boot": "int8",
    "reverse-username": "string",
    "reverse-password": "string",
    "ssid": "string",
    "active-scan": "int8",
    "key": "string",
    # src/crypto/rootcert.c, certstore.c; src/net/validator.c
    "trust": "hex",
    "cert": "hex",
    "crosscert": "string",
}


def split_type(name: str) -> tuple[str, str | None]:
    """Split ``[scope/]name[:type]`` into ``([scope/]name, type or None)``.

    As iPXE's ``parse_setting_name()``: the scope ends at the *first* '/', and the type
    starts at the first ':' after it (so ``a:b/c`` has no type, and ``x:int8:y`` names the
    type ``int8:y``). A type that is not in ``TYPES`` (including an empty one, ``x:``)
    raises ``SettingTypeError`` ("Operation not supported"); the commands report it as
    ``"x:bogus": invalid setting: Operation not supported``.
    """
    colon = name.find(":", name.find("/") + 1)
    if colon < 0:
        return name, None
    type_name = name[colon + 1 :]
    if type_name not in TYPES:
        raise SettingTypeError(ENOTSUP, f'Invalid setting type "{type_name}" in "{name}"')
    return name[:colon], type_name
