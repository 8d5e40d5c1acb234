"""ASN.1 images (iPXE's ``image/der.c`` and ``image/pem.c``): signatures and certificates.

``DER``: the image is one ASN.1 SEQUENCE, its length field covering exactly the rest of the
image. ``PEM``: a line starts with ``-----BEGIN`` (bootsh looks in the first 64 KiB, what its
probes see). Neither executes; ``imgstat`` shows them as iPXE does (``sig : 1234 bytes
[DER]``). ``imgverify`` and ``certstore`` apply the same two probes themselves
(``bootsh.trust.formats``), so they read DER and PEM even with this plugin disabled.
"""

from __future__ import annotations

from bootsh.api import Image, ImageType


def probe_der(image: Image, header: bytes) -> bool:
    from bootsh.api import der_probe  # the trust package's formats: a light module

    return der_probe(header, image.size).ok


def probe_pem(image: Image, header: bytes) -> bool:
    from bootsh.api import pem_probe

    return pem_probe(header)


TYPES = (
    ImageType("DER", probe_der, None, order=60, help="ASN.1 DER object (signature, certificate)"),
    ImageType("PEM", probe_pem, None, order=61, help="ASN.1 PEM objects (signature, certificates)"),
)
