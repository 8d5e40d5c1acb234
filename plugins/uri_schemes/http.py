"""``http://`` and ``https://`` on the standard library's ``http.client`` and ``ssl``.

Why the standard library: a boot shell fetches one URI at a time and needs a handful of
things done exactly (iPXE's status mapping, a Content-Length check, a silence timeout,
redirects resolved the iPXE way); ``http.client`` does HTTP/1.1 framing including chunked
decoding, ``ssl`` verifies certificates against the system store, both stream through
``readinto`` without holding the body, and both ship with Python: no dependency to install
on a rescue system, nothing extra to import at start-up (this module is imported only when
a download of its scheme starts). urllib3/requests would add pooling and retries that a
single sequential download does not use, and their own exception types to map back.

What iPXE does, and so bootsh:

- 2xx is success; 3xx with ``Location`` is followed (relative locations resolved against
  the request URI; bootsh stops after 10 redirects); 401, 403 and 404 are iPXE's
  ``Permission denied``, ``Operation not permitted`` and ``No such file or directory``;
  other 4xx and 5xx are ``Input/output error`` with iPXE's numbers.
- A body shorter than its ``Content-Length`` is ``Input/output error`` (iPXE's "content
  length mismatch"); a connection closed before the headers or inside a chunked body is
  ``Broken pipe``; a refused or reset connection is ``Connection reset``.
- Certificates are verified against the system's trusted roots, and the name in the URI
  must match. A private CA is trusted by naming its PEM file in the ``ca-file`` setting
  (``set ca-file /etc/bootsh/ca.pem``) or the ``BOOTSH_CA_FILE`` environment variable; it
  is trusted in addition to the system roots. An untrusted chain is iPXE's
  ``Permission denied`` (x509 "untrusted root"), a wrong name or an expired certificate
  likewise with their own numbers.
- A failed status with ``Retry-After`` (503 while an image is being built) is asked again
  after that many seconds (5 s when it is a date), as iPXE does; bootsh gives up after 5
  retries and waits at most 30 s each time.
- Timeouts: 15 s to connect (and finish the TLS handshake), then 60 s of silence at most
  (iPXE waits forever without ``-t``; bootsh never hangs); ``imgfetch -t`` lowers both.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import functools
import http.client
import io
import os
import socket
import ssl
import stat
import time
import urllib.parse
from typing import Any

from bootsh import __version__ as bootsh_version
from bootsh.api import (
    ENXIO_NO_RECORD,
    ERRFILE_HTTPCORE,
    ERRFILE_OPEN,
    ERRFILE_TCP,
    ERRFILE_TLS,
    ERRFILE_X509,
    ETIMEDOUT_FETCH,
    FetchError,
    FetchRequest,
    check_server,
    error_number,
    redact,
)

CONNECT_TIMEOUT = 15.0
SILENCE_TIMEOUT = 60.0
MAX_REDIRECTS = 10
#: iPXE's HTTP_RETRY_SECONDS (a Retry-After it cannot read), and bootsh's bounds on retrying.
RETRY_SECONDS = 5
MAX_RETRIES = 5
MAX_RETRY_WAIT = 30.0
#: Read the body in blocks this large (the file is written block by block).
BLOCK = 256 * 1024
USER_AGENT = f"bootsh/{bootsh_version} (iPXE-compatible)"
CA_FILE_SETTING = "ca-file"
CA_FILE_ENV = "BOOTSH_CA_FILE"
#: A CA file larger than this is no list of certificates (Debian's whole bundle is 200 KB).
MAX_CA_FILE = 4 << 20

# iPXE's httpcore.c numbers (uniq values of its disambiguated errors).
EACCES_401 = error_number("EACCES", ERRFILE_HTTPCORE, 0x01)
EPERM_403 = error_number("EPERM", ERRFILE_HTTPCORE, 0x01)
ENOENT_404 = error_number("ENOENT", ERRFILE_HTTPCORE, 0x01)
EIO_OTHER = error_number("EIO", ERRFILE_HTTPCORE, 0x01)
EIO_CONTENT_LENGTH = error_number("EIO", ERRFILE_HTTPCORE, 0x02)
EIO_4XX = error_number("EIO", ERRFILE_HTTPCORE, 0x04)
EIO_5XX = error_number("EIO", ERRFILE_HTTPCORE, 0x05)
EINVAL_STATUS = error_number("EINVAL", ERRFILE_HTTPCORE, 0x01)
EINVAL_CONTENT_LENGTH = error_number("EINVAL", ERRFILE_HTTPCORE, 0x03)
EPIPE_CLOSED = error_number("EPIPE", ERRFILE_HTTPCORE)
#: A parameter list's ``--method`` that HTTP does not have.
ENOTSUP_METHOD = error_number("ENOTSUP", ERRFILE_HTTPCORE)
#: The body type of a form POST (``http_open_uri``).
FORM_TYPE = "application/x-www-form-urlencoded"
ELOOP_REDIRECTS = error_number("ELOOP", ERRFILE_HTTPCORE)
ECONNRESET_TCP = error_number("ECONNRESET", ERRFILE_TCP)
ETIMEDOUT_TCP = error_number("ETIMEDOUT", ERRFILE_TCP)
# crypto/x509.c: untrusted root, expired, wrong name.
EACCES_UNTRUSTED = error_number("EACCES", ERRFILE_X509, 0x06)
EACCES_EXPIRED = error_number("EACCES", ERRFILE_X509, 0x04)
EACCES_WRONG_NAME = error_number("EACCES", ERRFILE_X509, 0x0A)
EPROTO_TLS = error_number("EPROTO", ERRFILE_TLS)

# OpenSSL's X509_V_ERR_* codes that are iPXE's "expired" and "wrong name".
_EXPIRED_CODES = {9, 10}  # not yet valid, expired
_WRONG_NAME_CODES = {62, 63, 64}  # host name, e-mail, IP address mismatch


def validate(parts: urllib.parse.SplitResult) -> None:
    check_server(parts, ERRFILE_OPEN)


def status_error(status: int, reason: str) -> FetchError:
    """iPXE's http_parse_status(): the error a non-2xx, non-redirect status fails with."""
    detail = f"HTTP {status} {reason}".strip()
    if status == 401:
        return FetchError(EACCES_401, detail)
    if status == 403:
        return FetchError(EPERM_403, detail)
    if status == 404:
        return FetchError(ENOENT_404, detail)
    if 400 <= status < 500:
        return FetchError(EIO_4XX, detail)
    if 500 <= status < 600:
        return FetchError(EIO_5XX, detail)
    return FetchError(EIO_OTHER, detail)


