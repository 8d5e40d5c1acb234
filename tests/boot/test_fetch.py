"""Downloads: bootsh.boot.fetch and the uri_schemes plugin, in-process and in the network lab.

The lab tests run ``tests.fetch_runner`` (one ``fetch`` per process) in the client namespace
against the lab's real dnsmasq TFTP and HTTP servers, and against the misbehaving servers of
``tests.fetch_servers`` started in the server namespace. Every download is checked byte for
byte (sha256), every failure for iPXE's exact line and for the absence of any file.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import bootsh.boot.fetch
from bootsh.boot.fetch import (
    ECANCELED_FETCH,
    ENOTSUP_SCHEME,
    ETIMEDOUT_FETCH,
    FetchError,
    FetchRequest,
    UriScheme,
    fetch,
    file_name,
)
from bootsh.boot.uri import redact
from bootsh.hookspecs import hookimpl
from bootsh.ipxe_errors import strerror
from bootsh.lab import Lab
from bootsh.plugins import make_plugin_manager
from bootsh.shell import Shell
from bootsh_uri_schemes import http as http_scheme
from bootsh_uri_schemes import tftp as tftp_scheme
from tests.helpers import ROOT, make_shell, read_until, started
from tests.helpers import misbehaving_server as server

SERVER = "10.77.0.1"
CLIENT = "10.77.0.50"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------
# In-process: the core with schemes registered by a test plugin, and file://


class _TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@dataclass
class _Plugin:
    """A test plugin registering the given schemes."""

    schemes: tuple[UriScheme, ...]

    @hookimpl
    def bootsh_register_uri_schemes(self, register: Callable[[UriScheme], None]) -> None:
        for scheme in self.schemes:
            register(scheme)


def _shell(*schemes: UriScheme, tty: bool = False, report: list[str] | None = None) -> Shell:
    host = make_plugin_manager(
        report=(report.append if report is not None else lambda line: None),
        extra=[("test_schemes", _Plugin(schemes))],
    )
    shell = make_shell(host)
    if tty:
        shell.out = _TTY()
    return shell


def _out(shell: Shell) -> str:
    assert isinstance(shell.out, io.StringIO)
    return shell.out.getvalue()


def test_unknown_scheme_is_ipxe_could_not_start(tmp_path: Path) -> None:
    shell = _shell()
    with pytest.raises(FetchError) as caught:
        fetch(shell, "gopher://host/x", tmp_path)
    assert caught.value.errno == ENOTSUP_SCHEME == 0x3C09205F
    assert _out(shell) == (
        "Could not start download: Operation not supported (https://ipxe.org/3c09205f)\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_failing_scheme_leaves_no_file_and_prints_reason(tmp_path: Path) -> None:
    def broken(request: FetchRequest) -> None:
        request.sink.write(b"partial" * 1000)
        request.progress(7000, 10000)
        raise FetchError(0x2D126002, "server said no")

    shell = _shell(UriScheme("demo", broken))
    with pytest.raises(FetchError) as caught:
        fetch(shell, "demo://h/file", tmp_path)
    assert caught.value.reason == "No such file or directory (https://ipxe.org/2d126002)"
    assert _out(shell) == "demo://h/file... No such file or directory (https://ipxe.org/2d126002)\n"
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_in_a_scheme_leaves_no_file(tmp_path: Path) -> None:
    def interrupted(request: FetchRequest) -> None:
        request.sink.write(b"x" * 5000)
        raise KeyboardInterrupt

    shell = _shell(UriScheme("demo", interrupted))
    with pytest.raises(KeyboardInterrupt):
        fetch(shell, "demo://h/file", tmp_path)
    assert _out(shell) == "demo://h/file... Operation canceled (https://ipxe.org/0b07207d)\n"
    assert strerror(ECANCELED_FETCH) == "Operation canceled (https://ipxe.org/0b07207d)"
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_just_after_the_uri_was_printed_still_ends_the_line(tmp_path: Path) -> None:
    class _InterruptedFlush(io.StringIO):
        def flush(self) -> None:
            raise KeyboardInterrupt  # Ctrl-C as the "URI..." text goes out

    shell = _shell(UriScheme("demo", lambda request: None))
    shell.out = _InterruptedFlush()
    with pytest.raises(KeyboardInterrupt):
        fetch(shell, "demo://h/file", tmp_path)
    assert (
        shell.out.getvalue() == "demo://h/file... Operation canceled (https://ipxe.org/0b07207d)\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_buggy_scheme_or_a_missing_directory_is_one_line(tmp_path: Path) -> None:
    def buggy(request: FetchRequest) -> None:
        request.sink.write(b"half")
        raise ValueError("oops")

    shell = _shell(UriScheme("demo", buggy))
    with pytest.raises(FetchError) as caught:
        fetch(shell, "demo://h/x", tmp_path)
    assert caught.value.reason == "Input/output error (https://ipxe.org/1d012005)"
    assert _out(shell) == "demo://h/x... Input/output error (https://ipxe.org/1d012005)\n"
    assert isinstance(shell.err, io.StringIO)
    assert shell.err.getvalue().endswith("bootsh: test_schemes: ValueError: oops\n")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(FetchError):
        fetch(shell, "demo://h/x", tmp_path / "gone")
    assert _out(shell).endswith("demo://h/x... Input/output error (https://ipxe.org/1d012005)\n")


def test_success_names_the_file_and_reports_final_uri(tmp_path: Path) -> None:
    def ok(request: FetchRequest) -> None:
        request.sink.write(b"hello")
        request.final_uri = "demo://elsewhere/real"

    shell = _shell(UriScheme("demo", ok))
    got = fetch(shell, "demo://h/dir/kernel%20x", tmp_path)
    assert got.path == tmp_path / "kernel x" and got.size == 5
    assert got.uri == "demo://elsewhere/real"
    assert _out(shell) == "demo://h/dir/kernel%20x... ok\n"
    named = fetch(shell, "demo://h/", tmp_path, name="vmlinuz", quiet=True)
    assert named.path == tmp_path / "vmlinuz" and named.path.read_bytes() == b"hello"
    assert _out(shell) == "demo://h/dir/kernel%20x... ok\n"  # quiet printed nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kernel x", "vmlinuz"]


def test_printed_uri_hides_the_password_and_label_replaces_it(tmp_path: Path) -> None:
    shell = _shell(UriScheme("demo", lambda request: None))
    fetch(shell, "demo://joe:secret@h/x", tmp_path)
    fetch(shell, "demo://h/abs/y", tmp_path, label="y")
    assert _out(shell) == "demo://joe:***@h/x... ok\ny... ok\n"
    assert redact("http://u@h/p") == "http://u@h/p"


def test_progress_on_a_terminal_is_ipxe_percentage_erased_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [100.0]
    monkeypatch.setattr(bootsh.boot.fetch, "_clock", lambda: now[0])

    def stepped(request: FetchRequest) -> None:
        total = 128 * 1000
        for done in (0, 42 * 1280, 100 * 1280):
            now[0] += 1.0
            request.sink.write(b"z")
            request.progress(done, total)

    shell = _shell(UriScheme("demo", stepped), tty=True)
    fetch(shell, "demo://h/x", tmp_path)
    erase = "\b" * 4 + " " * 4 + "\b" * 4
    assert _out(shell) == f"demo://h/x...  0%{erase} 42%{erase}100%{erase} ok\n"


def test_progress_without_a_total_prints_a_dot_per_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [0.0]
    monkeypatch.setattr(bootsh.boot.fetch, "_clock", lambda: now[0])

    def unknown_size(request: FetchRequest) -> None:
        for done in range(1, 8):
            now[0] += 0.5
            request.progress(done, None)

    shell = _shell(UriScheme("demo", unknown_size), tty=True)
    fetch(shell, "demo://h/x", tmp_path)
    assert _out(shell) == "demo://h/x...... ok\n"  # three seconds: three dots


def test_a_scheme_name_taken_twice_keeps_the_first() -> None:
    report: list[str] = []
    first = UriScheme("demo", lambda request: None, "first")
    second = UriScheme("DEMO", lambda request: None, "second")
    shell = _shell(first, second, report=report)
    schemes = shell.host.uri_schemes()
    assert schemes["demo"].help == "first" and schemes["demo"].source == "test_schemes"
    assert report == [
        "plugin test_schemes: URI scheme 'demo' is already provided by test_schemes; ignored"
    ]


def test_builtin_schemes_are_registered_by_the_plugin(host: Any) -> None:
    schemes = host.uri_schemes()
    assert {"tftp", "http", "https", "file"} <= set(schemes)
    assert {s.source for n, s in schemes.items() if n in ("tftp", "http", "file")} == {
        "uri_schemes"
    }


def test_file_scheme_copies_and_reports_missing(host: Any, tmp_path: Path) -> None:
    source = tmp_path / "src.bin"
    source.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    out = tmp_path / "out"
    out.mkdir()
    shell = make_shell(host)
    got = fetch(shell, f"file://{source}", out)
    assert sha256(got.path) == sha256(source) and got.size == source.stat().st_size
    with pytest.raises(FetchError) as caught:
        fetch(shell, f"file://{tmp_path}/missing", out)
    assert caught.value.reason == "No such file or directory (https://ipxe.org/2d092002)"
    with pytest.raises(FetchError):
        fetch(shell, "file://otherhost/etc/hostname", out)
    assert _out(shell).splitlines() == [
        f"file://{source}... ok",
        f"file://{tmp_path}/missing... No such file or directory (https://ipxe.org/2d092002)",
        "Could not start download: Invalid argument (https://ipxe.org/1c092016)",
    ]
    assert [p.name for p in out.iterdir()] == ["src.bin"]


@pytest.mark.parametrize(
    "uri", ["http://[::1", "http://a]/x", "tftp://[fe80::1/x", "//[::1/x", "file://[/x"]
)
def test_a_uri_that_does_not_split_cannot_start(host: Any, tmp_path: Path, uri: str) -> None:
    # urllib refuses unbalanced brackets with ValueError: a user's typo, never a traceback.
    shell = make_shell(host)
    with pytest.raises(FetchError) as caught:
        fetch(shell, uri, tmp_path)
    assert caught.value.start
    assert _out(shell) == "Could not start download: Invalid argument (https://ipxe.org/1c092016)\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("uri", "detail"),
    [
        ("http://joe:secret@h:0/x", "http://joe:***@h:0/x: bad port"),  # was port 80
        ("https://joe:secret@h:99999/x", "https://joe:***@h:99999/x: bad port"),
        ("tftp://joe:secret@:69/x", "tftp://joe:***@:69/x: no server"),
        ("tftp://joe:secret@h", "tftp://joe:***@h: no file"),
    ],
)
def test_a_uri_without_server_or_port_cannot_start_and_hides_the_password(
    host: Any, tmp_path: Path, uri: str, detail: str
) -> None:
    shell = make_shell(host)
    with pytest.raises(FetchError) as caught:
        fetch(shell, uri, tmp_path)
    assert caught.value.start and caught.value.detail == detail
    assert _out(shell).startswith("Could not start download: Invalid argument")


@pytest.mark.parametrize("scheme", ["http", "https", "tftp"])
@pytest.mark.parametrize("name", ["a..b", "x" * 64 + ".test"])
def test_a_host_name_the_resolver_cannot_encode_is_a_dns_error(
    host: Any, tmp_path: Path, scheme: str, name: str
) -> None:
    # Python's idna codec refuses empty and over-long labels with UnicodeError before any
    # lookup: that is the name's fault (iPXE's DNS error), not a bug in the plugin.
    shell = make_shell(host)
    with pytest.raises(FetchError) as caught:
        fetch(shell, f"{scheme}://{name}/x", tmp_path)
    assert caught.value.reason == "Error 0x3e116106 (https://ipxe.org/3e116106)"
    assert "uri_schemes" not in caught.value.detail
    assert list(tmp_path.iterdir()) == []


def test_file_name_never_leaves_the_target_directory(tmp_path: Path) -> None:
    assert file_name("http://h/a%2F..%2F..%2Fetc%2Fpasswd") == "passwd"
    assert file_name("http://h/x/%2E%2E") == "image"
    assert file_name("http://h/a%00b") == "ab"
    target = tmp_path / "dir"
    target.mkdir()

    def one_byte(request: FetchRequest) -> None:
        request.sink.write(b"x")

    shell = _shell(UriScheme("demo", one_byte))
    got = fetch(shell, "demo://h/%2E%2E%2Fescaped", target)
    assert got.path == target / "escaped"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir"]


def test_redact_hides_the_password_of_a_uri_urllib_refuses() -> None:
    assert redact("http://joe:secret@[::1/x") == "http://joe:***@[::1/x"
    assert redact("http://joe:@h/x") == "http://joe:***@h/x"
    assert redact("http://joe@h/x:y") == "http://joe@h/x:y"
    assert redact("tftp://h/a@b:c") == "tftp://h/a@b:c"  # an @ in the path is no user info


@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
def test_file_scheme_refuses_what_is_no_regular_file(tmp_path: Path, kind: str) -> None:
    # A FIFO blocked the open forever (no -t applies) and /dev/zero never ends: both are
    # refused at once; a directory keeps its own error.
    if kind == "fifo":
        source = tmp_path / "fifo"
        os.mkfifo(source)
    else:
        source = Path("/dev/zero") if kind == "device" else tmp_path
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run(
        [*_runner_argv(source.as_uri(), out, ("--verbose",))],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=20,
    )
    run = _parse(proc.stdout, proc.stderr, proc.returncode, 0)
    reason = {
        "directory": "Error 0x1f092015 (https://ipxe.org/1f092015)",
    }.get(kind, "Invalid argument (https://ipxe.org/1c092016)")
    assert_failed(run, source.as_uri(), reason, out)
    if kind != "directory":
        assert "not a regular file" in run.report["diagnostics"]


def test_tftp_request_is_ipxes() -> None:
    assert tftp_scheme.rrq("/boot/x", 1432, None) == (
        b"\x00\x01/boot/x\x00octet\x00blksize\x001432\x00tsize\x000\x00"
    )
    assert tftp_scheme.rrq("/x", 1428, 3).endswith(b"tsize\x000\x00timeout\x003\x00")
    assert tftp_scheme.parse_oack(b"BLKSIZE\x001428\x00tsize\x0099\x00") == {
        "blksize": "1428",
        "tsize": "99",
    }
    # Trailing garbage without a value is ignored, as iPXE does for broken servers.
    assert tftp_scheme.parse_oack(b"tsize\x005\x00junk") == {"tsize": "5"}


def test_http_status_mapping_is_ipxes() -> None:
    assert http_scheme.status_error(404, "").reason.endswith("(https://ipxe.org/2d0c6102)")
    assert http_scheme.status_error(403, "").reason == (
        "Operation not permitted (https://ipxe.org/410c6101)"
    )
    assert (
        http_scheme.status_error(401, "").reason == "Permission denied (https://ipxe.org/020c610d)"
    )
    assert http_scheme.status_error(418, "").reason == (
        "HTTP 4xx Client Error (https://ipxe.org/1d0c6405)"
    )
    assert http_scheme.status_error(500, "").reason == (
        "HTTP 5xx Server Error (https://ipxe.org/1d0c6505)"
    )


# ---------------------------------------------------------------------------------------------
# The lab


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("served")
    (root / "small.bin").write_bytes(os.urandom(1000))
    (root / "exact.bin").write_bytes(os.urandom(1432 * 3))  # ends with an empty DATA block
    (root / "big.bin").write_bytes(os.urandom(5 * 1024 * 1024 + 3))
    (root / "wrap.bin").write_bytes(os.urandom(600_000))  # 75000 blocks of 8 bytes
    (root / "empty.bin").write_bytes(b"")
    (root / "sub").mkdir()
    (root / "sub" / "index.html").write_text("<p>index</p>\n")
    return root


def _require_lab() -> None:
    missing = [t for t in ("dnsmasq", "ip", "openssl") if shutil.which(t) is None]
    if missing and not Path("/usr/sbin/dnsmasq").exists():
        pytest.skip(f"missing {', '.join(missing)}: run .ci/install-net.sh")


def _address_client(lab: Lab) -> None:
    subprocess.run(
        ["ip", "-n", lab.client_ns, "addr", "add", f"{CLIENT}/24", "dev", lab.client_if],
        check=True,
    )
    subprocess.run(["ip", "-n", lab.client_ns, "link", "set", lab.client_if, "up"], check=True)


@contextmanager
def _lab(served: Path) -> Iterator[Lab]:
    _require_lab()
    with started(Lab(serve=served, dhcp=False, dns=False, client_ipv6=False)) as lab:
        _address_client(lab)
        yield lab


@pytest.fixture(scope="module")
def lab(served: Path) -> Iterator[Lab]:
    with _lab(served) as running:
        yield running


@dataclass
class Run:
    status: int
    stdout: str
    report: dict[str, Any]
    seconds: float


def _runner_argv(uri: str, directory: Path, args: tuple[str, ...]) -> list[str]:
    return [sys.executable, "-m", "tests.fetch_runner", uri, str(directory), *args]


def _parse(proc_stdout: str, proc_stderr: str, status: int, seconds: float) -> Run:
    lines = [line for line in proc_stderr.splitlines() if line.startswith("{")]
    assert lines, f"runner said nothing useful: {proc_stderr!r}"
    return Run(status, proc_stdout, json.loads(lines[-1]), seconds)


def run_fetch(
    lab: Lab, uri: str, directory: Path, *args: str, env: dict[str, str] | None = None
) -> Run:
    start = time.monotonic()
    proc = lab.run_in_client(
        _runner_argv(uri, directory, args),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=90,
    )
    return _parse(proc.stdout, proc.stderr, proc.returncode, time.monotonic() - start)


@contextmanager
def background_fetch(
    lab: Lab, uri: str, directory: Path, *args: str
) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        lab.client_argv(_runner_argv(uri, directory, args)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def finish(proc: subprocess.Popen[str], start: float, timeout: float = 60) -> Run:
    out, err = proc.communicate(timeout=timeout)
    return _parse(out, err, proc.returncode, time.monotonic() - start)


def wait_for_partial(directory: Path, at_least: int, proc: subprocess.Popen[str]) -> None:
    """Until the download's temporary file holds ``at_least`` bytes (it is mid-transfer)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the download ended before it could be interrupted"
        parts = list(directory.glob(".fetch-*.part"))
        if parts and parts[0].stat().st_size >= at_least:
            return
        time.sleep(0.01)
    raise AssertionError("the download never got going")


