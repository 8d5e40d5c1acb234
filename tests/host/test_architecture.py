"""The architecture holds: layer rules between bootsh's packages, plugins on the public API only,
and ARCHITECTURE.md naming every package that exists (and nothing that does not).

The checker is a small AST walk (no tool to install): every ``import`` in bootsh/ and plugins/ is
classified by the layer of the importing module and of the imported one. Imports under
``if TYPE_CHECKING:`` never run; they may also name the host's types (``Shell``, ``PluginHost``)
that service functions take as their first argument, and nothing else beyond the runtime rules.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from bootsh import _moved, api
from tests.helpers import ROOT


def run_python(code: str, *, stderr: bool = False) -> str:
    """``code`` in a fresh interpreter on this checkout: its stdout (and stderr if asked)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env,
        timeout=60, check=True,
    )  # fmt: skip
    return done.stdout + (done.stderr if stderr else "")


#: The layers, lowest first. A module's layer is its package under bootsh/ (``bootsh.net.dhcp``
#: -> net); ``base`` is what every layer may read; the other top-level modules are the host.
BASE = frozenset(
    {"bootsh", "bootsh._moved", "bootsh.context", "bootsh.errors", "bootsh.hooks",
     "bootsh.hookspecs", "bootsh.ipxe_errors", "bootsh.records"}
)  # fmt: skip
PACKAGES = ("lang", "nics", "net", "boot", "trust", "disks", "console", "lab", "initramfs")

#: Which layers each layer may import at run time (itself always). ARCHITECTURE.md shows this
#: table; test_architecture_md_states_these_rules keeps the two equal.
MAY_IMPORT: Mapping[str, frozenset[str]] = {
    "base": frozenset(),
    "lang": frozenset({"base"}),
    "nics": frozenset({"base", "lang"}),
    "net": frozenset({"base", "lang", "nics"}),
    "boot": frozenset({"base", "lang", "nics", "net"}),
    "trust": frozenset({"base", "lang", "nics", "net", "boot"}),
    "disks": frozenset({"base", "lang", "nics", "net", "boot"}),
    "lab": frozenset({"base", "nics"}),
    "initramfs": frozenset({"base", "lang", "nics", "net", "boot"}),
    "console": frozenset({"base", "lang", "nics", "net", "boot", "host"}),
    "host": frozenset(
        {"base", "lang", "nics", "net", "boot", "trust", "disks", "console", "lab", "initramfs"}
    ),
    "api": frozenset({"base", "lang", "nics", "net", "boot", "trust", "disks", "console", "host"}),
    "plugin": frozenset({"api"}),
}
#: Host modules a type-only import may name from any layer.
TYPE_ONLY_HOST = frozenset({"bootsh.shell", "bootsh.plugins"})
#: The hook specs annotate their arguments with the records of every layer; they import nothing
#: at run time (bootsh/__init__.py loads them before anything else), so their type-only imports
#: may name any layer.
TYPE_ONLY_ANYWHERE = frozenset({"bootsh.hookspecs"})
#: The one host module that may import the console (it starts the prompt); the console may
#: import the rest of the host, never the CLI that starts it.
CONSOLE_STARTER = "bootsh.cli"
#: What plugins may import of bootsh: the API and the package top level (hookimpl, __version__).
PLUGIN_API = frozenset({"bootsh", "bootsh.api"})


def layer_of(module: str) -> str:
    if module.startswith("bootsh_"):
        return "plugin"
    if module in PLUGIN_API - {"bootsh"}:
        return "api"
    if module in BASE:
        return "base"
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in PACKAGES:
        return parts[1]
    return "host"


@dataclass(frozen=True)
class Import:
    path: str
    line: int
    importer: str
    imported: str
    type_only: bool


def _module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[0] == "plugins":  # plugins/NAME/... installs as bootsh_NAME
        parts = [f"bootsh_{parts[1]}", *parts[2:]]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_in(source: str, path: str, module: str) -> Iterator[Import]:
    """Every import of a bootsh module or plugin in one file, relative ones resolved."""
    tree = ast.parse(source, path)
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    type_only_nodes: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                type_only_nodes.update(id(n) for n in ast.walk(child))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            # ``from bootsh import dhcp`` imports a module: name it, so its layer counts.
            names = [target]
            if target.startswith("bootsh") and node.module != "bootsh.api":
                names = [
                    f"{target}.{alias.name}" if _is_module(f"{target}.{alias.name}") else target
                    for alias in node.names
                ]
        for name in dict.fromkeys(names):
            if name == "bootsh" or name.startswith(("bootsh.", "bootsh_")):
                yield Import(path, node.lineno, module, name, id(node) in type_only_nodes)


def _is_module(name: str) -> bool:
    parts = name.split(".")
    if parts[0].startswith("bootsh_"):
        base = ROOT / "plugins" / parts[0].removeprefix("bootsh_")
    else:
        base = ROOT / parts[0]
    candidate = base.joinpath(*parts[1:])
    return candidate.with_suffix(".py").is_file() or (candidate / "__init__.py").is_file()


