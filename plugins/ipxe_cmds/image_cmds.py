"""Image commands: ``imgfetch``, ``imgselect``, ``imgexec``, ``imgargs``, ``imgstat``,
``imgfree`` and the digest commands, as iPXE's ``hci/commands/image_cmd.c``,
``usr/imgmgmt.c`` and ``hci/commands/digest_cmd.c``.

The "img{single}" family (``imgfetch``/``module``/``initrd``, ``imgselect``/``imgload``/
``kernel``, ``imgexec``/``chain``/``boot``, ``imgargs``) takes an image name or a URI and
arguments: ``imgfetch`` always downloads; the others use a registered image of that name
if there is one, and download the URI otherwise. A URI is resolved against ``${cwuri}``;
the download line shows it as typed. Then, in iPXE's order: ``--name`` renames, the
arguments become the command line (``imgargs`` clears it first), ``--autofree`` marks the
image to be freed after it ran, and the action runs: ``imgselect`` selects (``Could not
select: ...``), ``imgexec`` executes (``Could not boot: ...``) or, with ``--replace``,
makes the running script hand over to the image when it ends. ``imgexec`` without an image
runs the selected one (none: ``No image selected``, which iPXE does not count as a failure).

Options and usage come from ``bootsh.lang.ipxe_syntax``, the table of iPXE's commands, so that
the shell and ``bootsh --check`` agree.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Iterable

from bootsh.api import (
    ECANCELED_FETCH,
    ENOENT_IMAGE,
    STOP_SEQUENCE,
    BootshError,
    Command,
    Completer,
    FetchError,
    Handler,
    Image,
    ImageFlag,
    Invocation,
    NamedSetting,
    SettingsError,
    Shell,
    claim_params,
    close_store,
    error_number,
    fetch,
    ifcommon,
    parse_integer,
    parse_uri,
    redact,
    registered_names,
    store_of,
    strerror,
)
from bootsh_ipxe_cmds.netdev_cmds import netdev_names
from bootsh_ipxe_cmds.records import command_from_syntax

ERRFILE_AUTOBOOT = 0x0003E000  # usr/autoboot.c
#: ``Nothing to boot`` (ENOENT_BOOT).
ENOENT_BOOT = error_number("ENOENT", ERRFILE_AUTOBOOT, 0x01)


def image_names(shell: Shell, prefix: str) -> Iterable[str]:
    return [name for name in registered_names(shell) if name.startswith(prefix)]


# -- acquiring an image ------------------------------------------------------------------------


def _timeout(inv: Invocation) -> float | None:
    text = inv.value("timeout")
    if text is None:
        return None
    ms = parse_integer(text)
    return ms / 1000 if ms else None


def download(
    shell: Shell,
    uri: str,
    *,
    timeout: float | None = None,
    quiet: bool = False,
    fetched_by: str = "",
    requester: str | None = None,
) -> Image | int:
    """``imgdownload``: fetch ``uri`` (resolved against ``${cwuri}``) and register it.

    Returns the image, or the iPXE error number (the download line already said why).
    ``requester``: what came from the network and named the URI (a DHCP server), for
    ``fetch``'s rule on local schemes.
    """
    store = store_of(shell)
    # iPXE's parse_uri(): a "##params" suffix names a request parameter list, which the
    # download takes; the rest is the URI.
    uri, params = claim_params(shell, uri)
    absolute = store.resolve(shell, uri)
    try:
        done = fetch(
            shell,
            absolute,
            store.directory,
            name=store.new_file(),
            timeout=timeout,
            quiet=quiet,
            label=redact(uri),
            params=params,
            requester=requester,
        )
    except FetchError as exc:
        return exc.errno
    except KeyboardInterrupt:
        return ECANCELED_FETCH
    # Named after the URI as typed, as iPXE's alloc_image() does before any resolution:
    # "imgfetch ${unset}" fetches ${cwuri} itself but is called img0, not after the script.
    image = Image(
        store.name_for(uri),
        done.uri,
        done.path,
        done.size,
        fetched_by=fetched_by,
        network=done.network,
    )
    store.register(image)
    return image


def acquire(shell: Shell, name_uri: str, inv: Invocation) -> Image | int:
    """``imgacquire``: the registered image called ``name_uri``, or a download of it."""
    image = store_of(shell).find(name_uri)
    if image is not None:
        return image
    return _download(inv, name_uri)


def _download(inv: Invocation, uri: str, requester: str | None = None) -> Image | int:
    """``download`` with the command's ``--timeout`` and ``--quiet``."""
    return download(
        inv.shell,
        uri,
        timeout=_timeout(inv),
        quiet=inv.flag("quiet"),
        fetched_by=inv.name,
        requester=requester,
    )


