"""The trusted root certificates: SHA-256 fingerprints, fixed when bootsh starts.

iPXE reads its list once at start-up (``crypto/rootcert.c``: the build's ``TRUST=`` list, or
the ``trust`` setting as it stands then) and never again, so that a DHCP server or a script
cannot change what is trusted. bootsh does the same; its sources, first given wins:

1. ``--trust SPEC`` (repeatable),
2. ``BOOTSH_TRUST=SPEC``,
3. ``trust = "SPEC"`` (or a list of them) in the config file.

A SPEC is comma-separated items, each either fingerprints in hex as iPXE prints a ``hex``
setting (``9f:af:71:...``, colons optional; several 32-byte fingerprints may follow one
another, as in iPXE's ``trust`` setting) or the path of a PEM file, meaning the fingerprint
of each certificate in it. With none of them bootsh trusts no root at all, and says so when
``imgverify`` fails. ``set trust ...`` in a script is a setting like any other: it changes
nothing here.

A fingerprint is the SHA-256 digest of the certificate's DER encoding, what
``openssl x509 -noout -fingerprint -sha256 -in ca.crt`` prints.
"""

from __future__ import annotations

import re
from pathlib import Path

from bootsh.errors import UsageError
from bootsh.lang.files import read_bounded
from bootsh.records import dataclass

#: A PEM file of root certificates larger than this is none (a whole system bundle is 200 KB).
MAX_PEM_FILE = 4 << 20

FINGERPRINT_LEN = 32
_HEX = re.compile(r"[0-9A-Fa-f]{2}(?:[:-]?[0-9A-Fa-f]{2})*")


@dataclass(frozen=True)
class Anchors:
    """The trusted root fingerprints and where they came from (for messages)."""

    fingerprints: tuple[bytes, ...] = ()
    #: ``--trust``, ``BOOTSH_TRUST``, the config file's path, or "" when nothing was given.
    source: str = ""

    def __contains__(self, digest: object) -> bool:
        return digest in self.fingerprints

    def __bool__(self) -> bool:
        return bool(self.fingerprints)

    def describe(self) -> str:
        """What is trusted, for an explanation on stderr."""
        if not self.fingerprints:
            return (
                "bootsh trusts no root certificate until one is configured (--trust"
                " FINGERPRINT|FILE.pem, BOOTSH_TRUST, or trust in the config file)"
            )
        count = len(self.fingerprints)
        roots = "root" if count == 1 else "roots"
        return f"trusted: {count} {roots} from {self.source}"


def parse_spec(spec: str, source: str) -> tuple[bytes, ...]:
    """The fingerprints a SPEC names; ``UsageError`` naming ``source`` if it is wrong."""
    found: list[bytes] = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        if _HEX.fullmatch(item):
            raw = bytes.fromhex(item.replace(":", "").replace("-", ""))
            if len(raw) % FINGERPRINT_LEN == 0:
                found += [raw[i : i + FINGERPRINT_LEN] for i in range(0, len(raw), FINGERPRINT_LEN)]
                continue
            if not Path(item).exists():
                raise UsageError(
                    f"{source}: {item!r} is {len(raw)} bytes of hex; a SHA-256 fingerprint is"
                    f" {FINGERPRINT_LEN}"
                )
        found += _pem_fingerprints(Path(item), source)
    if not found:
        raise UsageError(f"{source}: no fingerprint and no file given")
    return tuple(dict.fromkeys(found))


def _pem_fingerprints(path: Path, source: str) -> list[bytes]:
    from bootsh.trust.formats import FormatError, pem_objects

    try:
        # Bounded and never waiting: a FIFO or /dev/zero named as the roots' file blocked
        # or never ended at start-up.
        data = read_bounded(path, MAX_PEM_FILE, regular=True)
    except OSError as exc:
        raise UsageError(
            f"{source}: {str(path)!r} is neither SHA-256 fingerprints (hex) nor a readable"
            f" PEM file: {exc.strerror or exc}"
        ) from None
    kinds = re.findall(rb"^-----BEGIN ([^-\r\n]*)-----", data, re.M)
    others = sorted({k.decode("ascii", "replace") for k in kinds if k != b"CERTIFICATE"})
    if others:
        raise UsageError(f"{source}: {path} holds {', '.join(others)}, not only certificates")
    try:
        objects = pem_objects(data)
    except FormatError as exc:
        raise UsageError(f"{source}: {path}: {exc}") from None
    if not objects:
        raise UsageError(f"{source}: {path} holds no PEM certificate")
    import hashlib

    from cryptography import x509  # only when a file is given: checks each is a certificate

    for index, der in enumerate(objects):
        try:
            x509.load_der_x509_certificate(der)
        except ValueError as exc:
            raise UsageError(f"{source}: {path}: certificate {index + 1}: {exc}") from None
    return [hashlib.sha256(der).digest() for der in objects]


def from_sources(
    option: list[str], env: str | None, config: object, config_path: Path | None
) -> Anchors:
    """The anchors of the first source given: ``--trust``, then ``BOOTSH_TRUST``, then the
    config file's ``trust`` (a string or a list of strings)."""
    if option:
        return Anchors(parse_spec(",".join(option), "--trust"), "--trust")
    if env:
        return Anchors(parse_spec(env, "BOOTSH_TRUST"), "BOOTSH_TRUST")
    if config is None:
        return Anchors()
    where = f"{config_path}: trust" if config_path else "trust"
    if isinstance(config, str):
        spec = config
    elif isinstance(config, list) and all(isinstance(x, str) for x in config):
        spec = ",".join(config)
    else:
        raise UsageError(f"{where} must be a string or a list of strings")
    return Anchors(parse_spec(spec, where), str(config_path or "the config file"))
