"""The whole boot flow in the network lab: a real DHCP lease from dnsmasq, scripts chained over
HTTP and TFTP that ``kernel`` + ``initrd`` + ``boot`` a real bzImage (Debian's, see
.ci/install-kernel.sh) and a real cpio initrd, ending in the ``--dry-run`` plan; relative
URIs, ``autoboot``, a 404, a missing TFTP file and Ctrl-C in the middle of a download.

bootsh runs as a process in the client namespace with ``--net af_packet,if=veth-cli``, as a
user would run it; every test begins with ``dhcp``.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bootsh.lab import CLIENT_IF, Lab
from tests import helpers
from tests.helpers import ROOT, bootsh_argv, started
from tests.initrd import kernel, newc

MAC = "52:54:00:b0:07:01"
SERVER = "10.77.0.1"
HTTP = f"http://{SERVER}"
TFTP = f"tftp://{SERVER}"
DRY_RUN = ("--dry-run",)  # a boot prints its plan: nothing here ever loads a kernel
BIG = 512 << 20  # bytes (sparse): a download long enough to be interrupted mid-way

BOOT_SCRIPT = """#!ipxe
kernel vmlinuz console=ttyS0 quiet
initrd initrd.cpio
imgstat
boot
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("boot-served")
    shutil.copyfile(kernel(), root / "vmlinuz")
    (root / "initrd.cpio").write_bytes(
        newc({"init": b"#!/bin/sh\necho hello\n", "etc/hostname": b"lab\n"}, dirs=("etc",))
    )
    (root / "boot.ipxe").write_text(BOOT_SCRIPT)  # the lab's DHCP boot file for iPXE clients
    (root / "linux.ipxe").write_text(BOOT_SCRIPT)
    (root / "menus").mkdir()
    (root / "menus" / "start.ipxe").write_text(
        "#!ipxe\necho start at ${cwuri}\nchain ../linux.ipxe\n"
    )
    with (root / "big.bin").open("wb") as f:
        f.truncate(BIG)  # sparse: costs no disk
    return root


@pytest.fixture(scope="module")
def lab(served: Path) -> Iterator[Lab]:
    # IPv4 only (no IPv6 in the client's kernel): dhcp runs its DHCP configurator alone.
    with started(Lab(serve=served, client_mac=MAC, client_ipv6=False)) as the_lab:
        yield the_lab


def bootsh(
    lab: Lab, *lines: str, first: tuple[str, ...] = ("dhcp",)
) -> subprocess.CompletedProcess[str]:
    """bootsh --dry-run in the client, ``first`` (a lease) before ``lines``; should a test get
    the dry run wrong, BOOTSH_NEVER_KEXEC undoes the load."""
    env = {**os.environ, "BOOTSH_NEVER_KEXEC": "1"}
    return helpers.bootsh(lab, *first, *lines, options=DRY_RUN, env=env, timeout=120)


def plan(served: Path, base: str) -> list[str]:
    return [
        f"vmlinuz : {(served / 'vmlinuz').stat().st_size} bytes [bzImage] [SELECTED]"
        ' "console=ttyS0 quiet"',
        f"initrd.cpio : {(served / 'initrd.cpio').stat().st_size} bytes",
        f"boot: kernel vmlinuz {(served / 'vmlinuz').stat().st_size} bytes {base}/vmlinuz",
        f"boot: initrd initrd.cpio {(served / 'initrd.cpio').stat().st_size} bytes"
        f" {base}/initrd.cpio",
        'boot: cmdline "console=ttyS0 quiet"',
    ]


def test_chain_over_http_boots_the_kernel_in_the_dry_run(lab: Lab, served: Path) -> None:
    proc = bootsh(lab, f"chain {HTTP}/linux.ipxe")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"Configuring (net0 {MAC})... ok",
        f"{HTTP}/linux.ipxe... ok",
        "vmlinuz... ok",  # relative to the script's URI: over HTTP
        "initrd.cpio... ok",
        *plan(served, HTTP),
    ]


def test_chain_over_tftp_boots_the_kernel_in_the_dry_run(lab: Lab, served: Path) -> None:
    proc = bootsh(lab, f"chain {TFTP}/linux.ipxe")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"Configuring (net0 {MAC})... ok",
        f"{TFTP}/linux.ipxe... ok",
        "vmlinuz... ok",
        "initrd.cpio... ok",
        *plan(served, TFTP),
    ]


def test_relative_uris_nest_and_start_at_next_server(lab: Lab, served: Path) -> None:
    # After the lease, the working URI is tftp://NEXT-SERVER/ (iPXE's TFTP applicator);
    # menus/start.ipxe then chains ../linux.ipxe relative to itself.
    proc = bootsh(lab, "chain menus/start.ipxe", "echo back at [${cwuri}]")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"Configuring (net0 {MAC})... ok",
        "menus/start.ipxe... ok",
        f"start at {TFTP}/menus/start.ipxe",
        "../linux.ipxe... ok",
        "vmlinuz... ok",
        "initrd.cpio... ok",
        *plan(served, TFTP),
        f"back at [{TFTP}/]",
    ]


