"""Downloads: pick the URI scheme a plugin registered, stream to a file, print iPXE's line.

The core knows no protocol. Plugins register ``UriScheme`` records through the
``bootsh_register_uri_schemes`` hook; ``fetch`` picks one by the URI's scheme, hands it a
``FetchRequest`` (a sink to write to, a progress callback, the silence timeout) and turns
the outcome into what iPXE's ``imgdownload()`` and ``monojob_wait()`` print::

    http://10.77.0.1/x... ok
    tftp://10.77.0.1/x... No such file or directory (https://ipxe.org/2d126002)

On a terminal the line shows a percentage (or a dot per second when the size is unknown)
updated in place once a second, as iPXE does; elsewhere only ``URI... ok``. The body goes
to a temporary file in the target directory that is renamed to its final name only when
the scheme finished without error: a failure, a timeout or Ctrl-C leaves no file behind.

What came from the network cannot read this machine. A scheme says whether it fetches from
another machine (``UriScheme.network``: tftp, http, https) or reads this one (``file``, and
any scheme a plugin registers without saying so). A download asked for by something that
came from the network (a script fetched over the network, or running inside one; a DHCP
server's ``filename``) may use only network schemes, the way a web page cannot read the
disk: otherwise a chained script could ``imgfetch file:///etc/shadow``, hash it and send the
hash back in its next URL. The refusal is iPXE's ``Could not start download: Operation not
permitted`` and one ``bootsh:`` line naming the URI and who asked. ``bootsh
--allow-local-from-network`` (config key ``allow-local-from-network``) lifts it; there is
no setting for it, since a script could set that.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from bootsh.boot.images import network_requester
from bootsh.boot.uri import redact
from bootsh.errors import BootshError
from bootsh.ipxe_errors import error_number as error_number  # re-exported for schemes
from bootsh.ipxe_errors import strerror
from bootsh.net.monojob import ECANCELED_MONOJOB, ETIMEDOUT_MONOJOB
from bootsh.records import dataclass, field

if TYPE_CHECKING:
    from bootsh.boot.params import Parameters
    from bootsh.shell import Shell

# -- iPXE's error numbers for downloads ------------------------------------------------------

# Source files' ids (include/ipxe/errfile.h), already shifted into place.
ERRFILE_DOWNLOADER = 0x00012000  # core/downloader.c
ERRFILE_OPEN = 0x00092000  # core/open.c: no opener for the URI's scheme
ERRFILE_TCP = 0x000A6000  # net/tcp.c: refused, reset, connect timeout
ERRFILE_HTTPCORE = 0x000C6000  # net/tcp/httpcore.c
ERRFILE_TFTP = 0x00126000  # net/udp/tftp.c
ERRFILE_TLS = 0x000DE000  # net/tls.c
ERRFILE_X509 = 0x0016E000  # crypto/x509.c: certificate validation


#: Ctrl-C during a download and no progress within ``-t``: monojob_wait's numbers, the same
#: as every other foreground job's (bootsh.net.monojob).
ECANCELED_FETCH = ECANCELED_MONOJOB
ETIMEDOUT_FETCH = ETIMEDOUT_MONOJOB
#: A URI that cannot be split into its parts: ``Invalid argument``.
EINVAL_URI = error_number("EINVAL", ERRFILE_OPEN)
#: No scheme registered for the URI (xfer_open_uri): ``Operation not supported``.
ENOTSUP_SCHEME = error_number("ENOTSUP", ERRFILE_OPEN)
#: A local-only scheme asked for by something that came from the network (bootsh's rule):
#: ``Operation not permitted``.
EPERM_LOCAL = error_number("EPERM", ERRFILE_OPEN)


class FetchError(BootshError):
    """A download that failed: ``errno`` is iPXE's number, ``reason`` iPXE's text for it.

    ``detail`` is bootsh's own explanation (the certificate problem, the server's TFTP
    error message), shown with ``-v`` only since iPXE prints the reason alone. ``start``
    marks a request refused before any I/O: printed as ``Could not start download: ...``.
    """

    def __init__(self, number: int, detail: str = "", *, start: bool = False) -> None:
        self.errno = number & 0xFFFFFFFF
        self.reason = strerror(self.errno)
        self.detail = detail
        self.start = start
        super().__init__(self.reason)


@dataclass
class FetchRequest:
    """One download as a scheme sees it."""

    #: The absolute URI, as a string (``parts`` gives it split).
    uri: str
    #: Where the body goes, in order; write as it arrives, never the whole body at once.
    sink: BinaryIO
    #: The silence timeout in seconds (``imgfetch -t``): fail with ``ETIMEDOUT_FETCH`` when
    #: no byte arrived for that long. None: the scheme's own default bound.
    timeout: float | None
    #: Report ``(bytes so far, total if known)``; cheap, call it per block.
    progress: Callable[[int, int | None], None]
    #: The shell: settings (CA file, TFTP block size), netdevs, diagnostics.
    shell: Shell
    #: The URI the body finally came from; a scheme that follows redirects sets it.
    final_uri: str = ""
    #: The request parameter list a ``##params`` suffix named (``bootsh.boot.params``): form
    #: fields, headers and a method for HTTP; other schemes ignore it, as iPXE's do.
    params: Parameters | None = None

    def __post_init__(self) -> None:
        if not self.final_uri:
            self.final_uri = self.uri

    @property
    def parts(self) -> urllib.parse.SplitResult:
        return urllib.parse.urlsplit(self.uri)

    def resolve(self, host: str) -> str | None:
        """``host``'s address from the shell's DNS servers, as iPXE resolves every name.

        None when no ``dns`` setting exists (no lease, no ``set dns``): the system's
        resolver then decides, so that bootsh on an already configured host still finds
        names from /etc/hosts and resolv.conf. A failed lookup is iPXE's DNS error.
        """
        from bootsh.net import egress
        from bootsh.net.dns import DnsError

        if not egress.dns_servers(self.shell):
            return None
        try:
            return egress.resolve(self.shell, host)
        except DnsError as exc:
            raise FetchError(exc.errno, f"{host}: {exc.detail}") from None

    def setting(self, name: str) -> str | None:
        """A setting's value (``${name}``), or None when unset or unreadable."""
        try:
            return self.shell.settings.get(name)
        except BootshError:
            return None


