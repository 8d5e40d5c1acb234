"""``bootsh --check``: every kind of finding, its file:line, and the exit status."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bootsh.cli import main
from tests.helpers import MACHINE, run_cli


def check(tmp_path: Path, text: str, name: str = "s.ipxe") -> tuple[int, list[str]]:
    """``--check`` of one file: its status and findings (without the file name), after
    checking that the last line is the summary and counts them."""
    path = tmp_path / name
    path.write_text(text)
    out, err = io.StringIO(), io.StringIO()
    status = main(["--check", str(path)], env={"HOME": str(tmp_path)}, stdout=out, stderr=err)
    assert err.getvalue() == ""
    prefix = f"{path}:"
    *lines, last = out.getvalue().splitlines()
    errors = sum(": error: " in line for line in lines)
    warnings = sum(": warning: " in line for line in lines)
    plural = {1: ""}
    assert last == (
        f"checked 1 file: {errors} error{plural.get(errors, 's')},"
        f" {warnings} warning{plural.get(warnings, 's')}"
    )
    return status, [line.removeprefix(prefix) for line in lines]


def test_a_correct_script_is_clean(tmp_path: Path) -> None:
    text = (
        "#!ipxe\n"
        ":start\n"
        "set i:int32 0\n"
        ":loop echo ${i}\n"
        "iseq ${i} 3 || goto loop\n"
        "echo -n done ${i:int32} \\\n"
        "  and more\n"
        "isset ${net0/mac} && echo yes || echo no\n"
        "goto ${target} ||\n"
        "exit 0\n"
    )
    assert check(tmp_path, text) == (0, [])


def test_each_error_is_named_with_its_line(tmp_path: Path) -> None:
    text = (
        "#!ipxe\n"
        "frobnicate now\n"  # 2
        "echo --bogus\n"  # 3
        "iseq a\n"  # 4
        "goto nowhere\n"  # 5
        "echo ${x:int33}\n"  # 6
        "show ${net0/ip:ipv4}\n"  # 7: fine
        "sleep\n"  # 8
    )
    status, lines = check(tmp_path, text)
    assert status == 1
    assert lines == [
        "2: error: unknown command 'frobnicate'",
        '3: error: echo: Unrecognised option "--bogus"',
        "4: error: iseq: 1 argument(s), expected 2",
        "5: warning: goto: no label 'nowhere' in this script: the goto fails and ends the script",
        "6: warning: unknown setting type 'int33' in ${x:int33}: it always expands to nothing",
        "8: error: sleep: 0 argument(s), expected 1",
    ]


def test_trailing_backslash_at_end_of_file(tmp_path: Path) -> None:
    status, lines = check(tmp_path, "#!ipxe\necho a\necho b \\")
    assert status == 1
    assert lines == [
        "3: error: trailing backslash at the end of the file: this line never runs (EINVAL)"
    ]


def test_and_without_or_is_a_warning_only(tmp_path: Path) -> None:
    status, lines = check(
        tmp_path, "#!ipxe\niseq ${a} b && echo same\niseq a b && echo x || echo y\n"
    )
    assert status == 0
    assert lines == [
        "2: warning: 'iseq ${a} b && ...' has no '||': when the test fails the script aborts"
    ]


def test_missing_magic_is_a_warning(tmp_path: Path) -> None:
    status, lines = check(tmp_path, "echo hi\n", "plain.txt")
    assert status == 0
    assert lines == ["1: warning: no #!ipxe line: iPXE will not run this as a script"]


def test_expanded_words_count_as_one_argument(tmp_path: Path) -> None:
    # ${a} holding "x y" is still one argument: iseq gets exactly two.
    assert check(tmp_path, "#!ipxe\niseq ${a} ${b}\n")[0] == 0
    status, lines = check(tmp_path, "#!ipxe\niseq ${a} ${b} ${c}\n")
    assert (status, lines) == (1, ["2: error: iseq: 3 argument(s), expected 2"])


def test_comment_ends_the_line_and_continuation_joins_first(tmp_path: Path) -> None:
    # A comment line ending in a backslash swallows the next line, as in iPXE.
    assert check(tmp_path, "#!ipxe\n# note \\\nfrobnicate\necho ok # frobnicate\n") == (0, [])


def test_unreadable_file_and_usage(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    missing = tmp_path / "missing.ipxe"
    assert main(["--check", str(missing)], env={}, stdout=out, stderr=err) == 1
    assert out.getvalue() == (
        f"{missing}:0: error: cannot read: No such file or directory\n"
        "checked 1 file: 1 error, 0 warnings\n"
    )
    assert main(["--check"], env={}, stdout=out, stderr=err) == 2


def test_several_files_in_one_run(tmp_path: Path) -> None:
    good = tmp_path / "good.ipxe"
    good.write_text("#!ipxe\necho fine\n")
    bad = tmp_path / "bad.ipxe"
    bad.write_text("#!ipxe\nnope\n")
    out = io.StringIO()
    status = main(["--check", str(good), str(bad)], env={}, stdout=out, stderr=io.StringIO())
    assert (status, out.getvalue()) == (
        1,
        f"{bad}:2: error: unknown command 'nope'\nchecked 2 files: 1 error, 0 warnings\n",
    )


CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"


def corpus_scripts() -> list[Path]:
    """The real-world scripts of ../shared/corpus when that folder is beside the clone.

    A fresh clone elsewhere has no corpus: the tests below then check the scripts this
    repository ships (examples/), so they still pass and still assert something.
    """
    if CORPUS.is_dir():
        return sorted(CORPUS.rglob("*.ipxe"))
    return sorted((Path(__file__).resolve().parents[2] / "examples").rglob("*.ipxe"))


def test_every_corpus_script_is_accepted_without_an_error() -> None:
    scripts = corpus_scripts()
    out = io.StringIO()
    status = main(["--check", *map(str, scripts)], env={}, stdout=out, stderr=io.StringIO())
    errors = [line for line in out.getvalue().splitlines() if ": error: " in line]
    assert (status, errors) == (0, [])
    if CORPUS.is_dir():
        assert len(scripts) >= 140


def test_every_corpus_script_parses() -> None:
    from bootsh.lang.script import parse_script

    for path in corpus_scripts():
        script = parse_script(path.read_text(encoding="utf-8", errors="surrogateescape"), str(path))
        assert script.dangling is None, path
        assert script.lines, path


# -- --check and the interpreter agree (issue 14, item 5) ---------------------------------------

#: Lines whose verdict depends on a ``:type``: a command taking a setting name fails at run
#: time on an unknown type ("invalid setting", as iPXE's parse_setting_name gives ENOTSUP);
#: an expansion with an unknown type reads as unset, the empty string, and fails nothing.
TYPED_LINES = [
    ("set x:badtype 1", True),
    ("show x:badtype", True),
    ("clear x:badtype", True),
    ("inc x:badtype", True),
    ("read x:badtype", True),
    ("sha256sum -s h:badtype nothing", True),
    ("nslookup x:ipv5 bootsh.test", True),
    ("set x:int32 1", False),
    ("set scope/x:hexhyp 00", False),
    ("echo [${y:nosuch}]", False),
    ("set z ${y:nosuch}", False),
    ("iseq ${y:nosuch} ${y} && echo same", False),
    ("echo ${net0/mac:badtype}", False),
]


@pytest.mark.parametrize(("line", "fails"), TYPED_LINES)
def test_check_errors_exactly_where_the_interpreter_fails(
    tmp_path: Path, line: str, fails: bool
) -> None:
    status, findings = check(tmp_path, f"#!ipxe\n{line}\n")
    errors = [f for f in findings if ": error: " in f]
    assert bool(errors) == fails, findings
    assert status == (1 if fails else 0)
    # The interpreter, on the same line (stdin empty: read fails on its type first).
    ran, out, err = run_cli(line, options=("--machine", str(MACHINE)))
    assert (ran != 0) == fails, (out, err)
    if fails:  # nslookup reports the parse failure as its own "Could not resolve"
        assert '": invalid setting' in out or "Operation not supported" in out


def test_an_unknown_type_in_an_expansion_is_a_warning_saying_what_happens(tmp_path: Path) -> None:
    status, findings = check(tmp_path, "#!ipxe\necho [${y:nosuch}]\n")
    assert status == 0
    assert findings == [
        "2: warning: unknown setting type 'nosuch' in [${y:nosuch}]: it always expands to nothing"
    ]
    assert run_cli("echo [${y:nosuch}]") == (0, "[]\n", "")


def test_a_setting_argument_with_an_unknown_type_is_an_error_naming_it(tmp_path: Path) -> None:
    status, findings = check(tmp_path, "#!ipxe\nset x:badtype 1 ||\nsha256sum --set h:bad x ||\n")
    assert status == 1
    assert findings == [
        "2: error: set: 'x:badtype': unknown setting type 'badtype'",
        "3: error: sha256sum: 'h:bad': unknown setting type 'bad'",
    ]


def test_an_expanded_setting_name_is_not_judged(tmp_path: Path) -> None:
    # ${i} may hold a ':' or a '/': the name is only known when the line runs.
    assert check(tmp_path, "#!ipxe\nset net${i}/x:bad 1 ||\n") == (0, [])


def test_the_summary_of_a_clean_run_and_of_several_files(tmp_path: Path) -> None:
    assert check(tmp_path, "#!ipxe\necho fine\n") == (0, [])  # the summary is checked there
    a, b = tmp_path / "a.ipxe", tmp_path / "b.ipxe"
    a.write_text("#!ipxe\necho ${x:bad}\n")
    b.write_text("echo fine\n")
    out = io.StringIO()
    assert main(["--check", str(a), str(b)], env={}, stdout=out, stderr=io.StringIO()) == 0
    assert out.getvalue().splitlines()[-1] == "checked 2 files: 0 errors, 2 warnings"
