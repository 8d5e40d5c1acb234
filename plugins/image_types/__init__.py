"""The built-in image types: iPXE scripts, Linux bzImages, initrds, EFI/PXE binaries, and
DER/PEM objects (signatures and certificates).

Each module holds the probes and handlers of one family and a ``TYPES`` tuple of
``ImageType`` records; this package registers them through ``bootsh_register_image_types``,
the hook a third-party plugin uses for its own types (``--no-plugin image_types`` leaves
every image untyped: nothing can be chained or booted).
"""

from __future__ import annotations

import importlib

from bootsh import hookimpl

TYPE_CHECKING = False  # bootsh's start-up imports this module: the types load when used
if TYPE_CHECKING:
    from collections.abc import Callable

    from bootsh.api import ImageType

#: The modules holding the types, in registration order (imported by the hook: images exist
#: only once a command makes the shell's image store).
GROUPS = ("script", "linux", "foreign", "asn1")


@hookimpl
def bootsh_register_image_types(register: Callable[[ImageType], None]) -> None:
    for name in GROUPS:
        group = importlib.import_module(f"{__name__}.{name}")
        for image_type in group.TYPES:
            register(image_type)
