"""Signed images in the network lab: bootsh against upstream iPXE's recorded answers,
netboot.xyz's menu verifying its submenus on a real terminal, and ``imgtrust`` in front of
``chain``, ``boot`` and ``autoboot``, everything fetched over HTTP from the lab's server.

bootsh runs as a process in the client namespace (``--net af_packet,if=veth-cli``), with the
test root's fingerprint given by ``--trust``; boots are ``--dry-run``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bootsh.lab import CLIENT_IF, Lab
from tests import helpers
from tests.helpers import Tmux, started, terminal_env
from tests.initrd import kernel, newc
from tests.trust.cases import DATA, RECORDED
from tests.trust.conftest import Cases
from tests.trust.pki import Pki

MAC = "52:54:00:b0:07:16"
SERVER = "10.77.0.1"
HTTP = f"http://{SERVER}"
NETBOOT = DATA / "netbootxyz"

#: Where bootsh answers differently from upstream iPXE on purpose (README, "Trust"): a
#: certificate signed with SHA-1, which cryptography's path verifier refuses.
DIFFERENCES = {
    "== sha1-certificate": [
        "Could not verify: Permission denied (https://ipxe.org/0216eb0d)",
        "errno 0x216eb0d",
    ],
}


@pytest.fixture(scope="module")
def served(cases: Cases) -> Path:
    """The cases' files, plus netboot.xyz's menu and a kernel boot, all signed by the test."""
    root = cases.served
    pki = Pki(cases.pki)
    signer, chain = cases.built.signer, (cases.built.root,)
    # netboot.xyz: its menu and boot.cfg as a deployment serves them, two submenus.
    nbx = root / "nbx"
    nbx.mkdir(exist_ok=True)
    shutil.copyfile(NETBOOT / "menu.ipxe", nbx / "menu.ipxe")
    config = (NETBOOT / "boot.cfg.ipxe").read_text()
    for old, new in (
        ("set sigs_enabled false\n", "set sigs_enabled true\n"),
        ("set boot_domain boot.netboot.xyz\n", f"set boot_domain {SERVER}\n"),
    ):
        assert config.count(old) == 1
        config = config.replace(old, new)
    (nbx / "boot.cfg").write_text(config)
    sigs = root / "sigs"
    sigs.mkdir(exist_ok=True)
    for name in ("linux", "bsd"):
        menu = nbx / f"{name}.ipxe"
        menu.write_text(f"#!ipxe\necho netboot.xyz {name} menu: verified, running\nprompt\n")
        pki.sign(menu, signer, chain=chain, out=sigs / f"{name}.ipxe.sig")
    # bsd.ipxe is swapped on the server after it was signed.
    (nbx / "bsd.ipxe").write_text("#!ipxe\necho swapped on the server\nprompt\n")
    # A kernel and an initrd with signatures, and a script that verifies and boots them.
    boot = root / "boot"
    boot.mkdir(exist_ok=True)
    shutil.copyfile(kernel(), boot / "vmlinuz")
    (boot / "initrd.cpio").write_bytes(newc({"init": b"#!/bin/sh\necho hi\n"}))
    (boot / "linux.ipxe").write_text(
        "#!ipxe\nkernel vmlinuz console=ttyS0\ninitrd initrd.cpio\n"
        "imgverify vmlinuz vmlinuz.sig\nimgverify initrd.cpio initrd.cpio.sig\nboot\n"
    )
    for name in ("vmlinuz", "initrd.cpio", "linux.ipxe"):
        pki.sign(boot / name, signer, chain=chain)
    (root / "boot.ipxe").write_text("#!ipxe\necho the unsigned DHCP boot file\n")
    return root


@pytest.fixture(scope="module")
def lab(served: Path) -> Iterator[Lab]:
    with started(Lab(serve=served, client_mac=MAC)) as the_lab:
        yield the_lab


def bootsh(
    lab: Lab, cases: Cases, *lines: str, first: tuple[str, ...] = ("dhcp",)
) -> tuple[int, list[str], str]:
    env = {**os.environ, "BOOTSH_NEVER_KEXEC": "1"}
    proc = helpers.bootsh(
        lab, *first, *lines, options=("--dry-run", "--trust", cases.built.trust), env=env,
        timeout=120,
    )  # fmt: skip
    return proc.returncode, proc.stdout.splitlines(), proc.stderr


def normalised(lines: list[str]) -> list[str]:
    """From ``== nocertfile`` to ``== done``, SHA-1 fingerprints blanked (as recorded)."""
    body = lines[lines.index("== nocertfile") : lines.index("== done") + 1]
    return [re.sub(r"\b[0-9a-f]{40}\b", "<sha1>", line) for line in body]


def expected() -> list[str]:
    recorded = RECORDED.read_text().splitlines()
    for header, lines in DIFFERENCES.items():
        at = recorded.index(header) + 1
        end = next(i for i in range(at, len(recorded)) if recorded[i].startswith("== "))
        recorded[at:end] = lines
    return recorded


def test_the_cases_answer_as_upstream_ipxe_answered(lab: Lab, cases: Cases) -> None:
    """``tests/data/trust/cases.ipxe`` over HTTP: the same lines as upstream iPXE's Linux
    build printed for it (tests/data/trust/README.md), but for the listed differences."""
    status, out, err = bootsh(lab, cases, f"chain {HTTP}/cases.ipxe")
    assert status == 0, err
    assert normalised(out) == expected()
    # Each refusal is explained on stderr, one line each, naming the image and the reason.
    explained = [line for line in err.splitlines() if line.startswith("bootsh: imgverify ")]
    assert len(explained) == sum(1 for line in out if line.startswith("Could not verify:"))
    assert 'certificate "sha1cert.bootsh.test" is signed with SHA-1' in err
    assert "Traceback" not in err


def test_imgtrust_refuses_an_unverified_chain_and_boots_a_verified_one(
    lab: Lab, cases: Cases
) -> None:
    status, out, err = bootsh(
        lab, cases, "imgtrust", f"chain {HTTP}/boot/linux.ipxe || echo refused ${{errno}}"
    )
    assert status == 0, err
    assert out[1:] == [
        f"{HTTP}/boot/linux.ipxe... ok",
        "Could not boot: Permission denied (https://ipxe.org/0200810d)",
        "refused 0x200810d",
    ]
    status, out, err = bootsh(
        lab,
        cases,
        "imgtrust --permanent",
        f"imgverify {HTTP}/boot/linux.ipxe {HTTP}/boot/linux.ipxe.sig",
        "chain linux.ipxe",
    )
    assert status == 0, err
    size = (cases.served / "boot" / "vmlinuz").stat().st_size
    assert out[1:] == [
        f"{HTTP}/boot/linux.ipxe... ok",
        f"{HTTP}/boot/linux.ipxe.sig... ok",
        "vmlinuz... ok",  # relative to the verified script's URI
        "initrd.cpio... ok",
        "vmlinuz.sig... ok",
        "initrd.cpio.sig... ok",
        f"boot: kernel vmlinuz {size} bytes {HTTP}/boot/vmlinuz",
        f"boot: initrd initrd.cpio {(cases.served / 'boot' / 'initrd.cpio').stat().st_size}"
        f" bytes {HTTP}/boot/initrd.cpio",
        'boot: cmdline "console=ttyS0"',
    ]


def test_imgtrust_refuses_an_unverified_kernel_and_the_dhcp_boot_file(
    lab: Lab, cases: Cases
) -> None:
    status, out, err = bootsh(
        lab,
        cases,
        "imgtrust",
        f"kernel -q {HTTP}/boot/vmlinuz",
        "boot || echo refused ${errno}",
    )
    assert (status, out[1:]) == (
        0,
        ["Could not boot: Permission denied (https://ipxe.org/0200810d)", "refused 0x200810d"],
    ), err
    status, out, err = bootsh(lab, cases, "imgtrust", "autoboot || echo refused", first=())
    assert status == 0, err
    size = (cases.served / "boot.ipxe").stat().st_size
    assert out[-4:] == [
        f"{HTTP}/boot.ipxe... ok",
        f"boot.ipxe : {size} bytes [script]",
        "Could not boot image: Permission denied (https://ipxe.org/0200810d)",
        "refused",
    ]
    assert "cannot run boot.ipxe: it is not trusted" in err


# -- netboot.xyz on a real terminal -------------------------------------------------------------


def netboot_xyz(tmux: Tmux, tmp_path: Path, lab: Lab, cases: Cases) -> None:
    """bootsh on a terminal: a lease, then netboot.xyz's menu as served (``arch`` preset,
    as its embedded script does where cpuid is missing)."""
    env = terminal_env(tmp_path)
    argv = [
        sys.executable, "-m", "bootsh", "--net", f"af_packet,if={CLIENT_IF}",
        "--trust", cases.built.trust, "-c", "dhcp", "-c", "set arch x86_64",
        "-c", f"chain {HTTP}/nbx/menu.ipxe",
    ]  # fmt: skip
    command = shlex.join(
        lab.client_argv(["env", "-i", *(f"{k}={v}" for k, v in env.items()), *argv])
    )
    tmux("new-session", "-d", "-s", tmux.session, "-x", "100", "-y", "40", command + "; sleep 300")
    tmux.wait(
        lambda lines: any("Linux Network Installs (64-bit)" in line for line in lines),
        "netboot.xyz's menu",
        timeout=60,
    )


def test_netboot_xyz_verifies_the_submenu_it_chains(
    tmux: Tmux, tmp_path: Path, lab: Lab, cases: Cases
) -> None:
    """Down selects "Linux Network Installs", Enter: menu.ipxe's ``imgverify linux.ipxe
    ${sigs}linux.ipxe.sig || goto error`` passes and ``chain linux.ipxe`` runs it."""
    netboot_xyz(tmux, tmp_path, lab, cases)
    tmux.keys("Down")
    tmux.keys("Enter")
    tmux.wait(
        lambda lines: "netboot.xyz linux menu: verified, running" in lines, "the verified submenu"
    )
    assert not any("Could not verify" in line for line in tmux.lines())


def test_netboot_xyz_refuses_a_submenu_swapped_on_the_server(
    tmux: Tmux, tmp_path: Path, lab: Lab, cases: Cases
) -> None:
    """ "BSD Installs" (three down: Linux, Live CDs, BSD): its script was swapped after it was
    signed, so imgverify fails and the menu's ``goto error`` says so; the swapped script
    never runs."""
    netboot_xyz(tmux, tmp_path, lab, cases)
    for _ in range(3):
        tmux.keys("Down")
    tmux.keys("Enter")
    tmux.wait(
        lambda lines: "Error occurred, press any key to return to menu ..." in lines,
        "netboot.xyz's error path",
    )
    lines = tmux.lines()
    assert "Could not verify: Permission denied (https://ipxe.org/0227e10d)" in lines
    assert not any("swapped on the server" in line for line in lines)
    # bootsh's explanation, on stderr (the same terminal), wrapped at 100 columns (where a
    # space may fall at the end of a row and be trimmed): compared without blanks.
    explanation = "does not match the SHA-256 digest of bsd.ipxe"
    assert "".join(explanation.split()) in "".join(tmux.screen().split())
