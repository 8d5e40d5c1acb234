"""Hostile input from files and streams (issue 14, items 11, 12 and 14).

Bytes: iPXE's strings are bytes, and bootsh must print them as bytes under a strict UTF-8
locale (``LC_ALL=en_US.UTF-8``, installed by .ci/install-locale.sh; C.UTF-8 would hide the
bug, its streams already escape). Sizes: every file or stream read whole has a bound
(``/dev/zero`` as a script, ``--check``, stdin, ``--config``, ``--xenstore-dump``), checked
with bootsh's address space capped at 2 GiB so that an unbounded read fails the test rather
than the machine. Waits: a FIFO where a sysfs attribute or the CA file should be is refused
at once; Ctrl-C while ``--check`` or the config file waits for a FIFO's writer is one line.
"""

from __future__ import annotations

import errno
import io
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from bootsh.cli import main
from tests.helpers import MACHINE, ROOT, run_cli
from tests.hostile import http_files, within

STRICT = "en_US.UTF-8"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONUTF8", "PYTHONIOENCODING")}
    env.update(LC_ALL=STRICT, LANG=STRICT, PYTHONPATH=str(ROOT), **extra)
    return env


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def bootsh(
    *argv: str, stdin: bytes | int | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    """bootsh as a process under the strict locale, memory capped; output as bytes."""
    kwargs: dict[str, object] = {}
    if isinstance(stdin, bytes):
        kwargs["input"] = stdin
    else:
        kwargs["stdin"] = stdin if stdin is not None else subprocess.DEVNULL
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "bootsh", *argv],
        capture_output=True,
        env=_env(),
        cwd=ROOT,
        timeout=timeout,
        preexec_fn=_cap_memory,
        **kwargs,
    )


