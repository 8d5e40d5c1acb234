"""``bootsh lab ...``: the network lab as a subcommand of the bootsh command itself.

Each test starts the real command (a new process), which builds a real lab (namespaces, veth,
dnsmasq) and runs bootsh in its client namespace; afterwards nothing of the lab may be left:
no namespace, no link in this namespace, no process.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bootsh.lab import NAME_PREFIX, netns_pids
from bootsh.lab.netns import LabId
from tests.helpers import CONSOLE_SCRIPT, readline

ROOT = Path(__file__).resolve().parents[2]
BOOTSH = (sys.executable, "-m", "bootsh")
NET = ("--net", "af_packet,if=veth-cli")
CONFIGURED = re.compile(r"^Configuring \(net0 ([0-9a-f]{2}(?::[0-9a-f]{2}){5})\)\.+ ok$")
ROUTE = re.compile(r"^net0: 10\.77\.0\.\d+/255\.255\.255\.0 gw 10\.77\.0\.1$")


def _require_lab_tools() -> None:
    missing = [t for t in ("ip", "dnsmasq", "ethtool") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"missing {', '.join(missing)}: run .ci/install-net.sh")


def _links() -> set[str]:
    out = subprocess.run(
        ["ip", "-j", "link", "show"], capture_output=True, text=True, check=True, timeout=10
    ).stdout
    return {link["ifname"] for link in json.loads(out)}


def _lab_namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10)
    names = {line.split()[0] for line in out.stdout.splitlines() if line.strip()}
    return {name for name in names if name.startswith(NAME_PREFIX)}


def _run_lab(argv: list[str]) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """``argv`` run to its end, and the lab namespaces left that it owns (lab names carry the
    owner's pid): other labs may come and go meanwhile, on a machine shared by test runs."""
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          cwd=ROOT) as child:  # fmt: skip
        out, err = child.communicate(timeout=60)
    done = subprocess.CompletedProcess(argv, child.returncode, out, err)
    owned = {n for n in _lab_namespaces() if (i := LabId.parse(n)) and i.pid == child.pid}
    return done, owned


@pytest.fixture
def served(tmp_path: Path) -> Path:
    root = tmp_path / "served"
    root.mkdir()
    (root / "hello.txt").write_text("hello\n")
    return root


def _namespaces_of(stderr: str) -> tuple[str, str]:
    server = re.search(r"netns (\S+-srv)", stderr)
    client = re.search(r"netns (\S+-cli)", stderr)
    assert server and client, stderr
    return server[1], client[1]


