"""The trust services a shell's commands use: its certificate store and trusted roots,
``imgverify`` on two images, and the certificates of an image (``certstore``).

The roots are the ``Config``'s, fixed when bootsh started (``bootsh.trust.anchors``); the
certificate store lives as long as the shell.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from bootsh.boot.images import Image
from bootsh.records import dataclass, field
from bootsh.trust.anchors import Anchors
from bootsh.trust.certs import Cert, CertStore, TrustError, parse_cert
from bootsh.trust.formats import FormatError, all_objects
from bootsh.trust.numbers import ENOTSUP_ASN1
from bootsh.trust.verify import MAX_SIGNATURE, Verdict, verify

if TYPE_CHECKING:
    from bootsh.shell import Shell

_STATE_KEY = "bootsh.trust"


@dataclass
class TrustState:
    """A shell's trusted roots and certificate store."""

    anchors: Anchors
    store: CertStore = field(default_factory=CertStore)


def trust_of(shell: Shell) -> TrustState:
    """The shell's trust state, made on first use from its start-up configuration."""
    config = shell.context.config
    return shell.state_for(
        _STATE_KEY, TrustState, lambda: TrustState(Anchors(config.trust, config.trust_source))
    )


def verify_image(
    shell: Shell, image: Image, signature: Image, *, signer: str | None, now: datetime
) -> Verdict:
    """``imgverify``: check ``image`` against the detached signature in ``signature`` and
    mark it trusted (with the pin of the bytes checked), or take its mark away when the check
    got as far as the image, as iPXE's ``cms_verify`` does."""
    state = trust_of(shell)
    try:
        data = _read(signature, MAX_SIGNATURE + 1)
    except OSError as exc:
        from bootsh.boot.images import EIO_IMAGE

        return Verdict(EIO_IMAGE, f"cannot read {signature.name}: {exc.strerror or exc}")
    verdict = verify(
        image.path,
        data,
        name=signer,
        now=now,
        store=state.store,
        anchors=state.anchors,
        label=image.name,
    )
    if verdict.reached_image:
        image.untrust()
    if verdict.errno == 0 and verdict.pin is not None:
        image.trust(verdict.pin)
    return verdict


def _read(image: Image, limit: int) -> bytes:
    with image.path.open("rb") as f:
        return f.read(limit)


def image_certificates(image: Image) -> Iterator[Cert]:
    """The certificates of a DER or PEM image, in order, each parsed when it is reached (iPXE's
    ``image_x509`` walk: the ones before a bad one are used); raises ``TrustError``."""
    try:
        data = _read(image, MAX_SIGNATURE + 1)
    except OSError as exc:
        from bootsh.boot.images import EIO_IMAGE

        raise TrustError(EIO_IMAGE, f"cannot read {image.name}: {exc.strerror or exc}") from None
    if len(data) > MAX_SIGNATURE:
        raise TrustError(ENOTSUP_ASN1, f"{image.name} is larger than {MAX_SIGNATURE} bytes")
    try:
        objects = all_objects(data)
    except FormatError as exc:
        raise TrustError(exc.errno, f"{image.name}: {exc}") from None
    if objects is None:
        raise TrustError(ENOTSUP_ASN1, f"{image.name} is neither DER nor PEM")
    for der in objects:
        yield parse_cert(der)


def cert_line(cert: Cert) -> str:
    """iPXE's ``certstat`` line: ``NAME : SHA1 [PERMANENT] [EXPLICIT] [VALIDATED]``."""
    text = f"{cert.name} : {cert.sha1.hex()}"
    if cert.permanent:
        text += " [PERMANENT]"
    if cert.explicit:
        text += " [EXPLICIT]"
    if cert.validated:
        text += " [VALIDATED]"
    return text
