"""Misbehaving servers for tests/test_fetch.py, run in the lab's server namespace.

``python3 -m tests.fetch_servers MODE ADDRESS PORT [ARGS...]`` binds, prints ``ready`` on
stdout and serves until killed:

- ``silent``: accepts TCP connections and never says a word.
- ``short SIZE SENT``: answers 200 with ``Content-Length: SIZE``, sends SENT bytes, closes.
- ``trickle SIZE``: answers 200 with ``Content-Length: SIZE`` and sends 16 KiB every 50 ms
  (for a kill in the middle of the body).
- ``gated SIZE FLAG``: answers 200 with ``Content-Length: SIZE``, sends half the body, then
  256 KiB every 250 ms until the file FLAG exists (the test creates it once it has seen what it
  waits for), then the rest: a download that lasts exactly as long as the test needs.
- ``redirect LOCATION``: answers 302 to LOCATION (which may be itself: a loop).
- ``echo``: answers 200 with the request it received as the body (request line, headers and
  body, CR LF as sent); a request with ``Content-Length`` has its body read first.
- ``busy COUNT SECONDS``: answers the first COUNT requests ``503`` with ``Retry-After:
  SECONDS``, then 200 with 6000 bytes of ``ready``; logs ``request N`` on stderr.
- ``chunked FILE [CUT]``: sends FILE with chunked encoding; with CUT, closes after CUT
  bytes of body without the last chunk.
- ``https DIR CERT KEY``: serves DIR over TLS with the given certificate chain and key.
- ``tftp FILE [--duplicate] [--stranger]``: a TFTP server for one file (any name) that
  negotiates blksize and tsize; ``--duplicate`` sends every DATA block twice (a client that
  re-acknowledges duplicates doubles the traffic: the Sorcerer's Apprentice), ``--stranger``
  also sends each DATA block from a second socket (another transfer id) with wrong data,
  ``--oversize`` sends DATA blocks 100 bytes larger than the block size it agreed to.
  It logs ``acks N`` (ACKs received) on stderr at the end of each transfer.
"""

from __future__ import annotations

import http.server
import socket
import ssl
import struct
import sys
import threading
import time
from functools import partial
from pathlib import Path


def _listen(address: str, port: int) -> socket.socket:
    return socket.create_server((address, port))


def _ready() -> None:
    print("ready", flush=True)


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def silent(address: str, port: int) -> None:
    server = _listen(address, port)
    _ready()
    held = []
    while True:
        conn, _ = server.accept()
        held.append(conn)  # keep it open, say nothing


def short(address: str, port: int, size: str, sent: str) -> None:
    server = _listen(address, port)
    _ready()
    while True:
        conn, _ = server.accept()
        _read_request(conn)
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
        conn.sendall(b"s" * int(sent))
        conn.close()


def trickle(address: str, port: int, size: str) -> None:
    server = _listen(address, port)
    _ready()
    conn, _ = server.accept()
    _read_request(conn)
    conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
    while True:
        conn.sendall(b"t" * 16384)
        time.sleep(0.05)


def gated(address: str, port: int, size: str, flag: str) -> None:
    server = _listen(address, port)
    _ready()
    conn, _ = server.accept()
    _read_request(conn)
    total = int(size)
    conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n\r\n".encode())
    piece = b"g" * (256 * 1024)  # bootsh's HTTP reads (and shows progress) in 256 KiB blocks
    sent = 0
    # Half, then a block every 250 ms (the client's display updates on data) until the test
    # says go by creating FLAG, then the rest at full speed.
    while sent < total // 2 or (not Path(flag).exists() and sent < total - len(piece)):
        conn.sendall(piece)
        sent += len(piece)
        if sent >= total // 2:
            time.sleep(0.25)
    while sent < total:
        conn.sendall(piece[: total - sent])
        sent += min(len(piece), total - sent)
    conn.close()


def redirect(address: str, port: int, location: str) -> None:
    server = _listen(address, port)
    _ready()
    while True:
        conn, _ = server.accept()
        _read_request(conn)
        conn.sendall(
            f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode()
        )
        conn.close()


def echo(address: str, port: int) -> None:
    server = _listen(address, port)
    _ready()
    while True:
        conn, _ = server.accept()
        data = _read_request(conn)
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = conn.recv(4096)
            if not chunk:
                break
            body += chunk
        reply = head + b"\r\n\r\n" + body
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(reply) + reply)
        conn.close()


