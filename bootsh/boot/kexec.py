"""Booting a Linux kernel from Linux: the boot plan, ``kexec_file_load`` and the reboot.

``boot`` of a bzImage becomes a *plan*: the kernel file, the initrds in registration order
(every registered image that is not itself executable: iPXE hands a bzImage every other
image as an initrd) and the kernel command line (the image's arguments). With ``--dry-run``
the plan is printed, one line each, and nothing else happens::

    boot: kernel vmlinuz 14186432 bytes http://10.77.0.1/vmlinuz
    boot: initrd initrd.cpio 512 bytes http://10.77.0.1/initrd.cpio
    boot: cmdline "console=ttyS0 quiet"

An initrd with arguments is a single file to put into the initramfs, as iPXE does it: the
first argument is its path there and ``mode=`` its octal mode (``initrd hostname.txt
/etc/hostname mode=644``); its plan line ends in ``as /etc/hostname mode 0644`` and the
file is wrapped in a newc cpio header of that name.

A verified initrd (one with a pin, see ``bootsh.boot.images``) is hashed while it is copied,
and a boot whose initrd is no longer the file that was verified stops there (``PinMismatch``).

Without ``--dry-run`` the initrds are concatenated, each padded with NULs to a multiple of
4 bytes (the kernel's initramfs unpacker takes several archives in a row and skips that
padding), into one temporary file, and the kernel is loaded with the ``kexec_file_load`` system call
(x86_64: 320, aarch64: 294) through ctypes: kernel fd, initrd fd (or
``KEXEC_FILE_NO_INITRAMFS``), the command line with its NUL counted. Only when that worked
does ``reboot(LINUX_REBOOT_CMD_KEXEC)`` start the new kernel. Every failure after a load
unloads again (``KEXEC_FILE_UNLOAD``) so that nothing stays half loaded, and is reported as
an iPXE error plus one line saying why (no kexec in this kernel, CAP_SYS_BOOT missing,
kernel lockdown, a rejected image).

``BOOTSH_NEVER_KEXEC`` (any value) in the environment makes ``execute`` refuse after a
successful load (unloading again): the tests set it, so that no test can ever reboot the
machine it runs on.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import platform
from pathlib import Path

from bootsh.boot.images import ERRFILE_BZIMAGE
from bootsh.boot.uri import redact
from bootsh.errors import BootshError
from bootsh.ipxe_errors import error_number
from bootsh.records import dataclass

#: ``kexec_file_load`` by machine (``uname -m``).
SYSCALLS = {"x86_64": 320, "aarch64": 294}

KEXEC_FILE_UNLOAD = 0x1
KEXEC_FILE_NO_INITRAMFS = 0x4
LINUX_REBOOT_CMD_KEXEC = 0x45584543

#: The environment variable that forbids the final reboot (tests).
NEVER_ENV = "BOOTSH_NEVER_KEXEC"


class KexecError(BootshError):
    """A load or boot that did not happen: ``errno`` is iPXE's number, ``why`` bootsh's."""

    def __init__(self, kind: str, why: str) -> None:
        self.errno = error_number(kind, ERRFILE_BZIMAGE)  # the errors of iPXE's bzimage.c
        self.why = why
        super().__init__(why)


@dataclass(frozen=True)
class PlanFile:
    """One file of the plan: its image name, its file, size and URI.

    ``cpio_name`` (an initrd's first argument, as iPXE's ``cpio_name``) wraps the file in a
    cpio header of that name and ``mode`` (``mode=``, octal), so that ``initrd config.txt
    /etc/config.txt mode=600`` puts the file there in the initramfs; without it the file is
    taken to be a cpio archive already.
    """

    name: str
    path: Path
    size: int
    uri: str | None
    cpio_name: str | None = None
    mode: int = 0o644
    #: SHA-256 of the bytes ``imgverify`` verified: the bytes copied must have it.
    pin: bytes | None = None

    @classmethod
    def initrd(
        cls,
        name: str,
        path: Path,
        size: int,
        uri: str | None,
        cmdline: str | None,
        pin: bytes | None = None,
    ) -> PlanFile:
        words = (cmdline or "").split(" ")
        cpio_name = words[0] or None
        mode = 0o644
        for word in words[1:]:
            if word.startswith("mode="):
                digits = word[5:]
                end = len(digits) - len(digits.lstrip("01234567"))
                mode = int(digits[:end], 8) if end else 0
        return cls(name, path, size, uri, cpio_name, mode & 0o7777, pin)


@dataclass(frozen=True)
class BootPlan:
    kernel: PlanFile
    initrds: tuple[PlanFile, ...]
    cmdline: str

    def lines(self) -> list[str]:
        """The ``--dry-run`` output: one line per kernel, initrd and command line."""
        out = [_line("kernel", self.kernel)]
        out.extend(_line("initrd", initrd) for initrd in self.initrds)
        out.append(f'boot: cmdline "{self.cmdline}"')
        return out


def _line(kind: str, item: PlanFile) -> str:
    # The plan is printed (and logged by scripts' authors): a password in the URI is hidden
    # as on the download line.
    text = f"boot: {kind} {item.name} {item.size} bytes {redact(item.uri) if item.uri else '-'}"
    if item.cpio_name is not None:
        text += f" as {item.cpio_name} mode {item.mode:04o}"
    return text


def cpio_header(name: str, mode: int, size: int) -> bytes:
    """A newc header for one regular file (iPXE's ``cpio_header``), padded to 4 bytes."""
    raw = name.encode("utf-8", "surrogateescape")
    fields = (0, 0o100000 | mode, 0, 0, 1, 0, size, 0, 0, 0, 0, len(raw) + 1, 0)
    header = b"070701" + b"".join(b"%08X" % f for f in fields) + raw + b"\0"
    return header + b"\0" * (-len(header) % 4)


class PinMismatch(BootshError):
    """A verified initrd whose bytes are no longer the ones verified."""

    def __init__(self, initrd: PlanFile, digest: bytes) -> None:
        super().__init__(f"{initrd.name} changed after it was verified")
        self.initrd = initrd
        self.digest = digest


def combine_initrds(initrds: tuple[PlanFile, ...], target: Path) -> Path | None:
    """Concatenate the initrds in order into ``target``, each padded to 4 bytes; None if none.

    A pinned initrd is hashed as it is copied: the bytes that reach the kernel are the bytes
    that were verified, or ``PinMismatch`` (and nothing is left behind).
    """
    if not initrds:
        return None
    import hashlib  # only when a kernel boots

    try:
        with target.open("wb") as out:
            for initrd in initrds:
                if initrd.cpio_name is not None:
                    out.write(cpio_header(initrd.cpio_name, initrd.mode, initrd.size))
                digest = hashlib.sha256()
                with initrd.path.open("rb") as src:
                    while chunk := src.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
                if initrd.pin is not None and digest.digest() != initrd.pin:
                    raise PinMismatch(initrd, digest.digest())
                # Everything before is padded to 4 bytes: the position says what this one needs.
                out.write(b"\0" * (-out.tell() % 4))
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


def check_pins(initrds: tuple[PlanFile, ...]) -> None:
    """``PinMismatch`` for the first pinned initrd whose file no longer has its pin (the dry
    run's check: a real boot checks while copying)."""
    import hashlib

    for initrd in initrds:
        if initrd.pin is None:
            continue
        with initrd.path.open("rb") as f:
            digest = hashlib.file_digest(f, "sha256").digest()
        if digest != initrd.pin:
            raise PinMismatch(initrd, digest)


# -- the system calls --------------------------------------------------------------------------


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def syscall_number(machine: str | None = None) -> int:
    machine = machine or platform.machine()
    number = SYSCALLS.get(machine)
    if number is None:
        raise KexecError("ENOTSUP", f"kexec_file_load is not known on {machine}")
    return number


def _lockdown() -> str | None:
    """The kernel's lockdown mode when one is active (``integrity``/``confidentiality``)."""
    try:
        text = Path("/sys/kernel/security/lockdown").read_text()
    except OSError:
        return None
    start, end = text.find("["), text.find("]")
    mode = text[start + 1 : end] if 0 <= start < end else ""
    return mode if mode and mode != "none" else None


#: CAP_SYS_BOOT's bit in the capability sets (linux/capability.h).
_CAP_SYS_BOOT = 22


def _has_cap_sys_boot() -> bool:
    """Whether this process holds CAP_SYS_BOOT (``CapEff`` of /proc/self/status); True when
    that cannot be read (the kernel's answer then stands alone)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> _CAP_SYS_BOOT & 1)
    except (OSError, ValueError, IndexError):
        pass
    return True


def _kexec_disabled() -> bool:
    try:
        return Path("/proc/sys/kernel/kexec_load_disabled").read_text().strip() == "1"
    except OSError:
        return False


def explain(err: int) -> KexecError:
    """The error shown for the kernel's ``err`` from ``kexec_file_load``: the cause, and what
    to do about it, in one line."""
    if err == errno.ENOSYS:
        return KexecError(
            "ENOTSUP",
            "this kernel has no kexec_file_load (built without CONFIG_KEXEC_FILE):"
            " boot bootsh with a kernel that has it",
        )
    if err == errno.EPERM:
        if not _has_cap_sys_boot():
            return KexecError("EPERM", "loading a kernel needs CAP_SYS_BOOT (run bootsh as root)")
        mode = _lockdown()
        if mode is not None:
            return KexecError(
                "EPERM",
                f"the kernel is locked down ({mode}): kexec needs a kernel signed with a key"
                " it trusts, or a boot without Secure Boot",
            )
        if _kexec_disabled():
            return KexecError(
                "EPERM",
                "kexec is disabled (kernel.kexec_load_disabled=1, which lasts until a reboot):"
                " boot bootsh with a kernel or init that leaves it on",
            )
        return KexecError("EPERM", "loading a kernel needs CAP_SYS_BOOT (run bootsh as root)")
    if err in (errno.EKEYREJECTED, errno.EBADMSG, errno.ENOKEY):
        return KexecError(
            "EACCES",
            "the kernel's signature was rejected (KEXEC_SIG enforced, Secure Boot or lockdown):"
            " boot a kernel signed with a key the running kernel trusts",
        )
    if err == errno.ENOEXEC:
        return KexecError(
            "ENOEXEC",
            "the running kernel cannot load this image (not a 64-bit relocatable bzImage,"
            " or cut short): check the file on the server",
        )
    if err == errno.ENOMEM:
        return KexecError(
            "ENOMEM",
            "not enough memory to load the kernel and initrd: give the machine more memory"
            " or use smaller initrds",
        )
    if err == errno.EBUSY:
        return KexecError("EBUSY", "a kexec image is in use (a crash kernel being loaded?)")
    if err == errno.EINVAL:
        return KexecError(
            "EINVAL", "the kernel refused the image or the command line (too long, or damaged)"
        )
    return KexecError("EIO", f"kexec_file_load failed: {os.strerror(err)}")


def load(kernel: Path, initrd: Path | None, cmdline: str) -> None:
    """``kexec_file_load``: load ``kernel`` (and ``initrd``) for the next ``execute``."""
    number = syscall_number()
    libc = _libc()
    data = cmdline.encode("utf-8", "surrogateescape") + b"\0"
    buffer = ctypes.create_string_buffer(data, len(data))
    flags = 0 if initrd is not None else KEXEC_FILE_NO_INITRAMFS
    kernel_fd = os.open(kernel, os.O_RDONLY | os.O_CLOEXEC)
    initrd_fd = -1
    try:
        if initrd is not None:
            initrd_fd = os.open(initrd, os.O_RDONLY | os.O_CLOEXEC)
        ctypes.set_errno(0)
        result = libc.syscall(
            ctypes.c_long(number),
            ctypes.c_long(kernel_fd),
            ctypes.c_long(initrd_fd),
            ctypes.c_ulong(len(data)),
            buffer,
            ctypes.c_ulong(flags),
        )
        if result != 0:
            err = ctypes.get_errno()
            # A failed load leaves nothing loaded, but an earlier image of someone else's
            # may still be there: unloading makes the state clear (best effort).
            unload()
            raise explain(err)
    finally:
        os.close(kernel_fd)
        if initrd_fd >= 0:
            os.close(initrd_fd)


def unload() -> None:
    """``kexec_file_load(..., KEXEC_FILE_UNLOAD)``; errors are ignored (best effort)."""
    try:
        number = syscall_number()
    except KexecError:
        return
    libc = _libc()
    libc.syscall(
        ctypes.c_long(number),
        ctypes.c_long(-1),
        ctypes.c_long(-1),
        ctypes.c_ulong(0),
        None,
        ctypes.c_ulong(KEXEC_FILE_UNLOAD),
    )


def execute() -> None:
    """Start the loaded kernel (``reboot(LINUX_REBOOT_CMD_KEXEC)``); returns only on failure.

    Refuses (after unloading) when ``BOOTSH_NEVER_KEXEC`` is set.
    """
    if os.environ.get(NEVER_ENV) is not None:
        unload()
        raise KexecError("EPERM", f"{NEVER_ENV} is set: the loaded kernel was unloaded again")
    os.sync()
    libc = _libc()
    ctypes.set_errno(0)
    libc.reboot(ctypes.c_int(LINUX_REBOOT_CMD_KEXEC))
    err = ctypes.get_errno()
    unload()
    if err == errno.EPERM:
        raise KexecError("EPERM", "starting the kernel needs CAP_SYS_BOOT")
    raise KexecError("EIO", f"reboot(LINUX_REBOOT_CMD_KEXEC) failed: {os.strerror(err)}")


def boot(plan: BootPlan, workdir: Path) -> None:
    """Load the plan and start it; raises ``KexecError`` when either fails."""
    combined = combine_initrds(plan.initrds, workdir / "initrds.combined")
    try:
        load(plan.kernel.path, combined, plan.cmdline)
        execute()
    finally:
        if combined is not None:
            combined.unlink(missing_ok=True)