def test_lab_runs_bootsh_dhcp_and_route(served: Path) -> None:
    """The issue's example: ``bootsh lab --serve DIR -- bootsh --net ... -c 'dhcp && route'``."""
    _require_lab_tools()
    links = _links()
    proc = subprocess.run(
        [*BOOTSH, "lab", "--serve", str(served), "--", *BOOTSH, *NET, "-c", "dhcp && route"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        timeout=90,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert CONFIGURED.match(lines[0]), lines
    assert ROUTE.match(lines[1]), lines
    assert re.search(r"bootsh lab: up in [\d.]+ s: server 10\.77\.0\.1/24", proc.stderr)
    assert re.search(r"bootsh lab: down in [\d.]+ s", proc.stderr)
    server_ns, client_ns = _namespaces_of(proc.stderr)
    assert not {server_ns, client_ns} & _lab_namespaces()
    assert _links() == links


def test_lab_with_the_installed_bootsh_command(served: Path) -> None:
    """The console script itself on both sides (what a user types)."""
    _require_lab_tools()
    bootsh = str(CONSOLE_SCRIPT)
    assert CONSOLE_SCRIPT.exists(), "the bootsh console script is not installed (pip install -e .)"
    proc = subprocess.run(
        [bootsh, "lab", "-q", "--", bootsh, *NET, "-c", "dhcp", "-c", "ping -c 1 10.77.0.1"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=90,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[1:] == ["64 bytes from 10.77.0.1: seq=1"]
    assert proc.stderr == ""  # -q: no progress lines, and bootsh had nothing to say


def test_lab_exit_status_is_the_commands(served: Path) -> None:
    _require_lab_tools()
    proc = subprocess.run(
        [*BOOTSH, "lab", "-q", "--serve", str(served), "--", *BOOTSH, *NET, "-c", "exit 7"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        timeout=90,
    )
    assert proc.returncode == 7, proc.stderr


def test_ctrl_c_cancels_bootsh_and_tears_the_lab_down(served: Path) -> None:
    """SIGINT (Ctrl-C without a terminal) reaches bootsh in the middle of an endless ping: the
    ping ends with iPXE's "Operation canceled", bootsh exits, and the lab leaves nothing."""
    _require_lab_tools()
    links = _links()
    proc = subprocess.Popen(
        [
            *(*BOOTSH, "lab", "--serve", str(served), "--", *BOOTSH, *NET),
            *("-c", "dhcp", "-c", "ping 10.77.0.1"),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        # Lines must come as they happen without help from the environment.
        env={k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        up = readline(proc.stderr)
        server_ns, client_ns = _namespaces_of(up)
        assert CONFIGURED.match(readline(proc.stdout).rstrip("\n"))
        assert readline(proc.stdout) == "64 bytes from 10.77.0.1: seq=1\n"
        pids = netns_pids(server_ns) + netns_pids(client_ns)
        assert len(pids) >= 2  # dnsmasq and bootsh at least
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 1, err  # bootsh's status: its script failed on the cancel
    assert out.splitlines()[-1] == "Finished: Operation canceled (https://ipxe.org/0b07207d)"
    assert "bootsh: -c:2: failed: ping 10.77.0.1" in err
    assert re.search(r"bootsh lab: down in [\d.]+ s", err)
    assert not {server_ns, client_ns} & _lab_namespaces()
    assert _links() == links
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return "zombie"


def test_sigterm_while_idle_tears_the_lab_down(served: Path) -> None:
    _require_lab_tools()
    links = _links()
    proc = subprocess.Popen(
        [*BOOTSH, "lab", "--serve", str(served)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stderr is not None
        server_ns, client_ns = _namespaces_of(readline(proc.stderr))
        assert {server_ns, client_ns} <= _lab_namespaces()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        proc.kill()
        proc.wait()
    assert not {server_ns, client_ns} & _lab_namespaces()
    assert _links() == links


def test_a_script_named_lab_still_runs_as_dot_slash_lab(tmp_path: Path) -> None:
    """Only the bare word ``lab`` is the subcommand; ``./lab`` is a script like any other."""
    (tmp_path / "lab").write_text("#!ipxe\necho a script named lab ${args/1}\n")
    proc = subprocess.run(
        [*BOOTSH, "./lab", "x"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        stdin=subprocess.DEVNULL,
        timeout=30,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "a script named lab x\n", "")


def test_lab_usage_errors_are_the_labs() -> None:
    proc = subprocess.run(
        [*BOOTSH, "lab", "--no-such-option"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        timeout=30,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("usage: bootsh lab ")
    assert "unrecognized arguments: --no-such-option" in proc.stderr


@pytest.mark.parametrize(
    ("option", "said"),
    [
        (("--subnet", "garbage"), "--subnet: 'garbage' is not an IPv4 network"),
        (("--subnet", "::/64"), "--subnet: '::/64' is not an IPv4 network"),
        (("--subnet", "10.0.0.1/24"), "--subnet: '10.0.0.1/24' is not an IPv4 network"),
        (("--subnet", "10.0.0.0/30"), "--subnet: 10.0.0.0/30 is too small for a lab"),
        (("--http-port", "99999"), "--http-port: 99999 is not a port (1-65535)"),
        (("--http-port", "0"), "--http-port: 0 is not a port (1-65535)"),
        (("--client-mac", "zz"), "--client-mac: 'zz' is not a unicast Ethernet MAC"),
        (("--client-mac", "ff:ff:ff:ff:ff:ff"), "is not a unicast Ethernet MAC"),
    ],
)
def test_bad_options_are_one_line_and_build_nothing(option: tuple[str, str], said: str) -> None:
    proc, left = _run_lab([*BOOTSH, "lab", "-q", *option, "--", "true"])
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert said in proc.stderr.splitlines()[-1], proc.stderr
    assert left == set()


def test_without_the_capabilities_the_lab_says_which_and_builds_nothing() -> None:
    """Root without CAP_SYS_ADMIN/CAP_NET_ADMIN (a container, setpriv): one line naming the
    capabilities, not ip(8)'s mount error halfway through."""
    if shutil.which("setpriv") is None:
        raise AssertionError("setpriv (util-linux) is needed")
    drop = ("setpriv", "--bounding-set=-all", "--inh-caps=-all")
    proc, left = _run_lab([*drop, *BOOTSH, "lab", "-q", "--", "true"])
    assert proc.returncode == 1
    assert proc.stderr == (
        "bootsh lab: the lab needs CAP_SYS_ADMIN (namespaces) and CAP_NET_ADMIN (links):"
        " run it as root\n"
    )
    assert left == set()
