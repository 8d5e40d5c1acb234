"""Boot Loader Specification entries (``/loader/entries/*.conf``) and ``loader.conf``.

An entry is ``key value`` lines: ``title``, ``version``, ``machine-id``, ``sort-key``,
``linux``, ``initrd`` (repeatable), ``options`` (repeatable, joined), ``efi`` (an EFI program:
not bootable by kexec), ``devicetree``. Fedora's ``options $kernelopts`` takes its value from
``grubenv`` (Fedora 30-33); ``$var`` in an entry is expanded from the GRUB environment.

Order: GRUB's blscfg (Fedora) sorts by version, newest first; systemd-boot sorts by
``sort-key``, then ``machine-id``, then version descending, then the file name. The default:
``loader.conf``'s ``default`` (a glob on the file name; ``@saved`` reads the
``LoaderEntryDefault`` EFI variable, which is not there: the first entry) for systemd-boot,
GRUB's ``default`` (``saved_entry``: the file name without ``.conf``) when GRUB reads them.
"""

from __future__ import annotations

import fnmatch
import re

from bootsh.disks.entries import BootEntry, Menu, natural_key

MAX_ENTRY_TEXT = 64 * 1024
MAX_ENTRIES = 500

_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


def parse_entry(text: str, name: str, source: str, env: dict[str, str] | None = None) -> BootEntry:
    """One entry file; ``name`` is its file name. ``kernel`` is empty when it has no ``linux``."""
    values: dict[str, str] = {}
    initrds: list[str] = []
    options: list[str] = []
    for line in text[:MAX_ENTRY_TEXT].splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        if "\t" in key:
            key, _, rest = key.partition("\t")
            value = rest + " " + value
        value = value.strip()
        if env is not None:
            value = _VAR.sub(lambda m: env.get(m.group(1), ""), value)
        if key == "initrd":
            initrds.extend(value.split())
        elif key == "options":
            options.append(value)
        else:
            values.setdefault(key, value)
    entry_id = name[:-5] if name.endswith(".conf") else name
    version = values.get("version", "")
    title = values.get("title") or (f"{entry_id} ({version})" if version else entry_id)
    entry = BootEntry(
        title=title,
        kernel=values.get("linux", ""),
        initrds=initrds,
        cmdline=" ".join(" ".join(options).split()),
        source=source,
        id=entry_id,
        version=version,
        loader="bls",
    )
    entry.path = (values.get("sort-key", ""), values.get("machine-id", ""))
    return entry


def sort_entries(entries: list[BootEntry], *, grub: bool) -> list[BootEntry]:
    if grub:
        return sorted(entries, key=lambda e: natural_key(e.version or e.id or ""), reverse=True)
    # systemd-boot: entries with a sort-key first (ascending), then by machine-id, version
    # descending, then file name.
    with_key = [e for e in entries if e.path and e.path[0]]
    without = [e for e in entries if not (e.path and e.path[0])]
    with_key.sort(key=lambda e: (e.path[0], e.path[1]))
    without.sort(key=lambda e: natural_key(e.id or ""), reverse=True)
    with_key.sort(key=lambda e: natural_key(e.version), reverse=True)
    with_key.sort(key=lambda e: (e.path[0], e.path[1]))
    return with_key + without


def parse_loader_conf(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text[:MAX_ENTRY_TEXT].splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        values[key] = value.strip()
    return values


def menu(files: list[tuple[str, str]], source: str, loader_conf: str | None = None) -> Menu:
    """systemd-boot's view of ``files`` (pairs of file name and text) in ``source``."""
    entries = [
        parse_entry(text, name, f"{source}/{name}")
        for name, text in files[:MAX_ENTRIES]
        if name.endswith(".conf")
    ]
    problems = [f"{e.source}: no linux line (an EFI program?)" for e in entries if not e.kernel]
    ordered = sort_entries([e for e in entries if e.kernel], grub=False)
    default = 0
    pattern = parse_loader_conf(loader_conf or "").get("default", "")
    if pattern and pattern != "@saved":
        for i, entry in enumerate(ordered):
            name = f"{entry.id}.conf"
            if fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(entry.id or "", pattern):
                default = i
                break
    return Menu(ordered, default, source, "bls", problems)