def violation(imp: Import) -> str | None:
    """Why this import breaks a rule, or None."""
    src, dst = layer_of(imp.importer), layer_of(imp.imported)
    where = f"{imp.path}:{imp.line}: {imp.importer} imports {imp.imported}"
    if imp.imported in _moved.MOVED:
        return f"{where}: an old module path (now {_moved.MOVED[imp.imported]})"
    if src == "plugin":
        own = imp.importer.split(".")[0]
        if imp.imported.split(".")[0] == own or imp.imported in PLUGIN_API:
            return None
        if dst == "plugin":
            return f"{where}: a plugin imports another plugin"
        return f"{where}: plugins import bootsh only through bootsh.api"
    if dst == "plugin":
        return f"{where}: bootsh never imports a plugin (the host loads them by entry point)"
    if dst == "api" and src != "host":
        return f"{where}: bootsh.api is for plugins; bootsh's own packages import the module"
    if src == dst or dst in ("base", "api"):
        return None
    if dst == "console" and src == "host" and imp.importer != CONSOLE_STARTER:
        return f"{where}: only {CONSOLE_STARTER} starts the console"
    if src == "console" and imp.imported == CONSOLE_STARTER:
        return f"{where}: the console may not import the CLI that starts it"
    if dst in MAY_IMPORT[src]:
        return None
    if imp.type_only and (imp.imported in TYPE_ONLY_HOST or imp.importer in TYPE_ONLY_ANYWHERE):
        return None
    kind = "type-only import" if imp.type_only else "import"
    return f"{where}: layer {src} may not {kind} layer {dst}"


def project_imports(files: Iterable[tuple[str, str, str]]) -> list[Import]:
    return [imp for path, module, source in files for imp in imports_in(source, path, module)]


