"""The command line: sources of choices, exit statuses, batch input, clear errors."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bootsh.cli import main
from bootsh.config import Choices, merge
from bootsh.errors import UsageError
from tests.helpers import CONSOLE_SCRIPT


def run(
    argv: list[str], env: dict[str, str] | None = None, stdin: str = ""
) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(
        argv, env=env or {"HOME": "/nonexistent"}, stdin=io.StringIO(stdin), stdout=out, stderr=err
    )
    return status, out.getvalue(), err.getvalue()


def test_policy_precedence_cli_env_config(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('twins = "both"\nxen-domid = 4\n')
    env = {"BOOTSH_CONFIG": str(cfg)}
    assert merge(Choices(), env).twins == "both"
    assert merge(Choices(), {**env, "BOOTSH_TWINS": "label"}).twins == "label"
    assert (
        merge(Choices(twins="hide-netfront"), {**env, "BOOTSH_TWINS": "label"}).twins
        == "hide-netfront"
    )
    assert merge(Choices(), env).xen_domid == 4
    assert merge(Choices(), {**env, "BOOTSH_XEN_DOMID": "9"}).xen_domid == 9
    assert merge(Choices(xen_domid=1), {**env, "BOOTSH_XEN_DOMID": "9"}).xen_domid == 1
    assert merge(Choices(), {}).twins == "hide-emulated"


def test_config_file_is_found_in_xdg_config_home(tmp_path: Path) -> None:
    (tmp_path / "bootsh").mkdir()
    (tmp_path / "bootsh" / "config.toml").write_text('[plugins]\ndisable = ["netfront"]\n')
    config = merge(Choices(), {"XDG_CONFIG_HOME": str(tmp_path)})
    assert config.disabled_plugins == {"netfront"}
    assert config.config_file == tmp_path / "bootsh" / "config.toml"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("twins = 3\n", "'twins' has the wrong type (int)"),
        ("twinz = 'label'\n", "unknown key 'twinz'"),
        ("xen-domid = true\n", "'xen-domid' has the wrong type (bool)"),
        ("allow-unplug = true\n", "unknown key 'allow-unplug'"),
        ("twins = \n", "invalid TOML"),
    ],
)
def test_bad_config_file_is_a_usage_error_naming_the_file(
    tmp_path: Path, text: str, message: str
) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    with pytest.raises(UsageError, match=re.escape(message)) as info:
        merge(Choices(config_file=cfg), {})
    assert str(cfg) in str(info.value)
    status, out, err = run(["--config", str(cfg), "-c", "echo x"])
    assert (status, out) == (2, "")
    assert str(cfg) in err and "Traceback" not in err


def test_bad_domid_in_environment() -> None:
    status, _, err = run(["-c", "echo"], env={"BOOTSH_XEN_DOMID": "seven"})
    assert status == 2
    assert err == "bootsh: BOOTSH_XEN_DOMID='seven' is not a domain id (a decimal number)\n"


def test_unknown_policy_is_a_usage_error_listing_known_ones(tmp_path: Path) -> None:
    status, out, err = run(
        ["--sysfs-root", str(tmp_path), "--twins", "hide-everything", "-c", "ifstat"]
    )
    assert status == 2 and out == ""
    assert "unknown twin policy 'hide-everything'" in err
    assert "hide-emulated" in err and "unplug" in err


def test_set_twins_validates_and_shows(tmp_path: Path) -> None:
    status, out, _ = run(
        ["--sysfs-root", str(tmp_path), "-c", "set twins label", "-c", "show twins"]
    )
    assert (status, out) == (0, "twins:string = label\n")
    status, out, _ = run(["--sysfs-root", str(tmp_path), "-c", "set twins nonsense"])
    assert status == 1
    assert out.startswith("unknown twin policy 'nonsense'")


def test_exit_status_and_failure(tmp_path: Path) -> None:
    assert run(["-c", "exit 3"])[0] == 3
    status, out, err = run(["-c", "frobnicate now", "-c", "echo never"])
    assert (status, out) == (1, "frobnicate: command not found\n")
    assert err == "bootsh: -c:1: failed: frobnicate now\n"
    assert run(["-c", "frobnicate ||", "-c", "echo reached"])[1].endswith("reached\n")


def test_script_file_with_and_without_magic(tmp_path: Path) -> None:
    script = tmp_path / "boot.ipxe"
    script.write_text("#!ipxe\r\necho one\r\n:label echo two # not printed\necho three\n")
    status, out, err = run([str(script)])
    assert (status, out, err) == (0, "one\ntwo\nthree\n", "")
    plain = tmp_path / "plain.txt"
    plain.write_text("echo mine\n")
    status, out, err = run([str(plain)])
    assert (status, out) == (0, "mine\n")
    assert err == f"bootsh: {plain}: no #!ipxe line; running it as a script anyway\n"
    status, out, err = run([str(tmp_path / "missing.ipxe")])
    assert status == 2 and "cannot read" in err and "missing.ipxe" in err


def test_failing_line_is_named_with_file_and_line(tmp_path: Path) -> None:
    script = tmp_path / "s.ipxe"
    script.write_text("#!ipxe\necho a\nifstat net7\necho b\n")
    status, out, err = run(["--sysfs-root", str(tmp_path), str(script)])
    assert status == 1
    assert out == 'a\n"net7": no such network device\n'
    assert err == f"bootsh: {script}:3: failed: ifstat net7\n"


def test_commands_on_stdin() -> None:
    status, out, _ = run([], stdin="echo from stdin\nexit 4\necho never\n")
    assert (status, out) == (4, "from stdin\n")


def test_command_usage_and_help() -> None:
    status, out, _ = run(["-c", "ifstat --bogus"])
    assert status == 1
    assert out.startswith(
        'Unrecognised option "--bogus"\nUsage:\n\n  ifstat [-a|--all] [<interface>...]\n'
    )
    status, out, _ = run(["-c", "show"])
    assert (status, out) == (
        1,
        "Usage:\n\n  show <setting>\n\nSee https://ipxe.org/cmd/show for further information\n",
    )


def test_script_and_c_together_is_a_usage_error(tmp_path: Path) -> None:
    # After the script name, "-c" is the script's own argument, as with sh.
    status, _, err = run(["-c", "echo", str(tmp_path / "x.ipxe")])
    assert status == 2 and "either a script or -c" in err


def test_unknown_plugin_name_to_disable_is_warned(tmp_path: Path) -> None:
    status, out, err = run(
        ["--no-plugin", "netfrnt", "--sysfs-root", str(tmp_path), "-c", "echo ok"]
    )
    assert (status, out) == (0, "ok\n")
    assert err == "bootsh: no plugin named 'netfrnt' to disable\n"


def test_python_dash_m_and_console_script_agree(tmp_path: Path) -> None:
    env = {**os.environ, "BOOTSH_SYSFS_ROOT": str(tmp_path)}
    for argv in ([sys.executable, "-m", "bootsh"], [str(CONSOLE_SCRIPT)]):
        proc = subprocess.run(
            [*argv, "-c", "echo -n hi"], capture_output=True, text=True, env=env, timeout=60
        )
        assert (proc.returncode, proc.stdout) == (0, "hi"), proc.stderr


def test_ifstat_imports_neither_scapy_nor_prompt_toolkit() -> None:
    """Start-up stays light: the heavy libraries load only for commands that need them."""
    machine = Path(__file__).resolve().parents[2] / "examples" / "machines" / "xen-hvm"
    code = (
        "import io, sys\n"
        "from bootsh.cli import main\n"
        f"status = main(['--machine', {str(machine)!r}, '-c', 'ifstat'], stdout=io.StringIO())\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('scapy', 'prompt_toolkit'))\n"
        "print(status, heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout == "0 []\n", proc.stderr


def test_a_partial_line_shows_before_a_long_command_on_a_pipe() -> None:
    """``echo -n`` then a slow command: the text reaches a pipe at once, not at exit."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bootsh", "-c", "echo -n waiting ; sleep 5 ; echo done"],
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        os.set_blocking(proc.stdout.fileno(), False)
        seen = b""
        deadline = time.monotonic() + 4
        while b"waiting" not in seen and time.monotonic() < deadline:
            seen += proc.stdout.read() or b""
            time.sleep(0.05)
        assert seen == b"waiting", "the partial line waited in the buffer"
    finally:
        proc.kill()
        proc.wait()


