"""The interactive shell on a real terminal (tmux) in the network lab.

``bootsh --net af_packet,if=veth-cli --interactive`` runs inside the lab's client namespace
in a tmux window of the test's own server; the test types with ``send-keys`` (Ctrl-C as the
key, so the terminal's line discipline sends SIGINT as for a user) and reads the screen with
``capture-pane``. What a user sees is checked: iPXE's ``Configuring (net0 MAC)... ok`` on one
line, a download's percentage updated in place and replaced by `` ok``, Ctrl-C during
``dhcp`` on a silent network, during a download and during ``ping``, each ending in iPXE's
"Operation canceled" line with no ``^C`` on the screen and a usable prompt after it.
"""

from __future__ import annotations

import re
import shlex
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bootsh.lab import CLIENT_IF, Lab
from tests.helpers import ROOT, Tmux, misbehaving_server, started, terminal_env

MAC = "52:54:00:b0:07:71"
SILENT_MAC = "52:54:00:b0:07:72"
SERVER = "10.77.0.1"
PROMPT = "bootsh>"
CANCELED = "Operation canceled (https://ipxe.org/0b07207d)"
#: A sparse file that never finishes downloading before the Ctrl-C.
HUGE = 64 << 30
#: The size served by the gated server (half of it before the percentage is seen).
GATED = 64 << 20


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    served = tmp_path_factory.mktemp("tmux-served")
    for name, size in (("huge.bin", HUGE),):
        with (served / name).open("wb") as f:
            f.truncate(size)  # sparse: costs no disk on the server side
    with started(Lab(serve=served, client_mac=MAC, client_ipv6=False)) as the_lab:
        yield the_lab


def start_bootsh(tmux: Tmux, tmp_path: Path, lab: Lab, net: str = "") -> None:
    """``bootsh --interactive`` on the lab's client veth, in a detached 100x30 window;
    ``net`` adds ``,key=value`` settings to its ``--net``."""
    env = terminal_env(tmp_path, TMPDIR=str(tmp_path))  # the image store: checked at the end
    bootsh = [sys.executable, "-m", "bootsh", "--net", f"af_packet,if={CLIENT_IF}{net}"]
    bootsh.append("--interactive")
    command = shlex.join(
        lab.client_argv(["env", "-i", *(f"{k}={v}" for k, v in env.items()), *bootsh])
    )
    tmux("new-session", "-d", "-s", tmux.session, "-x", "100", "-y", "30", command + "; sleep 300")
    tmux.wait(lambda lines: lines == [PROMPT], "the first prompt")


def run(tmux: Tmux, line: str) -> None:
    """Type ``line`` and Enter, once the line shows as typed."""
    tmux.keys(line, literal=True)
    tmux.wait(lambda lines: lines[-1] == f"{PROMPT} {line}", f"{line!r} typed")
    tmux.keys("Enter")


def after(lines: list[str], command: str) -> list[str]:
    """The screen's lines after the last prompt line showing ``command``."""
    index = max(i for i, text in enumerate(lines) if text == f"{PROMPT} {command}")
    return lines[index + 1 :]


def wait_prompt_after(tmux: Tmux, command: str) -> None:
    tmux.wait(lambda lines: after(lines, command)[-1:] == [PROMPT], f"the end of {command!r}")


def rows(tmux: Tmux) -> list[str]:
    """The screen's rows up to the last non-empty one, empty rows kept."""
    found = [row.rstrip() for row in tmux.screen().splitlines()]
    while found and not found[-1]:
        found.pop()
    return found


def dhcp(tmux: Tmux, mac: str = MAC) -> None:
    run(tmux, "dhcp")
    tmux.wait(lambda lines: after(lines, "dhcp")[-1:] == [PROMPT], "the prompt after dhcp")
    assert after(tmux.lines(), "dhcp") == [f"Configuring (net0 {mac})... ok", PROMPT]


def test_dhcp_shows_ipxes_progress_line_then_the_prompt(
    tmux: Tmux, tmp_path: Path, lab: Lab
) -> None:
    start_bootsh(tmux, tmp_path, lab)
    dhcp(tmux)
    run(tmux, "echo ${net0/ip}")
    tmux.wait(lambda lines: lines[-1] == PROMPT and len(after(lines, "echo ${net0/ip}")) == 2, "ip")
    assert re.fullmatch(r"10\.77\.0\.\d+", after(tmux.lines(), "echo ${net0/ip}")[0])


