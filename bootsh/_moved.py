"""The module paths of the flat ``bootsh/`` of 0.1, still importable for plugins written then.

``import bootsh.twins`` gives the very module ``bootsh.nics.twins`` (same objects, so
``isinstance`` and hook records keep working) and warns once, naming the new place and
``bootsh.api``, which is where plugins should import from. Installed by ``bootsh/__init__.py``;
nothing inside bootsh imports an old path (a test checks).
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not typing's: importing typing costs more than this whole module
if TYPE_CHECKING:
    import importlib.abc
    import importlib.machinery
    from types import ModuleType

#: Old module -> where it lives now.
MOVED = {
    **{
        f"bootsh.{name}": f"bootsh.lang.{name}"
        for name in (
            "commands",
            "ipxe_syntax",
            "lint",
            "script",
            "settings",
            "settypes",
        )
    },
    **{f"bootsh.{name}": f"bootsh.nics.{name}" for name in ("netdevs", "nic", "twins")},
    **{
        f"bootsh.{name}": f"bootsh.net.{name}"
        for name in (
            "dhcp",
            "dhcppkt",
            "dns",
            "egress",
            "ifmgmt",
            "linkstate",
            "monojob",
            "netlink",
            "netstate",
            "ntp",
            "ping",
        )
    },
    **{f"bootsh.{name}": f"bootsh.boot.{name}" for name in ("fetch", "images", "kexec", "uri")},
    **{
        f"bootsh.{name}": f"bootsh.console.{name}"
        for name in (
            "completion",
            "keys",
            "menu",
            "repl",
        )
    },
    # The built-in twin policies are a plugin beside the others now.
    "bootsh.policies": "bootsh_policies",
}


# Plain classes, not importlib.abc's: that module loads importlib.resources (~10 ms at every
# start) for nothing; the import system only needs the methods.
class _Alias:
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # a placeholder, replaced in exec_module

    def exec_module(self, module: ModuleType) -> None:
        import warnings

        warnings.warn(
            f"{module.__name__} moved to {self.target}; plugins should import from bootsh.api",
            DeprecationWarning,
            stacklevel=2,
        )
        import importlib

        # The import system returns whatever sys.modules holds under the old name once this
        # returns: the real module, so both names are one module object.
        sys.modules[module.__name__] = importlib.import_module(self.target)


class MovedFinder:
    def find_spec(
        self, fullname: str, path: object = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        new = MOVED.get(fullname)
        if new is None:
            return None
        import importlib.machinery  # only for an old path: the importlib package costs a start

        loader: importlib.abc.Loader = _Alias(new)  # type: ignore[assignment]
        return importlib.machinery.ModuleSpec(fullname, loader)


def install() -> None:
    if not any(isinstance(finder, MovedFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, MovedFinder())  # before any path finder: names are exact