def test_a_failed_line_on_stderr_hides_a_uri_password() -> None:
    status, out, err = run(["-c", "imgfetch http://user:secret@127.0.0.1:1/x"])
    assert status == 1
    assert out.startswith("http://user:***@127.0.0.1:1/x... ")
    assert "-c:1: failed: imgfetch http://user:***@127.0.0.1:1/x" in err
    assert "secret" not in out + err


def test_shell_after_runs_the_prompt_after_the_script() -> None:
    # What the initramfs's /init runs: the script (here failing), a line saying so, then the
    # interactive shell (a plain prompt without a terminal) with the script's settings.
    out, err = io.StringIO(), io.StringIO()
    stdin = io.StringIO("echo ${x}\nexit 3\n")
    argv = ["--shell-after", "-c", "set x kept", "-c", "iseq 1 2"]
    status = main(argv, env={}, stdin=stdin, stdout=out, stderr=err)
    assert err.getvalue().splitlines()[-1] == "bootsh: -c failed: the interactive shell follows"
    assert out.getvalue() == "bootsh> kept\nbootsh> "
    assert status == 3  # the shell's exit, not the script's
    # A script's own exit ends the script only; the shell still follows, without the line.
    out, err = io.StringIO(), io.StringIO()
    status = main(["--shell-after", "-c", "exit 4"], env={}, stdin=io.StringIO(), stdout=out,
                  stderr=err)  # fmt: skip
    assert (status, out.getvalue(), err.getvalue()) == (0, "bootsh> \n", "")
    err = io.StringIO()
    assert main(["--shell-after"], env={}, stdin=io.StringIO(), stderr=err) == 2
    assert err.getvalue() == "bootsh: --shell-after needs a script or -c\n"
