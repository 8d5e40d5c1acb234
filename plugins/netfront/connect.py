"""Which XenStore to read, and which guest in it.

In order:

1. ``--xenstore-dump FILE`` (or a ``--machine`` directory): the dump;
2. ``config.xenstore_socket`` (``$XENSTORED_PATH``): that xenstored socket; failing to connect
   is an error, since the user asked for it;
3. ``/dev/xen/xenbus`` if it exists: we are in a Xen guest; paths are relative to it;
4. pyxs's default socket (``$XENSTORED_RUNDIR/socket``, ``/var/run/xenstored/socket``) if it
   exists: dom0;
5. otherwise there is no XenStore here. That is not an error: netfront finds nothing and says
   why through ``context.debug``.

Through a socket or a full dump the guest is named by domain id: ``config.xen_domid``
(``--xen-domid``, ``$BOOTSH_XEN_DOMID``), else the only domain with vifs.
"""

from __future__ import annotations

import os

from bootsh.api import dataclass

from .dump import DumpXenStore
from .store import Guest, pick_domid

TYPE_CHECKING = False  # ifstat's path: no typing, no pathlib
if TYPE_CHECKING:
    from collections.abc import Mapping

    from bootsh.api import Config

    from .live import LiveXenStore
    from .store import XenStore

XENBUS_DEVICE = "/dev/xen/xenbus"


def default_socket_path(env: Mapping[str, str]) -> str:
    """pyxs's (and libxenstore's) default: ``$XENSTORED_PATH``, then the run directory."""
    explicit = env.get("XENSTORED_PATH")
    if explicit:
        return explicit
    return os.path.join(env.get("XENSTORED_RUNDIR") or "/var/run/xenstored", "socket")


@dataclass(frozen=True)
class Opened:
    """The guest to probe, or None with the reason there is none."""

    guest: Guest | None
    reason: str = ""


def open_guest(
    config: Config,
    *,
    env: Mapping[str, str] | None = None,
    xenbus: str | os.PathLike[str] = XENBUS_DEVICE,
) -> Opened:
    """Open the XenStore the configuration points at; see the module docstring.

    Raises ``XenStoreError`` when a store that should be there cannot be used (a socket that
    refuses, a dump that does not parse, several guests and no ``--xen-domid``).
    """
    env = os.environ if env is None else env
    timeout = config.xenstore_timeout
    dump = config.path_text("xenstore_dump")
    if dump is not None:
        return _from_dump(DumpXenStore.from_file(dump), config.xen_domid)
    # pyxs only for a live store: a dump (--machine) or a machine without Xen never loads it.
    from .live import LiveXenStore

    if config.xenstore_socket:
        return _from_socket(LiveXenStore.unix_socket(config.xenstore_socket, timeout), config)
    if os.path.exists(xenbus):
        store = LiveXenStore.xenbus(os.fspath(xenbus), timeout)
        if config.xen_domid is not None:
            # Also dom0 has a xenbus device: with a domain id, read that guest's nodes.
            home = f"/local/domain/{config.xen_domid}"
            return Opened(Guest(store, home, config.xen_domid))
        return Opened(Guest(store, ""))
    default = default_socket_path(env)
    if os.path.exists(default):
        return _from_socket(LiveXenStore.unix_socket(default, timeout), config)
    return Opened(
        None,
        f"no XenStore here: no --xenstore-dump, no $XENSTORED_PATH, no {xenbus},"
        f" no xenstored socket at {default}",
    )


def _from_socket(store: LiveXenStore, config: Config) -> Opened:
    return _named(store, config.xen_domid)


def _named(store: XenStore, given: int | None) -> Opened:
    try:
        domid = pick_domid(store, given)
    except BaseException:
        store.close()
        raise
    if domid is None:
        store.close()
        return Opened(None, f"no guest with vifs in {store.where}; name one with --xen-domid")
    return Opened(Guest(store, f"/local/domain/{domid}", domid))


def _from_dump(store: DumpXenStore, given: int | None) -> Opened:
    if not store.has_relative:
        return _named(store, given)
    # Taken inside a guest (`xenstore-ls -f device`): the guest's own nodes are relative;
    # absolute lines beside them (the backend's, copied from dom0) are read by absolute path.
    domid = given if given is not None else store.own_domid()
    return Opened(Guest(store, "", domid))