def test_autoboot_chains_the_dhcp_boot_file(lab: Lab, served: Path) -> None:
    proc = bootsh(lab, "autoboot", "imgstat", first=())  # no "dhcp" first
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"net0: {MAC} using af_packet on {CLIENT_IF} (Ethernet) [open]"
    start = lines.index(f"Configuring (net0 {MAC})... ok")
    boot = lines.index(f"Next server: {SERVER}")
    assert lines[start + 1].startswith("net0: 10.77.0.")  # route
    size = (served / "boot.ipxe").stat().st_size
    assert lines[boot:] == [
        f"Next server: {SERVER}",
        f"Filename: {HTTP}/boot.ipxe",
        f"{HTTP}/boot.ipxe... ok",
        f"boot.ipxe : {size} bytes [script]",
        "vmlinuz... ok",
        "initrd.cpio... ok",
        *plan(served, HTTP),
        "",  # iPXE's newline after a boot that returned
        # imgstat: boot.ipxe was autofreed; the kernel ran, so it went back to the end
        plan(served, HTTP)[1],
        plan(served, HTTP)[0],
    ]


def test_http_404_and_missing_tftp_file(lab: Lab) -> None:
    proc = bootsh(
        lab,
        f"chain {HTTP}/nope.ipxe || echo errno ${{errno}}",
        f"chain {TFTP}/nope.ipxe || echo errno ${{errno}}",
        "imgstat",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[1:] == [
        f"{HTTP}/nope.ipxe... Not found (https://ipxe.org/2d0c6102)",
        "errno 0x2d0c6102",
        f"{TFTP}/nope.ipxe... Not found (https://ipxe.org/2d126102)",
        "errno 0x2d126102",
    ]


def interrupted(
    lab: Lab, private: Path, lines: tuple[str, ...], waiting_for: str, ready: Callable[[], bool]
) -> tuple[int, str, str]:
    """bootsh in the client with TMPDIR=private, SIGINT once ``waiting_for`` was printed and
    ``ready()`` holds; its status, whole stdout and stderr."""
    env = {**os.environ, "BOOTSH_NEVER_KEXEC": "1", "TMPDIR": str(private)}
    proc = subprocess.Popen(
        lab.client_argv(bootsh_argv("dhcp", *lines, options=DRY_RUN)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=env,
    )
    try:
        assert proc.stdout is not None
        seen = b""
        deadline = time.monotonic() + 30
        while waiting_for.encode() not in seen:
            assert time.monotonic() < deadline, f"never printed {waiting_for!r}: {seen!r}"
            readable, _, _ = select.select([proc.stdout], [], [], 1)
            if readable:
                chunk = os.read(proc.stdout.fileno(), 4096)
                assert chunk, f"bootsh ended early: {seen!r}"
                seen += chunk
        deadline = time.monotonic() + 10
        while not ready():
            assert time.monotonic() < deadline, "bootsh never got to the point to interrupt"
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, (seen + rest).decode(), err.decode()


@pytest.mark.parametrize("base", [HTTP, TFTP], ids=["http", "tftp"])
def test_ctrl_c_during_a_download_leaves_nothing(lab: Lab, base: str, tmp_path: Path) -> None:
    private = tmp_path / "tmp"
    private.mkdir()
    lines = (f"imgfetch {base}/big.bin || echo errno ${{errno}}", "imgstat", "echo end")

    def growing() -> bool:  # the download is under way: a file grows in the image directory
        return any(p.stat().st_size for p in private.glob("bootsh-images-*/.fetch-*"))

    status, out, err = interrupted(lab, private, lines, f"{base}/big.bin...", growing)
    assert status == 0, err
    assert out.splitlines()[1:] == [
        f"{base}/big.bin... Operation canceled (https://ipxe.org/0b07207d)",
        "errno 0xb07207d",
        "end",  # imgstat listed nothing
    ]
    assert list(private.iterdir()) == []  # no partial file, no image directory left


@pytest.mark.parametrize(
    ("phase", "line", "waiting_for", "result"),
    [
        # 10.77.0.99 answers no ARP: the TCP connect waits (about 3 s) when Ctrl-C comes.
        (
            "connect",
            "imgfetch http://10.77.0.99/x.bin || echo errno ${errno}",
            "http://10.77.0.99/x.bin...",
            ["http://10.77.0.99/x.bin... Operation canceled (https://ipxe.org/0b07207d)"],
        ),
        # A chained script is running (its sleep): the script fails, so does the chain.
        (
            "exec",
            f"chain {HTTP}/sleeper.ipxe || echo errno ${{errno}}",
            "sleeping",
            [
                f"{HTTP}/sleeper.ipxe... ok",
                "sleeping",
                "Could not boot: Operation canceled (https://ipxe.org/0b02207d)",
            ],
        ),
    ],
)
def test_ctrl_c_while_connecting_or_running_a_chained_script(
    lab: Lab,
    served: Path,
    tmp_path: Path,
    phase: str,
    line: str,
    waiting_for: str,
    result: list[str],
) -> None:
    (served / "sleeper.ipxe").write_text("#!ipxe\necho sleeping\nsleep 60\necho not reached\n")
    private = tmp_path / "tmp"
    private.mkdir()
    lines = (line, "echo cwuri [${cwuri}]", "imgfree", "echo end")
    seen_at: list[float] = []

    def a_moment_later() -> bool:  # 0.3 s after the line: inside connect() or sleep
        seen_at.append(time.monotonic())
        return seen_at[-1] - seen_at[0] > 0.3

    code, out, err = interrupted(lab, private, lines, waiting_for, a_moment_later)
    assert code == 0, err
    assert "Traceback" not in err
    status = "errno 0xb07207d" if phase == "connect" else "errno 0xb02207d"
    # The working URI is the lease's again (the script's own was only for its run).
    assert out.splitlines()[1:] == [*result, status, f"cwuri [tftp://{SERVER}/]", "end"]
    assert list(private.iterdir()) == []
