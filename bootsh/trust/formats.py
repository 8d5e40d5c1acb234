"""DER and PEM images: how iPXE recognises them (``image/der.c``, ``image/pem.c``) and takes
ASN.1 objects out of them (``image_asn1``).

A signature or certificate image must be one of the two, or iPXE will not read it
(``Operation not supported``, from ``crypto/asn1.c``):

- DER: the whole image is one ASN.1 SEQUENCE whose length field (short or long form, as
  iPXE's ``asn1_start`` reads it) covers exactly the rest of the image;
- PEM: some line starts with ``-----BEGIN``; each object is the Base64 text between such a
  line and the next ``-----END`` line.

Only the object's outer tag and length are read here, to type the image as iPXE does; what
is inside is for the libraries (``bootsh.trust.cms``, ``bootsh.trust.certs``).
"""

from __future__ import annotations

import binascii

from bootsh.records import dataclass
from bootsh.trust.numbers import EINVAL_BASE64, ENOENT_PEM

SEQUENCE = 0x30
PEM_BEGIN = b"-----BEGIN"
PEM_END = b"-----END"


@dataclass(frozen=True)
class Probe:
    """Whether an image is DER (and if not, why not, for the explanation)."""

    ok: bool
    why: str = ""


def der_probe(data: bytes, size: int | None = None) -> Probe:
    """iPXE's ``der_image_probe``: one SEQUENCE spanning the whole image. ``data`` may be only
    the start of an image of ``size`` bytes (the header is all this reads)."""
    if len(data) < 2:
        return Probe(False, f"{len(data)} bytes: too short for an ASN.1 object")
    if data[0] != SEQUENCE:
        return Probe(False, f"it starts with byte 0x{data[0]:02x}, not an ASN.1 SEQUENCE (0x30)")
    length_byte = data[1]
    offset = 2
    if length_byte & 0x80:
        count = length_byte & 0x7F
        if len(data) - offset < count:
            return Probe(False, "its length field runs past the end of the file (truncated?)")
        length = int.from_bytes(data[offset : offset + count], "big")
        offset += count
    else:
        length = length_byte
    body = (len(data) if size is None else size) - offset
    if body < length:
        return Probe(
            False,
            f"its outer object claims {length} bytes but the file holds {body} after the"
            " header (truncated?)",
        )
    if body > length:
        return Probe(False, f"{body - length} bytes follow the outer object: not one DER object")
    return Probe(True)


def pem_probe(data: bytes) -> bool:
    """iPXE's ``pem_image_probe``: a line that starts with ``-----BEGIN``."""
    return _marker(data, 0, PEM_BEGIN) >= 0


def _next_line(data: bytes, offset: int) -> int:
    newline = data.find(b"\n", offset)
    return len(data) if newline < 0 else newline + 1


def _marker(data: bytes, offset: int, marker: bytes) -> int:
    """``pem_marker``: the offset of the first line from ``offset`` that starts with ``marker``."""
    while offset < len(data):
        if data.startswith(marker, offset):
            return offset
        offset = _next_line(data, offset)
    return -1


class FormatError(ValueError):
    """A PEM image iPXE cannot decode: ``errno`` is its number, the text says why."""

    def __init__(self, errno: int, why: str) -> None:
        super().__init__(why)
        self.errno = errno


def pem_objects(data: bytes) -> list[bytes]:
    """Every object of a PEM image, decoded, in order (``pem_asn1`` called until the end)."""
    objects: list[bytes] = []
    offset = 0
    while offset < len(data):
        begin = _marker(data, offset, PEM_BEGIN)
        if begin < 0:
            break
        begin = _next_line(data, begin)
        end = _marker(data, begin, PEM_END)
        if end < 0:
            raise FormatError(ENOENT_PEM, "a -----BEGIN line without its -----END line")
        try:
            objects.append(binascii.a2b_base64(b"".join(data[begin:end].split())))
        except binascii.Error as exc:
            raise FormatError(
                EINVAL_BASE64, f"invalid Base64 between the PEM markers: {exc}"
            ) from None
        offset = _next_line(data, end)
    return objects


def first_object(data: bytes) -> bytes | None:
    """The first ASN.1 object of a DER or PEM image, or None for an image that is neither
    (iPXE's ``image_asn1`` at offset 0, for a signature: only its first object counts)."""
    if der_probe(data).ok:
        return data
    if pem_probe(data):
        objects = pem_objects(data)
        return objects[0] if objects else None
    return None


def all_objects(data: bytes) -> list[bytes] | None:
    """Every object of a DER (one) or PEM (each block) image; None when it is neither."""
    if der_probe(data).ok:
        return [data]
    if pem_probe(data):
        return pem_objects(data)
    return None
