"""Request parameters (``params``, ``param``, ``##params``) and ``imgset``, as upstream iPXE
(``core/params.c``, ``hci/commands/param_cmd.c``, ``net/tcp/httpcore.c``): the list logic in
a shell, and the requests bootsh really sends, seen by an echoing HTTP server in the lab."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bootsh.boot import params as P
from bootsh.lab import Lab
from bootsh.plugins import PluginHost
from tests.boot.test_fetch import SERVER
from tests.helpers import bootsh, make_shell, run_cli, started
from tests.helpers import misbehaving_server as server

PORT = 8090


def test_encoding_is_ipxes_field_zero() -> None:
    assert P.encode("a b/c?d=e&f+g#h:i@j%k~l") == "a%20b%2Fc%3Fd%3De%26f%2Bg%23h%3Ai%40j%25k~l"
    assert P.encode("é") == "%C3%A9"


def test_split_and_claim(host: PluginHost) -> None:
    shell = make_shell(host)
    assert P.split("http://h/x") == ("http://h/x", None, False)
    assert P.split("http://h/x##params") == ("http://h/x", None, True)
    assert P.split("http://h/x##params=meta") == ("http://h/x", "meta", True)
    default = P.create(shell, None, None)
    named = P.create(shell, "meta", "PUT")
    assert P.claim(shell, "http://h/x##params=meta") == ("http://h/x", named)
    assert P.find(shell, "meta") is None  # claimed: gone from the shell's lists
    assert P.claim(shell, "http://h/y##params=nosuch") == ("http://h/y", None)
    assert P.claim(shell, "http://h/z##params") == ("http://h/z", default)


def test_method_and_body() -> None:
    params = P.Parameters()
    assert params.http_method() == "GET" and params.body() == b""
    params.entries += [P.Parameter("k", "v 1"), P.Parameter("X-H", "h", header=True)]
    assert params.http_method() == "POST"
    assert params.body() == b"k=v%201"
    assert P.Parameters(method="put").http_method() == "PUT"
    assert P.Parameters(method="DELETE").http_method() is None


def test_params_and_param_commands() -> None:
    status, out, _ = run_cli("param x")
    assert (status, out) == (1, "No default parameter list\n")
    status, out, _ = run_cli("params --name a", "param --params b x")
    assert (status, out) == (1, '"b": no such parameter list\n')
    status, out, _ = run_cli("params", "param x", "params --delete", "param y")
    assert (status, out) == (1, "No default parameter list\n")
    # The usage is upstream's: --name, --method, --delete; param takes --params, --header.
    assert run_cli("params x")[1].splitlines()[2] == (
        "  params [-n|--name <name>] [-m|--method <method>] [-d|--delete]"
    )
    assert run_cli("param")[1].splitlines()[2] == (
        "  param [-p|--params <params>] [-H|--header] <key> [<value>]"
    )


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("served")
    (root / "token").write_text("secret-token")
    with started(Lab(serve=root, client_ipv6=False)) as running:
        yield running


def echoed(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """The request lines the echo server sent back, as bootsh showed them."""
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.split("\n", 1)[1].replace("\r", "").splitlines()


def test_form_fields_are_posted_and_headers_sent(lab: Lab) -> None:
    with server(lab, "echo", PORT):
        proc = bootsh(
            lab,
            "dhcp",
            "params",
            "param --header X-Token abc def",
            "param name bootsh shell",
            "param path /a&b=c",
            f"imgset --keep req http://{SERVER}:{PORT}/submit?q=1##params",
            "imgstat",
            "echo ${req}",
            "param after the claim",
        )
    lines = proc.stdout.splitlines()
    assert lines[1] == f"http://{SERVER}:{PORT}/submit?q=1... ok"
    assert lines[2].startswith("submit : ")
    request = "\n".join(lines[3:]).replace("\r", "")
    head, _, body = request.partition("\n\n")
    assert head.splitlines()[0] == "POST /submit?q=1 HTTP/1.1"
    assert "Content-Type: application/x-www-form-urlencoded" in head.splitlines()
    assert "X-Token: abc def" in head.splitlines()
    assert body.startswith("name=bootsh%20shell&path=%2Fa%26b%3Dc")
    # The list was claimed by the URI: the next param has none.
    assert proc.stdout.endswith("No default parameter list\n")


def test_method_put_without_fields_and_a_named_list(lab: Lab) -> None:
    with server(lab, "echo", PORT):
        proc = bootsh(
            lab,
            "dhcp",
            "params --name aws --method put",
            "param --params aws --header X-Ttl 600",
            f"imgset r http://{SERVER}:{PORT}/latest/api/token##params=aws",
            "echo ${r}",
            "imgstat",
        )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = proc.stdout.replace("\r", "")
    assert "PUT /latest/api/token HTTP/1.1\n" in text
    assert "X-Ttl: 600\n" in text
    assert "Content-Length" not in text  # no form fields: no body
    assert text.rstrip().endswith("X-Ttl: 600")  # imgset without --keep: no image left


def test_unknown_method_and_missing_list(lab: Lab) -> None:
    proc = bootsh(
        lab,
        "dhcp",
        "params --method DELETE",
        f"imgfetch http://{SERVER}/token##params || echo ${{errno}}",
        # A list that does not exist is ignored: a plain GET.
        f"imgset t http://{SERVER}/token##params=nosuch",
        "echo ${t}",
    )
    lines = proc.stdout.splitlines()
    assert (
        lines[1] == f"http://{SERVER}/token... Operation not supported (https://ipxe.org/3c0c605f)"
    )
    assert lines[2] == "0x3c0c605f"
    assert lines[-1] == "secret-token"


def test_imgset_errors(tmp_path: Path) -> None:
    assert run_cli("imgset x")[1].splitlines()[2] == (
        "  imgset [-k|--keep] [-t|--timeout <timeout>] [-q|--quiet]"
    )
    status, out, _ = run_cli("imgset nosuch/x:bogus y")
    assert (status, out) == (1, '"nosuch/x:bogus": invalid setting\n')
