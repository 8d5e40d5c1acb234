"""The differential harness: one iPXE script, run by the real iPXE and by bootsh, compared.

A *case* is a script under ``cases/`` (see README.md beside this file for the format). Both
sides run it the same way, the way iPXE's ``ipxe.lkrn`` runs what it was booted with: the
case is the image ``<INITRD>`` and a one-line command line chains it and prints its status::

    echo @@begin ; chain <INITRD> && echo @@status 0x0 || echo @@status ${errno}

- iPXE: Debian trixie's ``ipxe.lkrn`` (``.ci/install-ipxe.sh``) under ``qemu-system-x86_64``
  with TCG, ``-kernel ipxe.lkrn -initrd CASE -append CMDLINE``; its console reaches the serial
  port only through SeaBIOS's copy of the screen (80 columns, CR LF, colours as ANSI), which
  is read until the status line appears. The NIC is a virtio-net on a tap device.
- bootsh: ``python -m bootsh --net af_packet,if=veth-cli --initrd CASE -c CMDLINE``.

Both reach the same servers: each worker has two identical labs (``bootsh.lab``: dnsmasq for
DHCP, TFTP and DNS, and the HTTP server, all serving ``serve/``; server 10.77.0.1), one whose
client namespace bridges its veth with the tap of iPXE's QEMU, one whose client namespace is
bootsh's. The client MAC is QEMU's default, 52:54:00:12:34:56, on both sides, so dnsmasq gives
both the same lease. Nothing leaves the labs' namespaces.

The outputs are then normalised (``normalise``: only what must differ between a PC-BIOS
firmware on a serial console and a Linux program on a pipe) and the documented deliberate
differences (``deliberate.toml``) applied; what is left must be identical.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import difflib
import fcntl
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import tomllib
import tty
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bootsh.lab import Lab

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CASES = HERE / "cases"
SERVE = HERE / "serve"
DELIBERATE = HERE / "deliberate.toml"

#: Where .ci/install-ipxe.sh puts the reference (override: BOOTSH_IPXE_LKRN).
IPXE_LKRN = Path(os.environ.get("BOOTSH_IPXE_LKRN", "/opt/bootsh-ipxe/ipxe.lkrn"))
IPXE_VERSION_FILE = IPXE_LKRN.parent / "version"
#: The pinned reference (.ci/install-ipxe.sh).
IPXE_VERSION = "1.21.1+git20250501.dad20602+dfsg-1"

#: QEMU's default MAC for the first NIC; bootsh's veth gets it too.
CLIENT_MAC = "52:54:00:12:34:56"
BEGIN = "@@begin"
STATUS = "@@status"
CMDLINE = f"echo {BEGIN} ; chain <INITRD> && echo {STATUS} 0x0 || echo {STATUS} ${{errno}}"
#: Seconds a case may take on one side unless it says otherwise (``#@ timeout``).
DEFAULT_TIMEOUT = 30.0
#: The most keys one step may type: the emulated 16550 UART holds 16 bytes, and what arrives
#: while iPXE is busy beyond that is lost.
MAX_STEP = 16
#: Parallel workers (each has its own pair of labs); CI has 2 cores.
DEFAULT_JOBS = 2


class HarnessError(Exception):
    """The harness itself cannot run (no reference, no lab): one line saying why."""


# ---------------------------------------------------------------------------------------------
# Cases


@dataclass(frozen=True)
class Case:
    """One script and what its ``#@`` lines say (see README.md)."""

    name: str  # path under cases/ without .ipxe, e.g. "flow/echo-basic"
    path: Path
    timeout: float = DEFAULT_TIMEOUT
    #: Keystrokes typed on the console of both sides, in steps: ``(after, keys)`` types
    #: ``keys`` once the output shows ``after`` (after where the previous step typed).
    steps: tuple[tuple[str, bytes], ...] = ()

    @property
    def keys(self) -> bytes:
        return b"".join(keys for _, keys in self.steps)

    @classmethod
    def load(cls, path: Path) -> Case:
        name = path.relative_to(CASES).with_suffix("").as_posix()
        timeout = DEFAULT_TIMEOUT
        steps: list[tuple[str, bytes]] = []
        after = BEGIN
        for line in path.read_text(encoding="utf-8", errors="surrogateescape").splitlines():
            if not line.startswith("#@"):
                continue
            key, _, value = line[2:].strip().partition(":")
            key, value = key.strip(), value.strip()
            if key == "timeout":
                timeout = float(value)
            elif key == "keys":
                keys = _parse_keys(value)
                if len(keys) > MAX_STEP:
                    raise HarnessError(
                        f"{path}: #@ keys: {len(keys)} bytes in one step; at most {MAX_STEP}"
                        " (the serial port's FIFO): split it with another #@ after"
                    )
                steps.append((after, keys))
                after = BEGIN
            elif key == "after":
                after = value
            else:
                raise HarnessError(f"{path}: unknown case directive #@ {key}")
        return cls(name, path, timeout, tuple(steps))