def stop_tftp_server(srv: subprocess.Popen[str], transfers: int) -> str:
    """Its stderr once it has reported the ACK count of ``transfers`` transfers (it waits
    0.3 s for late ACKs after each), read as it comes; then it is ended. A fixed pause
    before the kill lost the last count when a busy machine ran the server late."""
    assert srv.stderr is not None
    lines: list[str] = []
    while sum(line.startswith("acks") for line in lines) < transfers:
        lines.append(read_until(srv.stderr, b"\n").decode())
    srv.kill()
    return "".join(lines)


def udp_in_datagrams(lab: Lab) -> int:
    snmp = lab.run_in_client(["cat", "/proc/net/snmp"], capture_output=True, text=True).stdout
    udp = [line.split() for line in snmp.splitlines() if line.startswith("Udp:")]
    return int(udp[1][udp[0].index("InDatagrams")])


def assert_ok(run: Run, uri: str, source: Path, directory: Path) -> None:
    assert run.status == 0, run
    assert run.stdout == f"{uri}... ok\n"
    got = Path(run.report["path"])
    assert got.parent == directory
    assert run.report["sha256"] == sha256(source) and run.report["size"] == source.stat().st_size
    assert [p.name for p in directory.iterdir()] == [got.name]


def assert_failed(run: Run, uri: str, reason: str, directory: Path) -> None:
    assert run.status == 1, run
    assert run.stdout == f"{uri}... {reason}\n", run
    assert run.report["reason"] == reason
    assert list(directory.iterdir()) == [], "a failed download left a file"


