"""A boot entry, as every configuration parser reports it, and how a default is chosen."""

from __future__ import annotations

from bootsh.records import dataclass, field


@dataclass
class BootEntry:
    """One bootable Linux entry of a boot loader configuration.

    ``kernel`` and ``initrds`` are paths on a file system: the one holding the configuration
    unless ``root`` names another (GRUB's ``search --set=root``: ``uuid:...``, ``label:...``,
    ``file:...``, or a GRUB device such as ``hd0,gpt2``).
    """

    title: str
    kernel: str
    initrds: list[str] = field(default_factory=list)
    cmdline: str = ""
    #: The configuration file it came from (path on its file system).
    source: str = ""
    #: GRUB's ``--id`` / a BLS entry's file name without ``.conf`` / a syslinux label.
    id: str | None = None
    root: str | None = None
    #: Submenu titles leading to it (GRUB), outermost first.
    path: tuple[str, ...] = ()
    #: Index in its menu level (GRUB ``default=N`` counts entries and submenus together).
    index: int = 0
    #: Version (BLS ``version``, or the kernel file's suffix), for sorting and display.
    version: str = ""
    #: The boot loader: ``grub``, ``bls``, ``syslinux``.
    loader: str = ""


@dataclass
class Menu:
    """What one configuration file yields: its entries and the default it names."""

    entries: list[BootEntry]
    default: int = 0
    source: str = ""
    loader: str = ""
    #: Why a configuration gave nothing bootable (shown with -v and in the no-entry error).
    problems: list[str] = field(default_factory=list)

    def chosen(self) -> BootEntry | None:
        if not self.entries:
            return None
        index = self.default if 0 <= self.default < len(self.entries) else 0
        return self.entries[index]


def natural_key(text: str) -> list[tuple[int, int | str]]:
    """A version-like sort key: digit runs compare as numbers (``6.10`` after ``6.9``)."""
    key: list[tuple[int, int | str]] = []
    number = ""
    word = ""
    for ch in text:
        if ch.isdigit() and ch.isascii():
            if word:
                key.append((1, word))
                word = ""
            number += ch
        else:
            if number:
                key.append((2, int(number[:30])))
                number = ""
            if ch.isalpha():
                word += ch
            elif word:
                key.append((1, word))
                word = ""
    if number:
        key.append((2, int(number[:30])))
    if word:
        key.append((1, word))
    return key
