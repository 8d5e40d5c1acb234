"""``imgverify``'s verdict: iPXE's ``usr/imgtrust.c`` and ``cms_verify``, step by step.

1. the signature image must be DER or PEM (``formats``), holding a CMS ``SignedData``
   (``cms``); its certificates join the certificate store;
2. every signer's chain must validate (``chain.validate``), whatever ``--signer`` says: iPXE
   completes all chains before it looks at names;
3. then, for each signer whose certificate matches ``--signer`` (all of them without it): the
   certificate must state the ``digitalSignature`` key usage (``Not a signing certificate``)
   and the ``codeSigning`` extended key usage (``Not a code-signing certificate``), its
   signature must match the image's digest (``RSA signature incorrect``), and
   cryptography's path verifier must accept its chain;
4. at least one signer must have been checked (``Incorrect certificate name`` with
   ``--signer``, ``No signatures present`` without).

Reaching step 3 first takes the image's trusted mark away, as iPXE's ``cms_verify`` does; only
success puts it back. The image file is read once, in chunks, for every digest the signers
use and for the SHA-256 *pin* that execution checks again (``bootsh.boot.images``): what was
verified is what runs.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path as FilePath
from typing import TYPE_CHECKING

from bootsh.boot.images import EIO_IMAGE
from bootsh.records import dataclass, field
from bootsh.trust.anchors import Anchors
from bootsh.trust.certs import CertStore, TrustError
from bootsh.trust.chain import Path, library_check, validate
from bootsh.trust.cms import Message, Signer, parse_message
from bootsh.trust.formats import FormatError, der_probe, first_object, pem_probe
from bootsh.trust.numbers import (
    EACCES_NO_SIGNATURES,
    EACCES_NON_CODE_SIGNING,
    EACCES_NON_SIGNING,
    EACCES_VERIFY,
    EACCES_WRONG_NAME,
    EINVAL_ALGORITHM_MISMATCH,
    EINVAL_ECDSA_SIGNATURE,
    ENOMEM_CMS,
    ENOTSUP_ALGORITHM,
    ENOTSUP_ASN1,
    ERANGE_RSA,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.hashes import HashAlgorithm

#: The largest signature image bootsh reads (a real one is a few KiB).
MAX_SIGNATURE = 1 << 20
CHUNK = 1 << 20
#: The curves iPXE builds in (config/crypto.h: P-256, P-384).
CURVES = ("secp256r1", "secp384r1")
_DIGEST_NAMES = {
    "sha1": "SHA-1",
    "sha224": "SHA-224",
    "sha256": "SHA-256",
    "sha384": "SHA-384",
    "sha512": "SHA-512",
}


@dataclass
class Verdict:
    """What ``imgverify`` concluded."""

    #: 0, or iPXE's error number.
    errno: int = 0
    #: bootsh's explanation of a refusal (one line).
    why: str = ""
    #: Whether the check reached the image (iPXE then drops its trusted mark first).
    reached_image: bool = False
    #: SHA-256 of the image's bytes that were verified.
    pin: bytes | None = None
    #: The signers whose signatures were checked (names), on success.
    signers: list[str] = field(default_factory=list)


def verify(
    image: FilePath,
    signature: bytes,
    *,
    name: str | None,
    now: datetime,
    store: CertStore,
    anchors: Anchors,
    label: str = "",
) -> Verdict:
    """Verify the file ``image`` against the detached signature ``signature``; ``label``
    names the image in explanations (its file name by default)."""
    verdict = Verdict()
    try:
        message = _message(signature, store)
        paths = {id(s): validate(s.chain, store, anchors, now) for s in message.signers}
        verdict.reached_image = True
        _check_signers(
            image, message, paths, name=name, now=now, verdict=verdict, label=label or image.name
        )
    except TrustError as exc:
        verdict.errno = exc.errno
        verdict.why = " ".join(str(exc).split())  # library messages may span lines
        verdict.pin = None
    except OSError as exc:
        verdict.errno = EIO_IMAGE
        verdict.why = f"cannot read {label or image.name}: {exc.strerror or exc}"
        verdict.pin = None
    return verdict


def _message(signature: bytes, store: CertStore) -> Message:
    if len(signature) > MAX_SIGNATURE:
        raise TrustError(
            ENOMEM_CMS,
            f"the signature is over {MAX_SIGNATURE} bytes; bootsh reads at most {MAX_SIGNATURE}",
        )
    try:
        raw = first_object(signature)
    except FormatError as exc:
        raise TrustError(exc.errno, f"the PEM signature cannot be decoded: {exc}") from None
    if raw is None:
        probe = der_probe(signature)
        kind = "" if pem_probe(signature) else f": {probe.why}"
        raise TrustError(ENOTSUP_ASN1, f"the signature is not a DER or PEM object{kind}")
    return parse_message(raw, store)


def _check_signers(
    image: FilePath,
    message: Message,
    paths: dict[int, Path],
    *,
    name: str | None,
    now: datetime,
    verdict: Verdict,
    label: str,
) -> None:
    chosen = [s for s in message.signers if name is None or s.cert.matches_name(name)]
    if not chosen:
        if name is not None:
            names = ", ".join(s.cert.describe() for s in message.signers) or "none"
            raise TrustError(
                EACCES_WRONG_NAME, f'no signer is named "{name}" (the signers: {names})'
            )
        raise TrustError(EACCES_NO_SIGNATURES, "the signature has no signer")
    digests, pin = _digests(image, {s.digest for s in chosen})
    for signer in chosen:
        cert = signer.cert
        if cert.key_usage is None or "digital_signature" not in cert.key_usage:
            stated = (
                "it has no keyUsage extension"
                if cert.key_usage is None
                else "its keyUsage lacks digitalSignature"
            )
            raise TrustError(
                EACCES_NON_SIGNING, f"certificate {cert.describe()} may not sign: {stated}"
            )
        if not cert.code_signing:
            has = (
                "no extendedKeyUsage extension"
                if cert.ext_key_usages is None
                else "extendedKeyUsage " + ", ".join(cert.ext_key_usages)
            )
            raise TrustError(
                EACCES_NON_CODE_SIGNING,
                f"certificate {cert.describe()} is not for code signing: it has {has}, not"
                " codeSigning",
            )
        _check_signature(signer, digests[signer.digest], label)
        library_check(paths[id(signer)], now)
        verdict.signers.append(cert.name)
    verdict.pin = pin


def _hash(name: str) -> HashAlgorithm:
    from cryptography.hazmat.primitives import hashes

    algorithms: dict[str, type[HashAlgorithm]] = {
        "sha1": hashes.SHA1,
        "sha224": hashes.SHA224,
        "sha256": hashes.SHA256,
        "sha384": hashes.SHA384,
        "sha512": hashes.SHA512,
    }
    return algorithms[name]()


def _digests(image: FilePath, names: set[str]) -> tuple[dict[str, bytes], bytes]:
    """Each named digest of the file, and its SHA-256 pin, from one read (a SHA-256 signer's
    digest is the pin: the file is hashed once)."""
    from cryptography.hazmat.primitives import hashes

    contexts = {n: hashes.Hash(_hash(n)) for n in sorted({*names, "sha256"})}
    with image.open("rb") as f:
        while chunk := f.read(CHUNK):
            for context in contexts.values():
                context.update(chunk)
    digests = {n: c.finalize() for n, c in contexts.items()}
    return digests, digests["sha256"]


def _check_signature(signer: Signer, digest: bytes, image_name: str) -> None:
    """The signer's signature over the image's digest (``pubkey_verify``), by cryptography."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

    key = signer.cert.crypto.public_key()
    prehashed = utils.Prehashed(_hash(signer.digest))
    who = signer.cert.describe()
    mismatch = (
        f"the signature by {who} does not match the {_DIGEST_NAMES[signer.digest]} digest of"
        f" {image_name}: "
        + (
            "the signature has signed attributes (made without openssl cms -noattr), and"
            " iPXE checks the signature against the image's digest itself"
            if signer.signed_attributes
            else "the image is not the file that was signed (changed on the way, or the"
            " signature of another file)"
        )
    )
    if signer.pubkey == "rsa":
        if not isinstance(key, rsa.RSAPublicKey):
            raise TrustError(
                EINVAL_ALGORITHM_MISMATCH, f"an RSA signature, but {who} has no RSA key"
            )
        if len(signer.signature) != (key.key_size + 7) // 8:
            raise TrustError(
                ERANGE_RSA,
                f"the signature is {len(signer.signature)} bytes; the {key.key_size}-bit key"
                f" of {who} makes {(key.key_size + 7) // 8}",
            )
        try:
            key.verify(signer.signature, digest, padding.PKCS1v15(), prehashed)
        except InvalidSignature:
            raise TrustError(EACCES_VERIFY, mismatch) from None
        return
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise TrustError(EINVAL_ALGORITHM_MISMATCH, f"an ECDSA signature, but {who} has no EC key")
    if key.curve.name not in CURVES:
        raise TrustError(
            ENOTSUP_ALGORITHM, f"{who} has a key on {key.curve.name}; iPXE knows P-256 and P-384"
        )
    try:
        key.verify(signer.signature, digest, ec.ECDSA(prehashed))
    except (InvalidSignature, ValueError):
        raise TrustError(EINVAL_ECDSA_SIGNATURE, mismatch) from None