_KEY_NAMES = {
    "enter": b"\r",
    "esc": b"\x1b",
    "space": b" ",
    "down": b"\x1b[B",
    "up": b"\x1b[A",
    "home": b"\x1b[H",  # iPXE's KEY_HOME is ESC [ H
    "end": b"\x1b[F",
    "backspace": b"\x08",  # iPXE's KEY_BACKSPACE is Ctrl-H
    "ctrl-x": b"\x18",
    "ctrl-c": b"\x03",
}


def _parse_keys(text: str) -> bytes:
    """``#@ keys: a b enter``: words, each a named key or its literal characters."""
    return b"".join(_KEY_NAMES.get(word, word.encode()) for word in text.split())


def all_cases(patterns: Sequence[str] = ()) -> list[Case]:
    paths = sorted(CASES.rglob("*.ipxe"))
    cases = [Case.load(p) for p in paths]
    if patterns:
        cases = [c for c in cases if any(re.search(p, c.name) for p in patterns)]
    return cases


# ---------------------------------------------------------------------------------------------
# Running one side


@dataclass
class Run:
    """One side's run of one case: what it printed (raw), its stderr, and how it ended."""

    output: str
    stderr: str = ""
    seconds: float = 0.0
    timed_out: bool = False


def _read_until(
    fd: int,
    done: Callable[[bytes], bool],
    timeout: float,
    steps: Sequence[tuple[str, bytes]] = (),
    type_keys: Callable[[bytes], None] | None = None,
) -> tuple[bytes, bool]:
    """Read ``fd`` until ``done(data)``, its end, or ``timeout``; never blocks past the deadline.
    Each step's keys are typed (``type_keys``) once the output shows its text after the point
    where the previous step typed. Returns the data and whether the deadline passed."""
    data = b""
    deadline = time.monotonic() + timeout
    pending = [(after.encode(), keys) for after, keys in steps]
    since = 0
    while not done(data):
        while pending and pending[0][0] in data[since:]:
            assert type_keys is not None
            type_keys(pending.pop(0)[1])
            since = len(data)
        left = deadline - time.monotonic()
        if left <= 0:
            return data, True
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # a pty whose other side closed: EIO
            break
        if not chunk:
            break
        data += chunk
    return data, False


_STATUS_LINE = re.compile(rb"@@status [^\r\n]*\r?\n")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """End a process this harness started (by its pid) and reap it."""
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)


