"""The CLI's own parser of simple command lines agrees with argparse's, or steps aside.

``bootsh.cli.fast_parse`` spares most runs argparse's import; for every command line it
accepts it must produce what ``build_parser().parse_args`` produces, and every option in its
table must be the same option there.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bootsh.cli import FAST_CHOICES, FAST_OPTIONS, build_parser, fast_parse


def argparse_view(ns: object) -> dict[str, object]:
    """argparse's namespace with paths as text (the fast parser leaves them as given)."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in vars(ns).items()}


PATHS = {dest for dest, kind in FAST_OPTIONS.values() if kind == "path"}


def fast_view(ns: object) -> dict[str, object]:
    """The fast parser's namespace with paths as a ``Path`` would print them."""
    return {
        k: str(Path(v)) if k in PATHS and v is not None else v
        for k, v in vars(ns).items()
        if not k.startswith("_")
    }


def test_the_table_matches_argparses_options() -> None:
    parser = build_parser()
    actions = {flag: a for a in parser._actions for flag in a.option_strings}
    kinds = {"int": int, "float": float, "path": Path, "str": None}
    for flag, (dest, kind) in FAST_OPTIONS.items():
        action = actions[flag]
        assert action.dest == dest, flag
        if kind == "true":
            assert isinstance(action, argparse._StoreTrueAction), flag
        elif kind == "choice":
            assert isinstance(action, argparse._StoreAction), flag
            assert action.type is None and tuple(action.choices or ()) == FAST_CHOICES[dest], flag
        elif kind in ("append", "list"):
            assert isinstance(action, argparse._AppendAction) and action.type is None, flag
            assert action.default == ([] if kind == "list" else None), flag
        else:
            assert isinstance(action, argparse._StoreAction), flag
            assert action.type is kinds[kind], flag
    # Every option of the parser a start-up may see is in the table.
    missing = {f for f in actions if f not in FAST_OPTIONS} - {"-h", "--help", "--version"}
    assert missing == set()


def test_common_command_lines_take_the_fast_path() -> None:
    for argv in (
        ["-c", "echo hi"],
        ["--machine", "examples/machines/xen-hvm", "-c", "ifstat"],
        ["--net", "af_packet,if=veth-cli", "-c", "dhcp net0"],
        ["-x", "script.ipxe", "a", "-v"],
        ["--xen-domid=7", "--sysfs-root", "/tmp/x", "-c", "ifstat", "-c", "twins"],
        [],
    ):
        fast = fast_parse(argv)
        assert fast is not None, argv
        assert fast_view(fast) == argparse_view(build_parser().parse_args(argv)), argv


WORDS = st.sampled_from(
    [*FAST_OPTIONS, "-h", "--help", "--mach", "--", "-", "-xv", "-cecho", "--twins=label",
     "--xen-domid=x", "--xen-domid=3", "--xenstore-timeout=0.5", "--interactive=1",
     "echo hi", "s.ipxe", "7", "-7", "1.5", "", "a b", "--net=af_packet,if=x", "-q", "a//b/",
     "--sysfs-root=", "--machine=./m/", "bash", "--completion=zsh", "--completion=sh"]
)  # fmt: skip


@settings(max_examples=600, deadline=None)
@given(st.lists(WORDS, max_size=7))
def test_whenever_the_fast_parser_answers_argparse_agrees(argv: list[str]) -> None:
    fast = fast_parse(argv)
    if fast is None:
        return  # argparse's business (and its error messages)
    assert fast_view(fast) == argparse_view(build_parser().parse_args(argv)), argv


def test_an_option_the_table_lacks_is_argparses_answer(monkeypatch: object) -> None:
    """An option added to build_parser only: the fast result asks argparse for it."""
    import bootsh.cli as cli

    original = cli.build_parser

    def with_extra() -> argparse.ArgumentParser:
        parser = original()
        parser.add_argument("--later", action="append", default=[])
        return parser

    monkeypatch.setattr(cli, "build_parser", with_extra)  # type: ignore[attr-defined]
    fast = fast_parse(["-c", "echo hi"])
    assert fast is not None
    assert fast.later == [] and fast.commands == ["echo hi"]


def test_an_unknown_name_is_an_attribute_error_as_in_argparse() -> None:
    fast = fast_parse(["-c", "echo hi"])
    assert fast is not None
    assert getattr(fast, "nosuch", "default") == "default" and not hasattr(fast, "nosuch")
    assert fast.commands == ["echo hi"]


def test_every_word_after_the_script_is_the_scripts(tmp_path: Path) -> None:
    """As ``python script.py --x``: even a word argparse took for an ambiguous option."""
    import io

    from bootsh.cli import main

    script = tmp_path / "s.ipxe"
    script.write_text("#!ipxe\necho ${args/count} [${args/1}] [${args/2}]\n")
    out = io.StringIO()
    assert main([str(script), "--x", "-c"], stdout=out) == 0
    assert out.getvalue() == "2 [--x] [-c]\n"
