"""iPXE scripts (``image/script.c``): ``#!ipxe`` or ``#!gpxe`` followed by whitespace.

A script runs in a call frame of its own (its labels, its ``goto``, its position), with the
image's arguments as ``${args/1}``...; ``exit N`` ends it with N, which ``chain`` returns
(and prints as ``Could not boot: ...`` when it is not 0), and its first failing line ends it
with that line's status, as iPXE's ``process_script`` does. A file without the magic is no
script, whatever its name: ``chain`` of it fails with ``Exec format error``.
"""

from __future__ import annotations

from bootsh.api import (
    MAX_SCRIPT_SIZE,
    Image,
    ImageType,
    Shell,
    has_magic,
    parse_script,
    read_bounded,
)


def probe(image: Image, header: bytes) -> bool:
    return has_magic(header[:7].decode("latin-1"))


def execute(shell: Shell, image: Image) -> int:
    # Bounded as a script file is: a 5 GB download that starts with #!ipxe is no script.
    data = read_bounded(image.path, MAX_SCRIPT_SIZE)
    text = data.decode("utf-8", errors="surrogateescape")
    # A nested script's ``exit`` ends that script only: the shell (or the CLI) must not
    # take it as its own exit.
    exit_requested = shell.exit_requested
    try:
        return shell.run_script(parse_script(text, image.name), image.args)
    finally:
        shell.exit_requested = exit_requested


TYPES = (ImageType("script", probe, execute, order=10, help="iPXE script (#!ipxe)"),)
