"""The per-shell image store: registered images, their types, and executing one.

This follows iPXE's ``core/image.c`` and ``usr/imgmgmt.c``:

* an image is named after the last segment of its URI's path unless ``--name`` says
  otherwise (no path at all: ``img0``, ``img1``, ...); a second image of the same name is
  registered beside the first and ``find`` returns the first, as ``find_image`` does;
* registering probes the image types that plugins registered (``bootsh_register_image_types``)
  in their order; an image no type claims stays untyped (an initrd, a random file);
* ``select`` marks one image as the one ``boot`` runs without an argument; only an image whose
  type can execute may be selected (else ``Exec format error``), and the mark is dropped
  when that image is freed;
* ``execute`` switches the working URI (``${cwuri}``) to the image's own URI for the time it
  runs, takes the image out of the list while it runs (so that an ``imgstat`` inside a
  script does not list the script itself, and ``boot`` inside it cannot loop into it),
  puts it back at the end of the list afterwards, frees it afterwards when it was marked
  ``--autofree``, and then runs the replacement an ``imgexec --replace`` named, if any;
* trust (iPXE's ``image_set_trust``, ``imgtrust``): once images must be trusted, ``execute``
  refuses one that ``imgverify`` did not verify (``Permission denied``, before it is taken
  out of the list, as iPXE's ``image_exec`` does); ``--permanent`` makes that final.

What was verified is what runs. ``imgverify`` records the SHA-256 of the bytes it verified
(the image's *pin*); executing a pinned image first copies its file into a sealed memory file
(``memfd_create``, then ``F_SEAL_WRITE``: nobody can change it afterwards, not even this
process) while hashing it, and runs that copy, so the bytes checked are the bytes executed. A
file that no longer matches its pin (it was changed on disk after the verification) is
refused, with or without ``imgtrust`` (a bootsh rule: iPXE keeps images in memory, where
nothing else can change them), and loses its trusted mark, with a line saying so.

Image bodies live in files in a private temporary directory (``bootsh-images-*``), one file
per image, removed with the image and the whole directory when the shell ends (``close``),
also at interpreter exit (a ``weakref.finalize``).

``${cwuri}`` is kept as an ordinary global setting named ``cwuri``, so that a script can read
it and a user can point it somewhere (``set cwuri http://server/dir/``); iPXE has the same
variable internally but does not show it. As iPXE's TFTP settings applicator does, a changed
``next-server`` (from a DHCP lease) moves the working URI to ``tftp://NEXT-SERVER/``.
"""

from __future__ import annotations

import contextlib
import enum
import fcntl
import os
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from bootsh.boot.uri import redact, resolve_uri, uri_basename
from bootsh.errors import BootshError
from bootsh.ipxe_errors import error_number
from bootsh.records import dataclass, field

if TYPE_CHECKING:
    import hashlib

    from bootsh.shell import Shell

# -- iPXE's error numbers ----------------------------------------------------------------------

ERRFILE_IMAGE = 0x00008000  # core/image.c
ERRFILE_IMAGE_CMD = 0x000AE000  # hci/commands/image_cmd.c
ERRFILE_BZIMAGE = 0x00818000  # arch/x86/image/bzimage.c (ERRFILE_ARCH | ERRFILE_IMAGE | 0x10000)

#: An image without a type that can execute: ``Exec format error``.
ENOEXEC_IMAGE = error_number("ENOEXEC", ERRFILE_IMAGE)
#: An image whose file cannot be read: ``Input/output error``.
EIO_IMAGE = error_number("EIO", ERRFILE_IMAGE)
#: ``imgexec --replace`` outside a running image: ``Inappropriate I/O control operation``.
ENOTTY_REPLACE = error_number("ENOTTY", ERRFILE_IMAGE)
#: A chain nested deeper than ``MAX_NESTED``: ``Not enough space``, as iPXE runs out of memory.
ENOMEM_NESTED = error_number("ENOMEM", ERRFILE_IMAGE)
#: ``imgstat``/``imgfree`` of a name that is not registered.
ENOENT_IMAGE = error_number("ENOENT", ERRFILE_IMAGE_CMD)

#: ``Untrusted image``: executing an image that is not trusted while trust is required.
EACCES_UNTRUSTED_IMAGE = error_number("EACCES", ERRFILE_IMAGE, 0x01)
#: ``Trust requirement is permanent``: ``imgtrust --allow`` after ``imgtrust --permanent``.
EACCES_PERMANENT = error_number("EACCES", ERRFILE_IMAGE, 0x02)