@pytest.fixture(scope="module", autouse=True)
def strict_locale() -> None:
    """The tests below prove nothing unless Python's streams really are strict here."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys; print(sys.stdout.errors, sys.stdin.errors)"],
        capture_output=True, text=True, env=_env(), timeout=60,
    )  # fmt: skip
    if done.stdout.split() != ["strict", "strict"]:
        pytest.skip(f"{STRICT} is not installed (run .ci/install-locale.sh): {done.stdout!r}")


def _no_traceback(proc: subprocess.CompletedProcess[bytes]) -> None:
    assert b"Traceback" not in proc.stderr, proc.stderr.decode(errors="replace")
    assert b"Error:" not in proc.stderr, proc.stderr.decode(errors="replace")


# -- bytes ------------------------------------------------------------------------------------


def test_a_served_script_prints_its_latin1_bytes_as_bytes() -> None:
    with http_files({"/cafe.ipxe": b"#!ipxe\necho Caf\xe9\nset x \xff\xfe\necho ${x}\n"}) as base:
        proc = bootsh("-c", f"chain {base}/cafe.ipxe")
    _no_traceback(proc)
    assert proc.returncode == 0
    assert proc.stdout == f"{base}/cafe.ipxe... ok\n".encode() + b"Caf\xe9\n\xff\xfe\n"


def test_standard_input_with_bytes_that_are_no_utf8() -> None:
    proc = bootsh(stdin=b"echo \xff\nset y caf\xe9 ; echo ${y}\n")
    _no_traceback(proc)
    assert (proc.returncode, proc.stdout) == (0, b"\xff\ncaf\xe9\n")


def test_a_failing_line_with_such_bytes_is_reported_with_them(tmp_path: Path) -> None:
    script = tmp_path / "s.ipxe"
    script.write_bytes(b"#!ipxe\necho Caf\xe9\niseq Caf\xe9 x\n")
    proc = bootsh(str(script))
    _no_traceback(proc)
    assert proc.returncode == 1 and proc.stdout == b"Caf\xe9\n"
    assert proc.stderr == f"bootsh: {script}:3: failed: iseq Caf".encode() + b"\xe9 x\n"


def test_a_config_file_that_is_no_utf8_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_bytes(b'twins = "\xff"\n')
    proc = bootsh("--config", str(config), "-c", "echo x")
    _no_traceback(proc)
    assert proc.returncode == 2 and proc.stdout == b""
    assert (
        proc.stderr
        == (
            f"bootsh: {config}: not UTF-8 text (byte 0xff at offset 9); a TOML file is UTF-8\n"
        ).encode()
    )


# -- sizes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "stdin", "status", "line"),
    [
        (["/dev/zero"], None, 2, "bootsh: cannot read /dev/zero: larger than 2 MiB"),
        (["--check", "/dev/zero"], None, 1, "/dev/zero:0: error: cannot read: larger than 2 MiB"),
        ([], "/dev/zero", 2, "bootsh: cannot read standard input: larger than 2 MiB"),
        (
            ["--config", "/dev/zero", "-c", "echo"],
            None,
            2,
            "bootsh: cannot read config file /dev/zero: larger than 1 MiB",
        ),
        (
            [
                "--xenstore-dump",
                "/dev/zero",
                "--sysfs-root",
                str(MACHINE / "sysfs"),
                "-c",
                "ifstat",
            ],
            None,
            0,
            "bootsh: netfront: cannot read XenStore dump /dev/zero: larger than 64 MiB",
        ),
    ],
    ids=["script", "check", "stdin", "config", "xenstore-dump"],
)
def test_dev_zero_anywhere_is_a_bounded_read_and_one_line(
    argv: Sequence[str], stdin: str | None, status: int, line: str
) -> None:
    if stdin is None:
        proc = bootsh(*argv)
    else:
        with open(stdin, "rb") as source:
            proc = bootsh(*argv, stdin=source.fileno())
    _no_traceback(proc)
    assert proc.returncode == status
    said = (proc.stdout + proc.stderr).decode().splitlines()
    assert line in said, said
    if "--check" in argv:  # then --check's summary line
        assert said.pop() == "checked 1 file: 1 error, 0 warnings"
    if "--xenstore-dump" not in argv:
        assert len(said) == 1, said


def test_a_huge_script_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    big = tmp_path / "big.ipxe"
    with big.open("wb") as f:
        f.write(b"#!ipxe\n" + b"echo x\n" * 1000)
        f.truncate(100 << 20)  # 100 MB, sparse
    proc = bootsh(str(big))
    _no_traceback(proc)
    assert proc.returncode == 2
    assert proc.stderr == f"bootsh: cannot read {big}: larger than 2 MiB\n".encode()


def test_a_huge_chained_script_is_refused_after_the_download() -> None:
    body = b"#!ipxe\n" + b"echo x\n" * ((3 << 20) // 7)
    with http_files({"/big.ipxe": body}) as base:
        status, out, err = run_cli(f"chain {base}/big.ipxe")
    assert status == 1
    assert out.splitlines() == [
        f"{base}/big.ipxe... ok",
        "Could not boot: Input/output error (https://ipxe.org/1d008005)",
    ]
    assert err.splitlines()[0] == "bootsh: cannot run big.ipxe: larger than 2 MiB"


# -- waits --------------------------------------------------------------------------------------


def _copy_machine(tmp_path: Path) -> Path:
    root = tmp_path / "sysfs"
    shutil.copytree(MACHINE / "sysfs", root, symlinks=True)
    return root


def _fifo(path: Path) -> Path:
    path.unlink(missing_ok=True)
    os.mkfifo(path)
    return path


def test_a_fifo_as_link_state_does_not_block_ifstat(tmp_path: Path) -> None:
    root = _copy_machine(tmp_path)
    _fifo(root / "devices" / "vif-0" / "net" / "eth0" / "carrier")
    _fifo(root / "devices" / "vif-0" / "net" / "eth0" / "operstate")
    with within(30, "ifstat with a FIFO as carrier"):
        status, out, err = run_cli(
            "ifstat net0", options=["--machine", str(MACHINE), "--sysfs-root", str(root)]
        )
    assert status == 0, err
    assert "[Link status: Unknown" in out


def test_a_fifo_as_a_pci_attribute_or_smbios_string_does_not_block(tmp_path: Path) -> None:
    root = _copy_machine(tmp_path)
    devices = root / "devices" / "pci0000:00"
    _fifo(devices / "0000:00:04.0" / "vendor")
    (root / "class" / "dmi" / "id").mkdir(parents=True)
    _fifo(root / "class" / "dmi" / "id" / "product_serial")
    with within(30, "probing a sysfs tree with FIFOs"):
        status, out, err = run_cli(
            "echo [${serial}]",
            "ifstat --all",
            options=["--machine", str(MACHINE), "--sysfs-root", str(root)],
        )
    assert status == 0, err
    assert out.splitlines()[0] == "[]"
    assert "0000:00:04.0/vendor: not a regular file" in err


@pytest.mark.parametrize("kind", ["fifo", "device", "huge"])
def test_a_ca_file_that_is_no_pem_file_fails_the_download_at_once(
    tmp_path: Path, kind: str
) -> None:
    if kind == "fifo":
        ca = str(_fifo(tmp_path / "ca.pem"))
    elif kind == "device":
        ca = "/dev/zero"
    else:
        ca = str(tmp_path / "ca.pem")
        with open(ca, "wb") as f:
            f.truncate(100 << 20)
    with within(30, "an https download with a FIFO as CA file"):
        status, out, err = run_cli(
            f"set ca-file {ca}", "imgfetch https://127.0.0.1:9/x", options=["-v"]
        )
    assert status == 1
    assert "https://127.0.0.1:9/x... Invalid argument (https://ipxe.org/1c16e016)" in out
    why = "larger than 4194304 bytes" if kind == "huge" else "not a regular file"
    assert f"bootsh: CA file {ca}: {why}" in err.splitlines()


def _wait_for_reader(fifo: Path, proc: subprocess.Popen[bytes]) -> int:
    """Until ``proc`` has opened ``fifo`` for reading (our non-blocking open for writing
    then succeeds): the event that says it is waiting there. Returns the writer's fd."""
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, proc.communicate()
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO:
                raise
        assert time.monotonic() < deadline, "bootsh never opened the FIFO"
        time.sleep(0.01)


