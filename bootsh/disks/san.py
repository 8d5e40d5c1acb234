"""The SAN drives of one shell and iPXE's ``uriboot`` flow for ``sanhook``/``sanboot``/
``sanunhook``.

A drive number (``0x80``...) names either a hooked SAN drive (an ``iscsi:`` LUN, or an image
from ``http://``, ``https://``, ``tftp://``, ``file://``) or, when none is hooked there, the
local drive of that rank (``scan.local_drives``), unless the running system uses it
(``inuse``) or, under ``BOOTSH_NEVER_KEXEC``, it was not named with ``--disk``. An image over
a URI is downloaded into the image directory first, through the same fetch as ``imgfetch``
(streamed to disk: memory stays bounded whatever its size, the disk space needed is the
image's; every scheme and server works, where range requests would need a server that
honours them, and the mounts of the loop devices would turn each kernel read into an HTTP
request), and removed on unhook.

Booting a drive (``san_boot``): open it, choose the entry (``scan.choose``), copy its kernel
and initrds into the image store, close every file system, then run the kernel through
``ImageStore.execute`` exactly as ``boot`` would: ``--dry-run`` prints the plan, image trust
applies, kexec does the rest. Only the entry's own files are in the plan: other registered
images stay registered but out of it. A live ISO booted over HTTP(S) is told where its ISO
is (Ubuntu's casper ``url=``, dracut's ``root=live:URL``); a Debian live ISO
(``boot=live``) cannot be booted this way (live-boot wants its squashfs, not the ISO) and is
refused with that reason.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING

from bootsh.boot.images import ERRFILE_IMAGE, Image, store_of
from bootsh.boot.kexec import NEVER_ENV
from bootsh.disks import iscsi
from bootsh.disks.entries import BootEntry
from bootsh.disks.inuse import in_use
from bootsh.disks.scan import (
    DriveScan,
    ScanError,
    Volume,
    choose,
    choose_file,
    local_drives,
    open_drive,
)
from bootsh.ipxe_errors import error_number, strerror
from bootsh.records import dataclass, field

if TYPE_CHECKING:
    from bootsh.shell import Shell

ERRFILE_SANBOOT = 0x00232000  # core/sanboot.c
ERRFILE_EFI_BLOCK = 0x00222000  # interface/efi/efi_block.c: the EFI SAN boot bootsh is like
#: A drive number already hooked: ``Address already in use``.
EADDRINUSE_SAN = error_number("EADDRINUSE", ERRFILE_SANBOOT)
#: No drive of that number: ``No such device``.
ENODEV_SAN = error_number("ENODEV", ERRFILE_EFI_BLOCK)
#: A drive with no bootable Linux entry: ``No such file or directory``.
ENOENT_SAN = error_number("ENOENT", ERRFILE_EFI_BLOCK)
#: A drive or file system that could not be read: ``Input/output error``.
EIO_SAN = error_number("EIO", ERRFILE_EFI_BLOCK)
#: A root path of a scheme bootsh cannot hook: ``Operation not supported``.
ENOTSUP_SAN = error_number("ENOTSUP", ERRFILE_SANBOOT)
#: A local drive the running system uses (a partition mounted, swap): ``Device or resource
#: busy``.
EBUSY_SAN = error_number("EBUSY", ERRFILE_EFI_BLOCK)
#: A drive found in sysfs while ``BOOTSH_NEVER_KEXEC`` is set: ``Operation not permitted``.
EPERM_SAN = error_number("EPERM", ERRFILE_EFI_BLOCK)
#: A live ISO that cannot boot this way: ``Exec format error``.
ENOEXEC_SAN = error_number("ENOEXEC", ERRFILE_IMAGE)

TEXTS = {**iscsi.TEXTS, EADDRINUSE_SAN: "Address already in use"}

DEFAULT_DRIVE = 0x80
_STATE_KEY = "bootsh.disks.san"

URIBOOT_NO_SAN_DESCRIBE = 1
URIBOOT_NO_SAN_BOOT = 2
URIBOOT_NO_SAN_UNHOOK = 4


def sanstrerror(number: int) -> str:
    return strerror(number, TEXTS)


@dataclass
class SanDrive:
    number: int
    uri: str
    path: str
    described: bool
    attachment: iscsi.Attachment | None = None
    root: iscsi.RootPath | None = None
    creds: iscsi.Credentials | None = None
    image: Image | None = None

    def close(self, shell: Shell) -> None:
        if self.attachment is not None:
            self.attachment.detach()
            self.attachment = None
        if self.image is not None:
            store_of(shell).free(self.image)
            self.image = None


@dataclass
class SanState:
    drives: dict[int, SanDrive] = field(default_factory=dict)


def state_of(shell: Shell) -> SanState:
    return shell.state_for(_STATE_KEY, SanState, SanState)


def default_drive(shell: Shell) -> int:
    """iPXE's ``san_default_drive``: the ``san-drive`` setting, else 0x80."""
    text = shell.settings.get("san-drive")
    if text:
        with contextlib.suppress(ValueError):
            return int(text, 0) & 0xFF if not text.isdigit() else int(text) & 0xFF
    return DEFAULT_DRIVE


