"""Downloads from hostile HTTP and TFTP servers (issue 14, items 12 and 14).

The servers are tests.hostile's, on loopback in the test's own threads, each bounded in time
and packets. What they do: trickle a status line, headers, a chunk-size line or trailers one
byte at a time; send "100 Continue" heads forever; flood stray DATA blocks or repeated OACKs;
put escape sequences in an HTTP status line or a TFTP error; answer a 503 with a 5000-digit
Retry-After. Every case must end within ``-t`` with iPXE's line (a trickle of framing is no
progress, only body bytes are), print control characters visibly, and never show a
ValueError. A download that used to run forever is held by ``within``: a regression fails
instead of hanging the suite.
"""

from __future__ import annotations

import socket
import struct
import threading
from pathlib import Path

import pytest

from tests.helpers import run_cli
from tests.hostile import Step, http_files, http_raw, tftp_script, trickle, within

TIMED_OUT = "Connection timed out (https://ipxe.org/4c07206e)"
HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


def fetch(uri: str, *options: str) -> tuple[int, str, str]:
    return run_cli(f"imgfetch -t 2000 {uri}", options=["--dry-run", *options])


# -- HTTP ---------------------------------------------------------------------------------------


CONTINUES: list[Step] = [b"HTTP/1.1 100 Continue\r\n\r\n", 0.05] * 200
PADDING = b"X-Pad: " + b"y" * 40 + b"\r\n"
TRICKLES: dict[str, list[Step]] = {
    # The whole head a byte every 0.25 s: 10 s of no progress.
    "head": [*trickle(HEAD, 0.25), b"hello"],
    # Body bytes, then the next chunk-size line a byte every 0.25 s (zeros are allowed).
    "chunk-size line": [
        CHUNKED,
        b"5\r\nhello\r\n",
        *trickle(b"0" * 30 + b"5\r\n", 0.25),
        b"world\r\n0\r\n\r\n",
    ],
    # The last chunk, then trailer lines (each trailer line is framing, not body).
    "trailers": [CHUNKED, b"5\r\nhello\r\n0\r\n", *trickle(PADDING, 0.25), b"\r\n"],
    # Informational heads are skipped by the client: a stream of them is no progress.
    "100 continue": [*CONTINUES, HEAD, b"hello"],
}


@pytest.mark.parametrize("kind", TRICKLES)
def test_trickled_framing_is_no_progress(kind: str) -> None:
    with http_raw(TRICKLES[kind], connections=1) as base, within(30, f"a trickled {kind}"):
        status, out, err = fetch(f"{base}/x", "-v")
    assert status == 1, (out, err)
    assert out.splitlines() == [f"{base}/x... {TIMED_OUT}"]
    assert "bootsh: 127.0.0.1: no progress from 127.0.0.1 for 2 s" in err.splitlines() or (
        "no progress from 127.0.0.1 for 2 s" in err
    )


def test_a_body_that_keeps_coming_is_progress() -> None:
    # The counterpart: body bytes every 0.5 s (4 s in all) are progress, as in iPXE's -t.
    steps: list[Step] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n",
        *trickle(b"12345678", 0.5),
    ]
    with http_raw(steps, connections=1) as base, within(30, "a slow body"):
        status, out, err = fetch(f"{base}/x")
    assert (status, err) == (0, ""), out
    assert out.splitlines() == [f"{base}/x... ok"]


def test_an_escape_sequence_in_the_status_line_is_shown_not_obeyed() -> None:
    steps: list[Step] = [
        b"HTTP/1.1 404 \x1b]0;pwned\x07\x1b[2JNot Found\r\nContent-Length: 0\r\n\r\n"
    ]
    with http_raw(steps, connections=1) as base:
        status, out, err = fetch(f"{base}/x", "-v")
    assert status == 1
    assert "\x1b" not in out + err and "\x07" not in out + err
    assert "HTTP 404 \\x1b]0;pwned\\x07\\x1b[2JNot Found" in err


def test_a_5000_digit_retry_after_is_a_long_wait_not_a_valueerror() -> None:
    steps: list[Step] = [
        b"HTTP/1.1 503 Busy\r\nRetry-After: " + b"9" * 5000 + b"\r\nContent-Length: 0\r\n\r\n"
    ]
    with http_raw(steps, connections=1) as base:
        status, out, err = fetch(f"{base}/x", "-v")
    assert status == 1
    assert out.splitlines() == [f"{base}/x... {TIMED_OUT}"]
    assert "asks to retry after 30 s" in err
    assert "ValueError" not in err