class Worker:
    """One parallel lane: a lab for iPXE (its veth bridged with a tap for QEMU) and an
    identical one for bootsh, reused case after case."""

    def __init__(self, index: int, lkrn: Path, scratch: Path) -> None:
        self.index = index
        self.lkrn = lkrn
        self.scratch = scratch / f"w{index}"
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.ipxe_lab: Lab | None = None
        self.bootsh_lab: Lab | None = None

    def start(self) -> None:
        from bootsh.lab import Lab

        self.ipxe_lab = Lab(serve=SERVE, client_ipv6=False).start()
        self.bootsh_lab = Lab(serve=SERVE, client_ipv6=False, client_mac=CLIENT_MAC).start()
        ns = self.ipxe_lab.client_ns
        for argv in (
            ["link", "add", "br0", "type", "bridge"],
            ["link", "set", "veth-cli", "master", "br0"],
            ["tuntap", "add", "dev", "tap0", "mode", "tap"],
            ["link", "set", "tap0", "master", "br0"],
            ["link", "set", "tap0", "up"],
            ["link", "set", "br0", "up"],
        ):
            subprocess.run(["ip", "-n", ns, *argv], check=True, capture_output=True)

    def close(self) -> None:
        for lab in (self.ipxe_lab, self.bootsh_lab):
            if lab is not None:
                lab.close()

    def run_ipxe(self, case: Case) -> Run:
        assert self.ipxe_lab is not None
        argv = self.ipxe_lab.client_argv(
            [
                "qemu-system-x86_64", "-accel", "tcg", "-m", "256",
                "-kernel", str(self.lkrn), "-initrd", str(case.path), "-append", CMDLINE,
                "-nographic", "-nodefaults", "-serial", "stdio",
                "-no-reboot", "-boot", "reboot-timeout=0",
                "-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no",
                "-device", "virtio-net-pci,netdev=n0,romfile=",
            ]
        )  # fmt: skip
        return self._run(argv, case, stop_at_status=True)

    def run_bootsh(self, case: Case) -> Run:
        assert self.bootsh_lab is not None
        self._reset_bootsh_client()
        argv = self.bootsh_lab.client_argv(
            [
                sys.executable, "-m", "bootsh", "--net", "af_packet,if=veth-cli",
                "--initrd", str(case.path), "-c", CMDLINE,
            ]
        )  # fmt: skip
        return self._run(argv, case, stop_at_status=False)

    def _reset_bootsh_client(self) -> None:
        """Forget what the previous case left in the kernel: bootsh applies a lease to the
        interface (iPXE's state dies with its VM), and a case may change the MAC."""
        assert self.bootsh_lab is not None
        ns = self.bootsh_lab.client_ns
        for argv in (
            ["addr", "flush", "dev", "veth-cli"],
            ["route", "flush", "table", "main"],
            ["neigh", "flush", "all"],
            ["link", "set", "veth-cli", "address", CLIENT_MAC],
        ):
            subprocess.run(["ip", "-n", ns, *argv], check=True, capture_output=True)

    def _run(self, argv: list[str], case: Case, *, stop_at_status: bool) -> Run:
        """Run one side. iPXE's console is QEMU's serial port on pipes; bootsh's is a
        terminal (a pty of 80x25, like iPXE's screen), so that it behaves as on a console:
        ``prompt`` erases its text, keys are read from it, ``read`` echoes."""
        t0 = time.monotonic()
        side = "ipxe" if stop_at_status else "bootsh"
        stderr_path = self.scratch / f"stderr-{side}"
        master = slave = -1
        if side == "bootsh":
            master, slave = os.openpty()
            # Raw from the start: keys typed before bootsh reads them are neither echoed nor
            # held for a whole line by the kernel (iPXE's console has no such layer).
            tty.setraw(slave)
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 25, 80, 0, 0))
            stdin: int = slave
            stdout: int = slave
        else:
            stdin = stdout = subprocess.PIPE
        with stderr_path.open("wb") as stderr:
            proc = subprocess.Popen(
                argv,
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                cwd=ROOT,
                env={**os.environ, "NO_COLOR": "1", "TERM": "vt100"},
                start_new_session=True,
            )
        if slave >= 0:
            os.close(slave)

        def type_keys(keys: bytes) -> None:
            if master >= 0:
                os.write(master, keys)
            else:
                assert proc.stdin is not None
                proc.stdin.write(keys)
                proc.stdin.flush()

        def done(data: bytes) -> bool:
            return stop_at_status and _STATUS_LINE.search(data) is not None

        try:
            fd = master if master >= 0 else proc.stdout.fileno()  # type: ignore[union-attr]
            data, timed_out = _read_until(fd, done, case.timeout, case.steps, type_keys)
        finally:
            _stop(proc)
            if master >= 0:
                os.close(master)
        return Run(
            data.decode("utf-8", errors="replace"),
            stderr_path.read_text(errors="replace"),
            time.monotonic() - t0,
            timed_out,
        )


# ---------------------------------------------------------------------------------------------
# Normalising


_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07]*\x07|[@-Z\\-_]|c)")