def _setting_true(shell: Shell, name: str) -> bool:
    text = shell.settings.get(name)
    if not text:
        return False
    try:
        return int(text, 0) != 0
    except ValueError:
        return True


# -- hooking ----------------------------------------------------------------------------------


def _credentials(shell: Shell) -> iscsi.Credentials:
    get = shell.settings.get
    return iscsi.Credentials(
        get("initiator-iqn") or iscsi.default_initiator(get("hostname")),
        get("username") or "",
        get("password") or "",
        get("reverse-username") or "",
        get("reverse-password") or "",
    )


def _hook_one(shell: Shell, uri: str, number: int, described: bool) -> SanDrive:
    scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
    if scheme == "iscsi":
        root = iscsi.parse_root_path(uri)
        creds = _credentials(shell)
        creds.check()
        attachment = iscsi.Attachment(root, creds)
        try:
            attachment.attach()
        except BaseException:
            attachment.detach()
            raise
        return SanDrive(number, uri, str(attachment.path), described, attachment, root, creds)
    if scheme in ("http", "https", "tftp", "file", "ftp"):
        from bootsh.boot.fetch import FetchError, fetch  # the HTTP stack: only when used

        store = store_of(shell)
        try:
            done = fetch(shell, uri, store.directory, name=store.new_file())
        except FetchError as exc:
            raise _Hookfail(exc.errno, "") from None
        image = Image(store.name_for(uri), done.uri, done.path, done.size, fetched_by="sanhook")
        return SanDrive(number, uri, str(done.path), described, image=image)
    raise _Hookfail(ENOTSUP_SAN, f"{uri}: bootsh cannot hook a {scheme or 'relative'} root path")


class _Hookfail(Exception):
    def __init__(self, number: int, why: str) -> None:
        super().__init__(why)
        self.errno = number
        self.why = why


def hook(shell: Shell, uris: list[str], number: int, described: bool) -> int:
    """``san_hook``: the first of ``uris`` (multipath: tried in order) that attaches."""
    state = state_of(shell)
    if number in state.drives:
        return EADDRINUSE_SAN
    status = ENODEV_SAN
    for uri in uris:
        try:
            drive = _hook_one(shell, uri, number, described)
        except iscsi.IscsiError as exc:
            shell.diagnose(f"{uri}: {exc.why}")
            status = exc.errno
            continue
        except _Hookfail as exc:
            if exc.why:
                shell.diagnose(exc.why)
            status = exc.errno
            continue
        except KeyboardInterrupt:
            from bootsh.boot.fetch import ECANCELED_FETCH

            return ECANCELED_FETCH
        state.drives[number] = drive
        return 0
    return status


def unhook(shell: Shell, number: int) -> None:
    drive = state_of(shell).drives.pop(number, None)
    if drive is not None:
        drive.close(shell)


def unhook_all(shell: Shell) -> None:
    for number in list(state_of(shell).drives):
        with contextlib.suppress(Exception):
            unhook(shell, number)


# -- booting ----------------------------------------------------------------------------------


def drive_path(shell: Shell, number: int) -> str | None:
    hooked = state_of(shell).drives.get(number)
    if hooked is not None:
        return hooked.path
    local = local_drives(shell.context.config.sysfs_root, shell.context.config.disks)
    index = number - DEFAULT_DRIVE
    return local[index] if 0 <= index < len(local) else None


