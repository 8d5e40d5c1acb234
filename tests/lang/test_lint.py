"""``bootsh --check``: every kind of finding, its file:line, and the exit status."""

from __future__ import annotations

import io
from pathlib import Path

from bootsh.cli import main


def check(tmp_path: Path, text: str, name: str = "s.ipxe") -> tuple[int, list[str]]:
    path = tmp_path / name
    path.write_text(text)
    out, err = io.StringIO(), io.StringIO()
    status = main(["--check", str(path)], env={"HOME": str(tmp_path)}, stdout=out, stderr=err)
    assert err.getvalue() == ""
    prefix = f"{path}:"
    return status, [line.removeprefix(prefix) for line in out.getvalue().splitlines()]


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
        "6: error: unknown setting type 'int33' in ${x:int33}",
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
    assert out.getvalue() == f"{missing}:0: error: cannot read: No such file or directory\n"
    assert main(["--check"], env={}, stdout=out, stderr=err) == 2


def test_several_files_in_one_run(tmp_path: Path) -> None:
    good = tmp_path / "good.ipxe"
    good.write_text("#!ipxe\necho fine\n")
    bad = tmp_path / "bad.ipxe"
    bad.write_text("#!ipxe\nnope\n")
    out = io.StringIO()
    status = main(["--check", str(good), str(bad)], env={}, stdout=out, stderr=io.StringIO())
    assert (status, out.getvalue()) == (1, f"{bad}:2: error: unknown command 'nope'\n")


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
