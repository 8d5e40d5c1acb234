"""One X.509 certificate as iPXE's ``crypto/x509.c`` sees it, and the shell's certificate store
(``crypto/certstore.c``).

A ``Cert`` is parsed by cryptography (the key, the signature checks, the extensions) and by
asn1crypto (the raw encodings of the issuer, subject and serial number, which iPXE compares
byte for byte instead of as X.500 names). What iPXE cannot parse, bootsh refuses the same way:
a critical extension iPXE does not know (``Unsupported extension``) fails the parse, so the
certificate never reaches the store.

The store keeps every certificate bootsh has parsed (from signatures and ``certstore``), most
recently used first, as iPXE's does: a later signature may leave out an intermediate
certificate that an earlier one carried. ``certfree`` empties it.
"""

from __future__ import annotations

import ipaddress
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bootsh.errors import BootshError
from bootsh.records import dataclass, field
from bootsh.trust.numbers import EINVAL_CERTIFICATE, ENOTSUP_EXTENSION

if TYPE_CHECKING:
    from cryptography import x509

# Extensions iPXE's x509.c parses; any other critical one fails the certificate.
OID_BASIC_CONSTRAINTS = "2.5.29.19"
OID_KEY_USAGE = "2.5.29.15"
OID_EXT_KEY_USAGE = "2.5.29.37"
OID_AUTHORITY_INFO_ACCESS = "1.3.6.1.5.5.7.1.1"
OID_SUBJECT_ALT_NAME = "2.5.29.17"
KNOWN_EXTENSIONS = frozenset(
    {
        OID_BASIC_CONSTRAINTS,
        OID_KEY_USAGE,
        OID_EXT_KEY_USAGE,
        OID_AUTHORITY_INFO_ACCESS,
        OID_SUBJECT_ALT_NAME,
    }
)
OID_CODE_SIGNING = "1.3.6.1.5.5.7.3.3"
OID_COMMON_NAME = "2.5.4.3"
#: iPXE's ``x509_name`` buffer: 64 bytes, NUL included.
NAME_MAX = 63
#: X509_PATH_LEN_UNLIMITED (``-2U``): a CA without pathLenConstraint.
PATH_LEN_UNLIMITED = 0xFFFFFFFE


class TrustError(BootshError):
    """A signature or certificate that cannot be used: ``errno`` is iPXE's number, the text
    bootsh's explanation."""

    def __init__(self, errno: int, why: str) -> None:
        super().__init__(why)
        self.errno = errno


def fingerprint_text(digest: bytes) -> str:
    """A fingerprint as iPXE prints a ``hex`` setting: ``9f:af:71:...``."""
    return ":".join(f"{b:02x}" for b in digest)


@dataclass(eq=False)
class Cert:
    """A parsed certificate and the facts iPXE's checks use."""

    der: bytes
    crypto: x509.Certificate
    subject_raw: bytes
    issuer_raw: bytes
    serial_raw: bytes
    #: The commonName's bytes (empty when there is none).
    common_name: bytes
    sha256: bytes
    sha1: bytes
    ca: bool = False
    path_len: int = 0
    key_usage: frozenset[str] | None = None
    code_signing: bool = False
    ext_key_usages: tuple[str, ...] | None = None
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[bytes, ...] = ()
    ocsp: bool = False
    # Store flags (certstat): [PERMANENT], [EXPLICIT], [VALIDATED].
    permanent: bool = False
    explicit: bool = False
    validated: bool = False

    @property
    def name(self) -> str:
        """iPXE's ``x509_name``: the common name (63 bytes at most), else the SHA-1
        fingerprint in hex."""
        if self.common_name:
            return self.common_name[:NAME_MAX].decode("utf-8", "replace")
        return self.sha1.hex()

    @property
    def not_before(self) -> datetime:
        return self.crypto.not_valid_before_utc

    @property
    def not_after(self) -> datetime:
        return self.crypto.not_valid_after_utc

    @property
    def self_issued(self) -> bool:
        return self.subject_raw == self.issuer_raw

    def describe(self) -> str:
        return f'"{self.name}"'

    def matches_name(self, name: str) -> bool:
        """iPXE's ``x509_check_name``: the common name, then each DNS or IP subject
        alternative name, compared as DNS names (case-insensitive, ``*.`` matching one
        label) or as addresses."""
        if _dns_match(self.common_name, name):
            return True
        if any(_dns_match(dns.encode("utf-8", "replace"), name) for dns in self.dns_names):
            return True
        try:
            address = ipaddress.ip_address(name).packed
        except ValueError:
            return False
        return address in self.ip_addresses


def _dns_match(pattern: bytes, name: str) -> bool:
    if len(pattern) >= 2 and pattern.startswith(b"*."):
        pattern = pattern[2:]
        dot = name.find(".")
        if dot < 0:
            return False
        name = name[dot + 1 :]
    return pattern.lower() == name.encode("utf-8", "surrogateescape").lower()


