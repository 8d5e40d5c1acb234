"""The built-in download schemes: ``tftp://``, ``http://``, ``https://`` and ``file://``.

Each module holds one protocol and a ``SCHEMES`` tuple of ``UriScheme`` records; this
package registers them through ``bootsh_register_uri_schemes``, the hook a third-party
plugin uses for its own schemes. A scheme module is imported only when a download of its
scheme starts, so that start-up stays fast (the TLS and HTTP modules are not small).
"""

from __future__ import annotations

import importlib
import urllib.parse
from collections.abc import Callable

from bootsh.api import FetchRequest, UriScheme, hookimpl

#: scheme -> (module, function, help). Imported on first use.
TABLE: dict[str, tuple[str, str, str]] = {
    "tftp": ("tftp", "open_tftp", "TFTP (RFC 1350; blksize, tsize, timeout options)"),
    "http": ("http", "open_http", "HTTP/1.1 (redirects, chunked, Content-Length checked)"),
    "https": ("http", "open_http", "HTTP over TLS, certificates verified (ca-file setting)"),
    "file": ("file", "open_file", "a local file: file:///path"),
}


def _lazy(module: str, function: str) -> Callable[[FetchRequest], None]:
    def open_(request: FetchRequest) -> None:
        impl = getattr(importlib.import_module(f"{__name__}.{module}"), function)
        impl(request)

    return open_


def _lazy_validate(module: str) -> Callable[[urllib.parse.SplitResult], None]:
    def validate(parts: urllib.parse.SplitResult) -> None:
        impl = getattr(importlib.import_module(f"{__name__}.{module}"), "validate", None)
        if impl is not None:
            impl(parts)

    return validate


@hookimpl
def bootsh_register_uri_schemes(register: Callable[[UriScheme], None]) -> None:
    for name, (module, function, text) in TABLE.items():
        register(UriScheme(name, _lazy(module, function), text, validate=_lazy_validate(module)))