# -- HTTP


@pytest.mark.parametrize("name", ["small.bin", "exact.bin", "big.bin", "empty.bin"])
def test_http_downloads_are_exact(lab: Lab, served: Path, tmp_path: Path, name: str) -> None:
    uri = f"http://{SERVER}/{name}"
    assert_ok(run_fetch(lab, uri, tmp_path), uri, served / name, tmp_path)


def test_http_404(lab: Lab, tmp_path: Path) -> None:
    uri = f"http://{SERVER}/nope.bin"
    run = run_fetch(lab, uri, tmp_path)
    assert_failed(run, uri, "Not found (https://ipxe.org/2d0c6102)", tmp_path)
    assert run.report["errno"] == 0x2D0C6102


def test_http_relative_redirect_is_followed(lab: Lab, served: Path, tmp_path: Path) -> None:
    # http.server answers a directory without its slash with "301 Location: /sub/".
    uri = f"http://{SERVER}/sub"
    run = run_fetch(lab, uri, tmp_path, "--name", "index")
    assert run.status == 0 and run.stdout == f"{uri}... ok\n"
    assert run.report["uri"] == f"http://{SERVER}/sub/"
    assert (tmp_path / "index").read_bytes() == (served / "sub" / "index.html").read_bytes()


def test_http_absolute_redirect_and_redirect_loop(lab: Lab, served: Path, tmp_path: Path) -> None:
    target = f"http://{SERVER}/big.bin"
    with server(lab, "redirect", 8081, target):
        uri = f"http://{SERVER}:8081/moved"
        run = run_fetch(lab, uri, tmp_path)
        assert run.status == 0 and run.report["uri"] == target
        assert run.report["sha256"] == sha256(served / "big.bin")
        assert (tmp_path / "moved").exists()
    loop_dir = tmp_path / "loop"
    loop_dir.mkdir()
    with server(lab, "redirect", 8082, "/again"):
        uri = f"http://{SERVER}:8082/again"
        run = run_fetch(lab, uri, loop_dir)
        assert_failed(run, uri, "Error 0x200c6028 (https://ipxe.org/200c6028)", loop_dir)


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        # Not followed: a server must not make bootsh read a local file into an image.
        ("file:///etc/hostname", "Operation not supported (https://ipxe.org/3c09205f)"),
        # A Location urllib cannot split is the server's error, not a plugin bug.
        ("http://[::1/x", "Invalid argument (https://ipxe.org/1c092016)"),
    ],
)
def test_http_redirect_to_a_local_file_or_a_broken_uri_fails(
    lab: Lab, tmp_path: Path, location: str, reason: str
) -> None:
    with server(lab, "redirect", 8095, location):
        uri = f"http://{SERVER}:8095/moved"
        run = run_fetch(lab, uri, tmp_path, "--verbose")
    assert_failed(run, uri, reason, tmp_path)
    assert "redirect to" in run.report["diagnostics"]
    assert "ValueError" not in run.report["diagnostics"]


