"""bootsh.entry_points reads what importlib.metadata reads: same entry points, same order,
same distribution names and versions, on this environment and on crafted path entries."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bootsh.entry_points import EntryPoint, entry_points, parse_section
from tests.helpers import python_output


def listed(eps: object) -> list[tuple[str, str, str | None, str | None]]:
    out = []
    for ep in eps:  # type: ignore[attr-defined]
        dist = getattr(ep, "dist", None)
        out.append((ep.name, ep.value, dist.name if dist else None, dist.version if dist else None))
    return out


@pytest.mark.parametrize("group", ["bootsh", "console_scripts", "pytest11", "nothing-here"])
def test_this_environment_reads_alike(group: str) -> None:
    ours = listed(entry_points(group))
    theirs = listed(importlib.metadata.entry_points(group=group))
    assert ours == theirs


def dist(site: Path, dirname: str, name: str, version: str, text: str) -> None:
    where = site / dirname
    where.mkdir(parents=True)
    (where / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (where / "entry_points.txt").write_text(text)


def test_crafted_path_entries_read_alike(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    dist(first, "Alpha_Plugin-1.0.dist-info", "alpha-plugin", "1.0", "[bootsh]\na = alpha\n")
    dist(  # the same distribution again, later on the path: hidden, as importlib does
        second, "alpha.plugin-2.0.dist-info", "alpha.plugin", "2.0", "[bootsh]\na = alpha2\n"
    )
    dist(
        second,
        "beta-0.1.egg-info",
        "beta",
        "0.1",
        "# a comment\n[other]\nx = y\n\n[bootsh]\n# another\nb = beta.mod:attr.sub [extra]\n"
        "c=gamma\n",
    )
    (second / "loose-1.0.dist-info").mkdir()  # no entry points at all
    path = [str(first), str(second), str(tmp_path / "missing")]
    ours = listed(entry_points("bootsh", path))
    theirs = listed(
        ep
        for d in importlib.metadata.distributions(path=path)
        for ep in d.entry_points
        if ep.group == "bootsh"
    )
    # distributions(path=...) does not drop the later duplicate; entry_points() does
    assert ours == [t for t in theirs if t[1] != "alpha2"]
    assert ours[0] == ("a", "alpha", "alpha-plugin", "1.0")
    assert ours[1][1] == "beta.mod:attr.sub [extra]"


def test_load_walks_module_and_attributes(tmp_path: Path) -> None:
    ep = EntryPoint("x", "os.path:join [extra]", "bootsh", None)
    assert ep.load() is os.path.join
    assert EntryPoint("y", "os", "bootsh", None).load() is os


def test_parse_section() -> None:
    text = "[bootsh]\n  a = b\n#c = d\n[x]\ne = f\n[bootsh]\ng=h\n"
    assert parse_section(text, "bootsh") == [("a", "b"), ("g", "h")]


def test_a_zip_on_the_path_is_left_to_importlib(tmp_path: Path) -> None:
    archive = tmp_path / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("zipped-1.0.dist-info/METADATA", "Name: zipped\nVersion: 1.0\n")
        zf.writestr("zipped-1.0.dist-info/entry_points.txt", "[bootsh]\nz = zipped\n")
    assert first_entry_point_with(archive) == "[('z', 'zipped', 'zipped')]\n"


def first_entry_point_with(entry: Path) -> str:
    """The first ``bootsh`` entry point a fresh interpreter finds with ``entry`` first on
    its path: (name, value, distribution), printed."""
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(entry)!r})\n"
        "from bootsh.entry_points import entry_points\n"
        "print([(e.name, e.value, e.dist.name) for e in entry_points('bootsh')][:1])\n"
    )
    return python_output(code)


def test_a_directory_egg_on_the_path_is_found_as_importlib_finds_it(tmp_path: Path) -> None:
    """An egg (``setup.py install``, easy_install) keeps its metadata in ``EGG-INFO/``."""
    egg = tmp_path / "eggy-1.0-py3.11.egg"
    (egg / "EGG-INFO").mkdir(parents=True)
    (egg / "EGG-INFO" / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: eggy\nVersion: 1.0\n")
    (egg / "EGG-INFO" / "entry_points.txt").write_text("[bootsh]\ne = eggy\n")
    assert first_entry_point_with(egg) == "[('e', 'eggy', 'eggy')]\n"


def test_section_names_are_read_as_importlib_reads_them() -> None:
    text = "[ bootsh ]\na = b\n[bootsh]\nc = d\n"
    assert parse_section(text, "bootsh") == [("c", "d")]
    assert [
        (ep.name, ep.value)
        for ep in importlib.metadata.EntryPoints._from_text(text)  # type: ignore[attr-defined]
        if ep.group == "bootsh"
    ] == [("c", "d")]


def test_a_plugin_installed_or_removed_is_seen_at_the_next_start(tmp_path: Path) -> None:
    """No cache: each start reads the installed distributions again."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "bootsh_hello.py").write_text(
        "from bootsh import hookimpl\n"
        "from bootsh.api import Command\n"
        "@hookimpl\n"
        "def bootsh_register_commands(register):\n"
        "    register(Command('hello', lambda inv: inv.shell.print('hello') or 0, 'greet'))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    argv = [sys.executable, "-m", "bootsh", "--sysfs-root", str(tmp_path), "-c", "hello"]

    def run() -> str:
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
        return proc.stdout

    assert run() == "hello: command not found\n"
    dist(
        site,
        "bootsh_hello-1.0.dist-info",
        "bootsh-hello",
        "1.0",
        "[bootsh]\nhello = bootsh_hello\n",
    )
    assert run() == "hello\n"
    for f in (site / "bootsh_hello-1.0.dist-info").iterdir():
        f.unlink()
    (site / "bootsh_hello-1.0.dist-info").rmdir()
    assert run() == "hello: command not found\n"