def tls_context(request: FetchRequest) -> ssl.SSLContext:
    """The system's trusted roots, plus the private CA named by ``ca-file``/BOOTSH_CA_FILE."""
    context = ssl.create_default_context()
    ca_file = request.setting(CA_FILE_SETTING) or os.environ.get(CA_FILE_ENV) or ""
    if ca_file:
        pem = read_ca_file(ca_file)
        try:
            context.load_verify_locations(cadata=pem)
        except (ValueError, ssl.SSLError) as exc:
            raise FetchError(
                error_number("EINVAL", ERRFILE_X509),
                f"CA file {ca_file}: not PEM certificates ({exc})",
            ) from exc
    return context


def read_ca_file(ca_file: str) -> str:
    """The PEM text of ``ca_file``, read with bounds: a FIFO or a device (``/dev/zero``)
    would block or never end inside OpenSSL, so only a regular file of at most
    ``MAX_CA_FILE`` bytes is read, and opening never waits (O_NONBLOCK)."""
    not_pem = error_number("EINVAL", ERRFILE_X509)
    try:
        fd = os.open(ca_file, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except FileNotFoundError as exc:
        raise FetchError(
            error_number("ENOENT", ERRFILE_X509), f"CA file {ca_file}: no such file"
        ) from exc
    except OSError as exc:
        raise FetchError(not_pem, f"CA file {ca_file}: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as source:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FetchError(not_pem, f"CA file {ca_file}: not a regular file")
        if info.st_size > MAX_CA_FILE:
            raise FetchError(not_pem, f"CA file {ca_file}: larger than {MAX_CA_FILE} bytes")
        try:
            data = source.read(MAX_CA_FILE + 1)
        except OSError as exc:
            raise FetchError(not_pem, f"CA file {ca_file}: {exc.strerror}") from exc
    if len(data) > MAX_CA_FILE:
        raise FetchError(not_pem, f"CA file {ca_file}: larger than {MAX_CA_FILE} bytes")
    if not data.isascii():
        raise FetchError(not_pem, f"CA file {ca_file}: not PEM certificates (not ASCII text)")
    return data.decode("ascii")


class _WriteFailed(Exception):
    """The sink refused a block (disk full): kept apart from the socket's OSErrors."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


class _RetryLater(Exception):
    """A failed status with ``Retry-After``: iPXE asks again after that many seconds."""

    def __init__(self, seconds: float, error: FetchError) -> None:
        super().__init__(error.detail)
        self.seconds = seconds
        self.error = error


def retry_after(value: str) -> float:
    """iPXE's http_parse_retry_after(): seconds, or 5 s for anything else (an HTTP date).

    Only ASCII digits count (``str.isdigit`` also takes ``²``, which ``int`` refuses), and a
    number of more digits than any wait bootsh does is just long (``int`` of over 4300
    digits raised ValueError): the wait is capped at MAX_RETRY_WAIT anyway.
    """
    value = value.strip()
    if not value.isascii() or not value.isdigit():
        return float(RETRY_SECONDS)
    return float(int(value)) if len(value) <= 9 else MAX_RETRY_WAIT


def open_http(request: FetchRequest) -> None:
    uri = request.uri
    context: ssl.SSLContext | None = None
    hops = retries = 0
    while True:
        parts = urllib.parse.urlsplit(uri)
        if hops:  # fetch() validated the URI it was given; a redirect's is new
            validate(parts)
        if parts.scheme.lower() == "https" and context is None:
            context = tls_context(request)
        try:
            location = _get(request, parts, context)
        except _RetryLater as later:
            # iPXE retries for as long as the server says so; bootsh a bounded number of
            # times, each wait capped, and never past the -t silence bound.
            retries += 1
            wait = min(later.seconds, MAX_RETRY_WAIT)
            if retries > MAX_RETRIES:
                raise later.error from None
            if request.timeout is not None and wait >= request.timeout:
                raise FetchError(
                    ETIMEDOUT_FETCH, f"{parts.hostname} asks to retry after {wait:g} s"
                ) from None
            time.sleep(wait)
            continue
        if location is None:
            request.final_uri = uri
            return
        hops += 1
        # A redirect opens its Location afresh (iPXE's xfer_redirect): a plain GET, without
        # the parameter list the first URI carried.
        request.params = None
        if hops > MAX_REDIRECTS:
            raise FetchError(ELOOP_REDIRECTS, f"more than {MAX_REDIRECTS} redirects, last to {uri}")
        try:
            uri = urllib.parse.urljoin(uri, location)
            scheme = urllib.parse.urlsplit(uri).scheme.lower()
        except ValueError as exc:  # "Location: http://[::1": the server's mistake
            raise FetchError(
                error_number("EINVAL", ERRFILE_OPEN), f"redirect to {location!r}: {exc}"
            ) from None
        # iPXE opens a redirect of any scheme; bootsh follows only HTTP(S), so that a server
        # cannot make bootsh read a local file (file://) into an image it may then send on.
        if scheme not in ("http", "https"):
            raise FetchError(
                error_number("ENOTSUP", ERRFILE_OPEN), f"redirect to {redact(uri)}: not HTTP(S)"
            )


def _timeouts(request: FetchRequest) -> tuple[float, float, bool]:
    """(connect, silence, user's): ``-t`` bounds both, like monojob's no-progress timer."""
    if request.timeout is None:
        return CONNECT_TIMEOUT, SILENCE_TIMEOUT, False
    user = max(request.timeout, 0.001)
    return min(CONNECT_TIMEOUT, user), user, True


def _target(parts: urllib.parse.SplitResult) -> str:
    # The request line carries the URI's path and query as given; characters that cannot
    # appear in it (a space typed into a script) are percent-encoded rather than refused.
    # Quoted as bytes: a script's non-UTF-8 byte (a lone surrogate here) is sent as %XX of
    # that byte; quoting the text raised UnicodeEncodeError.
    path = urllib.parse.quote(_raw(parts.path or "/"), safe="/%:@!$&'()*+,;=-._~")
    query = urllib.parse.quote(_raw(parts.query), safe="/?%:@!$&'()*+,;=-._~")
    return f"{path}?{query}" if parts.query else path


def _method_and_body(request: FetchRequest) -> tuple[str, bytes | None]:
    """iPXE's ``http_open_uri``: POST with the list's form fields, else GET; the list's own
    method instead when it names one (an unknown one: "Operation not supported")."""
    params = request.params
    if params is None:
        return "GET", None
    method = params.http_method()
    if method is None:
        raise FetchError(ENOTSUP_METHOD, f"HTTP has no method {params.method!r}")
    return method, params.body() if params.form else None


def _raw(text: str) -> bytes:
    """A URI part as the bytes it came from (``surrogateescape`` undone)."""
    return text.encode("utf-8", "surrogateescape")


def _get(
    request: FetchRequest, parts: urllib.parse.SplitResult, context: ssl.SSLContext | None
) -> str | None:
    """One GET: stream a 2xx body into the sink, or return a redirect's Location."""
    host = parts.hostname or ""
    connect_timeout, silence, user_timeout = _timeouts(request)
    conn: http.client.HTTPConnection
    wrapped: _DeadlineSocket | None = None
    if parts.scheme.lower() == "https":
        conn = http.client.HTTPSConnection(
            host, parts.port or 443, timeout=connect_timeout, context=context
        )
    else:
        conn = http.client.HTTPConnection(host, parts.port or 80, timeout=connect_timeout)
    try:
        address = request.resolve(host)
        if address is not None:
            # Connect to the shell's answer for the name; the Host header and the TLS
            # name check (SNI, certificate) still use the name itself.
            conn._create_connection = functools.partial(_connect_to, address)  # type: ignore[attr-defined]
        _connect(conn, host, user_timeout)
        assert conn.sock is not None
        conn.sock.settimeout(silence)
        method, body = _method_and_body(request)
        # From here on every read waits at most until `silence` after the last progress
        # (the request sent, body bytes written), not `silence` per read: a status line,
        # headers, chunk-size lines or trailers trickled a byte at a time, or a stream of
        # "100 Continue" heads, ran past -t and the 60 s bound.
        deadline = _Deadline(silence)
        conn.sock = wrapped = _DeadlineSocket(conn.sock, deadline)
        try:
            conn.putrequest(method, _target(parts), skip_accept_encoding=True)
            conn.putheader("User-Agent", USER_AGENT)
            conn.putheader("Accept-Encoding", "identity")
            conn.putheader("Connection", "close")
            if parts.username is not None:
                user = urllib.parse.unquote_to_bytes(_raw(parts.username))
                password = urllib.parse.unquote_to_bytes(_raw(parts.password or ""))
                token = base64.b64encode(user + b":" + password).decode()
                conn.putheader("Authorization", f"Basic {token}")
            if body is not None:
                conn.putheader("Content-Type", FORM_TYPE)
                conn.putheader("Content-Length", str(len(body)))
            if request.params is not None:
                # The list's headers after the fixed ones, as iPXE's http_format_headers.
                for header in request.params.headers:
                    conn.putheader(header.key, header.value)
            conn.endheaders(body)
            response = conn.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError) as exc:
            raise FetchError(EPIPE_CLOSED, f"{host} closed the connection: {exc}") from exc
        except http.client.BadStatusLine as exc:
            raise FetchError(EINVAL_STATUS, f"{host}: bad status line {exc}") from exc
        except http.client.HTTPException as exc:
            raise FetchError(EIO_OTHER, f"{host}: {exc}") from exc
        status = response.status
        if 300 <= status < 400:
            location = response.getheader("Location")
            if location:
                return location
        if not 200 <= status < 300:
            error = status_error(status, response.reason)
            later = response.getheader("Retry-After")
            if later is not None:
                raise _RetryLater(retry_after(later), error)
            raise error
        _body(request, response, host, deadline)
        return None
    except _WriteFailed as failed:
        # The local file, not the network: fetch() reports it (No space left on device).
        raise failed.error from None
    except TimeoutError as exc:
        # No progress for the silence bound: monojob's timeout, with -t or not.
        raise FetchError(ETIMEDOUT_FETCH, f"no progress from {host} for {silence:g} s") from exc
    except ssl.SSLError as exc:
        raise FetchError(EPROTO_TLS, f"TLS with {host}: {exc}") from exc
    except ConnectionResetError as exc:
        raise FetchError(ECONNRESET_TCP, f"{host} reset the connection") from exc
    except OSError as exc:
        raise _os_error(exc, host) from exc
    finally:
        with contextlib.suppress(OSError):
            conn.close()
            if wrapped is not None:
                wrapped.really_close()


class _Deadline:
    """When a download stops waiting: ``silence`` seconds after its last progress."""

    def __init__(self, silence: float) -> None:
        self.silence = silence
        self.at = time.monotonic() + silence

    def progress(self) -> None:
        self.at = time.monotonic() + self.silence

    def left(self) -> float:
        """Seconds left; ``TimeoutError`` when none are."""
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError
        return left


class _DeadlineReader(io.RawIOBase):
    """The socket as http.client reads a response: each receive waits at most until the
    deadline (the socket's own timeout would restart with every byte)."""

    def __init__(self, sock: socket.socket, deadline: _Deadline) -> None:
        super().__init__()
        self.sock = sock
        self.deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self.sock.settimeout(self.deadline.left())
        return self.sock.recv_into(buffer)


class _DeadlineSocket:
    """The connection's socket for http.client: ``makefile`` reads through a
    ``_DeadlineReader``; everything else is the socket's own."""

    def __init__(self, sock: socket.socket, deadline: _Deadline) -> None:
        self._sock = sock
        self._deadline = deadline

    def makefile(self, mode: str = "rb", *args: object, **kwargs: object) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline))

    def close(self) -> None:
        """Nothing: http.client closes the connection as soon as it has the response of a
        ``Connection: close`` request, which a real socket survives by counting its
        makefile()s. ``_get`` closes the socket itself when the download is over."""

    def really_close(self) -> None:
        self._sock.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def _connect_to(
    address: str,
    target: tuple[str, int],
    timeout: float | None = None,
    source_address: tuple[str, int] | None = None,
) -> socket.socket:
    """``socket.create_connection`` to ``address`` instead of the name in ``target``."""
    return socket.create_connection((address, target[1]), timeout, source_address)