#: How many images may run inside one another (``chain`` in a chained script); each level
#: costs about ten Python frames, so this stays far below the interpreter's recursion limit.
MAX_NESTED = 32

#: How many bytes of an image the type probes see.
HEADER_SIZE = 64 * 1024

#: The global setting holding the working URI.
CWURI = "cwuri"

_STORE_KEY = "bootsh.boot.images"


class ImageFlag(enum.IntFlag):
    """iPXE's image flags that bootsh keeps."""

    NONE = 0
    #: ``--autofree``: unregistered after it has run.
    AUTO_UNREGISTER = 1
    #: Verified by ``imgverify`` (``[TRUSTED]``; see ``Image.pin``).
    TRUSTED = 2


@dataclass
class Image:
    """One downloaded image: its name, where it came from, its file and what it is."""

    name: str
    uri: str | None
    path: Path
    size: int
    type: ImageType | None = None
    cmdline: str | None = None
    flags: ImageFlag = ImageFlag.NONE
    #: The command that fetched it (``initrd``, ``kernel``, ``chain``, ...): a hint for the
    #: probes (a compressed archive fetched by ``initrd`` is an initrd).
    fetched_by: str = ""
    #: What the type's ``inspect`` found (a kernel's boot protocol and version, ...).
    info: dict[str, str] = field(default_factory=dict)
    #: SHA-256 of the bytes ``imgverify`` verified (set with the TRUSTED flag).
    pin: bytes | None = None

    @property
    def trusted(self) -> bool:
        return bool(self.flags & ImageFlag.TRUSTED)

    def trust(self, pin: bytes) -> None:
        """Mark as verified, with the digest of the bytes that were verified."""
        self.flags |= ImageFlag.TRUSTED
        self.pin = pin

    def untrust(self) -> None:
        """Not verified (any more): ``imgverify`` failed on it."""
        self.flags &= ~ImageFlag.TRUSTED
        self.pin = None

    @property
    def tampered(self) -> bool:
        """Its bytes changed after they were verified: it keeps its pin and never runs."""
        return self.pin is not None and not self.trusted

    #: Whether it came from the network (or was fetched by something that did): while it
    #: runs, downloads may use network schemes only (``bootsh.boot.fetch``).
    network: bool = False

    def header(self) -> bytes:
        """The first ``HEADER_SIZE`` bytes of the body."""
        with self.path.open("rb") as f:
            return f.read(HEADER_SIZE)

    @property
    def executable(self) -> bool:
        return self.type is not None and self.type.exec is not None

    @property
    def args(self) -> list[str]:
        """The command line split on spaces, as a script sees its arguments."""
        return self.cmdline.split() if self.cmdline else []


#: ``exec(shell, image) -> status``: run the image; the status is an iPXE error number (0 ok).
ExecHandler = Callable[["Shell", Image], int]
#: ``probe(image, header) -> bool``: whether the image is of this type.
Probe = Callable[[Image, bytes], bool]
#: ``inspect(image, header) -> facts``: what is worth knowing about an image of this type.
Inspect = Callable[[Image, bytes], Mapping[str, str]]


@dataclass(frozen=True)
class ImageType:
    """What a plugin registers through ``bootsh_register_image_types``.

    ``order`` sorts the probes (lower first, ties by registration): iPXE probes in link
    order with ``PROBE_NORMAL`` before ``PROBE_PXE``. A Linux kernel with an EFI stub is
    both a bzImage and a PE file, so the bzImage probe must come first.
    """

    name: str
    probe: Probe
    exec: ExecHandler | None = None
    order: int = 50
    inspect: Inspect | None = None
    #: Whether ``imgstat`` shows ``[name]``. iPXE has no initrd type, so bootsh's initrd
    #: type is not shown, and ``imgstat`` prints what iPXE prints.
    shown: bool = True
    help: str = ""
    #: Filled in by the host: the plugin that registered it.
    source: str = ""


