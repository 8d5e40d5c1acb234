"""Images bootsh recognises but cannot boot from Linux: EFI executables and PXE NBPs.

EFI (PE/COFF): ``MZ`` at 0 and ``PE\\0\\0`` at the offset held at 0x3C; probed after the
bzImage, since a Linux kernel with an EFI stub is both. A PXE NBP has no signature: like
iPXE's ``pxe_probe``, a non-empty file that fits in base memory (at most 0x98400 bytes), and
bootsh also wants a PXE file name (``.0``, ``.pxe``, ``.kpxe``, ``.kkpxe``, ``.kkkpxe``,
``.com``) so that any small file is not taken for one. Both can be selected, as in iPXE;
executing them fails with iPXE's ``Exec format error`` and a line saying why.
"""

from __future__ import annotations

from bootsh.api import ENOEXEC_IMAGE, Image, ImageType, Shell

PXE_MAX = 0xA0000 - 0x7C00
PXE_SUFFIXES = (".0", ".pxe", ".kpxe", ".kkpxe", ".kkkpxe", ".com")


def probe_efi(image: Image, header: bytes) -> bool:
    if len(header) < 0x40 or header[:2] != b"MZ":
        return False
    offset = int.from_bytes(header[0x3C:0x40], "little")
    return header[offset : offset + 4] == b"PE\0\0"


def probe_pxe(image: Image, header: bytes) -> bool:
    name = image.name.lower()
    return 0 < image.size <= PXE_MAX and name.endswith(PXE_SUFFIXES)


def exec_efi(shell: Shell, image: Image) -> int:
    shell.diagnose(f"{image.name}: cannot boot an EFI executable from Linux")
    return ENOEXEC_IMAGE


def exec_pxe(shell: Shell, image: Image) -> int:
    shell.diagnose(f"{image.name}: cannot boot a PXE NBP from Linux")
    return ENOEXEC_IMAGE


TYPES = (
    ImageType("EFI", probe_efi, exec_efi, order=40, help="EFI executable (cannot boot from Linux)"),
    ImageType("PXE-NBP", probe_pxe, exec_pxe, order=90, help="PXE NBP (cannot boot from Linux)"),
)