def _connect(conn: http.client.HTTPConnection, host: str, user_timeout: bool) -> None:
    try:
        conn.connect()
    except (socket.gaierror, UnicodeError) as exc:
        # UnicodeError: a name the resolver cannot even encode ("a..b", a 64-letter label).
        raise FetchError(ENXIO_NO_RECORD, f"{host}: {exc}") from exc
    except ssl.SSLCertVerificationError as exc:
        code = exc.verify_code
        if code in _EXPIRED_CODES:
            number = EACCES_EXPIRED
        elif code in _WRONG_NAME_CODES:
            number = EACCES_WRONG_NAME
        else:
            number = EACCES_UNTRUSTED
        raise FetchError(number, f"certificate of {host}: {exc.verify_message}") from exc
    except TimeoutError as exc:
        number = ETIMEDOUT_FETCH if user_timeout else ETIMEDOUT_TCP
        raise FetchError(number, f"connecting to {host}: timed out") from exc
    except ConnectionRefusedError as exc:
        # iPXE sees the RST answering its SYN: tcp_rx_rst() closes with ECONNRESET.
        raise FetchError(ECONNRESET_TCP, f"{host} refused the connection") from exc


def _os_error(exc: OSError, host: str) -> FetchError:
    kinds = {
        errno.EHOSTUNREACH: "EHOSTUNREACH",
        errno.ENETUNREACH: "ENETUNREACH",
        errno.ECONNRESET: "ECONNRESET",
        errno.EPIPE: "EPIPE",
    }
    kind = kinds.get(exc.errno or 0, "EIO")
    errfile = ERRFILE_HTTPCORE if kind == "EPIPE" else ERRFILE_TCP
    return FetchError(error_number(kind, errfile), f"{host}: {exc.strerror or exc}")