def screen_lines(text: str) -> list[str]:
    """What each line shows on a terminal: ``\\r`` returns to the line's start and later
    characters overwrite, ``\\b`` steps back one column (iPXE's ``prompt`` erases its text so).
    Text that was written and then erased (overwritten by spaces past the end of what came
    after) is dropped with its spaces."""
    lines = []
    for raw in text.split("\n"):
        cells: list[str] = []
        col = 0
        erased = False
        for ch in raw:
            if ch == "\r":
                col = 0
            elif ch == "\b":
                col = max(0, col - 1)
                erased = True
            else:
                if col < len(cells):
                    cells[col] = ch
                else:
                    cells.extend(" " * (col - len(cells)))
                    cells.append(ch)
                col += 1
        line = "".join(cells)
        lines.append(line.rstrip(" ") if erased else line)
    return lines


def unwrap80(lines: list[str]) -> list[str]:
    """Undo SeaBIOS's 80-column wrapping: the cursor wraps after the 80th column, so a full row
    is followed either by the rest of its line or, when the line was exactly 80 long, by the
    empty row its newline made. Either way the row joins the next one exactly."""
    out: list[str] = []
    joined = ""
    for i, row in enumerate(lines):
        if len(row) == 80 and i + 1 < len(lines):
            joined += row
            continue
        out.append(joined + row)
        joined = ""
    if joined:
        out.append(joined)
    return out


# The Linux build's platform byte (the kernel errno) and PC-BIOS's (the PXE status) for each
# POSIX code of iPXE's include/errno.h; include/ipxe/errno/linux.h and
# arch/x86/include/ipxe/errno/pcbios.h with arch/x86/include/pxe_error.h (generated from
# the reference's source, dad20602). bootsh uses the Linux build's numbers; the reference
# is the PC-BIOS build: the rest of the number (POSIX code, source file, per-file number) must
# agree exactly.
_PLATFORM_BYTES: dict[int, tuple[int, int]] = {
    0x00: (0, 0x00), 0x01: (7, 0x02), 0x02: (13, 0x3C), 0x03: (98, 0x19),
    0x04: (99, 0x19), 0x05: (97, 0x03), 0x06: (11, 0x01), 0x07: (114, 0x19),
    0x08: (9, 0x1A), 0x09: (74, 0x01), 0x0A: (16, 0x06), 0x0B: (125, 0xA0),
    0x0C: (10, 0x3B), 0x0D: (103, 0x39), 0x0E: (111, 0x38), 0x0F: (104, 0x39),
    0x10: (35, 0x01), 0x11: (89, 0x02), 0x12: (33, 0x01), 0x13: (122, 0x01),
    0x14: (17, 0x01), 0x15: (14, 0x20), 0x16: (27, 0x20), 0x17: (113, 0x11),
    0x18: (43, 0x01), 0x19: (84, 0x01), 0x1A: (115, 0x01), 0x1B: (4, 0x01),
    0x1C: (22, 0x02), 0x1D: (5, 0x39), 0x1E: (106, 0x19), 0x1F: (21, 0x01),
    0x20: (40, 0x01), 0x21: (24, 0x06), 0x22: (31, 0x01), 0x23: (90, 0x02),
    0x24: (72, 0x01), 0x25: (36, 0x01), 0x26: (100, 0x11), 0x27: (102, 0x01),
    0x28: (101, 0x11), 0x29: (23, 0x06), 0x2A: (105, 0x06), 0x2B: (61, 0x01),
    0x2C: (19, 0x3B), 0x2D: (2, 0x3B), 0x2E: (8, 0x01), 0x2F: (37, 0x01),
    0x30: (67, 0x01), 0x31: (12, 0x06), 0x32: (42, 0x01), 0x33: (92, 0x03),
    0x34: (28, 0x06), 0x35: (63, 0x06), 0x36: (60, 0x01), 0x37: (38, 0x03),
    0x38: (107, 0x01), 0x39: (20, 0x01), 0x3A: (39, 0x01), 0x3B: (88, 0x01),
    0x3C: (95, 0x03), 0x3D: (25, 0x01), 0x3E: (6, 0x3B), 0x3F: (95, 0x03),
    0x40: (75, 0x01), 0x41: (1, 0x3C), 0x42: (32, 0x01), 0x43: (71, 0x01),
    0x44: (93, 0x03), 0x45: (91, 0x01), 0x46: (34, 0x01), 0x47: (30, 0x01),
    0x48: (29, 0x01), 0x49: (3, 0x3B), 0x4A: (116, 0x01), 0x4B: (62, 0x01),
    0x4C: (110, 0x35), 0x4D: (26, 0x01), 0x4E: (11, 0x1B), 0x4F: (18, 0x01),
}  # fmt: skip