@pytest.mark.parametrize("option", ["--check", "--config"])
def test_ctrl_c_while_reading_a_fifo_is_one_line(tmp_path: Path, option: str) -> None:
    # bootsh --check big.ipxe + Ctrl-C printed a KeyboardInterrupt traceback; the FIFO lets
    # the test know when bootsh is inside the read (an event, not a delay).
    fifo = _fifo(tmp_path / "input")
    argv = [option, str(fifo)] + (["-c", "echo"] if option == "--config" else [])
    proc = subprocess.Popen(
        [sys.executable, "-m", "bootsh", *argv],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), cwd=ROOT,
    )  # fmt: skip
    try:
        writer = _wait_for_reader(fifo, proc)
        os.write(writer, b"#!ipxe\n")  # part of a file: bootsh now waits for the rest
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        os.close(writer)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert (proc.returncode, out, err) == (130, b"", b"bootsh: interrupted\n")


def test_in_process_stdin_is_read_as_bytes_too() -> None:
    out, err = io.StringIO(), io.StringIO()
    stdin = io.TextIOWrapper(io.BytesIO(b"echo caf\xe9\n"), encoding="utf-8")
    assert main([], env={}, stdin=stdin, stdout=out, stderr=err) == 0
    assert out.getvalue() == "caf\udce9\n" and err.getvalue() == ""


@pytest.mark.parametrize("kind", ["fifo", "device", "huge"])
def test_a_history_file_that_is_no_file_is_not_waited_for_nor_read(
    tmp_path: Path, kind: str
) -> None:
    from bootsh.console.repl import MAX_HISTORY_SIZE, open_history

    path = tmp_path / "history"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path.symlink_to("/dev/zero")
    else:
        with path.open("wb") as f:
            f.truncate(MAX_HISTORY_SIZE + 1)
    said: list[str] = []
    with within(30, f"opening a {kind} as history"):
        history = open_history(path, said.append)
        loaded = list(history.load_history_strings())
    assert loaded == []
    why = "larger than 16 MiB" if kind == "huge" else "not a regular file"
    assert said == [
        f"cannot keep history in {path} ({why}); this session's history stays in memory"
    ]


def test_imgset_of_an_image_larger_than_a_setting_can_be_is_one_line() -> None:
    with http_files({"/big": b"x" * ((1 << 20) + 1), "/small": b"token"}) as base:
        status, out, err = run_cli(f"imgset t {base}/small", "echo ${t}", f"imgset u {base}/big")
    assert status == 1
    assert out.splitlines() == [f"{base}/small... ok", "token", f"{base}/big... ok"]
    assert err.splitlines()[0] == "bootsh: cannot read big: larger than 1 MiB"


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_trust_file_that_is_no_pem_file_is_refused_at_once(tmp_path: Path, kind: str) -> None:
    # A process of its own, memory capped: read whole, /dev/zero would fill the test's.
    path = _fifo(tmp_path / "roots.pem") if kind == "fifo" else Path("/dev/zero")
    proc = bootsh("--trust", str(path), "-c", "echo")
    _no_traceback(proc)
    assert (proc.returncode, proc.stdout) == (2, b"")
    assert proc.stderr.decode() == (
        f"bootsh: --trust: {str(path)!r} is neither SHA-256 fingerprints (hex) nor a readable"
        " PEM file: not a regular file\n"
    )