def _body(
    request: FetchRequest, response: http.client.HTTPResponse, host: str, deadline: _Deadline
) -> None:
    length_header = response.getheader("Content-Length")
    total: int | None = None
    if length_header is not None and not response.chunked:
        try:
            total = int(length_header.strip(), 10)
        except ValueError as exc:  # not a number, or over 4300 digits
            shown = length_header if len(length_header) <= 40 else length_header[:40] + "..."
            raise FetchError(EINVAL_CONTENT_LENGTH, f"{host}: Content-Length {shown!r}") from exc
        if total < 0:
            raise FetchError(EINVAL_CONTENT_LENGTH, f"{host}: Content-Length {total}")
    done = 0
    request.progress(0, total or None)
    while True:
        try:
            # read1, not readinto: readinto waits until the whole block is there, so body
            # bytes arriving slowly were not seen as progress until then; read1 returns
            # what one receive brought (the chunk-size lines and trailers around it are read
            # inside, under the same deadline: framing is not progress).
            block = response.read1(BLOCK)
        except http.client.IncompleteRead as exc:
            # Only a chunked body raises this: the connection closed inside it.
            raise FetchError(EPIPE_CLOSED, f"{host} closed inside a chunked body") from exc
        except http.client.HTTPException as exc:
            raise FetchError(EPIPE_CLOSED, f"{host}: {exc}") from exc
        if not block:
            break
        try:
            request.sink.write(block)
        except OSError as exc:
            raise _WriteFailed(exc) from None
        done += len(block)
        deadline.progress()
        request.progress(done, total or None)
    if total is not None and done != total:
        raise FetchError(
            EIO_CONTENT_LENGTH, f"{host} sent {done} of {total} bytes (Content-Length)"
        )
