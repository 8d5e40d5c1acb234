"""Entry points of one group, read straight from the installed distributions' metadata.

``importlib.metadata.entry_points(group=...)`` imports ``email``, ``zipfile``, ``csv`` and
``typing`` (about 20 ms on a busy two-core machine, more than Python's own start), then
builds a record for every installed distribution. bootsh needs one group at every start, so
it reads what ``importlib.metadata`` reads, the same way, and nothing else:

* the distributions are the ``*.dist-info`` and ``*.egg-info`` directories of each
  ``sys.path`` entry, in path order ("" is the current directory), each directory's in
  ``os.listdir`` order; a distribution name seen earlier on the path hides later ones
  (``importlib.metadata`` keeps the first of each normalised name);
* each one's ``entry_points.txt`` is read, and the entries of the wanted section kept, in
  file order (``name = module[:attr][ [extras]]``; ``#`` comments and blank lines skipped;
  a line without ``=``, which makes ``importlib.metadata`` raise at every start, is skipped:
  the one deliberate difference);
* a distribution's name and version come from its ``METADATA`` (``PKG-INFO`` for an egg),
  read only when asked (``bootsh --plugins``, a plugin that fails to load).

Nothing is cached: a plugin installed or removed is seen at the next start. Where a path
entry is not a plain directory (a zip file), is an egg (its metadata in ``EGG-INFO/``) or
another import hook can find distributions, this module hands the question to
``importlib.metadata`` itself.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence


class Distribution:
    """An installed distribution's directory; ``name``/``version`` from its metadata."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._headers: dict[str, str] | None = None

    def _read_headers(self) -> dict[str, str]:
        if self._headers is None:
            headers: dict[str, str] = {}
            for filename in ("METADATA", "PKG-INFO"):
                try:
                    with open(os.path.join(self.path, filename), encoding="utf-8") as handle:
                        for line in handle:  # the headers end at the first empty line
                            if not line.strip():
                                break
                            key, colon, value = line.partition(":")
                            if colon and not key.startswith((" ", "\t")):
                                headers.setdefault(key.strip().lower(), value.strip())
                except (OSError, UnicodeDecodeError):
                    continue
                break
            self._headers = headers
        return self._headers

    @property
    def name(self) -> str:
        return self._read_headers().get("name") or _stem_name(os.path.basename(self.path))

    @property
    def version(self) -> str:
        return self._read_headers().get("version", "")


class EntryPoint:
    """``name = value`` of one group; ``load()`` imports the module and walks the attrs."""

    def __init__(self, name: str, value: str, group: str, dist: Distribution | None) -> None:
        self.name = name
        self.value = value
        self.group = group
        self.dist = dist

    def load(self) -> object:
        target = self.value.split("[", 1)[0]
        module, _, attrs = target.partition(":")
        name = module.strip()
        # importlib.import_module for an absolute name, without the importlib package's
        # import (it imports warnings): __import__ returns the top package, sys.modules the
        # module itself.
        __import__(name)
        loaded: object = sys.modules[name]
        for attr in attrs.strip().split("."):
            if attr:
                loaded = getattr(loaded, attr)
        return loaded

    def __repr__(self) -> str:
        return f"EntryPoint(name={self.name!r}, value={self.value!r}, group={self.group!r})"


def _normalise(name: str) -> str:
    """PEP 503's name normalisation, as ``importlib.metadata`` keys distributions."""
    out = []
    dash = False
    for char in name.lower():
        if char in "-_.":
            dash = True
            continue
        if dash:
            out.append("_")
        dash = False
        out.append(char)
    if dash:
        out.append("_")
    return "".join(out)


def _stem_name(entry: str) -> str:
    """``foo_bar-1.0.dist-info`` -> ``foo_bar`` (the name part of the directory's name)."""
    return entry.rpartition(".")[0].partition("-")[0]


def parse_section(text: str, group: str) -> list[tuple[str, str]]:
    """The ``name = value`` pairs of ``[group]`` in an ``entry_points.txt``, in order."""
    pairs: list[tuple[str, str]] = []
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line.strip("[]")  # importlib's reading: "[ bootsh ]" is not [bootsh]
            continue
        if section == group:
            name, eq, value = line.partition("=")
            if eq:
                pairs.append((name.strip(), value.strip()))
    return pairs


def _other_finders() -> bool:
    """Whether an import hook other than the path finder can find distributions."""
    # importlib.machinery.PathFinder is this frozen module's, loaded with the interpreter;
    # importing the importlib package would cost it and warnings at every start.
    PathFinder = sys.modules["_frozen_importlib_external"].PathFinder

    return any(
        finder is not PathFinder and hasattr(finder, "find_distributions")
        for finder in sys.meta_path
    )


def entry_points(group: str, path: Sequence[str] | None = None) -> list[EntryPoint]:
    """The entry points of ``group`` over ``path`` (default ``sys.path``), as
    ``importlib.metadata.entry_points(group=group)`` would list them."""
    dirs: list[str] = []
    for entry in sys.path if path is None else path:
        where = entry or "."
        if where.lower().endswith(".egg") and os.path.exists(where):
            # An egg (a directory or a zip) holds its metadata in EGG-INFO/: importlib's.
            return _from_importlib(group)
        if os.path.isdir(where):
            dirs.append(where)
        elif os.path.exists(where):
            return _from_importlib(group)  # a zip on the path: importlib.metadata reads it
    if path is None and _other_finders():
        return _from_importlib(group)
    found: list[EntryPoint] = []
    seen: set[str] = set()
    for where in dirs:
        try:
            names = os.listdir(where)
        except OSError:
            continue
        for entry in names:
            low = entry.lower()
            if not low.endswith((".dist-info", ".egg-info")):
                continue
            key = _normalise(_stem_name(low))
            if key in seen:
                continue
            seen.add(key)
            dist_path = os.path.join(where, entry)
            try:
                with open(os.path.join(dist_path, "entry_points.txt"), encoding="utf-8") as f:
                    text = f.read()
            except (OSError, UnicodeDecodeError):
                continue  # no entry points (most distributions), or an egg-info file
            pairs = parse_section(text, group)
            if pairs:
                dist = Distribution(dist_path)
                found.extend(EntryPoint(name, value, group, dist) for name, value in pairs)
    return found


def _from_importlib(group: str) -> list[EntryPoint]:
    import importlib.metadata

    found: list[EntryPoint] = []
    for ep in importlib.metadata.entry_points(group=group):
        dist = getattr(ep, "dist", None)
        record = Distribution(str(getattr(dist, "_path", ""))) if dist is not None else None
        if record is not None and dist is not None:
            record._headers = {"name": dist.name, "version": dist.version}
        found.append(EntryPoint(ep.name, ep.value, group, record))
    return found


def describe(eps: Iterable[EntryPoint]) -> list[str]:
    """``name = value (distribution version)`` lines, for diagnostics and tests."""
    lines = []
    for ep in eps:
        origin = f" ({ep.dist.name} {ep.dist.version})" if ep.dist is not None else ""
        lines.append(f"{ep.name} = {ep.value}{origin}")
    return lines