class ImageStore:
    """The images of one shell, in registration order; see the module docstring."""

    def __init__(self, types: list[ImageType]) -> None:
        self.types = sorted(types, key=lambda t: t.order)
        self.directory = Path(tempfile.mkdtemp(prefix="bootsh-images-"))
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.directory, True)
        self.images: list[Image] = []
        self.selected: Image | None = None
        #: The running image and the ones it interrupted (nested ``chain``).
        self.running: list[Image] = []
        #: What ``imgexec --replace`` asked the running image to be replaced with.
        self.replacements: dict[int, Image] = {}
        self._index = 0
        self._files = 0
        self._next_server: str | None = None
        #: iPXE's ``require_trusted_images`` and ``require_trusted_images_permanent``.
        self.require_trusted = False
        self.trust_permanent = False

    # -- life cycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Forget every image and remove their files."""
        self.images.clear()
        self.selected = None
        self._finalizer()

    def new_file(self) -> str:
        """A file name in ``directory`` that no other image uses."""
        self._files += 1
        return f"image{self._files:04d}"

    # -- the list ---------------------------------------------------------------------------

    def register(self, image: Image) -> None:
        """Add at the end of the list (``register_image``), probing its type if it has none."""
        self.images.append(image)
        if image.type is None:
            self.probe(image)

    def name_for(self, uri: str | None) -> str:
        """iPXE's name for a new image from ``uri``: its basename, else ``imgN``."""
        name = uri_basename(uri) if uri else None
        if name is None:
            name = f"img{self._index}"
            self._index += 1
        return name

    def probe(self, image: Image) -> None:
        try:
            header = image.header()
        except OSError:
            return
        for image_type in self.types:
            try:
                matched = image_type.probe(image, header)
            except Exception:  # a plugin's probe must not break registration
                matched = False
            if matched:
                image.type = image_type
                if image_type.inspect is not None:
                    with contextlib.suppress(Exception):  # facts are optional
                        image.info.update(image_type.inspect(image, header))
                return

    def unregister(self, image: Image) -> None:
        """Take the image out of the list; its file stays (it may be running)."""
        if image in self.images:
            self.images.remove(image)

    def free(self, image: Image) -> None:
        """Unregister for good: drop the selection mark and remove the file."""
        self.unregister(image)
        if self.selected is image:
            self.selected = None
        if image not in self.running:
            image.path.unlink(missing_ok=True)

    def find(self, name: str) -> Image | None:
        """The first registered image called ``name``."""
        for image in self.images:
            if image.name == name:
                return image
        return None

    def find_selected(self) -> Image | None:
        image = self.selected
        return image if image is not None and image in self.images else None

    def select(self, image: Image) -> int:
        """``image_select``: 0, or ENOEXEC for an image no type can execute."""
        if not image.executable:
            return ENOEXEC_IMAGE
        self.selected = image
        return 0

    def is_registered(self, image: Image) -> bool:
        return image in self.images

    # -- trust --------------------------------------------------------------------------------

    def set_trust(self, require: bool, permanent: bool) -> int:
        """``image_set_trust``: 0, or EACCES_PERMANENT when a permanent requirement would change.

        As in iPXE, a permanent setting cannot be changed at all afterwards, in either
        direction (``imgtrust --allow --permanent`` forbids ever requiring trust).
        """
        if not self.trust_permanent:
            self.require_trusted = require
            self.trust_permanent = permanent
        return EACCES_PERMANENT if self.require_trusted != require else 0

    def check_pin(self, shell: Shell, image: Image, digest: bytes) -> bool:
        """Whether ``image`` may run with ``digest`` (of its bytes now): yes when it has no pin
        or is trusted with that pin. A mismatch means it was changed after it was verified: it
        loses its trusted mark for good (it keeps the pin, so it never runs again until
        ``imgverify`` passes or ``imgfree`` frees it), and the line says so."""
        if image.pin is None or (image.trusted and digest == image.pin):
            return True
        image.flags &= ~ImageFlag.TRUSTED
        shell.diagnose(
            f"{image.name} changed after imgverify verified it (SHA-256 now {digest.hex()},"
            f" verified {image.pin.hex()}): refused, and no longer trusted"
        )
        return False

    def refuse_untrusted(self, shell: Shell, image: Image, what: str = "cannot run") -> bool:
        """Whether trust is required and ``image`` lacks it (then says so, after ``what``)."""
        if not self.require_trusted or image.trusted:
            return False
        shell.diagnose(
            f"{what} {image.name}: it is not trusted, and imgtrust requires trusted images"
            " (verify it with imgverify first)"
        )
        return True

    # -- the working URI ----------------------------------------------------------------------

    def cwuri(self, shell: Shell) -> str | None:
        """The working URI, after applying a changed ``next-server`` as iPXE's TFTP does."""
        server = shell.settings.get("next-server")
        if server and server != "0.0.0.0" and server != self._next_server:
            self._next_server = server
            set_cwuri(shell, resolve_uri(_get_cwuri(shell), f"tftp://{server}/"))
        return _get_cwuri(shell)

    def resolve(self, shell: Shell, uri: str) -> str:
        """``uri`` resolved against the working URI (absolute URIs stay as they are)."""
        return resolve_uri(self.cwuri(shell), uri)

    # -- executing ----------------------------------------------------------------------------

    def execute(self, shell: Shell, image: Image) -> int:
        """``image_exec``: run ``image`` with the working URI set to its own URI.

        A replacement named by ``imgexec --replace`` runs in this same loop, not in a nested
        call: a script that replaces itself forever is iPXE's endless loop (Ctrl-C ends it),
        never a Python ``RecursionError``.
        """
        current: Image | None = image
        status = 0
        while current is not None:
            if len(self.running) >= MAX_NESTED:
                # iPXE nests chained images on its stack until memory runs out; bootsh
                # stops at a fixed depth, far below Python's recursion limit.
                shell.diagnose(f"cannot run {current.name}: more than {MAX_NESTED} nested images")
                return ENOMEM_NESTED
            status, current = self._execute_once(shell, current)
        return status

    def _execute_once(self, shell: Shell, image: Image) -> tuple[int, Image | None]:
        """Run ``image`` once; return its status and the replacement it asked for, if any."""
        old_cwuri = self.cwuri(shell)
        if image.uri:
            set_cwuri(shell, resolve_uri(old_cwuri, image.uri))
        replacement: Image | None = None
        self.running.append(image)
        try:
            if image.type is None or image.type.exec is None:
                status = ENOEXEC_IMAGE
            else:
                with snapshot(shell, self, image) as refusal:
                    if refusal:
                        status = refusal
                    elif self.refuse_untrusted(shell, image):
                        status = EACCES_UNTRUSTED_IMAGE
                    else:
                        status, replacement = self._run(shell, image)
        finally:
            self.running.pop()
            if image.flags & ImageFlag.AUTO_UNREGISTER or not self.is_registered(image):
                self.free(image)
            set_cwuri(shell, old_cwuri)
        return status, replacement

    def _run(self, shell: Shell, image: Image) -> tuple[int, Image | None]:
        """The type's ``exec``, with the image out of the list while it runs."""
        assert image.type is not None and image.type.exec is not None
        self.unregister(image)
        replacement: Image | None = None
        try:
            status = image.type.exec(shell, image)
        except OSError as exc:  # the image's file vanished or cannot be read
            shell.diagnose(f"cannot run {image.name}: {exc.strerror or exc}")
            status = EIO_IMAGE
        finally:
            # Back at the end of the list, unless it asked to be replaced.
            replacement = self.replacements.pop(id(image), None)
            if replacement is None:
                self.images.append(image)
        return status, replacement

    def replace_current(self, image: Image) -> int:
        """``image_replace``: the running image is to be replaced by ``image`` when it ends."""
        if not self.running:
            return ENOTTY_REPLACE
        if not image.executable:
            return ENOEXEC_IMAGE
        self.replacements[id(self.running[-1])] = image
        return 0

    # -- display ------------------------------------------------------------------------------

    def stat_line(self, image: Image) -> str:
        """iPXE's ``imgstat`` line: ``name : N bytes [type] [SELECTED] [AUTOFREE] "cmdline"``."""
        text = f"{image.name} : {image.size} bytes"
        if image.type is not None and image.type.shown:
            text += f" [{image.type.name}]"
        if image.flags & ImageFlag.TRUSTED:
            text += " [TRUSTED]"
        if self.selected is image:
            text += " [SELECTED]"
        if image.flags & ImageFlag.AUTO_UNREGISTER:
            text += " [AUTOFREE]"
        if image.cmdline is not None:
            text += f' "{image.cmdline}"'
        return text


