"""QEMU guests for the VM boot tests (tests/initramfs/) and bench/vmboot.py.

A guest runs Debian's ``qemu-system-x86_64`` with TCG, one vCPU and its serial console on the
process's stdin/stdout (``-nographic``). Every line the console prints is kept with the host's
monotonic time it arrived at, so that a test *waits for a line* (never for a duration) and a
benchmark reads when each step happened. The network is QEMU's user-mode stack (slirp) with
``restrict=on``: the guest reaches nothing but slirp's own DHCP and TFTP servers (10.0.2.2)
and, through a ``guestfwd`` rule, one host HTTP server on 127.0.0.1 seen as 10.0.2.100:80;
no packet can leave the machine.

Parts (installed by .ci/install-kernel.sh and .ci/install-qemu.sh): the Debian cloud kernel
and its .deb (for the NIC modules), QEMU, ipxe-qemu's ROMs, a static busybox for the second
stage, whose ``/init`` prints :data:`MARKER` and the command line it got, then powers off
(QEMU runs with ``-no-reboot``, and ``panic=-1`` turns a kernel panic into an exit too).
"""

from __future__ import annotations

import gzip
import http.server
import io
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any

from bootsh.initramfs.cpio import Archive

KERNEL = Path("/opt/bootsh-kernel/vmlinuz")
KERNEL_DEB = Path("/opt/bootsh-kernel/linux-image.deb")
BUSYBOX = Path("/opt/bootsh-vm/busybox")
IPXE_ROMS = Path("/usr/lib/ipxe/qemu")
QEMU = "qemu-system-x86_64"
#: The guest's address for the host HTTP server (a guestfwd rule; slirp's host is 10.0.2.2).
HTTP_IP = "10.0.2.100"
SLIRP_SERVER = "10.0.2.2"
MAC = "52:54:00:12:34:56"
#: What the second stage's /init prints (followed by its kernel command line).
MARKER = "BOOTSH-VM-MARKER second stage up"
#: Lines after which nothing good can come: fail at once instead of at the timeout.
FATAL = re.compile(r"Kernel panic|Attempted to kill init")
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[()][0-9A-Za-z]|[@-Z\\-_]|[78=>c])|\r")


def missing() -> str | None:
    """Why the VM tests cannot run here, or None."""
    if shutil.which(QEMU) is None:
        return f"{QEMU} missing: run .ci/install-qemu.sh"
    for path, script in ((KERNEL, "kernel"), (KERNEL_DEB, "kernel"), (BUSYBOX, "qemu")):
        if not path.exists():
            return f"{path} missing: run .ci/install-{script}.sh"
    return None


def plain(text: str) -> str:
    """A console line without terminal escape sequences and carriage returns."""
    return _ANSI.sub("", text)


def second_stage(path: Path, extra_init: str = "") -> Path:
    """A gzip'ed newc initrd: static busybox and an ``/init`` that prints MARKER and the
    command line, runs ``extra_init`` (shell lines), then powers the machine off."""
    init = (
        "#!/bin/busybox sh\n"
        "/bin/busybox mount -t proc proc /proc\n"
        f'echo "{MARKER} cmdline: $(/bin/busybox cat /proc/cmdline)"\n'
        f"{extra_init}"
        "/bin/busybox poweroff -f\n"
    )
    archive = Archive()
    archive.file("bin/busybox", BUSYBOX.read_bytes(), 0o755)
    archive.file("init", init.encode(), 0o755)
    archive.directory("proc")
    archive.directory("etc")
    archive.chardev("dev/console", 5, 1)
    raw = io.BytesIO()
    archive.write(raw)
    path.write_bytes(gzip.compress(raw.getvalue(), mtime=0))
    return path


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class HttpServer:
    """A host HTTP server on 127.0.0.1 (an ephemeral port) serving ``directory``."""

    def __init__(self, directory: Path) -> None:
        handler = partial(_Quiet, directory=str(directory))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> HttpServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def user_net(netdev_id: str, tftp: Path | None, bootfile: str | None, http_port: int | None) -> str:
    """A restricted slirp netdev: DHCP, TFTP from ``tftp``, HTTP to the host's ``http_port``."""
    spec = f"user,id={netdev_id},restrict=on"
    if tftp is not None:
        spec += f",tftp={tftp}"
    if bootfile is not None:
        spec += f",bootfile={bootfile}"
    if http_port is not None:
        # One busybox nc per connection, to the host server on loopback.
        spec += f",guestfwd=tcp:{HTTP_IP}:80-cmd:{BUSYBOX} nc 127.0.0.1 {http_port}"
    return spec