def _refuse_local(shell: Shell, number: int, path: str) -> int:
    """Why local drive ``path`` must not be opened (diagnosed), as an iPXE error, or 0.

    Two safeties, as for kexec: with ``BOOTSH_NEVER_KEXEC`` set (the tests set it) only the
    drives named with ``--disk`` are read, never the ones found in sysfs, so that a test can
    never read the disks of the machine it runs on; and a drive the running system uses
    (``inuse``) is refused whoever asks.
    """
    if not shell.context.config.disks and os.environ.get(NEVER_ENV) is not None:
        shell.diagnose(
            f"SAN device {number:#02x} ({path}): {NEVER_ENV} is set: only drives named with"
            " --disk are read"
        )
        return EPERM_SAN
    why = in_use(path)
    if why is not None:
        shell.diagnose(
            f"SAN device {number:#02x} ({path}) is in use by this system ({why}): not reading it"
        )
        return EBUSY_SAN
    return 0


def _summary(scan: DriveScan) -> str:
    parts: list[str] = list(scan.problems)
    for volume in scan.volumes:
        if volume.problem:
            parts.append(f"{volume.describe()}: {volume.problem}")
    for volume, menu in scan.menus:
        for problem in menu.problems[:3]:
            parts.append(f"{volume.describe()} {menu.source}: {problem}")
    if not parts:
        parts.append("no boot loader configuration found")
    return "; ".join(parts[:8])


def _with_words(words: list[str], extra: list[str]) -> str:
    """``words`` + ``extra``, the extra ones before a ``---`` (what follows ``---`` is for the
    installed system: Debian's and Ubuntu's installers copy it into its boot loader)."""
    if "---" in words:
        i = words.index("---")
        return " ".join([*words[:i], *extra, *words[i:]])
    return " ".join([*words, *extra])


def _live_iso(drive: SanDrive | None, entry: BootEntry) -> tuple[str, str | None]:
    """The command line a live ISO booted over HTTP needs to find itself again, or a refusal.

    After kexec the ISO is nowhere the next kernel can see: Ubuntu's casper (a kernel or
    initrd under ``/casper/``, or ``boot=casper``) downloads it again with ``url=``; dracut's
    ``root=live:`` takes the URL in place of the label; Debian's live-boot (``boot=live``) can
    only fetch a squashfs (``fetch=``), not an ISO: refused with that reason.
    """
    words = entry.cmdline.split()
    if drive is None or drive.image is None or not drive.uri.lower().startswith("http"):
        return entry.cmdline, None
    ip = [] if any(w.startswith("ip=") for w in words) else ["ip=dhcp"]
    casper = "boot=casper" in words or any(
        p.startswith("/casper/") for p in [entry.kernel, *entry.initrds]
    )
    if casper:
        kept = [w for w in words if not w.startswith("url=")]
        return _with_words(kept, [f"url={drive.uri}", *ip]), None
    if any(w.startswith("root=live:") for w in words):
        words = [f"root=live:{drive.uri}" if w.startswith("root=live:") else w for w in words]
        return _with_words(words, ip), None
    if "boot=live" in words:
        return entry.cmdline, (
            "this is a Debian live ISO (boot=live): live-boot can fetch its squashfs over the"
            " network (fetch=), not the ISO, so it cannot be booted this way"
        )
    return entry.cmdline, None


def _lost(drive: SanDrive | None) -> str | None:
    """Why a hooked iSCSI drive's target is gone, if it is (its watchdog says so)."""
    return drive.attachment.lost if drive is not None and drive.attachment is not None else None