@contextmanager
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs: a bigger download fills it (lab tests run as root)."""
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(small)], check=True)
    try:
        yield small
    finally:
        subprocess.run(["umount", str(small)], check=True)


@pytest.mark.parametrize("scheme", ["http", "tftp"])
def test_a_full_disk_is_no_space_left_and_leaves_nothing(
    lab: Lab, tmp_path: Path, scheme: str
) -> None:
    # The local disk's error, whatever the protocol: not a network "Input/output error".
    with full_disk(tmp_path) as small:
        uri = f"{scheme}://{SERVER}/big.bin"
        run = run_fetch(lab, uri, small, "--verbose")
        assert_failed(run, uri, "No space left on device (https://ipxe.org/3401201c)", small)
        assert "No space left on device" in run.report["diagnostics"]


def test_http_silent_server_times_out(lab: Lab, tmp_path: Path) -> None:
    with server(lab, "silent", 8083):
        uri = f"http://{SERVER}:8083/x"
        run = run_fetch(lab, uri, tmp_path, "--timeout", "1")
    assert_failed(run, uri, "Connection timed out (https://ipxe.org/4c07206e)", tmp_path)
    assert run.report["errno"] == ETIMEDOUT_FETCH
    assert 0.9 < run.seconds < 10


def test_http_truncated_body_is_content_length_mismatch(lab: Lab, tmp_path: Path) -> None:
    with server(lab, "short", 8084, "100000", "5000"):
        uri = f"http://{SERVER}:8084/short.bin"
        run = run_fetch(lab, uri, tmp_path, "--verbose")
    assert_failed(run, uri, "Input/output error (https://ipxe.org/1d0c6205)", tmp_path)
    assert "sent 5000 of 100000 bytes" in run.report["diagnostics"]


def test_http_server_killed_mid_transfer(lab: Lab, tmp_path: Path) -> None:
    uri = f"http://{SERVER}:8085/trickle.bin"
    with server(lab, "trickle", 8085, str(100 * 1024 * 1024)) as srv:
        start = time.monotonic()
        with background_fetch(lab, uri, tmp_path) as fetching:
            wait_for_partial(tmp_path, 64 * 1024, fetching)
            srv.send_signal(signal.SIGKILL)
            run = finish(fetching, start)
    assert_failed(run, uri, "Input/output error (https://ipxe.org/1d0c6205)", tmp_path)


def test_http_chunked_whole_and_cut(lab: Lab, served: Path, tmp_path: Path) -> None:
    big = served / "big.bin"
    with server(lab, "chunked", 8086, str(big)):
        uri = f"http://{SERVER}:8086/big.bin"
        assert_ok(run_fetch(lab, uri, tmp_path), uri, big, tmp_path)
    cut_dir = tmp_path / "cut"
    cut_dir.mkdir()
    with server(lab, "chunked", 8087, str(big), "300000"):
        uri = f"http://{SERVER}:8087/big.bin"
        run = run_fetch(lab, uri, cut_dir)
    assert_failed(run, uri, "Error 0x420c6020 (https://ipxe.org/420c6020)", cut_dir)


def test_http_retry_after_is_honoured_then_bounded(lab: Lab, tmp_path: Path) -> None:
    with server(lab, "busy", 8089, "1", "1") as srv:
        uri = f"http://{SERVER}:8089/later.bin"
        run = run_fetch(lab, uri, tmp_path)
        assert run.status == 0 and run.stdout == f"{uri}... ok\n"
        assert (tmp_path / "later.bin").read_bytes() == b"ready\n" * 1000
        assert 0.9 < run.seconds < 10  # it waited the second the server asked for
    never = tmp_path / "never"
    never.mkdir()
    with server(lab, "busy", 8090, "1000", "0") as srv:
        uri = f"http://{SERVER}:8090/never.bin"
        run = run_fetch(lab, uri, never)
        srv.kill()
        _, err = srv.communicate(timeout=10)
    assert_failed(run, uri, "HTTP 5xx Server Error (https://ipxe.org/1d0c6505)", never)
    assert err.split() == ["request", "1", "request", "2", "request", "3", "request", "4",
                           "request", "5", "request", "6"]  # fmt: skip


def test_http_refused_connection_is_connection_reset(lab: Lab, tmp_path: Path) -> None:
    uri = f"http://{SERVER}:8099/x"
    run = run_fetch(lab, uri, tmp_path)
    assert_failed(run, uri, "Connection reset (https://ipxe.org/0f0a6068)", tmp_path)


# -- HTTPS with a private CA


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def private_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for 10.77.0.1 and one for another name, both signed by it."""
    d = tmp_path_factory.mktemp("pki")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl(
        "req",
        "-x509",
        *ec,
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=bootsh test CA",
        cwd=d,
    )
    # "expired": the right name, but -days -1 puts notAfter a day before now.
    certs = (
        ("server", f"IP:{SERVER}", "2"),
        ("wrong", "DNS:elsewhere.example", "2"),
        ("expired", f"IP:{SERVER}", "-1"),
    )
    for name, san, days in certs:
        _openssl(
            "req",
            *ec,
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            f"/CN={name}",
            cwd=d,
        )
        (d / f"{name}.ext").write_text(f"subjectAltName={san}\n")
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            days,
            "-extfile",
            f"{name}.ext",
            "-out",
            f"{name}.pem",
            cwd=d,
        )
    return d