def _bios_number(number: int) -> int:
    """bootsh's (Linux build's) error number as the PC-BIOS build writes it, when its platform
    byte is the Linux one for its POSIX code; anything else is left alone (and will differ)."""
    posix = (number >> 24) & 0x7F
    pair = _PLATFORM_BYTES.get(posix)
    if pair is None or number < 0x01000000 or (number & 0xFF) != pair[0]:
        return number
    return (number & ~0xFF) | pair[1]


# An error number as strerror() writes it (``https://ipxe.org/2d0c6002``, ``Error 0x3d028019``)
# or as ``${errno}`` shows it (uint32: ``0x2d0c6002``; 7 digits for a POSIX code below 0x10).
_ERROR_NUMBER = re.compile(r"(ipxe\.org/|Error 0x|\b0x)([0-9a-f]{7,8})\b")


def _translate_numbers(text: str) -> str:
    def sub(m: re.Match[str]) -> str:
        digits = m[2]
        number = _bios_number(int(digits, 16))
        width = 8 if m[1] != "0x" else 0
        return f"{m[1]}{number:0{width}x}"

    return _ERROR_NUMBER.sub(sub, text)


# Text that must differ between the two, each rewritten to one placeholder on both sides.
_PLACEHOLDERS: list[tuple[re.Pattern[str], str]] = [
    # ${buildarch} and ${platform}: the PC-BIOS build's i386/pcbios, bootsh's x86_64/linux (as
    # a value shown by `show`, or a line that is the value alone).
    (re.compile(r"(?:(?<=buildarch:string = )|^)(?:i386|x86_64)$"), "ARCH"),
    (re.compile(r"(?:(?<=platform:string = )|^)(?:pcbios|linux)$"), "PLATFORM"),
    # PC-BIOS iPXE's PXE image type claims any image a better type does not (a text file is a
    # "PXE-NBP"); Linux has no PXE: such an image has no type in bootsh.
    (re.compile(r" \[PXE-NBP\]"), ""),
    # The NIC: iPXE's virtio-net at its PCI address, bootsh's af_packet on the veth.
    (
        re.compile(
            r"using (?:virtio-net on [0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]"
            r"|af_packet on veth-cli)"
        ),
        "using NIC",
    ),
    # Build facts: ${buildarch}, ${platform}, ${version}.
    (re.compile(r"\b1\.21\.1\+git20250501\.dad20602\+dfsg-1\b"), "VERSION"),
    # The dots iPXE prints while it waits (one per second, or per retry) depend on timing.
    (re.compile(r"^((?:Configuring|Waiting for link-up on) .*?\.\.\.)\.*"), r"\1"),
]


# A full-screen user interface (menu, form): iPXE's curses starts by clearing the screen,
# setting the colour pair and clearing again (initscr), and ends by resetting the colours and
# clearing (endwin); bootsh's prompt_toolkit uses the terminal's alternate screen. What is
# drawn in between is each side's own drawing, compared as one placeholder line; what the UI
# stores and what is printed around it are compared. (A lone clear, such as netboot.xyz's
# `echo ${cls}`, is no UI: it is removed with the other escape sequences.)
_SCREEN = {
    "ipxe": re.compile(r"(?s)\x1b\[2J\x1b\[[0-9;]*m\x1b\[2J.*\x1b\[0m\x1b\[2J"),
    "bootsh": re.compile(r"(?s)\x1b\[\?1049h.*\x1b\[\?1049l"),
}


