"""The built-in image types: iPXE scripts, Linux bzImages, initrds, EFI/PXE binaries, and
DER/PEM objects (signatures and certificates).

Each module holds the probes and handlers of one family and a ``TYPES`` tuple of
``ImageType`` records; this package registers them through ``bootsh_register_image_types``,
the hook a third-party plugin uses for its own types (``--no-plugin image_types`` leaves
every image untyped: nothing can be chained or booted).
"""

from __future__ import annotations

from collections.abc import Callable

from bootsh.api import ImageType, hookimpl
from bootsh_image_types import asn1, foreign, linux, script

GROUPS = (script, linux, foreign, asn1)


@hookimpl
def bootsh_register_image_types(register: Callable[[ImageType], None]) -> None:
    for group in GROUPS:
        for image_type in group.TYPES:
            register(image_type)
