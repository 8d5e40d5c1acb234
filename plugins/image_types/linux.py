"""Linux kernels (x86 bzImage) and initrds.

bzImage (the x86 boot protocol, ``Documentation/arch/x86/boot.rst``): the boot sector's
``0xAA55`` at offset 510 and ``HdrS`` at 0x202. ``inspect`` records the boot protocol
version (0x206), the setup sectors (0x1F1; 0 means 4) and the kernel version string (the
NUL-terminated text at ``kernel_version`` + 0x200, when the header has one). Booting it is
``bootsh.boot.kexec``: with ``--dry-run`` the plan is printed, otherwise the kernel is loaded with
``kexec_file_load`` and started.

initrd: a cpio archive in the kernel's ``newc`` format (``070701``, or ``070702`` with
checksums); a gzip, xz, zstd, bzip2, LZMA or LZ4 file counts as one too when it was fetched
with ``initrd`` (a compressed file fetched otherwise may be anything). iPXE has no initrd
type, so ``imgstat`` does not show it; bootsh uses it only to know what a boot hands over.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from bootsh.api import (
    EACCES_UNTRUSTED_IMAGE,
    ERRFILE_BZIMAGE,
    Image,
    ImageType,
    Shell,
    error_number,
    store_of,
)

if TYPE_CHECKING:
    from bootsh.api import BootPlan, PinMismatch

CPIO_MAGICS = (b"070701", b"070702")
COMPRESSED_MAGICS = (
    b"\x1f\x8b",  # gzip
    b"\xfd7zXZ\x00",  # xz
    b"\x28\xb5\x2f\xfd",  # zstd
    b"BZh",  # bzip2
    b"\x5d\x00\x00",  # lzma
    b"\x02\x21\x4c\x18",  # lz4 (legacy, as the kernel's initramfs takes it)
)
#: The commands that fetch an initrd (iPXE's ``initrd`` is an alias of ``imgfetch``).
INITRD_COMMANDS = ("initrd",)


def _u16(header: bytes, offset: int) -> int:
    return int.from_bytes(header[offset : offset + 2], "little")


def probe_bzimage(image: Image, header: bytes) -> bool:
    return (
        len(header) >= 0x206 and header[510:512] == b"\x55\xaa" and header[0x202:0x206] == b"HdrS"
    )


def inspect_bzimage(image: Image, header: bytes) -> Mapping[str, str]:
    version = _u16(header, 0x206)
    setup_sects = header[0x1F1] or 4
    facts = {
        "protocol": f"{version >> 8}.{version & 0xFF:02d}",
        "setup_sects": str(setup_sects),
    }
    pointer = _u16(header, 0x20E)
    if pointer:
        start = pointer + 0x200
        end = header.find(b"\0", start, start + 256)
        if end > start:
            facts["version"] = header[start:end].decode("ascii", "replace")
    return facts


def initrd_images(shell: Shell, kernel: Image) -> list[Image]:
    """What a bzImage is booted with: every other registered image that is not executable."""
    return [i for i in store_of(shell).images if i is not kernel and not i.executable]


def plan(shell: Shell, kernel: Image) -> BootPlan:
    """The kernel, its initrds (``initrd_images``), and the arguments."""
    # kexec (ctypes, the plan's records) is loaded when a kernel boots, not at start-up.
    from bootsh.api import BootPlan, PlanFile

    initrds = tuple(
        PlanFile.initrd(i.name, i.path, i.size, i.uri, i.cmdline, i.pin)
        for i in initrd_images(shell, kernel)
    )
    return BootPlan(
        PlanFile(kernel.name, kernel.path, kernel.size, kernel.uri), initrds, kernel.cmdline or ""
    )


def refuse_initrds(shell: Shell, kernel: Image) -> int:
    """With ``imgtrust``, the initrds must be trusted as well as the kernel (bootsh's rule:
    iPXE checks only the image it executes, but an initrd swapped on the way owns the boot).
    A verified initrd changed since is refused even without ``imgtrust``."""
    store = store_of(shell)
    for initrd in initrd_images(shell, kernel):
        if initrd.tampered:
            shell.diagnose(
                f"cannot boot {kernel.name}: initrd {initrd.name} changed after imgverify"
                " verified it"
            )
            return EACCES_UNTRUSTED_IMAGE
        if store.refuse_untrusted(
            shell, initrd, f"cannot boot {kernel.name} (bootsh also checks initrds) with"
        ):
            return EACCES_UNTRUSTED_IMAGE
    return 0


def _changed(shell: Shell, kernel: Image, exc: PinMismatch) -> int:
    """A verified initrd whose bytes changed: it loses its trust; the boot is refused."""
    for initrd in initrd_images(shell, kernel):
        if initrd.name == exc.initrd.name and initrd.pin == exc.initrd.pin:
            store_of(shell).check_pin(shell, initrd, exc.digest)
            break
    return EACCES_UNTRUSTED_IMAGE


def exec_bzimage(shell: Shell, image: Image) -> int:
    from bootsh.api import KexecError, PinMismatch, check_pins, kexec_boot

    refused = refuse_initrds(shell, image)
    if refused:
        return refused
    boot_plan = plan(shell, image)
    if shell.context.config.dry_run:
        try:
            check_pins(boot_plan.initrds)
        except PinMismatch as exc:
            return _changed(shell, image, exc)
        for line in boot_plan.lines():
            shell.print(line)
        return 0
    try:
        kexec_boot(boot_plan, store_of(shell).directory)
    except PinMismatch as exc:
        return _changed(shell, image, exc)
    except KexecError as exc:
        shell.diagnose(f"cannot boot {image.name}: {exc.why}")
        return exc.errno
    except OSError as exc:
        shell.diagnose(f"cannot boot {image.name}: {exc}")
        return error_number("EIO", ERRFILE_BZIMAGE)
    return 0  # not reached: a successful kexec does not return


def probe_initrd(image: Image, header: bytes) -> bool:
    if header.startswith(CPIO_MAGICS):
        return True
    return image.fetched_by in INITRD_COMMANDS and header.startswith(COMPRESSED_MAGICS)


TYPES = (
    ImageType(
        "bzImage",
        probe_bzimage,
        exec_bzimage,
        order=20,
        inspect=inspect_bzimage,
        help="Linux kernel (x86 bzImage), booted with kexec_file_load",
    ),
    ImageType("initrd", probe_initrd, None, order=30, shown=False, help="initrd (cpio)"),
)