def busy(address: str, port: int, count: str, seconds: str) -> None:
    server = _listen(address, port)
    _ready()
    served = 0
    body = b"ready\n" * 1000
    while True:
        conn, _ = server.accept()
        _read_request(conn)
        served += 1
        if served <= int(count):
            head = f"HTTP/1.1 503 Busy\r\nRetry-After: {seconds}\r\nContent-Length: 0\r\n\r\n"
            conn.sendall(head.encode())
        else:
            conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        conn.close()
        print(f"request {served}", file=sys.stderr, flush=True)


def chunked(address: str, port: int, file: str, cut: str | None = None) -> None:
    body = Path(file).read_bytes()
    server = _listen(address, port)
    _ready()
    while True:
        conn, _ = server.accept()
        _read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        limit = int(cut) if cut is not None else len(body)
        for start in range(0, limit, 7000):
            piece = body[start : min(start + 7000, limit)]
            conn.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        if cut is None:
            conn.sendall(b"0\r\n\r\n")
        conn.close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def https(address: str, port: int, directory: str, cert: str, key: str) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd = http.server.ThreadingHTTPServer(
        (address, port), partial(_Quiet, directory=directory), bind_and_activate=True
    )
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    _ready()
    httpd.serve_forever()


def tftp(address: str, port: int, file: str, *flags: str) -> None:
    body = Path(file).read_bytes()
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind((address, port))
    _ready()
    while True:
        request, client = server.recvfrom(65536)
        threading.Thread(
            target=_tftp_transfer, args=(address, body, request, client, flags), daemon=True
        ).start()


def _tftp_transfer(
    address: str, body: bytes, request: bytes, client: tuple[str, int], flags: tuple[str, ...]
) -> None:
    fields = request[2:].split(b"\0")
    options = {
        fields[i].decode().lower(): fields[i + 1].decode() for i in range(2, len(fields) - 1, 2)
    }
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, 0))
    sock.settimeout(5)
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.bind((address, 0))
    blksize = 512
    acks = 0
    if options:
        blksize = int(options.get("blksize", "512"))
        reply = b""
        if "blksize" in options:
            reply += b"blksize\0" + str(blksize).encode() + b"\0"
        if "tsize" in options:
            reply += b"tsize\0" + str(len(body)).encode() + b"\0"
        sock.sendto(struct.pack("!H", 6) + reply, client)
        try:
            sock.recvfrom(100)  # ACK 0
            acks += 1
        except TimeoutError:
            return
    block = 1
    offset = 0
    while True:
        # --oversize: 100 bytes more than the block size it agreed to (a broken server).
        data = body[offset : offset + blksize + (100 if "--oversize" in flags else 0)]
        packet = struct.pack("!HH", 3, block & 0xFFFF) + data
        if "--stranger" in flags:
            stranger.sendto(struct.pack("!HH", 3, block & 0xFFFF) + b"x" * len(data), client)
        sock.sendto(packet, client)
        if "--duplicate" in flags:
            sock.sendto(packet, client)
        deadline = time.monotonic() + 5
        while True:
            try:
                answer, _ = sock.recvfrom(100)
            except TimeoutError:
                print(f"acks {acks} (gave up)", file=sys.stderr, flush=True)
                return
            opcode, number = struct.unpack("!HH", answer[:4])
            if opcode == 4:
                acks += 1
                if number == block & 0xFFFF:
                    break
            if time.monotonic() > deadline:
                return
        offset += blksize
        block += 1
        if len(data) < blksize:
            break
    # A client that acknowledges duplicates sends its extra ACKs now: count them too.
    sock.settimeout(0.3)
    while True:
        try:
            sock.recvfrom(100)
            acks += 1
        except TimeoutError:
            break
    print(f"acks {acks}", file=sys.stderr, flush=True)


MODES = {
    "silent": silent,
    "short": short,
    "trickle": trickle,
    "gated": gated,
    "redirect": redirect,
    "echo": echo,
    "chunked": chunked,
    "busy": busy,
    "https": https,
    "tftp": tftp,
}


if __name__ == "__main__":
    mode, address, port, *rest = sys.argv[1:]
    MODES[mode](address, int(port), *rest)  # type: ignore[operator]