def normalise(text: str, side: str, *, bootsh_version: str = "") -> list[str]:
    """The lines to compare, from one side's raw output (see README.md, "Normalisation")."""
    text = text.replace("\r\n", "\n")
    start = text.find(BEGIN + "\n")
    if start >= 0:
        text = text[start + len(BEGIN) + 1 :]
    elif side == "ipxe":
        text = "<no begin marker>\n" + text
    text = _SCREEN[side].sub("<screen>\n", text)
    text = _ANSI.sub("", text)
    # A NUL (iPXE's `Unrecognised option "-%c"` for a lone "-") shows as nothing on a screen.
    text = text.replace("\0", "")
    if side == "bootsh":
        text = _translate_numbers(text)
    lines = screen_lines(text)
    if side == "ipxe":
        lines = unwrap80(lines)
    # Up to and including the status line: iPXE's output goes on with SeaBIOS's messages.
    for i, line in enumerate(lines):
        if line.startswith(STATUS + " "):
            lines = lines[: i + 1]
            break
    else:
        lines.append("<no status line>")
    out = []
    for line in lines:
        for pattern, repl in _PLACEHOLDERS:
            line = pattern.sub(repl, line)
        if bootsh_version and side == "bootsh":
            line = line.replace(bootsh_version, "VERSION")
        out.append(line)
    return out


# ---------------------------------------------------------------------------------------------
# Deliberate differences


@dataclass(frozen=True)
class Deliberate:
    """One documented difference: which cases, why, and the rewrite that accounts for it."""

    id: str
    reason: str
    cases: tuple[str, ...]
    side: str
    pattern: re.Pattern[str]
    replacement: str

    def applies(self, case: Case) -> bool:
        return any(re.fullmatch(c, case.name) for c in self.cases)

    def apply(self, lines: list[str]) -> list[str]:
        text = "\n".join(lines)
        return self.pattern.sub(self.replacement, text).split("\n")


def load_deliberate(path: Path = DELIBERATE) -> list[Deliberate]:
    data = tomllib.loads(path.read_text())
    out = []
    for entry in data.get("difference", []):
        if not entry.get("reason", "").strip():
            raise HarnessError(f"{path}: deliberate difference {entry.get('id')!r} has no reason")
        for rule in entry.get("rewrite", []):
            if rule["side"] not in ("ipxe", "bootsh", "both"):
                raise HarnessError(f"{path}: {entry['id']}: side must be ipxe, bootsh or both")
            out.append(
                Deliberate(
                    entry["id"],
                    entry["reason"],
                    tuple(entry.get("cases", [".*"])),
                    rule["side"],
                    re.compile(rule["pattern"], re.MULTILINE),
                    rule.get("replacement", ""),
                )
            )
    return out


# ---------------------------------------------------------------------------------------------
# Comparing


@dataclass
class Result:
    case: Case
    ipxe: Run
    bootsh: Run
    ipxe_lines: list[str] = field(default_factory=list)
    bootsh_lines: list[str] = field(default_factory=list)
    deliberate: list[str] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return (
            not self.ipxe.timed_out
            and not self.bootsh.timed_out
            and self.ipxe_lines == self.bootsh_lines
        )

    def diff(self) -> str:
        lines = list(
            difflib.unified_diff(
                self.ipxe_lines, self.bootsh_lines, "ipxe", "bootsh", lineterm="", n=3
            )
        )
        notes = []
        if self.ipxe.timed_out:
            notes.append(f"iPXE did not finish within {self.case.timeout:g} s")
        if self.bootsh.timed_out:
            notes.append(f"bootsh did not finish within {self.case.timeout:g} s")
        if self.bootsh.stderr.strip():
            notes.append("bootsh's stderr:\n" + self.bootsh.stderr.rstrip())
        return "\n".join([f"case {self.case.name}:", *lines, *notes])


