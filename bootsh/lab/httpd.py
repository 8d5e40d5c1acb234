"""The lab's HTTP server: a threaded ``http.server`` serving the lab's directory (one per
address: IPv4, and IPv6 in an IPv6 lab).

It runs inside the owning process, listening on a socket created in the server namespace by a
short-lived thread that ``setns()``-ed into it (a socket belongs to the namespace it was
created in, whichever thread uses it later). Compared with a child process started through
``ip netns exec`` there is no readiness race (the socket listens before :func:`serve`
returns), no third process to track, and nothing can outlive the owner.

(Named ``httpd``, not ``http``, so that it is never mistaken for the standard library's.)
"""

from __future__ import annotations

import contextlib
import http.server
import socket
import socketserver
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

from bootsh.lab.errors import LabError
from bootsh.lab.netns import in_netns


class _HTTPHandler(http.server.SimpleHTTPRequestHandler):
    server: HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        self.server.log(f"{self.address_string()} {format % args}")


class HTTPServer(http.server.ThreadingHTTPServer):
    """http.server's threaded server, logging to a file and able to drop open connections."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], directory: Path, log_path: Path) -> None:
        self._log_lock = threading.Lock()
        self._log_path = log_path
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        handler = partial(_HTTPHandler, directory=str(directory))
        # An IPv6 lab serves on its IPv6 address too (a second server, same directory).
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would look up the server's name (socket.getfqdn): a PTR query
        # through the host's resolver, possibly over a Unix socket that crosses the namespace.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def log(self, line: str) -> None:
        with self._log_lock, self._log_path.open("a") as f:
            f.write(f"{time.strftime('%H:%M:%S')} {line}\n")

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def serve_in_thread(self) -> None:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.02}, name="lab-http", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Stop accepting, cut the connections still open, close the listening socket and wait
        (``timeout``) for the serving thread to end."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            self.shutdown()  # waits for serve_forever to return: only if it runs
        with self._open_lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self.server_close()
        if thread is not None:
            thread.join(timeout)


def serve(
    netns: str, address: tuple[str, int], directory: Path, log_path: Path, timeout: float
) -> HTTPServer:
    """An :class:`HTTPServer` listening in ``netns`` on ``address``, serving in a thread."""
    httpd = in_netns(netns, lambda: HTTPServer(address, directory, log_path), timeout=timeout)
    try:
        httpd.serve_in_thread()
    except BaseException:
        httpd.server_close()
        raise
    return httpd


def wait_answering(netns: str, address: tuple[str, int], timeout: float) -> None:
    """Connect to ``address`` from ``netns``; ``LabError`` if nothing answers."""

    def probe() -> None:
        with socket.create_connection(address, timeout=timeout):
            pass

    try:
        in_netns(netns, probe, timeout=timeout)
    except OSError as exc:
        raise LabError(f"HTTP server on {address[0]}:{address[1]} not answering: {exc}") from exc
