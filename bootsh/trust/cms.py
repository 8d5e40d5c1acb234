"""A detached CMS signature (RFC 5652 ``SignedData``): its certificates and its signers, read
with asn1crypto the way iPXE's ``crypto/cms.c`` reads them.

iPXE's rules that decide verdicts, kept here:

- the message must be a ``ContentInfo`` of type ``signedData``; an ``envelopedData`` (an
  encrypted file, not a signature) fails as "not a signature" (``ENOTTY``, which iPXE prints
  as a bare number); any other type is ``Unrecognised message type``;
- every certificate of the message is parsed (and kept in the certificate store) before any
  signer is looked at; one that cannot be parsed fails the whole signature;
- a message without its ``certificates`` field has, to iPXE's cursor walk, no signers at all
  (``openssl cms -sign -nocerts``: ``No signatures present``);
- each signer is identified by issuer and serial number, and its certificate must be among
  the message's own certificates (``-keyid`` signers are not understood);
- signers are walked in reverse order (iPXE prepends each to its list);
- the digest and public-key algorithms must be ones iPXE builds in by default
  (``bootsh.trust.algorithms``): SHA-1 and SHA-2; RSA and ECDSA (bootsh does not check
  RSASSA-PSS signatures, which iPXE knows).

Signed attributes are skipped, as iPXE skips them: the signature is then checked against the
image's own digest, so a signature made without ``-noattr`` fails (``bootsh.trust.verify``
says why).
"""

from __future__ import annotations

from typing import Any

from bootsh.records import dataclass, field
from bootsh.trust.algorithms import RSA_PSS, digest_algorithm, pubkey_algorithm
from bootsh.trust.certs import Cert, CertStore, TrustError, parse_cert
from bootsh.trust.numbers import (
    EINVAL_ASN1_EMPTY,
    ENOENT_SIGNER,
    ENOMEM_CMS,
    ENOTSUP_ALGORITHM,
    ENOTSUP_TYPE,
    ENOTTY_CMS,
)

OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_ENVELOPED_DATA = "1.2.840.113549.1.7.3"
OID_AUTH_ENVELOPED_DATA = "1.2.840.113549.1.9.16.1.23"

#: Bounds bootsh sets where iPXE has none (it takes what fits in memory): real boot-menu
#: signatures carry two or three certificates and one signer.
MAX_CERTIFICATES = 64
MAX_SIGNERS = 16
#: The longest chain bootsh builds (iPXE's would loop on a certificate cycle).
MAX_CHAIN = 16


@dataclass(eq=False)
class Signer:
    """One SignerInfo: who signed (its certificate and the chain above it) and how."""

    cert: Cert
    digest: str
    pubkey: str
    signature: bytes
    signed_attributes: bool
    chain: list[Cert] = field(default_factory=list)


@dataclass
class Message:
    """A parsed signature: its certificates (in the message's order) and its signers (in
    iPXE's order)."""

    certs: list[Cert]
    signers: list[Signer]


_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError)


def parse_message(raw: bytes, store: CertStore) -> Message:
    """The message in ``raw`` (one DER object); raises ``TrustError`` with iPXE's number."""
    from asn1crypto import cms

    try:
        info = cms.ContentInfo.load(raw)
        content_type = info["content_type"].dotted
    except _ERRORS as exc:
        raise TrustError(ENOTSUP_TYPE, f"not a CMS message ({exc})") from None
    if content_type in (OID_ENVELOPED_DATA, OID_AUTH_ENVELOPED_DATA):
        raise TrustError(ENOTTY_CMS, "an encrypted CMS message (envelopedData), not a signature")
    if content_type != OID_SIGNED_DATA:
        raise TrustError(ENOTSUP_TYPE, f"a CMS message of type {content_type}, not signedData")
    try:
        signed = info["content"]
        return _signed_data(signed, store)
    except TrustError:
        raise
    except _ERRORS as exc:
        raise TrustError(EINVAL_ASN1_EMPTY, f"a malformed signedData structure ({exc})") from None


def _signed_data(signed: Any, store: CertStore) -> Message:
    from asn1crypto import core

    certificates = signed["certificates"]
    if isinstance(certificates, core.Void):
        # iPXE's walk steps over the signerInfos where the certificates should have been.
        return Message([], [])
    if len(certificates) > MAX_CERTIFICATES:
        raise TrustError(
            ENOMEM_CMS,
            f"the signature holds {len(certificates)} certificates; bootsh takes at most"
            f" {MAX_CERTIFICATES}",
        )
    certs: list[Cert] = []
    for index, choice in enumerate(certificates):
        if choice.name != "certificate":
            raise TrustError(
                EINVAL_ASN1_EMPTY, f"certificate {index + 1} is a {choice.name}, not X.509"
            )
        try:
            cert = parse_cert(choice.chosen.dump())
        except TrustError as exc:
            raise TrustError(exc.errno, f"certificate {index + 1}: {exc}") from None
        certs.append(store.add(cert))
    infos = signed["signer_infos"]
    if len(infos) > MAX_SIGNERS:
        raise TrustError(
            ENOMEM_CMS,
            f"the signature has {len(infos)} signers; bootsh takes at most {MAX_SIGNERS}",
        )
    signers = [_signer(info, certs) for info in infos]
    signers.reverse()  # iPXE list_add()s each participant at the head
    return Message(certs, signers)


def _signer(info: Any, certs: list[Cert]) -> Signer:
    sid = info["sid"]
    if sid.name != "issuer_and_serial_number":
        raise TrustError(
            EINVAL_ASN1_EMPTY,
            "the signer is named by subject key identifier (openssl cms -keyid); iPXE"
            " needs issuer and serial number",
        )
    issuer = sid.chosen["issuer"].dump()
    serial = sid.chosen["serial_number"].dump()
    cert = next((c for c in certs if c.issuer_raw == issuer and c.serial_raw == serial), None)
    if cert is None:
        raise TrustError(
            ENOENT_SIGNER,
            "the signer's certificate is not in the signature (sign with -signer CERT and"
            " without -nocerts)",
        )
    digest = digest_algorithm(info["digest_algorithm"]["algorithm"].dotted)
    pubkey = pubkey_algorithm(
        info["signature_algorithm"]["algorithm"].dotted, "the signer's signature algorithm"
    )
    if pubkey == RSA_PSS:
        raise TrustError(
            ENOTSUP_ALGORITHM, "an RSASSA-PSS signature: bootsh checks PKCS #1 v1.5 and ECDSA"
        )
    signed_attrs = info["signed_attrs"]
    return Signer(
        cert=cert,
        digest=digest,
        pubkey=pubkey,
        signature=bytes(info["signature"].native),
        signed_attributes=bool(signed_attrs.contents),
        chain=auto_append([cert], certs),
    )


def auto_append(chain: list[Cert], pool: list[Cert] | CertStore) -> list[Cert]:
    """iPXE's ``x509_auto_append``: follow issuer names through ``pool`` until a certificate
    is its own issuer or none is found. bootsh also stops at a certificate already in the
    chain (iPXE would loop on a cycle) and at ``MAX_CHAIN`` links."""
    chain = list(chain)
    while chain and len(chain) < MAX_CHAIN:
        last = chain[-1]
        if isinstance(pool, CertStore):
            found = pool.find_subject(last.issuer_raw)
        else:
            found = next((c for c in pool if c.subject_raw == last.issuer_raw), None)
        if found is None or found is last or found in chain:
            break
        chain.append(found)
    return chain
