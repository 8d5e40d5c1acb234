"""Completion of the network and image commands, with the real ipxe_cmds records.

Through prompt_toolkit's completer API (``get_completions(Document(...), CompleteEvent())``)
and through a real session on a pipe input, keys sent in stages (type, Tab, Enter), as in
``tests/test_repl.py``. Images are registered by the real ``imgfetch`` of ``file://`` URIs.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from bootsh.console.completion import ShellCompleter
from bootsh.plugins import PluginHost
from bootsh.shell import Shell
from tests.console.test_repl import Session, pipe_session, wait_for
from tests.helpers import ROOT, make_shell


@pytest.fixture
def shell(host: PluginHost, tmp_path: Path) -> Iterator[Shell]:
    """A shell with two images, ``vmlinuz`` and ``initrd.img``, fetched from files."""
    sh = make_shell(host)
    for name in ("vmlinuz", "initrd.img"):
        (tmp_path / name).write_bytes(b"\0" * 1024)
        assert sh.run_line(f"imgfetch file://{tmp_path / name}") == 0
    yield sh
    sh.run_line("imgfree")


def texts(shell: Shell, text: str) -> list[str]:
    completer = ShellCompleter(shell)
    return [c.text for c in completer.get_completions(Document(text), CompleteEvent())]


# -- netdevs ---------------------------------------------------------------------------------


def test_netdev_names_for_the_network_commands_and_their_aliases(shell: Shell) -> None:
    for command in ("ifconf", "dhcp", "iflinkwait", "ifopen", "ifclose", "ifstat", "autoboot"):
        assert {"net0", "net1"} <= set(texts(shell, f"{command} ")), command
        assert texts(shell, f"{command} net1 net0 n")[:2] == ["net0", "net1"], command
    assert texts(shell, "dhcp -t 5000 net1") == ["net1"]  # after an option and its argument
    assert texts(shell, "dhcp -c dhcp ne")[:2] == ["net0", "net1"]


def test_the_configurator_option_completes_ipxes_configurators(shell: Shell) -> None:
    assert texts(shell, "ifconf -c ") == ["dhcp", "ipv6"]
    assert texts(shell, "dhcp --configurator d") == ["dhcp"]
    assert texts(shell, "ifconf -cd") == ["dhcp"]  # the argument in the same word
    assert texts(shell, "ifconf -ci") == ["ipv6"]
    assert texts(shell, "ifconf --configurator=") == ["dhcp", "ipv6"]
    assert texts(shell, "ifconf -t ") == []  # a timeout: nothing to offer


# -- images ----------------------------------------------------------------------------------


def test_image_names_for_the_image_commands_and_their_aliases(shell: Shell) -> None:
    both = ["initrd.img", "vmlinuz"]
    for command in ("imgselect", "imgload", "kernel", "imgexec", "chain", "boot", "imgargs"):
        assert texts(shell, f"{command} ") == both, command
        assert texts(shell, f"{command} vm") == ["vmlinuz"], command
        assert texts(shell, f"{command} -a vm") == ["vmlinuz"], command
        assert texts(shell, f"{command} -n kernel -t 100 i") == ["initrd.img"], command
    for command in ("imgstat", "imgfree", "sha256sum", "sha1sum", "md5sum", "sha512sum"):
        assert texts(shell, f"{command} ") == both, command
        # Every argument is an image.
        assert texts(shell, f"{command} vmlinuz i") == ["initrd.img"], command


def test_the_arguments_after_an_image_are_its_command_line_not_images(shell: Shell) -> None:
    assert texts(shell, "imgargs vmlinuz ") == []
    assert texts(shell, "kernel vmlinuz console=ttyS0 ") == []
    assert texts(shell, "chain -a vmlinuz i") == []


def test_a_freed_image_is_no_longer_offered(shell: Shell) -> None:
    assert shell.run_line("imgfree vmlinuz") == 0
    assert texts(shell, "imgstat ") == ["initrd.img"]
    assert shell.run_line("imgfree") == 0
    assert texts(shell, "imgstat ") == []


def test_an_image_renamed_by_name_is_offered_by_its_new_name(shell: Shell) -> None:
    assert shell.run_line("imgargs -n linux vmlinuz quiet") == 0
    assert texts(shell, "boot l") == ["linux"]


# -- settings --------------------------------------------------------------------------------


def test_setting_names_for_nslookup_and_the_digest_set_option(shell: Shell) -> None:
    shell.settings.set("digest", "x")
    for text in (
        "nslookup fi",
        "sha256sum -s fi",
        "sha256sum --set fi",
        "md5sum -s fi",
        "sha1sum -sfi",
        "sha256sum --set=fi",
    ):
        assert texts(shell, text) == ["filename"], text
    assert "digest" in texts(shell, "sha256sum -s ")
    assert texts(shell, "nslookup net0/m") == ["net0/mac"]
    assert texts(shell, "nslookup net0/") == [t for t in texts(shell, "show net0/")]
    assert texts(shell, "nslookup filename ") == []  # <name>: a host name
    assert texts(shell, "sha256sum -s digest v") == ["vmlinuz"]  # then the images


# -- options ---------------------------------------------------------------------------------


def test_option_names_of_ping_and_the_image_commands(shell: Shell) -> None:
    flags = ["--count", "--help", "--quiet", "--size", "--timeout", "-c", "-h", "-q", "-s", "-t"]
    assert texts(shell, "ping -") == flags
    assert texts(shell, "ping -q -") == flags
    assert texts(shell, "ping --c") == ["--count"]
    assert texts(shell, "ping -c ") == []  # a count
    assert texts(shell, "ping 10.77.0.1 -") == []  # getopt stops at the host
    assert texts(shell, "chain --r") == ["--replace"]
    assert texts(shell, "imgfetch --") == [
        "--autofree",
        "--help",
        "--name",
        "--quiet",
        "--timeout",
    ]
    assert texts(shell, "sha256sum -") == ["--help", "--set", "-h", "-s"]
    assert texts(shell, "dhcp -") == [
        "--configurator",
        "--help",
        "--timeout",
        "-c",
        "-h",
        "-t",
    ]


def test_command_names_offer_the_new_commands_and_aliases(shell: Shell) -> None:
    assert texts(shell, "dh") == ["dhcp"]
    assert texts(shell, "ns") == ["nslookup", "nstat"]
    assert texts(shell, "ker") == ["kernel"]
    assert texts(shell, "cha") == ["chain"]
    assert {"imgfetch", "imgfree", "imgselect", "imgstat", "imgexec", "imgargs", "imgload"} <= set(
        texts(shell, "img")
    )
    completer = ShellCompleter(shell)
    [dhcp] = completer.get_completions(Document("dh"), CompleteEvent())
    assert dhcp.display_meta_text == "alias of ifconf"


def test_completion_loads_neither_scapy_nor_the_http_stack() -> None:
    # A fresh interpreter: other tests of this process may have loaded them already.
    code = (
        "import sys\n"
        "from bootsh.plugins import make_plugin_manager\n"
        "from tests.helpers import make_shell\n"
        "from bootsh.console.completion import complete\n"
        "sh = make_shell(make_plugin_manager(report=lambda line: None))\n"
        "for t in ('dhcp ', 'ifconf -c ', 'ping -', 'imgstat ', 'nslookup fi', 'sha1sum -s '):\n"
        "    complete(sh, t)\n"
        "print(' '.join(m for m in ('scapy', 'http.client', 'urllib3', 'requests')"
        " if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


# -- a real session on a pipe ----------------------------------------------------------------


@pytest.fixture
def session(shell: Shell, tmp_path: Path) -> Iterator[Session]:
    env = {"HOME": str(tmp_path / "home"), "XDG_STATE_HOME": str(tmp_path / "state")}
    with pipe_session(shell, env) as running:
        yield running


def test_tab_completes_an_image_name_and_enter_runs_the_command(session: Session) -> None:
    session.send("imgstat vm")
    wait_for(lambda: session.buffer == "imgstat vm", "typing")
    session.send("\t")
    wait_for(lambda: session.buffer == "imgstat vmlinuz", "the completion")
    session.send("\r")
    wait_for(lambda: "vmlinuz : 1024 bytes\n" in session.out, "imgstat's line")
    session.finish()
    assert session.shell.status == 0
    assert "initrd.img : 1024 bytes" not in session.out  # only the image named


def test_tab_completes_a_setting_for_sha256sum_s_then_the_image(session: Session) -> None:
    session.shell.settings.set("sum", "none yet")
    session.send("sha256sum -s su")
    wait_for(lambda: session.buffer == "sha256sum -s su", "typing")
    session.send("\t")
    wait_for(lambda: session.buffer == "sha256sum -s sum", "the setting's completion")
    session.send(" in")
    wait_for(lambda: session.buffer == "sha256sum -s sum in", "typing the image")
    session.send("\t")
    wait_for(lambda: session.buffer == "sha256sum -s sum initrd.img", "the image's completion")
    session.send("\r")
    expected = "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
    wait_for(lambda: session.shell.settings.get("sum") == expected, "the digest in the setting")
    session.finish()


def test_tab_completes_dhcps_configurator_and_netdev(session: Session) -> None:
    session.send("dhcp -c d")
    wait_for(lambda: session.buffer == "dhcp -c d", "typing")
    session.send("\t")
    wait_for(lambda: session.buffer == "dhcp -c dhcp", "the configurator")
    session.send(" net1")
    session.send("\x15")  # Ctrl-U: the line is not run (no lab here)
    wait_for(lambda: session.buffer == "", "the line to be dropped")
    session.finish()


def test_imgfetch_and_its_aliases_offer_no_image_names_for_a_uri(shell: Shell) -> None:
    assert "vmlinuz" in texts(shell, "imgstat ")
    for command in ("imgfetch", "module", "initrd"):
        assert texts(shell, f"{command} ") == [], command
        assert texts(shell, f"{command} vm") == [], command


def test_completing_image_names_makes_no_image_directory(host: PluginHost) -> None:
    sh = make_shell(host)
    assert texts(sh, "imgstat ") == []
    assert texts(sh, "chain ") == []
    assert sh.state == {}  # no image store, so no temporary directory, was created
