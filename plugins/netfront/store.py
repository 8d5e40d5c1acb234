"""The read-only XenStore interface netfront probes through, and the guest it looks at.

Two sources implement ``XenStore``: a live daemon reached through pyxs (``live.py``) and a
``xenstore-ls -f`` dump (``dump.py``). Both take paths as text (XenStore paths are ASCII:
``[A-Za-z0-9/_@-]``) and return values as the raw bytes stored, and both count the requests
they answer so that the probe's cost can be checked.
"""

from __future__ import annotations

from bootsh.api import XenStoreError, dataclass

TYPE_CHECKING = False  # ifstat's path: no typing, no re
if TYPE_CHECKING:
    from typing import Protocol

#: XenStore numbers bootsh reads (domain ids, vif ids, state, num_devs) fit in this many
#: digits; a longer run of digits is garbage, and int() of over 4300 digits raises.
MAX_DIGITS = 9


def small_number(text: str, digits: int = MAX_DIGITS) -> int | None:
    """``text`` as a decimal number of 1 to ``digits`` ASCII digits, else None (a Unicode
    digit such as ``²`` passes ``str.isdigit`` but not ``int``)."""
    if not 0 < len(text) <= digits or not text.isascii() or not text.isdigit():
        return None
    return int(text)


#: What a XenStore path's components are made of.
_PATH_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_@-")


def valid_path(path: str) -> bool:
    """Whether ``path`` is a XenStore path (absolute or relative), without asking anyone:
    absolute (``/local/...``) or relative to the connection's own domain (``device/vif``),
    components of ``[A-Za-z0-9_@-]``, no empty component, no trailing slash (what the
    pattern ``^/?[A-Za-z0-9_@-]+(/[A-Za-z0-9_@-]+)*$`` said, one trailing newline included)."""
    if path == "/":
        return True
    if path.endswith("\n"):
        path = path[:-1]
    body = path[1:] if path.startswith("/") else path
    return all(part and _PATH_CHARS.issuperset(part) for part in body.split("/"))


class XenStoreDenied(XenStoreError):
    """XenStore refused access to one node (EACCES): the node exists but is not ours to read.

    A guest may be refused its backend's parent directories or the PCI backend; the probe
    treats this as "not available" for optional keys.
    """


if not TYPE_CHECKING:
    XenStore = object  # a Protocol for type checkers only (below)
else:

    class XenStore(Protocol):
        """A read-only XenStore: what the netfront probe needs and nothing more."""

        @property
        def where(self) -> str:
            """Where the data comes from, for messages: a xenstored socket, a dump file."""
            ...

        @property
        def requests(self) -> int:
            """How many requests were answered (or attempted) so far."""
            ...

        def read(self, path: str) -> bytes | None:
            """The value of ``path``; None if there is no such node (ENOENT).

            Raises ``XenStoreDenied`` when access is refused and ``XenStoreError`` when the store
            cannot answer (timeout, connection lost, malformed reply).
            """
            ...

        def directory(self, path: str) -> list[str] | None:
            """The names of the children of ``path``; None if there is no such node."""
            ...

        def close(self) -> None:
            """Release the connection (idempotent)."""
            ...

        def prefetch(self, paths: list[str]) -> None:
            """Optionally read ``paths`` ahead, together; ``read`` then answers from that."""
            ...

        def peek(self, path: str) -> bytes | None:
            """A value read ahead, without taking it from ``read``; None if there is none."""
            ...


@dataclass
class Guest:
    """The guest whose vifs are probed: a store plus where the guest's own nodes live.

    ``home`` is ``/local/domain/D`` when the guest is named by domain id (dom0 tools, a full
    dump), or ``""`` when paths are relative to the connection's own domain (a guest's
    ``/dev/xen/xenbus``, a dump taken inside a guest). ``domid`` is None until known.
    """

    store: XenStore
    home: str
    domid: int | None = None

    def path(self, relative: str) -> str:
        """The guest's ``relative`` node (``device/vif``) as a path for the store."""
        return f"{self.home}/{relative}" if self.home else relative

    def describe(self) -> str:
        who = f"domain {self.domid}" if self.domid is not None else "this guest"
        return f"{who} via {self.store.where}"


def guest_domids(store: XenStore) -> list[int]:
    """Domain ids that have vifs: ``/local/domain/*/device/vif`` with at least one child.

    Costs one request plus one per domain; dom0 is skipped (a backend, not a guest).
    """
    names = store.directory("/local/domain") or []
    found: list[int] = []
    for name in names:
        domid = small_number(name)
        if not domid:  # not a domain id, or dom0
            continue
        try:
            vifs = store.directory(f"/local/domain/{name}/device/vif")
        except XenStoreDenied:
            continue
        if vifs:
            found.append(domid)
    return sorted(found)


def pick_domid(store: XenStore, given: int | None) -> int | None:
    """The guest's domain id: the one given, else the only guest with vifs, else None.

    Raises ``XenStoreError`` naming the candidates when several guests have vifs: guessing
    would show another guest's NICs.
    """
    if given is not None:
        return given
    found = guest_domids(store)
    if len(found) <= 1:
        return found[0] if found else None
    listed = ", ".join(str(d) for d in found)
    raise XenStoreError(
        f"{store.where} holds vifs of several guests (domains {listed});"
        " choose one with --xen-domid"
    )