def test_a_download_shows_its_percentage_in_place_and_ends_in_ok(
    tmux: Tmux, tmp_path: Path, lab: Lab
) -> None:
    """The server sends half the file, then a trickle, and the rest only once a percentage is
    on the screen (iPXE shows the first one after a second): events, whatever the machine's
    speed (a 2 GiB download used to stand in for "long enough", and outlasted the wait when
    the machine was busy)."""
    gate = tmp_path / "gate"
    with misbehaving_server(lab, "gated", 8080, str(GATED), str(gate)):
        start_bootsh(tmux, tmp_path, lab)
        dhcp(tmux)
        uri = f"http://{SERVER}:8080/big.bin"
        run(tmux, f"imgfetch {uri}")
        percentage = re.compile(rf"{re.escape(uri)}\.\.\. +[5-9]\d%")  # half, then a trickle
        tmux.wait(
            lambda lines: (
                [bool(percentage.fullmatch(t)) for t in after(lines, f"imgfetch {uri}")] == [True]
            ),
            "a percentage on the download's line",
        )
        gate.touch()
        tmux.wait(lambda lines: lines[-1] == PROMPT, "the end of the download")
    # The percentage was replaced on its own line: one line, " ok", nothing left of "NN%".
    assert after(tmux.lines(), f"imgfetch {uri}") == [f"{uri}... ok", PROMPT]
    run(tmux, "imgstat")
    tmux.wait(lambda lines: after(lines, "imgstat")[-1:] == [PROMPT], "imgstat")
    assert after(tmux.lines(), "imgstat") == [f"big.bin : {GATED} bytes", PROMPT]
    run(tmux, "imgfree")
    tmux.wait(lambda lines: after(lines, "imgfree") == [PROMPT], "imgfree")


def test_ctrl_c_during_a_download_cancels_it_and_the_prompt_is_usable(
    tmux: Tmux, tmp_path: Path, lab: Lab
) -> None:
    start_bootsh(tmux, tmp_path, lab)
    dhcp(tmux)
    uri = f"http://{SERVER}/huge.bin"
    run(tmux, f"imgfetch {uri}")
    tmux.wait(
        lambda lines: (after(lines, f"imgfetch {uri}") or [""])[-1].endswith("%"), "a percentage"
    )
    tmux.keys("C-c")
    took = tmux.wait(lambda lines: lines[-1] == PROMPT, "the prompt after Ctrl-C")
    assert took < 5
    # iPXE's line: the percentage erased, no "^C" echoed into it.
    assert after(tmux.lines(), f"imgfetch {uri}") == [f"{uri}... {CANCELED}", PROMPT]
    run(tmux, "echo ok")
    tmux.wait(lambda lines: after(lines, "echo ok") == ["ok", PROMPT], "echo ok")
    run(tmux, "imgstat")  # nothing was registered
    tmux.wait(lambda lines: after(lines, "imgstat") == [PROMPT], "an empty imgstat")
    assert "^C" not in tmux.screen()
    # No partial file is left in the image store's directory.
    assert [p.name for p in tmp_path.glob("bootsh-images-*/*")] == []


def test_ping_runs_until_ctrl_c_then_finishes_canceled(
    tmux: Tmux, tmp_path: Path, lab: Lab
) -> None:
    start_bootsh(tmux, tmp_path, lab)
    dhcp(tmux)
    run(tmux, f"ping {SERVER}")
    tmux.wait(lambda lines: f"64 bytes from {SERVER}: seq=3" in lines, "three replies", 30)
    assert PROMPT not in tmux.lines()  # still running: no bare prompt yet
    tmux.keys("C-c")
    tmux.wait(lambda lines: lines[-1] == PROMPT, "the prompt after Ctrl-C")
    shown = after(tmux.lines(), f"ping {SERVER}")
    assert shown[-2:] == [f"Finished: {CANCELED}", PROMPT]
    replies = shown[:-2]
    assert len(replies) >= 3
    assert replies == [f"64 bytes from {SERVER}: seq={n}" for n in range(1, len(replies) + 1)]
    run(tmux, "echo ok")
    tmux.wait(lambda lines: after(lines, "echo ok") == ["ok", PROMPT], "echo ok")
    assert "^C" not in tmux.screen()


def test_the_prompt_after_ctrl_c_starts_a_line_without_an_empty_one(
    tmux: Tmux, tmp_path: Path, lab: Lab
) -> None:
    start_bootsh(tmux, tmp_path, lab)
    # The cursor at a line's start (nothing printed): the prompt comes on the next row.
    run(tmux, "sleep 30")
    # Let the command start: a Ctrl-C typed before the prompt has handed over the terminal
    # is a key in prompt_toolkit's raw mode, not a signal.
    time.sleep(0.3)
    tmux.keys("C-c")
    tmux.wait(lambda lines: lines[-1] == PROMPT, "the prompt after Ctrl-C")
    assert rows(tmux)[-2:] == [f"{PROMPT} sleep 30", PROMPT]
    # The cursor in the middle of a line: the prompt still starts a line of its own.
    run(tmux, "echo -n waiting ; sleep 30")
    tmux.wait(lambda lines: lines[-1] == "waiting", "the partial line")
    tmux.keys("C-c")
    tmux.wait(lambda lines: lines[-1] == PROMPT, "the prompt after Ctrl-C")
    assert rows(tmux)[-3:] == [f"{PROMPT} echo -n waiting ; sleep 30", "waiting", PROMPT]
    run(tmux, "echo ${errno}")
    tmux.wait(lambda lines: after(lines, "echo ${errno}") == ["0xb02207d", PROMPT], "errno")


