"""The built-in download schemes: ``tftp://``, ``http://``, ``https://`` and ``file://``.

Each module holds one protocol and a ``SCHEMES`` tuple of ``UriScheme`` records; this
package registers them through ``bootsh_register_uri_schemes``, the hook a third-party
plugin uses for its own schemes. A scheme module is imported only when a download of its
scheme starts, so that start-up stays fast (the TLS and HTTP modules are not small).
"""

from __future__ import annotations

import importlib

from bootsh.api import hookimpl

TYPE_CHECKING = False  # bootsh's start-up imports this module: nothing heavy at the top
if TYPE_CHECKING:
    import urllib.parse
    from collections.abc import Callable

    from bootsh.api import FetchRequest, Shell, UriScheme

#: scheme -> (module, function, help). Imported on first use.
TABLE: dict[str, tuple[str, str, str]] = {
    "tftp": ("tftp", "open_tftp", "TFTP (RFC 1350; blksize, tsize, timeout options)"),
    "http": ("http", "open_http", "HTTP/1.1 (redirects, chunked, Content-Length checked)"),
    "https": ("http", "open_http", "HTTP over TLS, certificates verified (ca-file setting)"),
    "file": ("file", "open_file", "a local file: file:///path"),
}
#: The setting naming a private CA's PEM file for https (read by ``http.tls_context``).
CA_FILE_SETTING = "ca-file"
#: The schemes that fetch from another machine; ``file`` reads this one, so what came from
#: the network cannot use it (bootsh.boot.fetch).
NETWORK = frozenset({"tftp", "http", "https"})


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
    from bootsh.api import UriScheme  # asked for when a download starts

    for name, (module, function, text) in TABLE.items():
        register(
            UriScheme(
                name,
                _lazy(module, function),
                text,
                validate=_lazy_validate(module),
                network=name in NETWORK,
            )
        )


@hookimpl
def bootsh_shell_startup(shell: Shell) -> None:
    shell.settings.validators[CA_FILE_SETTING] = _ca_file_guard(shell)


def _ca_file_guard(shell: Shell) -> Callable[[str], None]:
    """``ca-file`` names a file on this machine: a script from the network may not point it
    anywhere (a probe of which local files exist, or a FIFO that blocks), unless the user
    allowed local access with --allow-local-from-network. Clearing it is always allowed."""

    def check(value: str) -> None:
        from bootsh.api import BootshError, network_requester  # when ca-file is set

        requester = network_requester(shell)
        if requester is None or shell.context.config.allow_local_from_network:
            return
        raise BootshError(
            f"{CA_FILE_SETTING} {value}: refused: set by {requester}; what came from the"
            " network may not read this machine (bootsh --allow-local-from-network allows it)"
        )

    return check