def test_https_needs_the_private_ca(
    lab: Lab, served: Path, private_ca: Path, tmp_path: Path
) -> None:
    pki = private_ca
    uri = f"https://{SERVER}:8443/big.bin"
    with server(lab, "https", 8443, str(served), str(pki / "server.pem"), str(pki / "server.key")):
        untrusted = tmp_path / "untrusted"
        untrusted.mkdir()
        run = run_fetch(lab, uri, untrusted, "--verbose")
        assert_failed(run, uri, "Permission denied (https://ipxe.org/0216e60d)", untrusted)
        diagnostics = run.report["diagnostics"]
        assert "certificate of 10.77.0.1: unable to get local issuer certificate" in diagnostics
        by_setting = tmp_path / "setting"
        by_setting.mkdir()
        run = run_fetch(lab, uri, by_setting, "--set", f"ca-file={pki / 'ca.pem'}")
        assert_ok(run, uri, served / "big.bin", by_setting)
        by_env = tmp_path / "env"
        by_env.mkdir()
        env = {**os.environ, "BOOTSH_CA_FILE": str(pki / "ca.pem")}
        assert_ok(run_fetch(lab, uri, by_env, env=env), uri, served / "big.bin", by_env)
    with server(lab, "https", 8444, str(served), str(pki / "wrong.pem"), str(pki / "wrong.key")):
        uri = f"https://{SERVER}:8444/small.bin"
        wrong = tmp_path / "wrong"
        wrong.mkdir()
        run = run_fetch(lab, uri, wrong, "--set", f"ca-file={pki / 'ca.pem'}")
        assert_failed(run, uri, "Permission denied (https://ipxe.org/0216ea0d)", wrong)
    expired_pair = (str(pki / "expired.pem"), str(pki / "expired.key"))
    with server(lab, "https", 8445, str(served), *expired_pair):
        uri = f"https://{SERVER}:8445/small.bin"
        expired = tmp_path / "expired"
        expired.mkdir()
        run = run_fetch(lab, uri, expired, "--verbose", "--set", f"ca-file={pki / 'ca.pem'}")
        # iPXE's x509 EACCES_EXPIRED (uniq 4), whatever else is right about the chain.
        assert_failed(run, uri, "Permission denied (https://ipxe.org/0216e40d)", expired)
        assert "certificate has expired" in run.report["diagnostics"]


