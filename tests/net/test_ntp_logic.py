"""bootsh.net.ntp without a network: iPXE's request, what it accepts, and its retry schedule."""

from __future__ import annotations

import struct

import pytest

from bootsh.ipxe_errors import strerror
from bootsh.net.ntp import (
    EPOCH,
    EPROTO_NTP,
    ETIMEDOUT_NTP,
    MAGIC,
    NtpError,
    Query,
    delta,
    request,
)


def reply(
    seconds: int, received: int, *, stratum: int = 2, mode: int = 4, magic: int = MAGIC
) -> bytes:
    data = bytearray(48)
    data[0] = 0x20 | mode
    data[1] = stratum
    struct.pack_into("!III", data, 24, seconds, magic, received)
    return bytes(data)


def test_request_is_ipxes() -> None:
    data = request(1000.7)
    assert len(data) == 48 and data[0] == 0xCB  # leap unknown, version 1, client
    assert struct.unpack_from("!II", data, 40) == (1000 + EPOCH, MAGIC)
    assert data[1:40] == b"\0" * 39


def test_delta_is_signed_and_only_for_answers_to_us() -> None:
    assert delta(reply(100, 160)) == 60
    assert delta(reply(160, 100)) == -60
    assert delta(reply(0xFFFFFFF0, 0x10)) == 0x20  # across the 32-bit wrap
    assert delta(reply(100, 160)[:47]) is None  # short
    assert delta(reply(100, 160, mode=3)) is None  # not a server
    assert delta(reply(100, 160, magic=0)) is None  # not an answer to iPXE's request
    with pytest.raises(NtpError) as info:
        delta(reply(100, 160, stratum=0))
    assert info.value.errno == EPROTO_NTP


def test_errors_are_ipxes() -> None:
    assert strerror(ETIMEDOUT_NTP) == "Connection timed out (https://ipxe.org/4c49606e)"
    assert f"{EPROTO_NTP:08x}" == "43496047"


def test_silence_fails_after_fifteen_seconds() -> None:
    now = [0.0]
    sent: list[float] = []

    def receive(timeout: float) -> bytes | None:
        now[0] += timeout
        return None

    query = Query(lambda data: sent.append(now[0]), receive, clock=lambda: now[0])
    with pytest.raises(NtpError) as info:
        query.run()
    assert info.value.errno == ETIMEDOUT_NTP
    assert sent == [0.0, 1.0, 3.0, 7.0] and now[0] == 15.0


def test_garbage_is_ignored_until_an_answer() -> None:
    replies = [b"x", reply(5, 5, magic=1), reply(1000, 1042)]
    query = Query(lambda data: None, lambda timeout: replies.pop(0), clock=lambda: 0.0)
    assert query.run() == 42