@dataclass(frozen=True)
class Line:
    at: float  # seconds since the guest was started (host monotonic clock)
    text: str  # without escapes and carriage returns


class Guest:
    """One QEMU guest on its serial console; ``lines`` grows as the console prints."""

    def __init__(self, argv: Sequence[str], log: Path | None = None) -> None:
        self.argv = list(argv)
        self.log = log
        self.lines: list[Line] = []
        self._partial = b""
        self._cond = threading.Condition()
        self._eof = False
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0

    @classmethod
    def qemu(
        cls,
        *,
        kernel: Path | None = KERNEL,
        initrd: Path | None = None,
        append: str = "",
        nets: Sequence[tuple[str, str]] = (),
        memory: int = 512,
        extra: Sequence[str] = (),
        log: Path | None = None,
    ) -> Guest:
        """``nets``: (``-netdev`` spec, ``-device`` spec) pairs."""
        argv = [QEMU, "-accel", "tcg", "-smp", "1", "-m", str(memory), "-nographic",
                "-no-reboot", "-nodefaults", "-serial", "stdio", "-monitor", "none"]  # fmt: skip
        if kernel is not None:
            argv += ["-kernel", str(kernel)]
        if initrd is not None:
            argv += ["-initrd", str(initrd)]
        if append:
            argv += ["-append", append]
        for netdev, device in nets:
            argv += ["-netdev", netdev, "-device", device]
        return cls([*argv, *extra], log)

    def __enter__(self) -> Guest:
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(30)
        if self.log is not None:
            self.log.write_text("".join(f"{line.at:8.3f} {line.text}\n" for line in self.lines))

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while True:
            chunk = os.read(fd, 65536)  # what has arrived, at once (no buffering to wait on)
            now = time.monotonic() - self.started
            with self._cond:
                if not chunk:
                    if self._partial:
                        self.lines.append(Line(now, plain(self._partial.decode(errors="replace"))))
                    self._eof = True
                    self._cond.notify_all()
                    return
                data = self._partial + chunk
                *complete, self._partial = data.split(b"\n")
                for raw in complete:
                    self.lines.append(Line(now, plain(raw.decode(errors="replace"))))
                self._cond.notify_all()

    def tail(self, count: int = 60) -> str:
        with self._cond:
            lines = [line.text for line in self.lines[-count:]]
            partial = plain(self._partial.decode(errors="replace"))
        return "\n".join([*lines, partial] if partial else lines)

    def wait_for(self, pattern: str, timeout: float, start: int = 0, partial: bool = False) -> int:
        """Wait until a console line (from index ``start``) matches ``pattern`` (a regular
        expression, searched); return its index. With ``partial``, the line being printed
        (a prompt has no newline) counts too, as index ``len(lines)``. Fails (with the
        console's last lines) on a timeout, a kernel panic or QEMU's exit."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            index = start
            while True:
                while index < len(self.lines):
                    text = self.lines[index].text
                    if regex.search(text):
                        return index
                    if FATAL.search(text) and not FATAL.search(pattern):
                        raise AssertionError(f"guest died waiting for {pattern!r}:\n{self._tail()}")
                    index += 1
                if partial and regex.search(plain(self._partial.decode(errors="replace"))):
                    return len(self.lines)
                if self._eof:
                    raise AssertionError(f"QEMU ended before {pattern!r}:\n{self._tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"no console line matching {pattern!r} after {timeout:g} s:\n{self._tail()}"
                    )
                self._cond.wait(left)

    def _tail(self) -> str:
        return "\n".join(line.text for line in self.lines[-60:])

    def type(self, text: str) -> None:
        """Type ``text`` on the serial console (a command ends with a carriage return, as
        from a terminal)."""
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def wait_exit(self, timeout: float) -> int:
        """QEMU's exit status once it has ended by itself; fails after ``timeout``."""
        assert self.proc is not None
        try:
            status = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"QEMU still running {timeout:g} s later:\n{self.tail()}"
            ) from None
        with self._cond:
            deadline = time.monotonic() + 30
            while not self._eof and time.monotonic() < deadline:
                self._cond.wait(1)
        return status

    def at(self, index: int) -> float:
        return self.lines[index].at

    def text(self) -> list[str]:
        with self._cond:
            return [line.text for line in self.lines]
