"""Request parameters and image settings: ``params``, ``param`` (iPXE's
``hci/commands/param_cmd.c``) and ``imgset`` (``hci/commands/image_set_cmd.c``), upstream
iPXE's (Debian's 2025 build has none of them). The lists and the ``##params`` URI suffix live
in ``bootsh.boot.params``; a download of such a URI sends them (HTTP POST of the form fields,
the headers, the list's method).

``imgset [--keep] [--timeout T] [--quiet] <setting> <uri|name>`` acquires an image (a
registered one of that name, else a download) and stores its bytes in the setting (as a
string unless the name gives a type), then unregisters the image unless ``--keep``: AWS's
``imgset authtoken http://169.254.169.254/latest/api/token##params`` is the pattern.
"""

from __future__ import annotations

from bootsh.api import (
    Invocation,
    Parameter,
    SettingsError,
    error_number,
    read_bounded,
    store_of,
)
from bootsh.api import create_params as create
from bootsh.api import delete_params as delete
from bootsh.api import find_params as find
from bootsh_ipxe_cmds.image_cmds import acquire
from bootsh_ipxe_cmds.records import command_from_syntax

ERRFILE_PARSEOPT = 0x00162000  # core/parseopt.c
#: The most ``imgset`` stores: bootsh's bound on what one word can expand to.
IMGSET_MAX = 1 << 20
#: ``No default parameter list`` / ``"x": no such parameter list`` (parse_parameters).
ENOENT_PARAMS = error_number("ENOENT", ERRFILE_PARSEOPT)


def params(inv: Invocation) -> int:
    made = create(inv.shell, inv.value("name"), inv.value("method"))
    if inv.flag("delete"):
        delete(inv.shell, made)
    return 0


def param(inv: Invocation) -> int:
    shell = inv.shell
    name = inv.value("params")
    found = find(shell, name)
    if found is None:
        shell.print(
            f'"{name}": no such parameter list' if name is not None else "No default parameter list"
        )
        return ENOENT_PARAMS
    # concat_args: the value is the remaining words joined by single spaces ("" if none).
    found.entries.append(Parameter(inv.args[0], " ".join(inv.args[1:]), inv.flag("header")))
    return 0


def imgset(inv: Invocation) -> int:
    shell = inv.shell
    setting_name, name_uri = inv.args
    try:
        named = shell.settings.parse(setting_name, create=True)
    except SettingsError as exc:
        shell.print(f'"{setting_name}": invalid setting')
        return exc.errno
    got = acquire(shell, name_uri, inv)
    if isinstance(got, int):
        return got
    status = 0
    try:
        # Bounded: a setting bigger than this could never be expanded (bootsh expands at
        # most 1 MiB into a word), and a multi-gigabyte image read whole filled the memory.
        data = read_bounded(got.path, IMGSET_MAX)
        if data:
            shell.settings.store_raw(named, data, "string")
        else:
            shell.settings.store(named, None)  # an empty value deletes, as store_setting
    except SettingsError as exc:
        shell.print(f'Could not store "{named.setting.name}": {exc}')
        status = exc.errno
    except OSError as exc:
        shell.diagnose(f"cannot read {got.name}: {exc.strerror or exc}")
        status = 1
    if not inv.flag("keep"):
        store_of(shell).free(got)
    return status


COMMANDS = (
    command_from_syntax("params", params, "create (or --delete) a request parameter list"),
    command_from_syntax("param", param, "add a form field (or --header) to a parameter list"),
    command_from_syntax("imgset", imgset, "store an image's contents in a setting"),
)
