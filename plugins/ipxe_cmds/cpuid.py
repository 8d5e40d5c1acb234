"""The CPU's feature registers, read by running the CPUID instruction.

Linux lets any process execute CPUID, so bootsh asks the CPU itself, as iPXE does, rather than
``/proc/cpuinfo`` (whose flag names the kernel may hide or rename, and which lists no bit
numbers). Python cannot emit an instruction, so a tiny x86-64 function is placed in an
anonymous executable mapping and called through ``ctypes``:

    push rbx; mov r8, rdx; mov eax, edi; mov ecx, esi; cpuid
    mov [r8], eax; mov [r8+4], ebx; mov [r8+8], ecx; mov [r8+12], edx; pop rbx; ret

(``cpuid(leaf, subleaf, out)`` with the System V calling convention; rbx is callee-saved.)
On another architecture, or where executable memory is refused, there are no features, which
is how iPXE treats a CPU without CPUID (``x86_features`` clears them all).
"""

from __future__ import annotations

import ctypes
import mmap
import platform
from functools import cache

from bootsh.api import dataclass

#: CPUID leaves iPXE reads (``include/ipxe/cpuid.h``).
CPUID_FEATURES = 0x00000001
CPUID_EXTENDED = 0x80000000
CPUID_AMD_FEATURES = 0x80000001

_CODE = bytes.fromhex(
    "53"  # push rbx
    "4989d0"  # mov r8, rdx
    "89f8"  # mov eax, edi
    "89f1"  # mov ecx, esi
    "0fa2"  # cpuid
    "418900"  # mov [r8], eax
    "41895804"  # mov [r8+4], ebx
    "41894808"  # mov [r8+8], ecx
    "4189500c"  # mov [r8+12], edx
    "5b"  # pop rbx
    "c3"  # ret
)


@dataclass(frozen=True)
class Registers:
    eax: int = 0
    ebx: int = 0
    ecx: int = 0
    edx: int = 0


_Out = ctypes.c_uint32 * 4
_Function = ctypes.CFUNCTYPE(None, ctypes.c_uint32, ctypes.c_uint32, ctypes.POINTER(_Out))


@cache
def _instruction() -> tuple[mmap.mmap, ctypes._CFuncPtr] | None:  # type: ignore[name-defined]
    """The CPUID function, made once per process; None where it cannot be."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    try:
        page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    except (OSError, ValueError):  # a kernel or policy that refuses writable+executable
        return None
    page.write(_CODE)
    address = ctypes.addressof(ctypes.c_char.from_buffer(page))
    # The mapping must outlive the function: both are kept together.
    return page, _Function(address)


def cpuid(leaf: int, subleaf: int = 0) -> Registers | None:
    """The registers CPUID returns for ``leaf``, or None without the instruction."""
    made = _instruction()
    if made is None:
        return None
    out = _Out()
    made[1](leaf, subleaf, ctypes.byref(out))
    return Registers(*out)


def features(extended: bool) -> Registers:
    """iPXE's ``x86_features``: leaf 1's ECX/EDX, or 0x80000001's (``--ext``), zero when the
    CPU does not report that leaf (``cpuid_supported``: the family's highest leaf must be in
    the same family, for the extended one)."""
    function = CPUID_AMD_FEATURES if extended else CPUID_FEATURES
    top = cpuid(function & CPUID_EXTENDED)
    if top is None:
        return Registers()
    if (top.eax & 0xFFFF0000) != (function & 0xFFFF0000) or top.eax < function:
        return Registers()
    got = cpuid(function)
    return got if got is not None else Registers()