def parse_cert(der: bytes) -> Cert:
    """A certificate from its DER bytes; ``TrustError`` with iPXE's number if unusable."""
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    try:
        with warnings.catch_warnings():
            # A negative serial number, say: a deprecation warning today, an error later;
            # either way not a line for the user (iPXE takes such serials).
            warnings.simplefilter("ignore")
            crypto = x509.load_der_x509_certificate(der)
        tbs = asn1_x509.Certificate.load(der, strict=True)["tbs_certificate"]
        subject = tbs["subject"]
        cert = Cert(
            der=der,
            crypto=crypto,
            subject_raw=subject.dump(),
            issuer_raw=tbs["issuer"].dump(),
            serial_raw=tbs["serial_number"].dump(),
            common_name=_common_name(subject),
            sha256=crypto.fingerprint(hashes.SHA256()),
            sha1=crypto.fingerprint(hashes.SHA1()),  # iPXE's display name for a nameless one
        )
        _read_extensions(cert, crypto)
        _check_algorithms(cert)
    except TrustError:
        raise
    except (ValueError, TypeError, KeyError, OverflowError, RecursionError) as exc:
        raise TrustError(EINVAL_CERTIFICATE, f"cannot parse the certificate: {exc}") from None
    return cert


def _check_algorithms(cert: Cert) -> None:
    """The key and signature algorithms as iPXE parses them (``asn1_pubkey_algorithm``,
    ``asn1_signature_algorithm``): known to its default build, and fit for the purpose."""
    from bootsh.trust.algorithms import pubkey_algorithm, signature_algorithm

    signature_algorithm(
        cert.crypto.signature_algorithm_oid.dotted_string,
        f"the signature algorithm of certificate {cert.describe()}",
    )
    pubkey_algorithm(
        cert.crypto.public_key_algorithm_oid.dotted_string,
        f"the key of certificate {cert.describe()}",
    )


def _common_name(subject: object) -> bytes:
    """The first commonName of the name's relative distinguished names, as iPXE's
    ``x509_parse_common_name`` takes it (the first attribute of each RDN)."""
    chosen = getattr(subject, "chosen", None)
    for rdn in chosen or ():
        first = rdn[0]
        if first["type"].dotted == OID_COMMON_NAME:
            value = first["value"]
            inner = getattr(value, "chosen", value)
            contents = getattr(inner, "contents", b"")
            return bytes(contents or b"")
    return b""


def _read_extensions(cert: Cert, crypto: x509.Certificate) -> None:
    from cryptography import x509
    from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

    for ext in crypto.extensions:
        oid = ext.oid.dotted_string
        if oid not in KNOWN_EXTENSIONS:
            if ext.critical:
                raise TrustError(
                    ENOTSUP_EXTENSION,
                    f"the certificate has a critical extension {oid} that iPXE does not know",
                )
            continue
        value = ext.value
        if isinstance(value, x509.BasicConstraints):
            cert.ca = value.ca
            if value.ca:
                cert.path_len = (
                    PATH_LEN_UNLIMITED if value.path_length is None else value.path_length
                )
        elif isinstance(value, x509.KeyUsage):
            usages = {
                "digital_signature": value.digital_signature,
                "key_cert_sign": value.key_cert_sign,
            }
            cert.key_usage = frozenset(k for k, on in usages.items() if on)
        elif isinstance(value, x509.ExtendedKeyUsage):
            cert.ext_key_usages = tuple(_eku_name(o.dotted_string) for o in value)
            cert.code_signing = ExtendedKeyUsageOID.CODE_SIGNING in list(value)
        elif isinstance(value, x509.SubjectAlternativeName):
            cert.dns_names = tuple(value.get_values_for_type(x509.DNSName))
            cert.ip_addresses = tuple(
                ip.packed
                for ip in value.get_values_for_type(x509.IPAddress)
                if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address)
            )
        elif isinstance(value, x509.AuthorityInformationAccess):
            cert.ocsp = any(d.access_method == AuthorityInformationAccessOID.OCSP for d in value)


_EKU_NAMES = {
    "1.3.6.1.5.5.7.3.1": "serverAuth",
    "1.3.6.1.5.5.7.3.2": "clientAuth",
    OID_CODE_SIGNING: "codeSigning",
    "1.3.6.1.5.5.7.3.4": "emailProtection",
    "1.3.6.1.5.5.7.3.8": "timeStamping",
    "1.3.6.1.5.5.7.3.9": "OCSPSigning",
    "2.5.29.37.0": "anyExtendedKeyUsage",
}


def _eku_name(oid: str) -> str:
    return _EKU_NAMES.get(oid, oid)


def when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# -- the store ----------------------------------------------------------------------------------


@dataclass
class CertStore:
    """iPXE's ``certstore``: most recently used first."""

    certs: list[Cert] = field(default_factory=list)

    def __iter__(self) -> Iterator[Cert]:
        return iter(list(self.certs))

    def __len__(self) -> int:
        return len(self.certs)

    def _touch(self, cert: Cert) -> Cert:
        self.certs.remove(cert)
        self.certs.insert(0, cert)
        return cert

    def add(self, cert: Cert) -> Cert:
        """``x509_certificate``: the stored copy of the same bytes (made most recent), or
        ``cert`` itself added at the front."""
        for stored in self.certs:
            if stored.der == cert.der:
                return self._touch(stored)
        self.certs.insert(0, cert)
        return cert

    def find_subject(self, subject_raw: bytes) -> Cert | None:
        """``x509_find_subject`` on the store (which marks the certificate as used)."""
        for stored in self.certs:
            if stored.subject_raw == subject_raw:
                return self._touch(stored)
        return None

    def remove(self, cert: Cert) -> None:
        """``certstore_del``: permanent certificates stay."""
        if not cert.permanent and cert in self.certs:
            self.certs.remove(cert)