@dataclass(frozen=True)
class UriScheme:
    """What a plugin registers: a scheme name and the function that downloads it."""

    name: str
    #: Stream the body into ``request.sink``, report progress; raise ``FetchError``.
    open: Callable[[FetchRequest], None]
    help: str = ""
    #: Filled in by the host: the plugin that registered the scheme.
    source: str = ""
    #: Optional check of the URI before anything is printed or opened; raise
    #: ``FetchError(..., start=True)`` for a URI the scheme can never open (no host).
    validate: Callable[[urllib.parse.SplitResult], None] | None = None
    #: Whether the scheme fetches from another machine. A scheme that reads this one
    #: (``file://``, a disk, a device) leaves it False: then a script or a DHCP answer
    #: that came from the network cannot use it (see the module docstring).
    network: bool = False


@dataclass(frozen=True)
class Download:
    """A finished download: the file, its size and the URI it finally came from."""

    path: Path
    size: int
    uri: str
    #: Whether the body came from the network or was asked for by something that did: an
    #: image made of it is itself from the network (what it runs is held to the same rule).
    network: bool = False


_SCHEMES_KEY = "bootsh.boot.fetch.schemes"
#: The progress display's clock (tests replace it to step through seconds).
_clock = time.monotonic


def schemes(shell: Shell) -> dict[str, UriScheme]:
    """The schemes plugins registered, asked once per shell."""
    known = shell.state.get(_SCHEMES_KEY)
    if not isinstance(known, dict):
        known = shell.host.uri_schemes()
        shell.state[_SCHEMES_KEY] = known
    return known


