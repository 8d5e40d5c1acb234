"""netfront against a hostile xenstored and hostile dumps (issue 14, items 12 and 14).

The "xenstored" is a Unix socket server of the test's own (tests.hostile.unix_server) that
answers the first request with what a broken or malicious daemon could send: a header whose
length is 0xffffffff, random bytes, a valid reply one byte at a time, a flood of replies to
other requests. bootsh runs as a process (``-v -c ifstat`` with ``XENSTORED_PATH``), its
address space capped at 2 GiB, so an allocation of the claimed length would fail the test
rather than the machine. Each case must end in the one line of a broken XenStore, within
the timeout's reach (``--xenstore-timeout 2``), with the other NICs still shown.
"""

from __future__ import annotations

import os
import resource
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import MACHINE, ROOT
from tests.hostile import read_exactly, unix_server

HEADER = struct.Struct("=IIII")
READ, DIRECTORY = 2, 1
TIMEOUT = "2"


def _request(conn: object) -> tuple[int, int]:
    assert hasattr(conn, "recv")
    op, rq_id, _tx, size = HEADER.unpack(read_exactly(conn, HEADER.size))  # type: ignore[arg-type]
    read_exactly(conn, size)  # type: ignore[arg-type]
    return op, rq_id


def huge(conn: object, stop: threading.Event) -> None:
    op, rq_id = _request(conn)
    conn.sendall(HEADER.pack(op, rq_id, 0, 0xFFFFFFFF) + b"x" * 1000)  # type: ignore[attr-defined]
    stop.wait(30)


def random_bytes(conn: object, stop: threading.Event) -> None:
    _request(conn)
    conn.sendall(os.urandom(64 * 1024))  # type: ignore[attr-defined]
    stop.wait(30)


def trickle(conn: object, stop: threading.Event) -> None:
    # A valid answer ("vif0\0") to the listing, one byte every 0.4 s: 21 bytes, 8 s.
    op, rq_id = _request(conn)
    reply = HEADER.pack(op, rq_id, 0, 5) + b"0\0vi\0"
    for i in range(len(reply)):
        conn.sendall(reply[i : i + 1])  # type: ignore[attr-defined]
        if stop.wait(0.4):
            return
    stop.wait(30)


def others(conn: object, stop: threading.Event) -> None:
    # Replies to every request id but the one asked, as fast as the socket takes them.
    _op, rq_id = _request(conn)
    other = HEADER.pack(15, rq_id + 1, 0, 4) + b"x\0y\0"
    for _ in range(2_000_000):
        if stop.is_set():
            return
        conn.sendall(other * 64)  # type: ignore[attr-defined]


MODES: dict[str, Callable[[object, threading.Event], None]] = {
    "huge": huge,
    "random": random_bytes,
    "trickle": trickle,
    "others": others,
}


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


@pytest.mark.parametrize("mode", MODES)
def test_a_hostile_xenstored_costs_one_line_within_the_timeout(tmp_path: Path, mode: str) -> None:
    socket_path = str(tmp_path / "xs")
    with unix_server(socket_path, MODES[mode], connections=1):
        proc = subprocess.run(
            [sys.executable, "-m", "bootsh", "--xen-domid", "7", "--xenstore-timeout", TIMEOUT,
             "--sysfs-root", str(MACHINE / "sysfs"), "-c", "ifstat"],
            env={**os.environ, "XENSTORED_PATH": socket_path, "PYTHONPATH": str(ROOT)},
            capture_output=True, text=True, cwd=ROOT, timeout=60, preexec_fn=_cap_memory,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "netfront" in line]
    assert len(lines) == 1, proc.stderr
    where = f"(xenstored socket {socket_path})"
    expected = {
        "huge": "XenStore sent a reply of 4294967295 bytes (at most 4096) while listing",
        "random": "XenStore ",
        "trickle": f"XenStore did not answer within {TIMEOUT} s while listing",
        "others": f"XenStore did not answer within {TIMEOUT} s while listing",
    }[mode]
    assert expected in lines[0] and where in lines[0], lines[0]
    # The PCI NICs are still found: netfront's failure is its own.
    assert proc.stdout.startswith("net0: ") and "using netfront" not in proc.stdout


# -- hostile dumps ------------------------------------------------------------------------------

DIGITS = "9" * 5000


def _dump(tmp_path: Path, replace: dict[str, str], extra: str = "") -> Path:
    text = (MACHINE / "xenstore.txt").read_text()
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "xenstore.txt"
    path.write_text(text + extra, encoding="utf-8", errors="surrogateescape")
    return path


def _ifstat(dump: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bootsh", "--sysfs-root", str(MACHINE / "sysfs"),
         "--xenstore-dump", str(dump), *options, "-c", "ifstat"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def _nodes(*paths: str, value: str = "") -> str:
    return "".join(f'{path} = "{value}"\n' for path in paths)


PCI = "/local/domain/0/backend/pci"
STATE = "/local/domain/7/device/vif/0/state"
HUGE_DOMAIN = f"/local/domain/{DIGITS}"


@pytest.mark.parametrize(
    ("replace", "extra", "note"),
    [
        # 5000 digits: int() raised ValueError and netfront was dropped as a broken plugin.
        (
            {},
            _nodes(PCI, f"{PCI}/7", f"{PCI}/7/0") + _nodes(f"{PCI}/7/0/num_devs", value=DIGITS),
            f"num_devs = {DIGITS[:40]}...: reading the first 256",
        ),
        (
            {f'{STATE} = "4"': f'{STATE} = "{DIGITS}"'},
            "",
            f"state '{DIGITS[:40]}...' is not a XenbusState number",
        ),
        (
            {},
            _nodes(HUGE_DOMAIN, f"{HUGE_DOMAIN}/device", f"{HUGE_DOMAIN}/device/vif"),
            "",
        ),
    ],
    ids=["num_devs", "state", "huge-domid"],
)
def test_huge_numbers_in_a_dump_are_garbage_not_a_crash(
    tmp_path: Path, replace: dict[str, str], extra: str, note: str
) -> None:
    proc = _ifstat(_dump(tmp_path, replace, extra), "-v", "--xen-domid", "7")
    assert proc.returncode == 0, proc.stderr
    assert "raised" not in proc.stderr and "ValueError" not in proc.stderr, proc.stderr
    assert note in proc.stderr
    assert "using netfront on vif/1" in proc.stdout  # vif/1 is untouched


def test_a_relative_dumps_huge_domid_is_no_domid(tmp_path: Path) -> None:
    # A dump taken in the guest (relative paths): its own "domid" key says which backend
    # holds the passed-through devices; 5000 digits of it are no domain id.
    dump = tmp_path / "guest.txt"
    dump.write_text(f'domid = "{DIGITS}"\ndevice = ""\ndevice/vif = ""\n')
    proc = _ifstat(dump, "-v")
    assert proc.returncode in (0, 1), proc.stderr
    assert "ValueError" not in proc.stderr and "raised" not in proc.stderr, proc.stderr