# -- executing what was verified ------------------------------------------------------------

CHUNK = 1 << 20


class SealedCopy:
    """A copy of a file that cannot change any more, and the SHA-256 of its bytes.

    A sealed memory file (``memfd_create`` with ``F_SEAL_WRITE``/``SHRINK``/``GROW``/``SEAL``)
    reached through ``/proc/self/fd``; where there is no memfd or no ``/proc``, a read-only copy
    in the shell's private image directory.
    """

    def __init__(self, source: Path, directory: Path) -> None:
        import hashlib  # OpenSSL's bindings: loaded when a verified image runs, not at start-up

        self._fd: int | None = None
        self._file: Path | None = None
        digest = hashlib.sha256()
        fd = _sealable_fd()
        with source.open("rb") as src:
            if fd is not None:
                self._fd = fd
                with os.fdopen(os.dup(fd), "wb") as out:
                    _copy(src, out, digest)
                fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _SEALS)
                self.path = Path(f"/proc/self/fd/{fd}")
            else:
                self._file = directory / f"sealed-{os.getpid()}-{id(self):x}"
                with self._file.open("xb") as out:
                    _copy(src, out, digest)
                self._file.chmod(0o400)
                self.path = self._file
        self.digest = digest.digest()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._file is not None:
            self._file.unlink(missing_ok=True)
            self._file = None


_SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE


def _sealable_fd() -> int | None:
    if not Path("/proc/self/fd").is_dir():
        return None
    try:
        return os.memfd_create("bootsh-image", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    except OSError:  # an old kernel, or no memory left for it: the private copy will do
        return None


def _copy(src: BinaryIO, out: BinaryIO, digest: hashlib._Hash) -> None:
    while chunk := src.read(CHUNK):
        digest.update(chunk)
        out.write(chunk)


@contextlib.contextmanager
def snapshot(shell: Shell, store: ImageStore, image: Image) -> Iterator[int]:
    """While the block runs, a pinned ``image`` is a sealed copy of its file, checked against
    its pin. Yields 0, or the error that refuses it: ``Untrusted image`` when its bytes are not
    the ones verified, ``Input/output error`` when its file cannot be read."""
    if image.pin is None:
        yield 0
        return
    try:
        copy = SealedCopy(image.path, store.directory)
    except OSError as exc:
        shell.diagnose(f"cannot run {image.name}: {exc.strerror or exc}")
        yield EIO_IMAGE
        return
    original = image.path
    try:
        if not store.check_pin(shell, image, copy.digest):
            yield EACCES_UNTRUSTED_IMAGE
            return
        image.path = copy.path
        yield 0
    finally:
        image.path = original
        copy.close()


def file_digest(path: Path) -> bytes:
    """SHA-256 of a file's bytes (to compare with a pin)."""
    import hashlib

    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").digest()


def _get_cwuri(shell: Shell) -> str | None:
    return shell.settings.get(CWURI) or None


def set_cwuri(shell: Shell, uri: str | None) -> None:
    """Point ``${cwuri}`` at ``uri`` (None or "" clears it)."""
    shell.settings.set(CWURI, uri or "")


def store_of(shell: Shell) -> ImageStore:
    """The shell's image store, made (with the registered image types) on first use."""

    def make() -> ImageStore:
        try:
            return ImageStore(shell.host.image_types())
        except OSError as exc:
            # Not tempfile.gettempdir() in the message: with no writable temporary directory
            # at all (a read-only rescue system) it raises again; its own text names them.
            where = f" {exc.filename}" if exc.filename else ""
            raise BootshError(
                f"cannot create the image directory{where}: {exc.strerror or exc}"
                " (set TMPDIR to a writable directory)"
            ) from None

    return shell.state_for(_STORE_KEY, ImageStore, make)


def network_requester(shell: Shell) -> str | None:
    """The innermost running image that came from the network, as a phrase for messages
    (``the script http://10.0.0.1/menu.ipxe``), or None when only the user's own input runs.

    Any such image on the stack counts, not only the innermost: a local script that a
    network script chains runs on its behalf (its settings, its arguments).
    """
    store = shell.state.get(_STORE_KEY)
    if not isinstance(store, ImageStore):
        return None
    for image in reversed(store.running):
        if image.network:
            kind = image.type.name if image.type is not None else "image"
            return f"the {kind} {redact(image.uri or image.name)}"
    return None


def registered_names(shell: Shell) -> list[str]:
    """The registered images' names, without making a store (completion must not create
    the image directory)."""
    store = shell.state.get(_STORE_KEY)
    return [image.name for image in store.images] if isinstance(store, ImageStore) else []


def close_store(shell: Shell) -> None:
    """Remove the shell's images and their directory (the shell is ending)."""
    store = shell.state.pop(_STORE_KEY, None)
    if isinstance(store, ImageStore):
        store.close()
