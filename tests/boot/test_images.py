"""The image store and commands on local files (file://): names, types, imgstat, chain.

The network versions of these flows are in tests/test_boot_lab.py; here every download is a
``file://`` URI through the real fetch path, and the shell is the real CLI run in-process.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bootsh.boot.images import MAX_NESTED, store_of
from bootsh.boot.uri import remove_dot_segments, resolve_uri, uri_basename
from bootsh.context import Config, Context
from bootsh.lang.ipxe_syntax import usage
from bootsh.plugins import PluginHost
from bootsh.shell import Shell
from bootsh_ipxe_cmds.image_cmds import dhcp_boot_uri
from tests.helpers import ROOT, run_cli
from tests.initrd import kernel, newc


@pytest.fixture(autouse=True)
def never_kexec(monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing here boots without --dry-run; should a test get it wrong, the load is undone.
    monkeypatch.setenv("BOOTSH_NEVER_KEXEC", "1")


def uri(path: Path) -> str:
    return path.as_uri()


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "hello.txt").write_text("hello\n")
    (tmp_path / "plain.txt").write_text("echo not a script\n")
    (tmp_path / "exit3.ipxe").write_text("#!ipxe\necho in exit3\nexit 3\necho not reached\n")
    (tmp_path / "fail.ipxe").write_text("#!ipxe\niseq a b\necho not reached\n")
    (tmp_path / "args.ipxe").write_text("#!ipxe\necho args ${args/count} ${args/1} ${args/2}\n")
    (tmp_path / "initrd.cpio").write_bytes(newc({"init": b"#!/bin/sh\n"}))
    return tmp_path


# -- URIs ---------------------------------------------------------------------------------------

BASE = "http://a/b/c/d;p?q"

# RFC 3986 section 5.4.1 and 5.4.2: every example, normal and abnormal.
RFC3986 = {
    "g:h": "g:h",
    "g": "http://a/b/c/g",
    "./g": "http://a/b/c/g",
    "g/": "http://a/b/c/g/",
    "/g": "http://a/g",
    "//g": "http://g",
    "?y": "http://a/b/c/d;p?y",
    "g?y": "http://a/b/c/g?y",
    "#s": "http://a/b/c/d;p?q#s",
    "g#s": "http://a/b/c/g#s",
    "g?y#s": "http://a/b/c/g?y#s",
    ";x": "http://a/b/c/;x",
    "g;x": "http://a/b/c/g;x",
    "g;x?y#s": "http://a/b/c/g;x?y#s",
    "": "http://a/b/c/d;p?q",
    ".": "http://a/b/c/",
    "./": "http://a/b/c/",
    "..": "http://a/b/",
    "../": "http://a/b/",
    "../g": "http://a/b/g",
    "../..": "http://a/",
    "../../": "http://a/",
    "../../g": "http://a/g",
    "../../../g": "http://a/g",
    "../../../../g": "http://a/g",
    "/./g": "http://a/g",
    "/../g": "http://a/g",
    "g.": "http://a/b/c/g.",
    ".g": "http://a/b/c/.g",
    "g..": "http://a/b/c/g..",
    "..g": "http://a/b/c/..g",
    "./../g": "http://a/b/g",
    "./g/.": "http://a/b/c/g/",
    "g/./h": "http://a/b/c/g/h",
    "g/../h": "http://a/b/c/h",
    "g;x=1/./y": "http://a/b/c/g;x=1/y",
    "g;x=1/../y": "http://a/b/c/y",
    "g?y/./x": "http://a/b/c/g?y/./x",
    "g?y/../x": "http://a/b/c/g?y/../x",
    "g#s/./x": "http://a/b/c/g#s/./x",
    "g#s/../x": "http://a/b/c/g#s/../x",
    "http:g": "http:g",
}


@pytest.mark.parametrize(("ref", "target"), list(RFC3986.items()))
def test_resolution_follows_rfc3986(ref: str, target: str) -> None:
    assert resolve_uri(BASE, ref) == target


def test_resolution_of_tftp_which_urljoin_does_not_handle() -> None:
    base = "tftp://10.0.0.1/boot/menu.ipxe"
    assert resolve_uri(base, "vmlinuz") == "tftp://10.0.0.1/boot/vmlinuz"
    assert resolve_uri(base, "../initrd.img") == "tftp://10.0.0.1/initrd.img"
    assert resolve_uri(base, "http://other/x") == "http://other/x"
    assert resolve_uri("tftp://10.0.0.1/", "pxelinux.0") == "tftp://10.0.0.1/pxelinux.0"
    assert resolve_uri(None, "boot.ipxe") == "boot.ipxe"  # no base: stays relative
    assert remove_dot_segments("/a/b/c/./../../g") == "/a/g"
    assert remove_dot_segments("mid/content=5/../6") == "mid/6"


def test_image_names_are_the_decoded_basename() -> None:
    assert uri_basename("http://h/dir/vmlinuz?x=1") == "vmlinuz"
    assert uri_basename("http://h/a%20b") == "a b"
    assert uri_basename("http://h/dir/") == ""
    assert uri_basename("http://h") is None
    assert uri_basename("file:foo") == "foo"


# -- imgfetch, imgstat, names -------------------------------------------------------------------


def test_imgfetch_names_after_the_uri_and_imgstat_lists_in_order(files: Path) -> None:
    status, out, _ = run_cli(
        f"imgfetch {uri(files / 'hello.txt')}",
        f"module -n other {uri(files / 'plain.txt')} a  b",
        "imgstat",
    )
    assert status == 0
    assert out.splitlines() == [
        f"{uri(files / 'hello.txt')}... ok",
        f"{uri(files / 'plain.txt')}... ok",
        "hello.txt : 6 bytes",
        'other : 18 bytes "a b"',
    ]


def test_quiet_fetch_prints_no_line(files: Path) -> None:
    status, out, _ = run_cli(f"imgfetch -q {uri(files / 'hello.txt')}", "imgstat")
    assert status == 0
    assert out.splitlines() == ["hello.txt : 6 bytes"]


def test_kernel_imgstat_line_as_design_shows(files: Path) -> None:
    size = kernel().stat().st_size
    status, out, _ = run_cli(f"kernel {uri(kernel())} console=ttyS0 quiet", "imgstat vmlinuz")
    assert status == 0
    assert (
        out.splitlines()[-1] == f'vmlinuz : {size} bytes [bzImage] [SELECTED] "console=ttyS0 quiet"'
    )


def test_same_name_twice_keeps_both_and_finds_the_first(files: Path) -> None:
    (files / "d").mkdir()
    (files / "d" / "hello.txt").write_text("other hello, longer\n")
    status, out, _ = run_cli(
        f"imgfetch {uri(files / 'hello.txt')}",
        f"imgfetch {uri(files / 'd' / 'hello.txt')}",
        "imgargs hello.txt first",
        "imgstat",
    )
    assert status == 0
    assert out.splitlines()[-2:] == ['hello.txt : 6 bytes "first"', "hello.txt : 20 bytes"]


def test_imgargs_replaces_and_clears_the_command_line(files: Path) -> None:
    status, out, _ = run_cli(
        f"imgfetch {uri(files / 'hello.txt')} a b",
        "imgargs hello.txt c",
        "imgstat",
        "imgargs hello.txt",
        "imgstat",
    )
    assert status == 0
    assert out.splitlines()[-2:] == ['hello.txt : 6 bytes "c"', "hello.txt : 6 bytes"]


def test_imgfree_one_then_all_and_an_unknown_name(files: Path) -> None:
    status, out, _ = run_cli(
        f"imgfetch {uri(files / 'hello.txt')}",
        f"imgfetch {uri(files / 'plain.txt')}",
        "imgfree hello.txt",
        "imgstat",
        "imgfree",
        "imgstat",
        "imgfree hello.txt || echo ${errno}",
    )
    assert status == 0
    lines = out.splitlines()
    assert lines[2:] == ["plain.txt : 18 bytes", '"hello.txt": no such image', "0x2d0ae002"]


def test_failed_fetch_registers_nothing(files: Path) -> None:
    missing = uri(files / "missing.ipxe")
    status, out, _ = run_cli(f"imgfetch {missing} || echo ${{errno}}", "imgstat")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"{missing}... No such file or directory (https://ipxe.org/2d")
    assert len(lines) == 2 and lines[1].startswith("0x2d")


def test_relative_uri_without_a_working_uri_cannot_start() -> None:
    status, out, _ = run_cli("chain boot.ipxe || echo ${errno}")
    assert status == 0
    assert out.splitlines() == [
        "Could not start download: Operation not supported (https://ipxe.org/3c09205f)",
        "0x3c09205f",
    ]


def test_usage_text_is_ipxes() -> None:
    for name in ("imgfetch", "module", "initrd", "kernel", "imgload", "imgselect", "chain",
                 "boot", "imgexec", "imgargs", "imgstat", "imgfree", "sha256sum", "md5sum",
                 "sha1sum", "autoboot"):  # fmt: skip
        status, out, _ = run_cli(f"{name} --help || echo failed")
        assert status == 0
        assert out == usage(name) + "failed\n", name


# -- chain and scripts ------------------------------------------------------------------------


def test_exit_n_returns_n_to_the_parent(files: Path) -> None:
    status, out, _ = run_cli(f"chain {uri(files / 'exit3.ipxe')} || echo status ${{errno}}")
    assert status == 0
    assert out.splitlines() == [
        f"{uri(files / 'exit3.ipxe')}... ok",
        "in exit3",
        "Could not boot: Error 0x00000003 (https://ipxe.org/00000003)",
        "status 0x3",
    ]


def test_a_failing_line_fails_the_chain_with_its_status(files: Path) -> None:
    status, out, err = run_cli(f"chain {uri(files / 'fail.ipxe')}", "echo not reached either")
    assert status == 1
    assert out.splitlines()[-1] == "Could not boot: Result too large (https://ipxe.org/46022022)"
    assert "fail.ipxe:2: failed: iseq a b" in err


def test_script_sees_its_arguments_and_is_listed_after_it_ran(files: Path) -> None:
    status, out, _ = run_cli(f"chain {uri(files / 'args.ipxe')} x y", "imgstat")
    assert status == 0
    size = (files / "args.ipxe").stat().st_size
    assert out.splitlines()[1:] == ["args 2 x y", f'args.ipxe : {size} bytes [script] "x y"']


def test_nested_chain_resolves_relative_uris_and_restores_cwuri(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "top.ipxe").write_text(
        "#!ipxe\necho top ${cwuri}\nchain sub/mid.ipxe\necho top again ${cwuri}\n"
    )
    (tmp_path / "sub" / "mid.ipxe").write_text(
        "#!ipxe\necho mid ${cwuri}\nimgstat\nchain ../leaf.ipxe\n"
    )
    (tmp_path / "leaf.ipxe").write_text("#!ipxe\necho leaf ${cwuri}\n")
    top = uri(tmp_path / "top.ipxe")
    status, out, _ = run_cli(f"chain {top}", "echo after [${cwuri}]")
    assert status == 0
    assert out.splitlines() == [
        f"{top}... ok",
        f"top {top}",
        "sub/mid.ipxe... ok",  # printed as typed, as iPXE does
        f"mid {uri(tmp_path / 'sub' / 'mid.ipxe')}",
        # imgstat inside mid: top and mid are running, so neither is listed
        "../leaf.ipxe... ok",
        f"leaf {uri(tmp_path / 'leaf.ipxe')}",
        f"top again {top}",
        "after []",
    ]


def test_cli_script_file_resolves_next_to_itself(files: Path) -> None:
    (files / "run.ipxe").write_text("#!ipxe\nchain args.ipxe from-file\n")
    status, out, _ = run_cli(options=[str(files / "run.ipxe")])
    assert status == 0
    assert out.splitlines() == ["args.ipxe... ok", "args 1 from-file "]


def test_a_file_without_the_magic_is_not_a_script(files: Path) -> None:
    status, out, _ = run_cli(f"chain {uri(files / 'plain.txt')} || echo ${{errno}}", "imgstat")
    assert status == 0
    assert out.splitlines()[1:] == [
        "Could not boot: Exec format error (https://ipxe.org/2e008008)",
        "0x2e008008",
        "plain.txt : 18 bytes",
    ]


def test_autofree_marks_and_frees_after_running(files: Path) -> None:
    status, out, _ = run_cli(
        f"imgfetch -a {uri(files / 'hello.txt')}",
        "imgstat",
        f"chain --autofree {uri(files / 'args.ipxe')}",
        "imgstat",
    )
    assert status == 0
    lines = out.splitlines()
    assert lines[1] == "hello.txt : 6 bytes [AUTOFREE]"
    assert lines[-1] == "hello.txt : 6 bytes [AUTOFREE]"  # args.ipxe is gone


def test_replace_hands_over_when_the_script_ends(tmp_path: Path) -> None:
    (tmp_path / "a.ipxe").write_text("#!ipxe\nchain --replace b.ipxe x\necho not reached\n")
    (tmp_path / "b.ipxe").write_text("#!ipxe\necho in b ${args/1} ${cwuri}\n")
    status, out, _ = run_cli(f"chain {uri(tmp_path / 'a.ipxe')}", "imgstat")
    assert status == 0
    assert out.splitlines()[1:] == [
        "b.ipxe... ok",
        f"in b x {uri(tmp_path / 'b.ipxe')}",
        f'b.ipxe : {(tmp_path / "b.ipxe").stat().st_size} bytes [script] "x"',  # a.ipxe: freed
    ]


def test_a_script_that_chains_itself_stops_at_a_bounded_depth(tmp_path: Path) -> None:
    # iPXE runs out of memory eventually; bootsh must fail the same way, not die of
    # Python's RecursionError, and the shell goes on.
    (tmp_path / "self.ipxe").write_text("#!ipxe\ninc n\nchain ${cwuri}\n")
    status, out, err = run_cli(
        f"set n:int32 0 && chain {uri(tmp_path / 'self.ipxe')} || echo depth ${{n}} ${{errno}}"
    )
    assert status == 0, err
    assert "Traceback" not in err and "RecursionError" not in err
    assert f"cannot run self.ipxe: more than {MAX_NESTED} nested images" in err
    lines = out.splitlines()
    assert lines[-1] == f"depth {MAX_NESTED} 0x3100800c"
    assert lines[-2] == "Could not boot: Not enough space (https://ipxe.org/3100800c)"


def test_a_script_replacing_itself_loops_without_recursion(tmp_path: Path) -> None:
    # imgexec --replace is a loop in iPXE (the old image is gone before the new one runs):
    # hundreds of rounds must not grow the Python stack.
    (tmp_path / "again.ipxe").write_text(
        "#!ipxe\ninc n\niseq ${n} 300 && exit 0 ||\nimgexec --replace ${cwuri}\n"
    )
    status, out, err = run_cli(
        f"set n:int32 0 && chain {uri(tmp_path / 'again.ipxe')} && echo done ${{n}}", "imgstat"
    )
    assert status == 0, err[-2000:]
    assert "Traceback" not in err
    lines = out.splitlines()
    # Each round freed the image it replaced: only the last round's image is left.
    assert lines[-2:] == [
        "done 300",
        f"again.ipxe : {(tmp_path / 'again.ipxe').stat().st_size} bytes [script]",
    ]


def test_replace_outside_a_running_image_fails(files: Path) -> None:
    status, out, _ = run_cli(f"chain --replace {uri(files / 'args.ipxe')} || echo ${{errno}}")
    assert status == 0
    assert out.splitlines()[1:] == [
        "Could not boot: Error 0x3d008019 (https://ipxe.org/3d008019)",
        "0x3d008019",
    ]


def test_boot_with_nothing_selected_says_so_and_succeeds() -> None:
    status, out, _ = run_cli("boot", "echo still here")
    assert status == 0
    assert out.splitlines() == ["No image selected", "still here"]


def test_selecting_an_untyped_image_fails(files: Path) -> None:
    status, out, _ = run_cli(f"imgselect {uri(files / 'hello.txt')} || echo ${{errno}}", "imgstat")
    assert status == 0
    assert out.splitlines()[1:] == [
        "Could not select: Exec format error (https://ipxe.org/2e008008)",
        "0x2e008008",
        "hello.txt : 6 bytes",
    ]


def test_without_the_image_types_plugin_nothing_runs(files: Path) -> None:
    status, out, _ = run_cli(
        f"chain {uri(files / 'args.ipxe')} || echo ${{errno}}",
        options=("--no-plugin", "image_types"),
    )
    assert status == 0
    assert out.splitlines()[1:] == [
        "Could not boot: Exec format error (https://ipxe.org/2e008008)",
        "0x2e008008",
    ]


# -- types --------------------------------------------------------------------------------------


def _pe(size: int = 4096) -> bytes:
    data = bytearray(size)
    data[0:2] = b"MZ"
    data[0x3C:0x40] = (0x80).to_bytes(4, "little")
    data[0x80:0x84] = b"PE\0\0"
    return bytes(data)


def test_efi_and_pxe_are_typed_and_cannot_boot(tmp_path: Path) -> None:
    (tmp_path / "grubx64.efi").write_bytes(_pe())
    (tmp_path / "undionly.kpxe").write_bytes(b"\xeb\x3c" + b"\0" * 1000)
    status, out, err = run_cli(
        f"imgfetch {uri(tmp_path / 'grubx64.efi')}",
        f"imgfetch {uri(tmp_path / 'undionly.kpxe')}",
        "imgstat",
        "chain grubx64.efi || echo ${errno}",
        "chain undionly.kpxe || echo ${errno}",
    )
    assert status == 0
    assert out.splitlines()[2:] == [
        "grubx64.efi : 4096 bytes [EFI]",
        "undionly.kpxe : 1002 bytes [PXE-NBP]",
        "Could not boot: Exec format error (https://ipxe.org/2e008008)",
        "0x2e008008",
        "Could not boot: Exec format error (https://ipxe.org/2e008008)",
        "0x2e008008",
    ]
    assert "grubx64.efi: cannot boot an EFI executable from Linux" in err
    assert "undionly.kpxe: cannot boot a PXE NBP from Linux" in err


@pytest.fixture
def shell(host: PluginHost) -> Iterator[Shell]:
    with Shell(host, Context(Config(dry_run=True)), out=io.StringIO(), err=io.StringIO()) as sh:
        yield sh


def test_types_and_facts(shell: Shell, files: Path, tmp_path: Path) -> None:
    (tmp_path / "initrd.gz").write_bytes(gzip.compress(newc({"a": b"x"})))
    assert shell.run_line(f"kernel {uri(kernel())}") == 0
    assert shell.run_line(f"initrd {uri(files / 'initrd.cpio')}") == 0
    assert shell.run_line(f"initrd -n rd.gz {uri(tmp_path / 'initrd.gz')}") == 0
    assert shell.run_line(f"imgfetch -n blob.gz {uri(tmp_path / 'initrd.gz')}") == 0
    assert shell.run_line(f"imgfetch {uri(files / 'exit3.ipxe')}") == 0
    store = store_of(shell)
    types = {i.name: i.type.name if i.type else None for i in store.images}
    assert types == {
        "vmlinuz": "bzImage",
        "initrd.cpio": "initrd",
        "rd.gz": "initrd",  # compressed, fetched with "initrd"
        "blob.gz": None,  # the same bytes fetched with imgfetch: unknown
        "exit3.ipxe": "script",
    }
    facts = store.find("vmlinuz").info  # type: ignore[union-attr]
    assert facts["protocol"].startswith("2.")
    assert int(facts["setup_sects"]) > 0
    assert facts["version"].startswith("6.")  # Debian's kernel states its version


def test_store_files_are_removed_when_the_shell_ends(host: PluginHost, files: Path) -> None:
    with Shell(host, Context(Config()), out=io.StringIO(), err=io.StringIO()) as sh:
        assert sh.run_line(f"imgfetch {uri(files / 'hello.txt')}") == 0
        store = store_of(sh)
        directory = store.directory
        image_file = store.images[0].path
        assert image_file.read_text() == "hello\n"
        assert sh.run_line("imgfree") == 0
        assert not image_file.exists()  # imgfree removes the file at once
        assert sh.run_line(f"imgfetch {uri(files / 'hello.txt')}") == 0
    assert not directory.exists()


def test_dhcp_filename_with_next_server_is_a_tftp_uri(shell: Shell) -> None:
    assert dhcp_boot_uri(shell, announce=False) is None
    assert shell.run_line("set filename boot/pxe menu.ipxe") == 0
    assert shell.run_line("set next-server 10.0.0.1") == 0
    assert dhcp_boot_uri(shell, announce=True) == "tftp://10.0.0.1/boot/pxe%20menu.ipxe"
    assert shell.out.getvalue().splitlines() == [  # type: ignore[union-attr]
        "Next server: 10.0.0.1",
        "Filename: boot/pxe menu.ipxe",
    ]
    assert shell.run_line("set filename http://h/x.ipxe") == 0
    assert dhcp_boot_uri(shell, announce=False) == "http://h/x.ipxe"
    # A DOS drive letter is no URI scheme (iPXE's pxe_uri takes only hierarchical URIs).
    assert shell.run_line("set filename C:\\boot\\wdsnbp.com") == 0
    assert shell.settings.get("filename") == "C:\\boot\\wdsnbp.com"
    assert dhcp_boot_uri(shell, announce=False) == "tftp://10.0.0.1/C%3A%5Cboot%5Cwdsnbp.com"
    # iPXE's TFTP settings applicator: a new next-server moves the working URI there.
    assert store_of(shell).cwuri(shell) == "tftp://10.0.0.1/"
    assert shell.settings.get("cwuri") == "tftp://10.0.0.1/"


# -- digests ------------------------------------------------------------------------------------


def test_digests_match_hashlib(files: Path) -> None:
    data = (files / "initrd.cpio").read_bytes()
    status, out, _ = run_cli(
        f"imgfetch {uri(files / 'initrd.cpio')}",
        "md5sum initrd.cpio",
        "sha1sum initrd.cpio",
        "sha256sum initrd.cpio nosuch initrd.cpio",
        "sha512sum -s digest initrd.cpio",
        "echo ${digest}",
    )
    assert status == 0
    lines = out.splitlines()[1:]
    assert lines == [
        f"{hashlib.md5(data).hexdigest()}  initrd.cpio",
        f"{hashlib.sha1(data).hexdigest()}  initrd.cpio",
        f"{hashlib.sha256(data).hexdigest()}  initrd.cpio",
        # "nosuch" is no image and, relative without ${cwuri}, cannot be fetched: skipped
        "Could not start download: Operation not supported (https://ipxe.org/3c09205f)",
        f"{hashlib.sha256(data).hexdigest()}  initrd.cpio",
        hashlib.sha512(data).hexdigest(),
    ]


def test_digest_into_a_setting_that_cannot_hold_it_is_iPXEs_store_error(files: Path) -> None:
    status, out, err = run_cli(
        f"imgfetch {uri(files / 'initrd.cpio')}",
        "sha256sum -s x:ipv4 initrd.cpio || echo st ${errno}",
        "sha256sum -s y:nosuchtype initrd.cpio || echo st ${errno}",
        "echo still here",
    )
    assert status == 0, err
    assert "Traceback" not in err
    assert out.splitlines()[1:] == [
        'Could not store "x": Invalid argument (https://ipxe.org/1c056016)',
        "st 0x1c056016",
        # The name is checked before any image is acquired, as iPXE parses its options first.
        '"y:nosuchtype": invalid setting',
        "st 0x3c0c205f",
        "still here",
    ]


def test_autoboot_of_an_unknown_netdev_is_parse_netdevs_error() -> None:
    # As every ifcommon command (ifopen, ifconf): iPXE's parse_netdev number.
    status, out, _ = run_cli(
        "autoboot nosuch || echo st ${errno}", "ifopen nosuch || echo st ${errno}"
    )
    assert status == 0
    assert out.splitlines() == ['"nosuch": no such network device', "st 0x2c162013"] * 2


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_or_sighup_mid_download_leaves_no_file(tmp_path: Path, signum: int) -> None:
    # Killed by the default action, bootsh left the .part file and its image directory in
    # TMPDIR; it must unwind as for Ctrl-C and end with 128 + the signal.
    big = tmp_path / "big.img"
    with big.open("wb") as f:
        f.truncate(64 << 30)  # sparse: costs no disk, takes far longer than the test waits
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "BOOTSH_NEVER_KEXEC": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bootsh", "-c", f"imgfetch {big.as_uri()}"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # A test runner started under nohup passes SIGHUP on ignored; bootsh keeps that.
        preexec_fn=lambda: signal.signal(signum, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 30
        while not list(tmp.glob("bootsh-images-*/.fetch-*.part")):
            assert proc.poll() is None and time.monotonic() < deadline, "no download started"
            time.sleep(0.02)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signum, err
    assert "Traceback" not in err
    assert list(tmp.iterdir()) == []


def test_no_writable_temporary_directory_is_one_line(tmp_path: Path) -> None:
    # A read-only rescue system: every directory tempfile tries is read-only. bootsh says so
    # in one line (tempfile.gettempdir() raising inside the error message was a traceback).
    script = (
        # Read-only bind mounts, not empty tmpfs: the interpreter (a venv) or this checkout
        # may live under /tmp and must stay visible.
        "for d in /tmp /var/tmp; do mount --bind $d $d && mount -o remount,bind,ro $d || exit 9;"
        " done && cd /tmp && "
        f"exec {sys.executable} -m bootsh -c 'imgfetch {kernel().as_uri()} || echo st ${{errno}}'"
        " -c 'echo after'"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("TMPDIR", "TEMP", "TMP")}
    proc = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("cannot create the image directory: No usable temporary directory")
    assert lines[0].endswith("(set TMPDIR to a writable directory)")
    assert lines[1:] == ["st 0x1", "after"]


def test_an_empty_uri_fetches_the_working_uri_named_imgn(tmp_path: Path) -> None:
    # iPXE resolves "" to ${cwuri} but names the image from the URI as typed (no path: imgN).
    (tmp_path / "self.ipxe").write_text("#!ipxe\nimgfetch ${nosuch}\nimgstat\n")
    status, out, _ = run_cli(f"chain {uri(tmp_path / 'self.ipxe')}")
    assert status == 0
    size = (tmp_path / "self.ipxe").stat().st_size
    assert out.splitlines()[1:] == ["... ok", f"img0 : {size} bytes [script]"]


def test_exit_in_a_chained_script_does_not_end_the_interactive_shell(
    shell: Shell, files: Path
) -> None:
    # The REPL runs lines without a frame of its own: the chained script's ``exit`` ends
    # that script only, as in iPXE's shell.
    status = shell.run_line(f"chain {uri(files / 'exit3.ipxe')}")
    assert status == 3
    assert shell.exit_requested is None
    assert shell.run_line("echo still here") == 0