# -- a silent network ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def silent_lab() -> Iterator[Lab]:
    lab = Lab(dhcp=False, tftp=False, dns=False, http=False, client_mac=SILENT_MAC,
              client_ipv6=False)  # fmt: skip
    with started(lab) as the_lab:
        yield the_lab


def test_ctrl_c_during_dhcp_on_a_silent_network(
    tmux: Tmux, tmp_path: Path, silent_lab: Lab
) -> None:
    start_bootsh(tmux, tmp_path, silent_lab)
    run(tmux, "dhcp")
    start = f"Configuring (net0 {SILENT_MAC})..."
    tmux.wait(lambda lines: after(lines, "dhcp") == [start + ".."], "two dots: two seconds", 10)
    tmux.keys("C-c")
    took = tmux.wait(lambda lines: lines[-1] == PROMPT, "the prompt after Ctrl-C")
    assert took < 5
    [line, _] = after(tmux.lines(), "dhcp")
    assert re.fullmatch(
        rf"{re.escape(start)}\.* Operation canceled \(https://ipxe\.org/\w+\)", line
    )
    run(tmux, "echo ok")
    tmux.wait(lambda lines: after(lines, "echo ok") == ["ok", PROMPT], "echo ok")
    run(tmux, "ifstat net0")
    tmux.wait(lambda lines: after(lines, "ifstat net0")[-1:] == [PROMPT], "ifstat")
    assert "^C" not in tmux.screen()


def test_ctrl_c_cancels_nslookup_ntp_and_a_tftp_fetch_on_a_silent_network(
    tmux: Tmux, tmp_path: Path, silent_lab: Lab
) -> None:
    # A static address: the server's address answers, none of its services does.
    start_bootsh(tmux, tmp_path, silent_lab, ",ip=10.77.0.50,netmask=255.255.255.0")
    run(tmux, "ifopen")
    tmux.wait(lambda lines: after(lines, "ifopen") == [PROMPT], "ifopen")
    run(tmux, f"set dns {SERVER}")
    tmux.wait(lambda lines: after(lines, f"set dns {SERVER}") == [PROMPT], "set dns")
    for command, line in (
        ("nslookup x server.bootsh.test", f"Could not resolve server.bootsh.test: {CANCELED}"),
        (f"ntp {SERVER}", f"Could not get time and date: {CANCELED}"),
        (f"imgfetch tftp://{SERVER}/boot.ipxe", f"tftp://{SERVER}/boot.ipxe... {CANCELED}"),
    ):
        run(tmux, command)
        time.sleep(1)  # it waits for an answer that never comes (no new prompt meanwhile)
        assert after(tmux.lines(), command)[-1:] != [PROMPT], f"{command} ended by itself"
        tmux.keys("C-c")
        wait_prompt_after(tmux, command)
        assert after(tmux.lines(), command) == [line, PROMPT]
    run(tmux, "echo ${errno}")
    tmux.wait(lambda lines: after(lines, "echo ${errno}") == ["0xb07207d", PROMPT], "errno")


def test_a_script_run_from_a_terminal_shows_no_ctrl_c_echo_and_restores_the_terminal(
    tmux: Tmux, tmp_path: Path, lab: Lab
) -> None:
    # bootsh -c ... (a script, no prompt) on the terminal: Ctrl-C during the download ends
    # it with iPXE's line, then the script fails; the terminal's ECHOCTL is back afterwards.
    uri = f"http://{SERVER}/huge.bin"
    status, modes = tmp_path / "status", tmp_path / "stty"
    argv = [sys.executable, "-m", "bootsh", "--net", f"af_packet,if={CLIENT_IF}"]
    argv += ["-c", "dhcp", "-c", f"imgfetch {uri}", "-c", "echo not reached"]
    env = [f"PYTHONPATH={ROOT}", f"TMPDIR={tmp_path}", "TERM=screen", "PATH=/usr/bin:/bin"]
    command = (
        shlex.join(lab.client_argv(["env", "-i", *env, *argv]))
        + f"; echo $? > {shlex.quote(str(status))}; stty -a > {shlex.quote(str(modes))}"
        + "; sleep 300"
    )
    tmux("new-session", "-d", "-s", tmux.session, "-x", "100", "-y", "30", command)
    tmux.wait(lambda lines: (lines or [""])[-1].endswith("%"), "the download's percentage")
    tmux.keys("C-c")
    tmux.wait(lambda lines: modes.exists() and modes.read_text() != "", "the end of bootsh")
    assert tmux.lines() == [
        f"Configuring (net0 {MAC})... ok",
        f"{uri}... {CANCELED}",
        f"bootsh: -c:2: failed: imgfetch {uri}",  # the CLI's word on the failed script
    ]
    assert status.read_text().strip() == "1"
    assert re.search(r"(?<!-)\bechoctl\b", modes.read_text())  # restored