# -- TFTP against dnsmasq


@pytest.mark.parametrize("name", ["small.bin", "exact.bin", "big.bin", "empty.bin"])
def test_tftp_downloads_are_exact(lab: Lab, served: Path, tmp_path: Path, name: str) -> None:
    uri = f"tftp://{SERVER}/{name}"
    assert_ok(run_fetch(lab, uri, tmp_path), uri, served / name, tmp_path)
    assert f"sent {served / name} to {CLIENT}" in lab.dnsmasq_log()


def test_tftp_block_numbers_wrap_past_65535(lab: Lab, served: Path, tmp_path: Path) -> None:
    uri = f"tftp://{SERVER}/wrap.bin"
    before = udp_in_datagrams(lab)
    run = run_fetch(lab, uri, tmp_path, "--set", "tftp-blksize=8")
    assert_ok(run, uri, served / "wrap.bin", tmp_path)
    # dnsmasq really sent 8-byte blocks: 75001 DATA packets (the last one empty) + the OACK.
    assert udp_in_datagrams(lab) - before >= 75_002


def test_tftp_timeout_option_is_accepted_by_dnsmasq(lab: Lab, served: Path, tmp_path: Path) -> None:
    uri = f"tftp://{SERVER}/big.bin"
    run = run_fetch(lab, uri, tmp_path, "--set", "tftp-timeout=2", "--set", "tftp-blksize=1428")
    assert_ok(run, uri, served / "big.bin", tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    run = run_fetch(lab, uri, bad, "--set", "tftp-blksize=70000", "--verbose")
    assert_failed(run, uri, "Invalid argument (https://ipxe.org/1c126016)", bad)
    assert (
        "setting tftp-blksize='70000': not a number from 8 to 65464" in (run.report["diagnostics"])
    )


def test_tftp_missing_file(lab: Lab, tmp_path: Path) -> None:
    uri = f"tftp://{SERVER}/nope.bin"
    run = run_fetch(lab, uri, tmp_path, "--verbose")
    assert_failed(run, uri, "Not found (https://ipxe.org/2d126102)", tmp_path)
    assert "TFTP error 1" in run.report["diagnostics"]


def test_tftp_ctrl_c_leaves_no_file_and_aborts_the_server(
    lab: Lab, served: Path, tmp_path: Path
) -> None:
    uri = f"tftp://{SERVER}/wrap.bin"
    start = time.monotonic()
    with background_fetch(lab, uri, tmp_path, "--set", "tftp-blksize=8") as fetching:
        wait_for_partial(tmp_path, 10_000, fetching)
        fetching.send_signal(signal.SIGINT)
        run = finish(fetching, start)
    assert run.status == 130 and run.report["outcome"] == "interrupted"
    assert run.stdout == f"{uri}... Operation canceled (https://ipxe.org/0b07207d)\n"
    assert list(tmp_path.iterdir()) == []
    deadline = time.monotonic() + 30  # an event (dnsmasq's log line), bounded generously
    while "TFTP Aborted" not in lab.dnsmasq_log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "TFTP Aborted" in lab.dnsmasq_log()  # iPXE's tftp_close() ERROR reached dnsmasq


def test_tftp_dnsmasq_killed_mid_transfer_times_out(
    served: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The real server dies: iPXE's retry timer gives up after about 16 s of silence."""
    root = tmp_path_factory.mktemp("killed")
    (root / "huge.bin").write_bytes(os.urandom(40 * 1024 * 1024))
    out = tmp_path_factory.mktemp("killed-out")
    with _lab(root) as own:
        uri = f"tftp://{SERVER}/huge.bin"
        start = time.monotonic()
        with background_fetch(own, uri, out, "--set", "tftp-blksize=512") as fetching:
            wait_for_partial(out, 256 * 1024, fetching)
            assert own.dnsmasq_pid is not None
            killed_at = time.monotonic()
            os.kill(own.dnsmasq_pid, signal.SIGKILL)
            run = finish(fetching, start)
        silent_for = time.monotonic() - killed_at
    assert_failed(run, uri, "Connection timed out (https://ipxe.org/4c12606e)", out)
    assert 14 < silent_for < 25


# -- TFTP against a server that misbehaves on purpose


def test_tftp_asks_ipxes_blksize_and_honours_the_setting(
    lab: Lab, served: Path, tmp_path: Path
) -> None:
    big = served / "big.bin"
    with server(lab, "tftp", 6969, str(big)) as srv:
        uri = f"tftp://{SERVER}:6969/big.bin"
        assert_ok(run_fetch(lab, uri, tmp_path), uri, big, tmp_path)
        other = tmp_path / "1428"
        other.mkdir()
        assert_ok(run_fetch(lab, uri, other, "--set", "tftp-blksize=1428"), uri, big, other)
        err = stop_tftp_server(srv, 2)
    blocks_1432 = len(big.read_bytes()) // 1432 + 1
    blocks_1428 = len(big.read_bytes()) // 1428 + 1
    # One ACK for the OACK and one per block: the server saw exactly the negotiated sizes.
    assert [line for line in err.splitlines() if line.startswith("acks")] == [
        f"acks {blocks_1432 + 1}",
        f"acks {blocks_1428 + 1}",
    ]


def test_tftp_duplicates_are_not_acknowledged_twice(lab: Lab, served: Path, tmp_path: Path) -> None:
    small = served / "exact.bin"
    with server(lab, "tftp", 6970, str(small), "--duplicate") as srv:
        uri = f"tftp://{SERVER}:6970/exact.bin"
        assert_ok(run_fetch(lab, uri, tmp_path), uri, small, tmp_path)
        err = stop_tftp_server(srv, 1)
    # 4 blocks (the last empty) + the OACK's ACK: a client that re-ACKed duplicates sends 9.
    assert "acks 5" in err.splitlines()


def test_tftp_packets_from_another_transfer_id_are_ignored(
    lab: Lab, served: Path, tmp_path: Path
) -> None:
    big = served / "big.bin"
    with server(lab, "tftp", 6971, str(big), "--stranger"):
        uri = f"tftp://{SERVER}:6971/big.bin"
        assert_ok(run_fetch(lab, uri, tmp_path), uri, big, tmp_path)


def test_tftp_block_larger_than_negotiated_fails_as_ipxe(
    lab: Lab, served: Path, tmp_path: Path
) -> None:
    # iPXE's tftp_rx_data: an overlength DATA packet is EINVAL; nothing is kept.
    with server(lab, "tftp", 6973, str(served / "big.bin"), "--oversize"):
        uri = f"tftp://{SERVER}:6973/big.bin"
        run = run_fetch(lab, uri, tmp_path, "--verbose")
    assert_failed(run, uri, "Invalid argument (https://ipxe.org/1c126016)", tmp_path)
    assert "DATA block of 1532 bytes" in run.report["diagnostics"]


def test_tftp_server_killed_with_a_timeout_is_monojobs_timeout(
    lab: Lab, served: Path, tmp_path: Path
) -> None:
    with server(lab, "tftp", 6972, str(served / "wrap.bin")) as srv:
        uri = f"tftp://{SERVER}:6972/wrap.bin"
        start = time.monotonic()
        with background_fetch(lab, uri, tmp_path, "--set", "tftp-blksize=8", "--timeout", "2") as f:
            wait_for_partial(tmp_path, 4096, f)
            srv.send_signal(signal.SIGKILL)
            run = finish(f, start)
    assert_failed(run, uri, "Connection timed out (https://ipxe.org/4c07206e)", tmp_path)


# -- through the shell's imgfetch


def run_bootsh(lab: Lab, line: str) -> subprocess.CompletedProcess[str]:
    return lab.run_in_client(
        [sys.executable, "-m", "bootsh", "-c", line],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=90,
    )


def test_imgfetch_over_http_and_tftp_is_byte_exact(lab: Lab, served: Path) -> None:
    big, exact = served / "big.bin", served / "exact.bin"
    proc = run_bootsh(
        lab,
        f"imgfetch http://{SERVER}/big.bin && imgfetch -n e tftp://{SERVER}/exact.bin && "
        "sha256sum big.bin e && imgstat",
    )
    assert proc.stdout.splitlines() == [
        f"http://{SERVER}/big.bin... ok",
        f"tftp://{SERVER}/exact.bin... ok",
        f"{sha256(big)}  big.bin",
        f"{sha256(exact)}  e",
        f"big.bin : {big.stat().st_size} bytes",
        f"e : {exact.stat().st_size} bytes",
    ]


def test_imgfetch_timeout_registers_nothing(lab: Lab) -> None:
    with server(lab, "silent", 8088):
        proc = run_bootsh(
            lab, f"imgfetch -t 1000 http://{SERVER}:8088/x ; echo ${{errno}} ; imgstat"
        )
    assert proc.stdout.splitlines() == [
        f"http://{SERVER}:8088/x... Connection timed out (https://ipxe.org/4c07206e)",
        "0x4c07206e",
    ]