def test_non_utf8_bytes_in_an_http_path_are_sent_as_those_bytes() -> None:
    # "caf\udce9" is how bootsh holds the byte 0xE9 of a script it read (surrogateescape).
    with http_files({"/caf%E9": b"latin1", "/a%00b": b"nul"}) as base:
        status, _, err = fetch(f"{base}/caf\udce9")
        assert (status, err) == (0, "")
        status, _, err = fetch(f"{base}/a%00b")  # HTTP carries %00 as it is
        assert (status, err) == (0, "")


def test_a_nul_in_a_file_uri_is_refused_not_a_valueerror(tmp_path: Path) -> None:
    status, out, err = fetch(f"{tmp_path.as_uri()}/x%00y", "-v")
    assert status == 1
    assert out == "Could not start download: Invalid argument (https://ipxe.org/1c092016)\n"
    assert "a NUL byte (%00) in the path" in err and "ValueError" not in err


def test_a_non_utf8_file_uri_names_that_byte(tmp_path: Path) -> None:
    (tmp_path / "caf\udce9").write_bytes(b"latin1 name")
    status, out, err = fetch(f"{tmp_path.as_uri()}/caf%E9")
    assert (status, err) == (0, ""), out


# -- TFTP ---------------------------------------------------------------------------------------

DATA, ACK, ERROR, OACK = 3, 4, 5, 6


def _flood(build: bytes) -> object:
    """An answer for tftp_script: ``build`` from the transfer's port until stopped."""

    def answer(
        sock: socket.socket, client: tuple[str, int], request: bytes, stop: threading.Event
    ) -> None:
        sock.setblocking(False)
        for n in range(5_000_000):
            if stop.is_set():
                return
            try:
                sock.sendto(build, client)
            except BlockingIOError:
                stop.wait(0.001)
            except OSError:
                if n > 10:
                    return  # the client is gone
        return

    return answer


def _first_block_then(flood: bytes) -> object:
    """DATA block 1 (full, so more must come), then ``flood`` forever."""
    inner = _flood(flood)

    def answer(
        sock: socket.socket, client: tuple[str, int], request: bytes, stop: threading.Event
    ) -> None:
        sock.sendto(struct.pack("!HH", DATA, 1) + b"a" * 512, client)
        inner(sock, client, request, stop)  # type: ignore[operator]

    return answer


FLOODS = {
    # The same OACK again and again: each one was answered and counted as progress.
    "repeated OACK": _flood(struct.pack("!H", OACK) + b"blksize\x00512\x00"),
    # Block 1, then copies of it (strays: block 2 is wanted): no wait ever timed out.
    "stray DATA": _first_block_then(struct.pack("!HH", DATA, 1) + b"a" * 512),
}


@pytest.mark.parametrize("kind", FLOODS)
def test_a_tftp_flood_without_progress_ends_at_the_timeout(kind: str) -> None:
    with tftp_script(FLOODS[kind]) as port, within(30, f"a TFTP flood of {kind}"):  # type: ignore[arg-type]
        status, out, err = fetch(f"tftp://127.0.0.1:{port}/x", "-v")
    assert status == 1, (out, err)
    assert out.splitlines() == [f"tftp://127.0.0.1:{port}/x... {TIMED_OUT}"]
    assert "no progress from 127.0.0.1 for 2 s" in err


def test_tftp_file_names_are_bytes_and_a_nul_is_refused() -> None:
    seen: list[bytes] = []

    def refuse(
        sock: socket.socket, client: tuple[str, int], request: bytes, stop: threading.Event
    ) -> None:
        seen.append(request)
        message = b"File not found \x1b[2J\x1b]0;pwned\x07"
        sock.sendto(struct.pack("!HH", ERROR, 1) + message + b"\0", client)

    with tftp_script(refuse) as port:
        status, out, err = fetch(f"tftp://127.0.0.1:{port}/caf\udce9%FF", "-v")
    assert status == 1
    assert seen and seen[0].startswith(b"\x00\x01/caf\xe9\xff\x00octet\x00")
    assert "\x1b" not in out + err and "\x07" not in out + err
    assert "File not found \\x1b[2J\\x1b]0;pwned\\x07" in err
    with tftp_script(refuse) as port:
        status, out, err = fetch(f"tftp://127.0.0.1:{port}/x%00blksize%0065464", "-v")
    assert status == 1
    assert out == "Could not start download: Invalid argument (https://ipxe.org/1c126016)\n"
    assert "a NUL byte (%00) in the file name" in err
