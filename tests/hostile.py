"""Servers for the adversarial tests, on loopback in the test's own process.

Each runs in daemon threads of the test process, listens on 127.0.0.1 with a port the kernel
picks, and is bounded: it serves for at most ``LIFETIME`` seconds and a fixed number of
packets or bytes, and the ``with`` block closes its socket on the way out (a test that fails
leaves nothing listening). What they send is the attack; what bootsh does with it is the
test's to check.

- ``http_files``: a plain HTTP server of a dict of paths and bodies (scripts that come from
  the network).
- ``http_raw``: answers every connection with a scripted sequence of byte strings and pauses
  (a trickled header, a chunk-size line one byte a second, a status line with escapes).
- ``udp_flood``: sends datagrams to a port as fast as it can until stopped (a TFTP client
  flooded with stray DATA or repeated OACKs, a DHCP client's port 68).
- ``tftp_script``: a TFTP "server" that answers the first request with a scripted reply
  function (repeated OACKs, stray DATA, an ERROR with escapes).
"""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

#: No hostile server lives longer than this, whatever the test does.
LIFETIME = 60.0
LOOPBACK = "127.0.0.1"


@contextmanager
def http_files(files: dict[str, bytes]) -> Iterator[str]:
    """Serve ``files`` (path -> body) over HTTP; yields the base URL (``http://127.0.0.1:N``).
    Unknown paths are 404. Every request is recorded in ``requests`` of the handler class."""

    class Handler(http.server.BaseHTTPRequestHandler):
        timeout = 10

        def do_GET(self) -> None:
            body = files.get(self.path.split("?", 1)[0])
            requested.append(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    requested: list[str] = []
    server = http.server.ThreadingHTTPServer((LOOPBACK, 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


#: A step of ``http_raw``: bytes to send, or a float: seconds to wait before the next step.
Step = bytes | float


@contextmanager
def http_raw(steps: Sequence[Step], *, connections: int = 4) -> Iterator[str]:
    """A TCP server that reads the request head, then plays ``steps`` to each connection
    (at most ``connections`` of them, one at a time, each at most ``LIFETIME`` seconds).
    Yields the base URL. A step that cannot be sent (the client went away) ends that
    connection quietly."""
    listener = socket.create_server((LOOPBACK, 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        served = 0
        while not stop.is_set() and served < connections:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            served += 1
            with conn:
                _play(conn, steps, stop)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()
        thread.join(10)


def _play(conn: socket.socket, steps: Sequence[Step], stop: threading.Event) -> None:
    conn.settimeout(5)
    head = b""
    try:
        while b"\r\n\r\n" not in head and len(head) < 65536:
            chunk = conn.recv(4096)
            if not chunk:
                return
            head += chunk
        end = time.monotonic() + LIFETIME
        for step in steps:
            if stop.is_set() or time.monotonic() > end:
                return
            if isinstance(step, float):
                stop.wait(step)
            else:
                conn.sendall(step)
    except OSError:
        return


def trickle(data: bytes, every: float) -> list[Step]:
    """``data`` one byte at a time, ``every`` seconds apart."""
    steps: list[Step] = []
    for i in range(len(data)):
        steps += [data[i : i + 1], every]
    return steps


@contextmanager
def udp_flood(
    target: tuple[str, int],
    payload: Callable[[int], bytes],
    *,
    source: tuple[str, int] = (LOOPBACK, 0),
    broadcast: bool = False,
    limit: int = 2_000_000,
) -> Iterator[socket.socket]:
    """Send ``payload(n)`` to ``target`` as fast as possible (at most ``limit`` datagrams
    and ``LIFETIME`` seconds) until the ``with`` block ends. Yields the sending socket."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if broadcast:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    sock.bind(source)
    stop = threading.Event()

    def run() -> None:
        end = time.monotonic() + LIFETIME
        n = 0
        while not stop.is_set() and n < limit and time.monotonic() < end:
            try:
                sock.sendto(payload(n), target)
            except OSError:
                time.sleep(0.001)  # ECONNREFUSED from an earlier datagram: keep going
            n += 1

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield sock
    finally:
        stop.set()
        thread.join(10)
        sock.close()


@contextmanager
def tftp_script(
    answer: Callable[[socket.socket, tuple[str, int], bytes, threading.Event], None],
) -> Iterator[int]:
    """A UDP "TFTP server" on loopback: the first request is handed to ``answer(sock,
    client, request, stop)``, which may send what it likes from ``sock`` (a new transfer
    id) until ``stop`` is set. Yields the server's port."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind((LOOPBACK, 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        end = time.monotonic() + LIFETIME
        while not stop.is_set() and time.monotonic() < end:
            try:
                request, client = listener.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.bind((LOOPBACK, 0))
                answer(sock, client, request, stop)
            return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(10)
        listener.close()


@contextmanager
def unix_server(
    path: str, serve: Callable[[socket.socket, threading.Event], None], *, connections: int = 4
) -> Iterator[str]:
    """A Unix stream socket at ``path``: each connection (at most ``connections``) is handed
    to ``serve(conn, stop)`` in turn. Yields the path."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(4)
    listener.settimeout(0.2)
    stop = threading.Event()

    def run() -> None:
        served = 0
        end = time.monotonic() + LIFETIME
        while not stop.is_set() and served < connections and time.monotonic() < end:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            served += 1
            with conn:
                conn.settimeout(5)
                try:
                    serve(conn, stop)
                except OSError:
                    continue

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        stop.set()
        listener.close()
        thread.join(10)


def read_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionResetError
        data += chunk
    return data


@contextmanager
def within(seconds: float, what: str) -> Iterator[None]:
    """Fail the test (AssertionError) when the block runs longer than ``seconds``: for
    in-process code that used to block forever (a FIFO's open), so that a regression is a
    failure, not a hung test run. SIGALRM, main thread only."""
    import signal

    def expired(signum: int, frame: object) -> None:
        raise AssertionError(f"{what}: still running after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