def project_files() -> list[tuple[str, str, str]]:
    paths = sorted([*(ROOT / "bootsh").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")])
    return [
        (str(p.relative_to(ROOT)), _module_name(p, ROOT), p.read_text(encoding="utf-8"))
        for p in paths
    ]


def violations(files: Iterable[tuple[str, str, str]]) -> list[str]:
    return [v for imp in project_imports(files) if (v := violation(imp)) is not None]


def test_the_tree_keeps_the_layer_rules() -> None:
    files = project_files()
    assert len(files) > 60  # the walk saw the tree
    assert violations(files) == []


TYPE_CHECKING_BLOCK = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"


@pytest.mark.parametrize(
    ("path", "module", "line", "why"),
    [
        ("bootsh/net/dhcp.py", "bootsh.net.dhcp", "from bootsh.console import repl",
         "layer net may not import layer console"),
        ("bootsh/lang/script.py", "bootsh.lang.script", "from bootsh.nics.nic import Nic",
         "layer lang may not import layer nics"),
        ("bootsh/boot/kexec.py", "bootsh.boot.kexec", "import bootsh_image_types",
         "bootsh never imports a plugin"),
        ("bootsh/shell.py", "bootsh.shell", "from bootsh.console.repl import interact",
         "only bootsh.cli starts the console"),
        ("plugins/ipxe_cmds/flow.py", "bootsh_ipxe_cmds.flow", "from bootsh.shell import Shell",
         "plugins import bootsh only through bootsh.api"),
        ("plugins/netfront/unplug.py", "bootsh_netfront.unplug", "import bootsh_policies",
         "a plugin imports another plugin"),
        ("bootsh/net/dns.py", "bootsh.net.dns", "from bootsh.api import Nic",
         "bootsh.api is for plugins"),
        ("bootsh/cli.py", "bootsh.cli", "from bootsh.twins import Decision",
         "an old module path (now bootsh.nics.twins)"),
        ("bootsh/lang/settings.py", "bootsh.lang.settings",
         TYPE_CHECKING_BLOCK + "    from bootsh.net.dhcp import Session",
         "layer lang may not type-only import layer net"),
    ],
)  # fmt: skip
def test_a_deliberate_violation_is_caught(path: str, module: str, line: str, why: str) -> None:
    """Each rule, broken on purpose in a copy of a real module, is reported with file and line."""
    files = project_files()
    index = next(i for i, f in enumerate(files) if f[0] == path)
    source = files[index][2] + "\n" + line + "\n"
    files[index] = (path, module, source)
    found = violations(files)
    assert len(found) == 1, found
    assert found[0].startswith(f"{path}:{source.count(chr(10))}: ")
    assert why in found[0]


def test_type_only_imports_may_name_the_shell() -> None:
    source = (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bootsh.shell import Shell\n"
    )
    assert violations([("bootsh/net/x.py", "bootsh.net.x", source)]) == []
    runtime = "from bootsh.shell import Shell\n"
    assert violations([("bootsh/net/x.py", "bootsh.net.x", runtime)]) == [
        "bootsh/net/x.py:1: bootsh.net.x imports bootsh.shell: layer net may not import layer host"
    ]


# -- the plugin API ------------------------------------------------------------------------------


def _type_checking_names() -> dict[str, tuple[str, str]]:
    tree = ast.parse((ROOT / "bootsh" / "api.py").read_text(encoding="utf-8"))
    names: dict[str, tuple[str, str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom) and stmt.module
                for alias in stmt.names:
                    names[alias.asname or alias.name] = (stmt.module, alias.name)
    return names


def test_the_api_lists_agree() -> None:
    """__all__, the lazy table and the names type checkers see are the same, name for name."""
    exports = api._EXPORTS
    assert len(api.__all__) == len(set(api.__all__))
    assert set(api.__all__) == set(exports)
    assert _type_checking_names() == exports


def test_every_api_name_resolves_to_its_definition() -> None:
    import importlib

    for name, (module, attr) in api._EXPORTS.items():
        assert getattr(api, name) is getattr(importlib.import_module(module), attr), name


def test_an_unknown_api_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        api.Nope  # noqa: B018


def test_importing_the_api_loads_nothing_heavy() -> None:
    """``import bootsh.api`` must not pull in the network, the console or the packet library."""
    loaded = run_python("import sys, bootsh.api\nprint(' '.join(sys.modules))").split()
    assert "bootsh.api" in loaded
    heavy = [
        m
        for m in loaded
        if m.startswith(("bootsh.net", "bootsh.console", "bootsh.boot", "scapy", "prompt_toolkit"))
    ]
    assert heavy == []


def test_every_plugin_imports_only_the_api() -> None:
    plugin_files = [f for f in project_files() if f[1].startswith("bootsh_")]
    assert {f[1].split(".")[0] for f in plugin_files} >= {
        "bootsh_ipxe_cmds", "bootsh_netfront", "bootsh_pci_nics", "bootsh_policies",
    }  # fmt: skip
    imports = project_imports(plugin_files)
    assert {i.imported for i in imports if not i.imported.startswith("bootsh_")} <= PLUGIN_API
    example = ROOT / "examples" / "twin_prefer_e1000" / "bootsh_prefer_e1000.py"
    source = example.read_text(encoding="utf-8")
    found = list(imports_in(source, str(example), "bootsh_prefer_e1000"))
    assert found and {i.imported for i in found} <= PLUGIN_API


def test_old_module_paths_still_import_with_a_warning() -> None:
    out = run_python(
        "import warnings; warnings.simplefilter('always')\n"
        "import bootsh.api, bootsh.nics.twins\n"
        "from bootsh.twins import Decision\n"
        "import bootsh.policies, bootsh_policies\n"
        "print(Decision is bootsh.api.Decision, bootsh.policies is bootsh_policies)\n",
        stderr=True,
    )
    assert "True True" in out
    assert "DeprecationWarning: bootsh.twins moved to bootsh.nics.twins" in out
    assert "bootsh.policies moved to bootsh_policies" in out


# -- ARCHITECTURE.md is the map of this tree ----------------------------------------------------


def _architecture() -> str:
    return (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")


def test_architecture_md_names_every_package_and_nothing_else() -> None:
    text = _architecture()
    named = set(re.findall(r"`((?:bootsh|plugins|tests|bench|examples|docs)/[\w/]*)`", text))
    for folder in named:
        assert (ROOT / folder).exists(), f"ARCHITECTURE.md names {folder}, which does not exist"
    packages = {
        str(p.parent.relative_to(ROOT)) + "/"
        for p in [*(ROOT / "bootsh").rglob("__init__.py"), *(ROOT / "plugins").rglob("__init__.py")]
    }
    missing = {p for p in packages if p not in named and p.rstrip("/") not in named}
    assert missing == set(), f"ARCHITECTURE.md does not name {sorted(missing)}"
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "bootsh").glob("*.py")}
    assert {m for m in modules if f"`{m}`" not in text} == set()


def test_architecture_md_states_these_rules() -> None:
    """The layer table in ARCHITECTURE.md is the one this test enforces."""
    layers = _architecture().partition("\n## Layers\n")[2]
    rows = re.findall(r"^\| `(\w+)` \| ([^|]*) \|", layers, re.M)
    stated = {layer: frozenset(re.findall(r"`(\w+)`", allowed)) for layer, allowed in rows}
    assert stated == {k: v for k, v in MAY_IMPORT.items()}


def test_every_package_is_installed() -> None:
    """A package missing from pyproject's explicit list works in this editable checkout and is
    absent from a wheel (``pip install .``, the initramfs): list them all."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    core = {
        ".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "bootsh").rglob("__init__.py")
    }
    plugins = {f"bootsh_{p.parent.name}" for p in (ROOT / "plugins").glob("*/__init__.py")}
    assert core | plugins == listed
    dirs = config["tool"]["setuptools"]["package-dir"]
    assert {name: f"plugins/{name.removeprefix('bootsh_')}" for name in plugins} == {
        k: v for k, v in dirs.items() if k != "bootsh"
    }
    entry_points = set(config["project"]["entry-points"]["bootsh"].values())
    assert plugins <= entry_points
