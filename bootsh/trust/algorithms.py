"""The algorithm identifiers iPXE's default build knows (its ``__asn1_algorithm`` table with
``config/crypto.h``'s defaults), and how iPXE's ``crypto/asn1.c`` answers for each use.

An identifier iPXE has no entry for is ``Unsupported algorithm`` (``ENOTSUP``); one it knows
but that cannot serve here (a curve where a signature algorithm is wanted, ``rsaEncryption``
as a certificate's signature) is ``Inappropriate algorithm`` (``ENOTTY``, which iPXE prints
as a bare number).
"""

from __future__ import annotations

from bootsh.trust.certs import TrustError
from bootsh.trust.numbers import ENOTSUP_ALGORITHM, ENOTTY_ALGORITHM

RSA, RSA_PSS, ECDSA = "rsa", "rsa-pss", "ecdsa"

#: OID -> (name, public-key algorithm or None, digest or None).
ALGORITHMS: dict[str, tuple[str, str | None, str | None]] = {
    "1.2.840.113549.1.1.1": ("rsaEncryption", RSA, None),
    "1.2.840.113549.1.1.10": ("rsassa-pss", RSA_PSS, None),
    "1.2.840.113549.1.1.5": ("sha1WithRSAEncryption", RSA, "sha1"),
    "1.2.840.113549.1.1.14": ("sha224WithRSAEncryption", RSA, "sha224"),
    "1.2.840.113549.1.1.11": ("sha256WithRSAEncryption", RSA, "sha256"),
    "1.2.840.113549.1.1.12": ("sha384WithRSAEncryption", RSA, "sha384"),
    "1.2.840.113549.1.1.13": ("sha512WithRSAEncryption", RSA, "sha512"),
    "1.2.840.10045.2.1": ("ecPublicKey", ECDSA, None),
    "1.2.840.10045.4.3.1": ("ecdsa-with-SHA224", ECDSA, "sha224"),
    "1.2.840.10045.4.3.2": ("ecdsa-with-SHA256", ECDSA, "sha256"),
    "1.2.840.10045.4.3.3": ("ecdsa-with-SHA384", ECDSA, "sha384"),
    "1.2.840.10045.4.3.4": ("ecdsa-with-SHA512", ECDSA, "sha512"),
    "1.3.14.3.2.26": ("sha1", None, "sha1"),
    "2.16.840.1.101.3.4.2.4": ("sha224", None, "sha224"),
    "2.16.840.1.101.3.4.2.1": ("sha256", None, "sha256"),
    "2.16.840.1.101.3.4.2.2": ("sha384", None, "sha384"),
    "2.16.840.1.101.3.4.2.3": ("sha512", None, "sha512"),
    "1.3.101.110": ("x25519", None, None),
    "1.2.840.10045.3.1.7": ("prime256v1", None, None),
    "1.3.132.0.34": ("secp384r1", None, None),
    "2.16.840.1.101.3.4.1.2": ("aes128-cbc", None, None),
    "2.16.840.1.101.3.4.1.22": ("aes192-cbc", None, None),
    "2.16.840.1.101.3.4.1.42": ("aes256-cbc", None, None),
    "2.16.840.1.101.3.4.1.6": ("aes128-gcm", None, None),
    "2.16.840.1.101.3.4.1.26": ("aes192-gcm", None, None),
    "2.16.840.1.101.3.4.1.46": ("aes256-gcm", None, None),
}


def _known(oid: str, what: str) -> tuple[str, str | None, str | None]:
    found = ALGORITHMS.get(oid)
    if found is None:
        raise TrustError(ENOTSUP_ALGORITHM, f"{what}: {oid} is not one iPXE builds in")
    return found


def digest_algorithm(oid: str, what: str = "the digest algorithm") -> str:
    """``asn1_digest_algorithm``: the digest an identifier names."""
    name, _, digest = _known(oid, what)
    if digest is None:
        raise TrustError(ENOTTY_ALGORITHM, f"{what}: {name} ({oid}) is not a digest")
    return digest


def pubkey_algorithm(oid: str, what: str = "the public-key algorithm") -> str:
    """``asn1_pubkey_algorithm``: the public-key algorithm an identifier names."""
    name, pubkey, _ = _known(oid, what)
    if pubkey is None:
        raise TrustError(ENOTTY_ALGORITHM, f"{what}: {name} ({oid}) is not a public-key algorithm")
    return pubkey


def signature_algorithm(oid: str, what: str = "the signature algorithm") -> tuple[str, str]:
    """``asn1_signature_algorithm``: a public-key algorithm and a digest, together."""
    name, pubkey, digest = _known(oid, what)
    if pubkey is None or digest is None:
        raise TrustError(
            ENOTTY_ALGORITHM,
            f"{what}: {name} ({oid}) is not a signature algorithm to iPXE (a public-key"
            " algorithm with a digest)",
        )
    return pubkey, digest
