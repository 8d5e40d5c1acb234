"""Words that used to give a traceback or a misleading message (issue 14, item 14).

``${args/N}`` with N of 5000 digits raised ValueError in the middle of an expansion (int()
refuses over 4300 digits); a value over 1 MiB said "does a setting refer to itself?", which
sends the user looking for a loop that is not there.
"""

from __future__ import annotations

import io
from pathlib import Path

from bootsh import ipxe_errors as E
from bootsh.context import Config, Context
from bootsh.lang.script import MAX_EXPANDED, parse_script
from bootsh.plugins import PluginHost
from bootsh.shell import Shell


def _shell(host: PluginHost) -> tuple[Shell, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    context = Context(Config(sysfs_root=Path("/nonexistent")), stderr=err)
    return Shell(host, context, out=out, err=err), out, err


def test_a_5000_digit_argument_index_is_no_argument(host: PluginHost) -> None:
    shell, out, err = _shell(host)
    script = parse_script("echo [${args/" + "9" * 5000 + "}] [${args/1}]\n", "t.ipxe")
    assert shell.run_script(script, ["one"]) == 0  # arguments exist only inside a script
    assert (out.getvalue(), err.getvalue()) == ("[] [one]\n", "")


def test_a_value_over_a_mebibyte_says_so_not_a_loop(host: PluginHost) -> None:
    shell, _, err = _shell(host)
    # Two words of 0.6 MiB each: `set` joins them into one value of 1.2 MiB, no loop at all.
    half = "x" * (MAX_EXPANDED * 6 // 10)
    shell.settings.set("a", half)
    assert shell.run_line("set big ${a} ${a}") == 0
    assert shell.run_line("echo ${big}") == E.ENOMEM_EXPAND
    said = err.getvalue()
    assert "refer to itself" not in said
    assert f"gives over 1 MiB of values ('big' holds {2 * len(half) + 1} characters)" in said
    # The real loop keeps its own message.
    shell.settings.set("x", "${x}")
    assert shell.run_line("echo ${x}") == E.ENOMEM_EXPAND
    assert "does a setting refer to itself?" in err.getvalue()