def san_boot(shell: Shell, number: int, *, filename: str | None = None,
             label: str | None = None, uuid: str | None = None) -> int:  # fmt: skip
    """Boot drive ``number``: choose its entry, copy its files out, boot like ``boot``."""
    path = drive_path(shell, number)
    if path is None:
        shell.diagnose(f"SAN device {number:#02x}: there is no such drive")
        return ENODEV_SAN
    hooked = state_of(shell).drives.get(number)
    if hooked is None:
        refused = _refuse_local(shell, number, path)
        if refused:
            return refused
    try:
        scan = open_drive(path)
    except ScanError as exc:
        shell.diagnose(f"SAN device {number:#02x}: {_lost(hooked) or exc}")
        return EIO_SAN
    store = store_of(shell)
    ours: list[Image] = []
    with scan:

        def wanted(volume: Volume) -> bool:
            """``--label``/``--uuid``: where to look (GRUB's search still reaches the rest)."""
            return (label is None or volume.label == label) and (
                uuid is None or volume.uuid.lower() == uuid.lower()
            )

        if (label is not None or uuid is not None) and not any(map(wanted, scan.volumes)):
            asked = " and ".join(
                f"{what} {value!r}" for what, value in (("label", label), ("UUID", uuid)) if value
            )
            shell.diagnose(f"SAN device {number:#02x} ({path}): no file system with {asked}")
            return ENOENT_SAN
        try:
            if filename is not None:
                found = choose_file(scan, filename, wanted)
            else:
                found = choose(scan, wanted)
        except OSError as exc:  # a read error no file system accessor caught
            shell.diagnose(f"SAN device {number:#02x}: {_lost(hooked) or exc}")
            return EIO_SAN
        if found is None and _lost(hooked):
            shell.diagnose(f"SAN device {number:#02x}: {_lost(hooked)}")
            return EIO_SAN
        if found is None:
            unreadable = any(v.problem and v.kind and "cannot" in v.problem for v in scan.volumes)
            shell.diagnose(
                f"SAN device {number:#02x} ({path}): no bootable Linux entry: {_summary(scan)}"
            )
            return EIO_SAN if unreadable else ENOENT_SAN
        entry = found.entry
        cmdline, refusal = _live_iso(hooked, entry)
        if refusal is not None:
            shell.diagnose(f"SAN device {number:#02x}: {refusal}")
            return ENOEXEC_SAN
        described = sorted(
            (d for d in state_of(shell).drives.values() if d.described and d.root and d.creds),
            key=lambda d: (d.number != number, d.number),  # the boot drive first
        )
        words, notes = iscsi.cmdline_for(
            [(f"{d.number:#02x}", d.root, d.creds) for d in described if d.root and d.creds],
            entry.initrds,
            cmdline,
        )
        cmdline = " ".join([cmdline, *words]).strip()
        for note in notes:
            shell.diagnose(note)
        where = found.config_volume.describe()
        shell.print(
            f'SAN {number:#02x} {where}: {found.menu.source} "{entry.title}"'
            + (f" ({' > '.join(entry.path)})" if entry.path and entry.loader == "grub" else "")
        )
        fs = found.files_volume.fs
        assert fs is not None
        try:
            for i, file in enumerate([entry.kernel, *entry.initrds]):
                dest = store.directory / store.new_file()
                size = fs.copy_out(file, dest)
                name = file.rstrip("/").rsplit("/", 1)[-1] or file
                image = Image(name, None, dest, size, fetched_by="sanboot" if i == 0 else "initrd")
                ours.append(image)
        except Exception as exc:
            for image in ours:
                image.path.unlink(missing_ok=True)
            shell.diagnose(f"SAN device {number:#02x}: {_lost(hooked) or f'cannot read {exc}'}")
            return EIO_SAN
    # Every file system is closed (unmounted) now; the boot runs from the image store.
    saved = list(store.images)
    store.images = []
    kernel = ours[0]
    kernel.cmdline = cmdline
    try:
        for image in ours:
            store.register(image)
        status = store.execute(shell, kernel)
    finally:
        for image in ours:
            store.free(image)
        store.images = saved + [i for i in store.images if i not in ours and i not in saved]
    return status


def uriboot(shell: Shell, uris: list[str], number: int, flags: int, *,
            filename: str | None = None, label: str | None = None,
            uuid: str | None = None) -> int:  # fmt: skip
    """iPXE's ``uriboot`` without a filename: hook, boot, unhook, with its messages."""
    if uris:
        status = hook(shell, uris, number, not flags & URIBOOT_NO_SAN_DESCRIBE)
        if status:
            shell.print(f"Could not open SAN device: {sanstrerror(status)}")
            return status
        shell.print(f"Registered SAN device {number:#02x}")
    status = 0
    if not flags & URIBOOT_NO_SAN_BOOT:
        if not _setting_true(shell, "skip-san-boot"):
            name = f" {filename}" if filename else ""
            shell.print(f"Booting{name} from SAN device {number:#02x}")
            status = san_boot(shell, number, filename=filename, label=label, uuid=uuid)
            if status:
                shell.print(f"Boot from SAN device {number:#02x} failed: {sanstrerror(status)}")
        else:
            shell.print(f"Skipping boot from SAN device {number:#02x}")
    if not flags & URIBOOT_NO_SAN_UNHOOK:
        if not _setting_true(shell, "keep-san"):
            unhook(shell, number)
            shell.print(f"Unregistered SAN device {number:#02x}")
        else:
            shell.print(f"Preserving SAN device {number:#02x}")
    return status
