"""Validating a signer's certificate chain: iPXE's rules in iPXE's order, then cryptography's
X.509 path verifier over the same path.

iPXE's ``x509_validate_chain`` (``crypto/x509.c``), which decides the error number:

1. complete the chain from the certificate store (issuer name to subject name);
2. find the first certificate that is valid on its own: within its validity period (with
   iPXE's 12.5 hours of allowance for a wrong clock) and a trusted root (its SHA-256
   fingerprint is an anchor). None: ``No usable certificates`` (an untrusted or expired root
   ends here);
3. from there back to the signer, each certificate against its issuer: validity period
   (``Expired (or not yet valid)``), the issuer is a CA (``Not a CA certificate``), may sign
   certificates when it says what it may do (``Incorrect key usage``), its signature on the
   certificate, and the path length its basic constraints allow.

Every signature here is checked by cryptography (``verify_directly_issued_by``). When iPXE's
rules pass, cryptography's path verifier (``cryptography.x509.verification``) must accept the
same path too, with an extension policy matching iPXE's (CAs must have basic constraints with
``cA``, and ``keyCertSign`` if they state a key usage; the signer must state
``digitalSignature`` and ``codeSigning``); it is stricter than iPXE in places (no clock
allowance, RSA keys of 2048 bits or more, no SHA-1 certificate signatures), and what it refuses
is refused.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bootsh.records import dataclass
from bootsh.trust.anchors import Anchors
from bootsh.trust.certs import (
    Cert,
    CertStore,
    TrustError,
    fingerprint_text,
    when,
)
from bootsh.trust.cms import MAX_CHAIN, auto_append
from bootsh.trust.numbers import (
    EACCES_EXPIRED,
    EACCES_KEY_USAGE,
    EACCES_NOT_CA,
    EACCES_PATH_LEN,
    EACCES_USELESS,
    EACCES_VERIFY,
    EINVAL_ALGORITHM_MISMATCH,
    EINVAL_ECDSA_SIGNATURE,
)

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

#: iPXE's TIMESTAMP_ERROR_MARGIN (config/crypto.h): 12 h 30 min either way.
MARGIN = timedelta(hours=12, minutes=30)


@dataclass(frozen=True)
class Path:
    """A validated chain: the signer first, the trusted root last."""

    certs: tuple[Cert, ...]

    @property
    def anchor(self) -> Cert:
        return self.certs[-1]


def time_problem(cert: Cert, now: datetime, margin: timedelta = MARGIN) -> str | None:
    """Why ``cert`` is not valid at ``now`` (iPXE's ``x509_check_time``), or None."""
    if cert.not_before > now + margin:
        return f"is not valid before {when(cert.not_before)} (now {when(now)})"
    if cert.not_after < now - margin:
        return f"expired on {when(cert.not_after)} (now {when(now)})"
    return None


def validate(chain: list[Cert], store: CertStore, anchors: Anchors, now: datetime) -> Path:
    """iPXE's ``x509_validate_chain`` for ``chain`` (signer first); raises ``TrustError``."""
    chain = auto_append(chain, store)
    start = None
    for index, cert in enumerate(chain):
        if time_problem(cert, now) is None and cert.sha256 in anchors:
            start = index
            break
    if start is None:
        raise TrustError(EACCES_USELESS, _no_anchor(chain, anchors, now))
    # Each certificate that passes is marked validated at once, as iPXE caches it: a later
    # failure further down the chain leaves the ones above it [VALIDATED] (certstat).
    chain[start].validated = True
    remaining = _path_remaining(chain[start], None)
    for index in range(start - 1, -1, -1):
        cert, issuer = chain[index], chain[index + 1]
        problem = time_problem(cert, now)
        if problem is not None:
            raise TrustError(EACCES_EXPIRED, f"certificate {cert.describe()} {problem}")
        if cert.sha256 in anchors:  # a trusted root further down the chain
            cert.validated = True
            remaining = _path_remaining(cert, None)
            continue
        _check_issuer(cert, issuer)
        if remaining == 0:
            raise TrustError(
                EACCES_PATH_LEN,
                f"certificate {issuer.describe()} may not issue certificate {cert.describe()}:"
                " its path length constraint is used up",
            )
        remaining = _path_remaining(cert, remaining)
        cert.validated = True
    return Path(tuple(chain[: start + 1]))


def _path_remaining(cert: Cert, issuer_remaining: int | None) -> int:
    """``x509_set_valid``: pathLenConstraint + 1, capped by the issuer's allowance - 1."""
    remaining = (cert.path_len + 1) & 0xFFFFFFFF
    if issuer_remaining is not None:
        remaining = min(remaining, issuer_remaining - 1)
    return remaining


def _check_issuer(cert: Cert, issuer: Cert) -> None:
    """``x509_check_issuer``: a CA that may sign certificates and whose key signed this one."""
    if not issuer.ca:
        raise TrustError(
            EACCES_NOT_CA,
            f"certificate {issuer.describe()} issued {cert.describe()} but is not a CA"
            " (no basicConstraints CA:TRUE)",
        )
    if issuer.key_usage is not None and "key_cert_sign" not in issuer.key_usage:
        raise TrustError(
            EACCES_KEY_USAGE,
            f"certificate {issuer.describe()} issued {cert.describe()} but its keyUsage"
            " lacks keyCertSign",
        )
    check_signature(cert, issuer)


def check_signature(cert: Cert, issuer: Cert) -> None:
    """The issuer's signature on ``cert`` (``x509_check_signature``), checked by cryptography
    with the certificate's own algorithm. (``verify_directly_issued_by`` would refuse SHA-1,
    which iPXE accepts here; cryptography's path verifier refuses it afterwards, and says so.)"""
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    key = issuer.crypto.public_key()
    signed = cert.crypto
    try:
        params = signed.signature_algorithm_parameters
        digest = signed.signature_hash_algorithm
        if (
            isinstance(key, rsa.RSAPublicKey)
            and isinstance(params, padding.PKCS1v15 | padding.PSS)
            and digest is not None
        ):
            key.verify(signed.signature, signed.tbs_certificate_bytes, params, digest)
        elif isinstance(key, ec.EllipticCurvePublicKey) and isinstance(params, ec.ECDSA):
            key.verify(signed.signature, signed.tbs_certificate_bytes, params)
        else:
            raise TrustError(
                EINVAL_ALGORITHM_MISMATCH,
                f"certificate {cert.describe()} is signed with"
                f" {signed.signature_algorithm_oid.dotted_string}, which the"
                f" {type(key).__name__.removeprefix('_')} of {issuer.describe()} cannot make",
            )
    except InvalidSignature:
        ecdsa = isinstance(key, ec.EllipticCurvePublicKey)
        raise TrustError(
            EINVAL_ECDSA_SIGNATURE if ecdsa else EACCES_VERIFY,
            f"the signature of {issuer.describe()} on certificate {cert.describe()} is wrong",
        ) from None
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise TrustError(
            EINVAL_ALGORITHM_MISMATCH,
            f"certificate {cert.describe()} cannot be checked with the key of"
            f" {issuer.describe()}: {exc}",
        ) from None


def _no_anchor(chain: list[Cert], anchors: Anchors, now: datetime) -> str:
    """Why no certificate of the chain is a trusted root that is valid now."""
    top = chain[-1]
    expired = [(c, p) for c in chain if c.sha256 in anchors and (p := time_problem(c, now))]
    if expired:
        cert, problem = expired[0]
        return f"the trusted root {cert.describe()} {problem}"
    chain_text = " <- ".join(c.describe() for c in reversed(chain))
    if len(chain) >= MAX_CHAIN:
        return (
            f"the chain from {chain[0].describe()} is longer than {MAX_CHAIN} certificates"
            f" without reaching a trusted root; bootsh follows at most {MAX_CHAIN} (iPXE has no"
            f" bound); {anchors.describe()}"
        )
    if top.self_issued:
        ending = f"ends at {top.describe()}, which is not a trusted root"
    else:
        ending = (
            f"ends at {top.describe()}, whose issuer is not in the signature (sign with"
            " -certfile carrying the intermediate and root certificates)"
        )
    return (
        f"the chain {chain_text} {ending} (SHA-256 fingerprint"
        f" {fingerprint_text(top.sha256)}); {anchors.describe()}"
    )


# -- cryptography's path verifier ------------------------------------------------------------


def library_check(path: Path, now: datetime) -> None:
    """cryptography's X.509 path verifier over ``path``; ``TrustError`` if it refuses."""
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID
    from cryptography.x509.verification import (
        Criticality,
        ExtensionPolicy,
        PolicyBuilder,
        Store,
        VerificationError,
    )

    def ca_constraints(policy: object, cert: Certificate, value: x509.BasicConstraints) -> None:
        if not value.ca:
            raise ValueError("not a CA (basicConstraints cA is false)")

    def ca_usage(policy: object, cert: Certificate, value: x509.KeyUsage | None) -> None:
        if value is not None and not value.key_cert_sign:
            raise ValueError("keyUsage lacks keyCertSign")

    def signer_usage(policy: object, cert: Certificate, value: x509.KeyUsage) -> None:
        if not value.digital_signature:
            raise ValueError("keyUsage lacks digitalSignature")

    def signer_purpose(policy: object, cert: Certificate, value: x509.ExtendedKeyUsage) -> None:
        if ExtendedKeyUsageOID.CODE_SIGNING not in list(value):
            raise ValueError("extendedKeyUsage lacks codeSigning")

    agnostic = Criticality.AGNOSTIC
    ca_policy = (
        ExtensionPolicy.permit_all()
        .require_present(x509.BasicConstraints, agnostic, ca_constraints)
        .may_be_present(x509.KeyUsage, agnostic, ca_usage)
    )
    ee_policy = (
        ExtensionPolicy.permit_all()
        .require_present(x509.KeyUsage, agnostic, signer_usage)
        .require_present(x509.ExtendedKeyUsage, agnostic, signer_purpose)
    )
    leaf, *intermediates = [c.crypto for c in path.certs]
    anchor = path.anchor.crypto
    if intermediates:
        intermediates.pop()  # the anchor is the store's, not an intermediate
    moment = _library_time(path, now)
    verifier = (
        PolicyBuilder()
        .store(Store([anchor]))
        .time(moment)
        .max_chain_depth(MAX_CHAIN)
        .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
        .build_client_verifier()
    )
    try:
        verifier.verify(leaf, intermediates)
    except VerificationError as exc:
        raise TrustError(EACCES_USELESS, _library_refusal(path, str(exc))) from None


def _library_refusal(path: Path, message: str) -> str:
    """What cryptography's verifier refused, in words: its own message names Rust types."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa

    for cert, issuer in zip(path.certs, path.certs[1:], strict=False):
        algorithm = cert.crypto.signature_hash_algorithm
        if isinstance(algorithm, hashes.SHA1 | hashes.MD5):
            name = {"sha1": "SHA-1", "md5": "MD5"}[algorithm.name]
            return (
                f"certificate {cert.describe()} is signed with {name}, which"
                " cryptography's path verifier forbids (collisions can forge it; iPXE accepts"
                " it): reissue it with SHA-256"
            )
        key = issuer.crypto.public_key()
        if isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048:
            return (
                f"certificate {issuer.describe()} signs with a {key.key_size}-bit RSA key;"
                " cryptography's path verifier wants 2048 bits or more (iPXE accepts it)"
            )
    return f"cryptography's X.509 path verifier refused the chain: {' '.join(message.split())}"


def _library_time(path: Path, now: datetime) -> datetime:
    """The moment the path verifier checks validity at: ``now``, or the nearest moment at
    which every certificate of the path is valid (at most iPXE's 12.5 hours away, which
    ``validate`` made sure of). A certificate issued a second ago by a server whose clock is
    ahead is valid for iPXE; it must be for bootsh too."""
    start = max(c.not_before for c in path.certs)
    end = min(c.not_after for c in path.certs)
    if start > end:
        raise TrustError(
            EACCES_EXPIRED,
            "the certificates of the chain "
            + " <- ".join(c.describe() for c in reversed(path.certs))
            + f" are never all valid at once (from {when(start)} to {when(end)})",
        )
    return min(max(now, start), end)