def compare(case: Case, ipxe: Run, bootsh: Run, rules: list[Deliberate]) -> Result:
    from bootsh import __version__

    result = Result(case, ipxe, bootsh)
    result.ipxe_lines = normalise(ipxe.output, "ipxe")
    result.bootsh_lines = normalise(bootsh.output, "bootsh", bootsh_version=__version__)
    for rule in rules:
        if not rule.applies(case):
            continue
        before = (result.ipxe_lines, result.bootsh_lines)
        if rule.side in ("ipxe", "both"):
            result.ipxe_lines = rule.apply(result.ipxe_lines)
        if rule.side in ("bootsh", "both"):
            result.bootsh_lines = rule.apply(result.bootsh_lines)
        # Listed only where it changed something: the report says which differences a case
        # really relies on.
        if (result.ipxe_lines, result.bootsh_lines) != before and rule.id not in result.deliberate:
            result.deliberate.append(rule.id)
    return result


# ---------------------------------------------------------------------------------------------
# Running many


def reference() -> Path:
    """The pinned ipxe.lkrn, or HarnessError saying what is missing."""
    if not IPXE_LKRN.is_file():
        raise HarnessError(f"{IPXE_LKRN} is missing: run .ci/install-ipxe.sh (as root)")
    version = IPXE_VERSION_FILE.read_text().strip() if IPXE_VERSION_FILE.is_file() else "?"
    if version != IPXE_VERSION and "BOOTSH_IPXE_LKRN" not in os.environ:
        raise HarnessError(
            f"{IPXE_LKRN} is ipxe {version}, the harness is pinned to {IPXE_VERSION}:"
            " run .ci/install-ipxe.sh"
        )
    if shutil.which("qemu-system-x86_64") is None:
        raise HarnessError("qemu-system-x86_64 is missing: run .ci/install-ipxe.sh (as root)")
    return IPXE_LKRN


def run_cases(
    cases: Sequence[Case],
    jobs: int = DEFAULT_JOBS,
    progress: Callable[[Result], None] | None = None,
) -> Iterator[Result]:
    """Run every case on both sides, ``jobs`` at a time; results in the cases' order."""
    lkrn = reference()
    rules = load_deliberate()
    jobs = max(1, min(jobs, len(cases)))
    with tempfile.TemporaryDirectory(prefix="bootsh-differential-") as scratch:
        workers = [Worker(i, lkrn, Path(scratch)) for i in range(jobs)]
        free: list[Worker] = []
        lock = threading.Lock()
        try:
            for w in workers:
                w.start()
                free.append(w)

            def one(case: Case) -> Result:
                with lock:
                    worker = free.pop()
                try:
                    # The two sides use separate labs: run them at the same time.
                    with concurrent.futures.ThreadPoolExecutor(1) as side:
                        later = side.submit(worker.run_bootsh, case)
                        ipxe = worker.run_ipxe(case)
                        bootsh = later.result()
                finally:
                    with lock:
                        free.append(worker)
                result = compare(case, ipxe, bootsh, rules)
                if progress is not None:
                    progress(result)
                return result

            with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
                yield from pool.map(one, cases)
        finally:
            for w in workers:
                w.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.differential.harness",
        description="Run the differential corpus against the real iPXE and bootsh (root).",
    )
    parser.add_argument("patterns", nargs="*", help="regular expressions over case names")
    parser.add_argument("-j", "--jobs", type=int, default=DEFAULT_JOBS)
    parser.add_argument("--raw", action="store_true", help="print both raw outputs")
    ns = parser.parse_args(argv)
    cases = all_cases(ns.patterns)
    if not cases:
        print("no case matches", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t0 = time.monotonic()
    failed = 0

    def show(result: Result) -> None:
        nonlocal failed
        mark = "same" if result.same else "DIFFERENT"
        extra = f" (deliberate: {', '.join(result.deliberate)})" if result.deliberate else ""
        print(
            f"{mark:9} {result.case.name}  ipxe {result.ipxe.seconds:.1f}s"
            f" bootsh {result.bootsh.seconds:.1f}s{extra}",
            flush=True,
        )
        if not result.same:
            failed += 1
            print(result.diff(), flush=True)
        if ns.raw:
            print(
                "--- raw ipxe\n" + result.ipxe.output + "\n--- raw bootsh\n" + result.bootsh.output
            )

    try:
        for _ in run_cases(cases, ns.jobs, show):
            pass
    except HarnessError as exc:
        print(f"harness: {exc}", file=sys.stderr)
        return 2
    print(f"{len(cases) - failed} same, {failed} different, {time.monotonic() - t0:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