Action = Callable[[Shell, Image, Invocation], int]


def _single(
    inv: Invocation,
    *,
    fetch_only: bool = False,
    clear_args: bool = False,
    action: Action | None = None,
    verb: str = "",
) -> int:
    """iPXE's ``imgsingle_exec``."""
    shell = inv.shell
    store = store_of(shell)
    cmdline = " ".join(inv.args[1:]) if len(inv.args) > 1 else None
    if inv.args:
        got = _download(inv, inv.args[0]) if fetch_only else acquire(shell, inv.args[0], inv)
        if isinstance(got, int):
            return got
        image = got
    else:
        selected = store.find_selected()
        if selected is None:
            # Also after a lease: iPXE does not fall back to its boot file (``autoboot``
            # does that), as measured against the real one.
            shell.print("No image selected")
            return 0  # iPXE returns the (successful) option parsing status here
        image = selected
    if clear_args:
        image.cmdline = None
    name = inv.value("name")
    if name is not None:
        image.name = name
    if cmdline is not None:
        image.cmdline = cmdline
    if inv.flag("autofree"):
        image.flags |= ImageFlag.AUTO_UNREGISTER
    if action is not None:
        status = action(shell, image, inv)
        if status:
            shell.print(f"Could not {verb}: {strerror(status)}")
            return status
    return 0


def _select(shell: Shell, image: Image, inv: Invocation) -> int:
    return store_of(shell).select(image)


def _exec(shell: Shell, image: Image, inv: Invocation) -> int:
    store = store_of(shell)
    if inv.flag("replace"):
        status = store.replace_current(image)
        if status == 0:
            shell.stop(STOP_SEQUENCE)
        return status
    return store.execute(shell, image)


def imgfetch(inv: Invocation) -> int:
    return _single(inv, fetch_only=True)


def imgselect(inv: Invocation) -> int:
    return _single(inv, action=_select, verb="select")


def imgexec(inv: Invocation) -> int:
    return _single(inv, action=_exec, verb="boot")


def imgargs(inv: Invocation) -> int:
    return _single(inv, clear_args=True)


# -- the DHCP boot file and autoboot -----------------------------------------------------------


def dhcp_boot_uri(shell: Shell, *, announce: bool) -> str | None:
    """iPXE's ``fetch_next_server_and_filename``: the lease's ``filename`` as a URI.

    A relative filename with a ``next-server`` (from the same settings block) becomes
    ``tftp://NEXT-SERVER/FILENAME``, as iPXE's PXE boot does. ``announce`` prints iPXE's
    ``Next server:`` and ``Filename:`` lines. None when there is no filename.
    """
    found = shell.settings.lookup("filename")
    if found is None:
        return None
    try:
        filename = found.format()
    except BootshError:
        return None
    scope = found.origin.path()
    next_server = shell.settings.get(f"{scope}/next-server" if scope else "next-server")
    if next_server == "0.0.0.0":
        next_server = None
    if announce:
        if next_server:
            shell.print(f"Next server: {next_server}")
        if filename:
            shell.print(f"Filename: {filename}")
    if not filename:
        return None
    if next_server and not _hierarchical_absolute(filename):
        path = filename if filename.startswith("/") else "/" + filename
        return f"tftp://{next_server}{urllib.parse.quote(path, safe='/')}"
    return filename


def dhcp_boot_requester(shell: Shell) -> str | None:
    """Who set the ``filename`` that ``dhcp_boot_uri`` reads, when that came from the
    network (``the filename from the DHCP server 10.0.0.1``); None when the user set it."""
    found = shell.settings.lookup("filename")
    if found is None or found.origin.network_source is None:
        return None
    return f"the filename from {found.origin.network_source}"


def _hierarchical_absolute(text: str) -> bool:
    """Whether a DHCP filename is a URI of its own, as iPXE's ``pxe_uri`` decides.

    Only a hierarchical absolute URI counts (``scheme:/...``): PXE filenames such as
    ``C:\\boot\\wdsnbp.com`` look like opaque URIs with scheme ``C`` and are TFTP paths.
    """
    uri = parse_uri(text)
    return uri.absolute and (uri.authority is not None or uri.path.startswith("/"))


def netboot(shell: Shell, name: str) -> int:
    """iPXE's ``netboot``: open, configure, then boot the lease's file (autofreed)."""
    shell.run_argv(["ifclose"])
    status = shell.run_argv(["ifopen", name])
    if status:
        return status
    shell.run_argv(["ifstat", name])
    status = shell.run_argv(["ifconf", name])
    if status:
        return status
    shell.run_argv(["route"])
    uri = dhcp_boot_uri(shell, announce=True)
    if uri is None or not parse_uri(uri).path:
        shell.print(f"Nothing to boot: {strerror(ENOENT_BOOT)}")
        return ENOENT_BOOT
    got = download(shell, uri, requester=dhcp_boot_requester(shell))
    if isinstance(got, int):
        return got
    store = store_of(shell)
    shell.print(store.stat_line(got))
    got.flags |= ImageFlag.AUTO_UNREGISTER
    status = store.execute(shell, got)
    if status:
        shell.print(f"Could not boot image: {strerror(status)}")
    else:
        shell.print()
    return status


