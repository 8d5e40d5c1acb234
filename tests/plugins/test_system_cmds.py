"""``cpuid``, ``sync``, ``shim``, ``colour``, ``cpair``, ``console`` (plugins/ipxe_cmds/
system_cmds.py) and the CPUID stub (cpuid.py): against this machine's real CPU, and as iPXE
prints them (the differential corpus compares them with the real iPXE too)."""

from __future__ import annotations

import io
import platform
from pathlib import Path
from typing import cast

import pytest

from bootsh.plugins import PluginHost
from bootsh_ipxe_cmds import cpuid as cpu
from bootsh_ipxe_cmds.system_cmds import (
    EINVAL_COLOUR,
    EINVAL_CPAIR,
    ENOENT_CPUID,
    colours_of,
)
from tests.helpers import make_shell, run_cli

X86 = platform.machine().lower() in ("x86_64", "amd64")


def cpuinfo_flags() -> set[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


@pytest.mark.skipif(not X86, reason="CPUID is an x86 instruction")
def test_the_stub_reads_the_real_cpu() -> None:
    flags = cpuinfo_flags()
    leaf1 = cpu.features(extended=False)
    ext = cpu.features(extended=True)
    # The kernel's flags are the same bits: fpu is leaf 1 EDX bit 0, sse2 bit 26, lm is
    # 0x80000001 EDX bit 29, and the hypervisor bit is leaf 1 ECX bit 31.
    assert bool(leaf1.edx & 1) == ("fpu" in flags)
    assert bool(leaf1.edx & (1 << 26)) == ("sse2" in flags)
    assert bool(ext.edx & (1 << 29)) == ("lm" in flags)
    assert bool(leaf1.ecx & (1 << 31)) == ("hypervisor" in flags)
    vendor = cpu.cpuid(0)
    assert vendor is not None
    name = b"".join(r.to_bytes(4, "little") for r in (vendor.ebx, vendor.edx, vendor.ecx))
    assert name.decode("ascii").isprintable() and len(name) == 12


@pytest.mark.skipif(not X86, reason="CPUID is an x86 instruction")
def test_cpuid_command_answers_as_the_cpu() -> None:
    flags = cpuinfo_flags()
    status, out, _ = run_cli("cpuid --ext 29 && echo 64-bit || echo 32-bit")
    assert (status, out) == (0, "64-bit\n" if "lm" in flags else "32-bit\n")
    # Bit 10 of leaf 1 EDX is reserved: absent everywhere, with iPXE's ENOENT, silently.
    status, out, _ = run_cli("cpuid 10 || echo ${errno}")
    assert (status, out) == (0, f"{ENOENT_CPUID:#x}\n")
    # C's 1 << 32 on x86 is 1 << 0: bit 32 is the FPU bit.
    assert run_cli("cpuid 32")[0] == (0 if "fpu" in flags else 1)


def test_cpuid_usage_and_bad_bit() -> None:
    status, out, _ = run_cli("cpuid")
    assert status == 1
    assert out.splitlines()[2] == "  cpuid [-e|--ext] [-a|--amd] [-c|--ecx] <bit>"
    assert run_cli("cpuid x")[1] == '"x": invalid integer value\n'


def test_without_the_instruction_no_feature_is_present(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpu, "cpuid", lambda leaf, subleaf=0: None)
    assert cpu.features(extended=True) == cpu.Registers()
    assert run_cli("cpuid 0")[0] == 1


def test_sync_succeeds_at_once_and_checks_its_timeout() -> None:
    assert run_cli("sync", "sync -t 500")[:2] == (0, "")
    assert run_cli("sync --timeout x")[1] == '"x": invalid integer value\n'
    assert run_cli("sync now")[1].startswith("Usage:\n\n  sync [-t|--timeout <timeout>]\n")


def test_shim_does_nothing_whatever_its_arguments() -> None:
    # iPXE on a non-EFI platform returns before parsing its options.
    assert run_cli("shim --nonsense", "shim --help", "shim a b c") == (0, "", "")


def test_colour_and_cpair_record_definitions(host: PluginHost) -> None:
    shell = make_shell(host)
    assert shell.run_line("colour --basic 1 --rgb 0xff0000 2") == 0
    assert shell.run_line("cpair --foreground 2 --background 0 1") == 0
    assert shell.run_line("cpair 3") == 0
    state = colours_of(shell)
    assert state.colours == {2: (1, 0xFF0000)}
    assert state.pairs == {1: (2, 0), 3: (9, 9)}  # 9: the terminal's default colour


def test_colour_and_cpair_ranges(host: PluginHost) -> None:
    shell = make_shell(host)
    assert shell.run_line("colour 8") == EINVAL_COLOUR
    assert shell.run_line("cpair 8") == EINVAL_CPAIR
    assert cast(io.StringIO, shell.out).getvalue().splitlines() == [
        "Could not define colour: Invalid argument (https://ipxe.org/1c1e2016)",
        "Could not define colour pair: Invalid argument (https://ipxe.org/1c1d2016)",
    ]


def test_console_on_a_pipe_prints_nothing() -> None:
    assert run_cli("console -x 1024 -y 768") == (0, "", "")
    assert run_cli("console -x big")[1] == '"big": invalid integer value\n'
