"""The bootsh plugin API: every hook a plugin may implement, with its contract.

A plugin is any module or object registered under the ``bootsh`` entry-point group (the
built-in ``netfront``, ``pci_nics``, ``ipxe_cmds`` and ``policies`` plugins are registered
exactly that way). Implement a hook by decorating a function of the same name with
``bootsh.hookimpl``. Arguments may be left out of an implementation's signature.

The host calls implementations one at a time: one that raises is reported in a single line
naming its plugin, and the plugin is dropped for the rest of the session; the others go on.
Old-style and new-style hook wrappers are therefore not supported for these hooks.

The markers are pluggy's (``bootsh.hooks``): a function marked with ``bootsh.hookimpl`` or with
``pluggy.HookimplMarker("bootsh")`` carries the same options, read the same way.
"""

from __future__ import annotations

from bootsh.hooks import HookimplMarker, HookspecMarker

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from bootsh.boot.fetch import UriScheme
    from bootsh.boot.images import ImageType
    from bootsh.context import Context
    from bootsh.lang.commands import Command, CommandGroup
    from bootsh.nics.netspec import NetDriver
    from bootsh.nics.nic import Nic
    from bootsh.nics.twins import Decision, Evidence, TwinGroup, TwinPolicy
    from bootsh.shell import Shell

PROJECT = "bootsh"

hookspec = HookspecMarker(PROJECT)
hookimpl = HookimplMarker(PROJECT)


@hookspec
def bootsh_register_commands(register: Callable[[Command | CommandGroup], None]) -> None:
    """Add shell commands by calling ``register(Command(...))`` once per command.

    The record carries the handler, options, usage, aliases and an optional completer; the
    host fills in ``source``. A name or alias already taken by another plugin is refused and
    reported (the first registration wins, in plugin load order).

    ``register(CommandGroup(names, load))`` registers commands by name only: ``load()``
    returns their records and is called the first time one of them is needed, so that a
    module of commands (and what it imports) loads only when used. ``names`` must list every
    name and alias of those records.
    """


@hookspec
def bootsh_register_twin_policies(register: Callable[[TwinPolicy], None]) -> None:
    """Declare twin policy names this plugin understands (``--twins NAME``).

    Only declared names are accepted from the command line, the environment, the config file
    and the ``twins`` setting, so that a typo is an error instead of a silent default.
    """


@hookspec
def bootsh_register_uri_schemes(register: Callable[[UriScheme], None]) -> None:
    """Add URI schemes for downloads by calling ``register(UriScheme(...))`` once per scheme.

    ``UriScheme.open(request)`` streams the body into ``request.sink``, calls
    ``request.progress(done, total)`` as data arrives, honours ``request.timeout`` and
    raises ``bootsh.boot.fetch.FetchError`` with iPXE's error number on failure; the core
    prints the line, handles the temporary file and Ctrl-C. The host fills in ``source``;
    a scheme name already taken is refused and reported (the first registration wins).
    """


@hookspec
def bootsh_register_image_types(register: Callable[[ImageType], None]) -> None:
    """Add image types by calling ``register(ImageType(...))`` once per type.

    A registered image is probed by each type in ``order`` (lower first):
    ``probe(image, header)`` sees the image record and its first 64 KiB and says whether
    the image is of this type; the first type that says yes is the image's type, and its
    ``inspect`` (if any) records facts shown by bootsh (a kernel's version). ``exec(shell,
    image)`` runs the image (``chain``, ``boot``) and returns an iPXE error number (0 for
    success); a type without ``exec`` cannot be selected or booted. The host fills in
    ``source``; a name already taken is refused and reported (the first one wins).
    """


@hookspec
def bootsh_register_net_drivers(register: Callable[[NetDriver], None]) -> None:
    """Declare the drivers ``--net DRIVER,key=value,...`` may name, one ``NetDriver`` each.

    The record gives the form users are shown (``af_packet,if=IFACE[,key=value...]``) and a
    ``check(spec, config)`` returning what is wrong with one spec, or None. bootsh checks
    every ``--net`` at start-up: an unknown driver or a spec its driver refuses is one line
    and exit status 2. The driver's ``bootsh_probe_nics`` then turns the specs into NICs.
    The host fills in ``source``; a name already taken is refused (the first one wins).
    """


@hookspec
def bootsh_probe_nics(context: Context) -> Sequence[Nic] | None:
    """Return the NICs this driver found (possibly none).

    Read only what the context points at (``context.config.sysfs_root``, the XenStore
    connection or dump, ...). Record machine-wide facts other plugins' evidence needs in
    ``context.machine``. A card that is present but unusable is returned with ``problem`` set
    rather than dropped. Expected absences (no XenStore on this machine) are not errors: say
    why through ``context.debug``; real failures may raise ``BootshError`` with a clear text.
    """


@hookspec
def bootsh_twin_evidence(
    paravirtual: Nic, other: Nic, context: Context
) -> Sequence[Evidence] | None:
    """Return evidence for or against ``other`` being the emulated twin of ``paravirtual``.

    Called for every pair of a paravirtual NIC and a NIC with the same MAC. Use
    ``decisive=True`` only for proof (a passed-through device is never a twin).
    """


@hookspec(firstresult=True)
def bootsh_resolve_twins(group: TwinGroup, policy: str, context: Context) -> Decision | None:
    """Decide what to show for one twin group under ``policy``; None leaves it to others.

    The first non-None answer wins. The built-in policies are ``trylast`` so any plugin can
    decide first, for every policy or only for the ones it declared. A group's ``pairs`` carry
    the evidence and the verdict (twin, possible twin, not a twin); hiding a NIC whose verdict
    is not a twin is allowed but is the plugin's own responsibility.
    """


@hookspec
def bootsh_shell_startup(shell: Shell) -> None:
    """Called once when a shell is ready, before the first command runs."""


@hookspec
def bootsh_shell_shutdown(shell: Shell) -> None:
    """Called once when a shell ends, also after an error (release what startup took)."""