def autoboot(inv: Invocation) -> int:
    """``autoboot [netN...]``: ``netboot`` each netdev in turn until one boots.

    iPXE's autoboot never comes back from a boot that worked; in bootsh a boot that returns
    success (``--dry-run``, a script that ends well) ends the command there. The netdevs are
    walked as by every ifcommon command (a name that is none: iPXE's parse_netdev error).
    """
    shell = inv.shell
    return ifcommon(
        shell,
        list(inv.args),
        lambda netdev: netboot(shell, str(netdev.name)),
        stop_on_first_success=True,
    )


# -- imgstat, imgfree --------------------------------------------------------------------------


def _multi(inv: Invocation, payload: Callable[[Image], None]) -> int:
    """iPXE's ``imgmulti_exec``: every image, or the named ones in order."""
    store = store_of(inv.shell)
    if not inv.args:
        for image in list(store.images):
            payload(image)
        return 0
    for name in inv.args:
        found = store.find(name)
        if found is None:
            inv.shell.print(f'"{name}": no such image')
            return ENOENT_IMAGE
        payload(found)
    return 0


def imgstat(inv: Invocation) -> int:
    store = store_of(inv.shell)
    return _multi(inv, lambda image: inv.shell.print(store.stat_line(image)))


def imgfree(inv: Invocation) -> int:
    return _multi(inv, store_of(inv.shell).free)


# -- digests -----------------------------------------------------------------------------------

DIGESTS = {
    "md5sum": "md5",
    "sha1sum": "sha1",
    "sha224sum": "sha224",
    "sha256sum": "sha256",
    "sha384sum": "sha384",
    "sha512sum": "sha512",
}


def digest(inv: Invocation) -> int:
    """``md5sum``/``sha1sum``/``sha256sum``...: ``HEX  NAME`` per image.

    As iPXE's ``digest_exec``: each argument is acquired (a registered name, else a
    download), one that cannot be is skipped, and the command succeeds. ``-s SETTING``
    stores the hex digest in SETTING instead of printing it.
    """
    import hashlib  # OpenSSL's bindings: loaded when a digest is asked for, not at start-up

    shell = inv.shell
    setting_name = inv.value("set")
    setting: NamedSetting | None = None
    if setting_name is not None:
        # As iPXE parses a setting option before doing anything: a bad name fails at once.
        try:
            setting = shell.settings.parse(setting_name, create=True)
        except SettingsError as exc:
            shell.print(f'"{setting_name}": invalid setting')
            return exc.errno
    for name_uri in inv.args:
        got = acquire(shell, name_uri, inv)
        if isinstance(got, int):
            continue
        try:
            with got.path.open("rb") as f:
                h = hashlib.file_digest(f, DIGESTS[inv.name])
        except OSError as exc:
            shell.diagnose(f"cannot read {got.name}: {exc}")
            continue
        if setting is not None:
            try:
                shell.settings.store(setting, h.hexdigest())
            except SettingsError as exc:  # a typed setting that cannot hold hex text
                shell.print(f'Could not store "{setting.setting.name}": {exc}')
                return exc.errno
        else:
            shell.print(f"{h.hexdigest()}  {got.name}")
    return 0


# -- the records -------------------------------------------------------------------------------


def _single_record(
    name: str, handler: Handler, summary: str, completer: Completer | None = image_names
) -> Command:
    return command_from_syntax(name, handler, summary, aliases=True, completer=completer)


COMMANDS = (
    # A URI is typed, not chosen from the registered images.
    _single_record("imgfetch", imgfetch, "download an image", completer=None),
    _single_record("imgselect", imgselect, "download (if needed) and select an image"),
    _single_record("imgexec", imgexec, "download (if needed) and run an image"),
    _single_record("imgargs", imgargs, "set an image's command line"),
    _single_record("imgstat", imgstat, "list images"),
    _single_record("imgfree", imgfree, "free images"),
    _single_record(
        "autoboot", autoboot, "boot from the network (DHCP, then the boot file)", netdev_names
    ),
    *(
        _single_record(name, digest, f"{algo.upper()} digest of images")
        for name, algo in DIGESTS.items()
    ),
)


def shutdown(shell: Shell) -> None:
    """The shell is ending: remove its images and their files."""
    close_store(shell)