def check_server(parts: urllib.parse.SplitResult, errfile: int) -> None:
    """Refuse (before any I/O) a URI without a host or with a port that is no number.

    Raises ``FetchError(EINVAL in errfile, start=True)``: iPXE's "Could not start
    download". The explanation shows the URI with its password hidden.
    """
    uri = redact(urllib.parse.urlunsplit(parts))
    if not parts.hostname:
        raise FetchError(error_number("EINVAL", errfile), f"{uri}: no server", start=True)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port == -1 or port == 0:
        raise FetchError(error_number("EINVAL", errfile), f"{uri}: bad port", start=True)


def file_name(uri: str) -> str:
    """iPXE's image name for a URI: the last segment of its path (``image`` when none)."""
    path = urllib.parse.urlsplit(uri).path
    # The last segment after decoding: "%2F..%2F..%2Fetc%2Fpasswd" must not name a file
    # outside the target directory.
    name = urllib.parse.unquote(path.rsplit("/", 1)[-1]).rpartition("/")[2].replace("\0", "")
    return name if name not in ("", ".", "..") else "image"


@dataclass
class _Progress:
    """monojob_wait()'s display: once a second, ``%3d%%`` or a dot, erased with backspaces."""

    shell: Shell
    live: bool
    shown_len: int = 0
    last_display: float = field(default_factory=lambda: _clock())

    def update(self, done: int, total: int | None) -> None:
        if not self.live:
            return
        now = _clock()
        if now - self.last_display < 1.0:
            return
        self.last_display = now
        self.clear()
        # iPXE scales both by 128 to avoid overflow; the percentage is the same for sizes
        # above 128 bytes, and below that iPXE shows a dot, as here.
        scaled_total = (total or 0) // 128
        if scaled_total:
            text = "%3d%%" % (100 * (done // 128) // scaled_total)  # noqa: UP031
            self.shown_len = len(text)
        else:
            text = "."
            self.shown_len = 0
        self.shell.print(text, end="")  # a partial line: Shell.print flushes it

    def clear(self) -> None:
        if self.shown_len:
            n = self.shown_len
            self.shell.print("\b" * n + " " * n + "\b" * n, end="")
            self.shown_len = 0


def _is_terminal(shell: Shell) -> bool:
    try:
        return bool(shell.out.isatty())
    except (OSError, ValueError, AttributeError):
        return False


def fetch(
    shell: Shell,
    uri: str,
    directory: Path,
    *,
    name: str | None = None,
    timeout: float | None = None,
    quiet: bool = False,
    label: str | None = None,
    params: Parameters | None = None,
    requester: str | None = None,
) -> Download:
    """Download ``uri`` (absolute) into ``directory / name`` and return what arrived.

    Prints iPXE's line unless ``quiet``; ``label`` replaces the printed URI (imgfetch
    prints the URI as typed, before it is resolved against ``${cwuri}``). Raises
    ``FetchError`` after printing its reason, or re-raises ``KeyboardInterrupt`` after
    printing ``Operation canceled`` (the caller returns ``ECANCELED_FETCH``). Either way no
    file is left in ``directory``.

    ``requester`` names what came from the network and asks for ``uri`` (``the DHCP server
    10.0.0.1``); without it, the innermost running image that came from the network, if
    any. Such a request may use network schemes only (see the module docstring).
    """
    scheme: UriScheme | None = None
    if requester is None:
        requester = network_requester(shell)
    try:
        try:
            parts = urllib.parse.urlsplit(uri)
        except ValueError as exc:  # "http://[::1": a bracket left open, a bad IPv6 host
            raise FetchError(EINVAL_URI, f"{redact(uri)}: {exc}", start=True) from None
        scheme = schemes(shell).get(parts.scheme.lower()) if parts.scheme else None
        if scheme is None:
            what = f"{parts.scheme!r} URIs" if parts.scheme else "URIs without a scheme"
            raise FetchError(ENOTSUP_SCHEME, f"no plugin handles {what}", start=True)
        if scheme.validate is not None:
            scheme.validate(parts)
        if requester is not None and not scheme.network:
            _refuse_local(shell, uri, parts.scheme, requester)
    except FetchError as exc:
        if not quiet:
            shell.print(f"Could not start download: {exc.reason}")
        if exc.errno == EPERM_LOCAL:
            shell.diagnose(exc.detail)  # bootsh's own refusal: always said, -v or not
        else:
            _explain(shell, exc)
        raise
    text = label if label is not None else redact(uri)
    progress = _Progress(shell, live=not quiet and _is_terminal(shell))
    final = directory / (name if name is not None else file_name(uri))
    temp: Path | None = None
    try:
        # Inside the try: a Ctrl-C right after the URI was printed still ends the line
        # with "Operation canceled".
        if not quiet:
            shell.print(f"{text}...", end="")  # flushed by Shell.print: a partial line
        fd, temp_name = tempfile.mkstemp(prefix=".fetch-", suffix=".part", dir=directory)
        temp = Path(temp_name)
        with os.fdopen(fd, "wb") as sink:
            request = FetchRequest(uri, sink, timeout, progress.update, shell, params=params)
            scheme.open(request)
        size = temp.stat().st_size
        os.replace(temp, final)
    except BaseException as exc:
        if temp is not None:
            with contextlib.suppress(OSError):
                temp.unlink()
        progress.clear()  # shows nothing when quiet: nothing to erase
        if isinstance(exc, KeyboardInterrupt):
            _finish(shell, quiet, f" {strerror(ECANCELED_FETCH)}")
            raise
        err = _as_fetch_error(exc, scheme)
        if err is None:
            raise  # SystemExit and the like: not a download's failure
        _finish(shell, quiet, f" {err.reason}")
        if isinstance(exc, (FetchError, OSError)):
            _explain(shell, err)
        else:
            shell.diagnose(err.detail)  # a plugin's bug is always worth a line
        if err is exc:
            raise
        raise err from exc
    progress.clear()
    _finish(shell, quiet, " ok")
    return Download(final, size, request.final_uri, scheme.network or requester is not None)


def _refuse_local(shell: Shell, uri: str, scheme: str, requester: str) -> None:
    """Refuse a local-only scheme to ``requester`` unless the user allowed it."""
    if shell.context.config.allow_local_from_network:
        return
    raise FetchError(
        EPERM_LOCAL,
        f"{redact(uri)}: refused: asked for by {requester}; what came from the network may"
        f" not read this machine ({scheme.lower()}: URIs; bootsh --allow-local-from-network"
        " allows it)",
        start=True,
    )


def _as_fetch_error(exc: BaseException, scheme: UriScheme) -> FetchError | None:
    if isinstance(exc, FetchError):
        return exc
    if isinstance(exc, OSError):
        # The file could not be written (disk full, directory gone): the download fails
        # with the matching iPXE kind instead of a traceback.
        kind = "ENOSPC" if exc.errno == errno.ENOSPC else "EIO"
        return FetchError(error_number(kind, ERRFILE_DOWNLOADER), str(exc))
    if isinstance(exc, Exception):
        # A bug in the scheme's plugin: one line naming it, not a traceback mid-line.
        where = scheme.source or scheme.name
        return FetchError(
            error_number("EIO", ERRFILE_DOWNLOADER), f"{where}: {type(exc).__name__}: {exc}"
        )
    return None


def _finish(shell: Shell, quiet: bool, text: str) -> None:
    if not quiet:
        shell.print(text)


def _explain(shell: Shell, exc: FetchError) -> None:
    if exc.detail and shell.context.config.verbose:
        shell.diagnose(exc.detail)
