"""Downloads resolve host names through the shell's DNS servers (the lease's ``dns``, or
``set dns``), as iPXE does, not through the host's resolv.conf: a name only the shell's server
knows is fetched over HTTP and TFTP, while the client namespace's own resolver cannot find it.
Without a ``dns`` setting the system's resolver decides (covered by the other fetch tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bootsh.lab import CLIENT_IF, Lab
from tests.helpers import bootsh, started

ONLY = "boot.only-bootsh.test"  # known to the extra DNS server only
DNS_HOST = "10.77.0.2"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    served = tmp_path_factory.mktemp("dns-served")
    (served / "hello.ipxe").write_text("#!ipxe\necho hello\n")
    with started(Lab(serve=served, client_ipv6=False)) as the_lab:  # IPv4 only
        host = the_lab.add_host(DNS_HOST)
        the_lab.start_host_dnsmasq(
            host, [f"--address=/{ONLY}/{the_lab.server_ip}"], ports=(53,), dns=True
        )
        yield the_lab


def test_the_name_is_unknown_to_the_system_resolver(lab: Lab) -> None:
    proc = lab.run_in_client(["getent", "hosts", ONLY], capture_output=True, text=True)
    assert proc.returncode != 0, proc.stdout


@pytest.mark.parametrize("scheme", ["http", "tftp"])
def test_a_download_uses_the_shells_dns_server(lab: Lab, scheme: str) -> None:
    proc = bootsh(lab, "dhcp", f"set dns {DNS_HOST}", f"chain {scheme}://{ONLY}/hello.ipxe")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[1:] == [f"{scheme}://{ONLY}/hello.ipxe... ok", "hello"]


def test_a_name_the_shells_server_does_not_know_is_ipxes_dns_error(lab: Lab) -> None:
    proc = bootsh(lab, "dhcp", f"set dns {DNS_HOST}", "imgfetch http://nosuch.bootsh.test/x")
    assert proc.returncode != 0
    line = proc.stdout.splitlines()[1]
    assert line.startswith("http://nosuch.bootsh.test/x... Error 0x"), line
    assert "Traceback" not in proc.stderr


def test_without_a_dns_setting_the_system_resolver_decides(lab: Lab, tmp_path: Path) -> None:
    # No lease: the netns resolv.conf points at the lab's own dnsmasq, which knows server.
    name = f"{lab.server_name}"
    proc = lab.run_in_client(["ip", "address", "add", "10.77.0.60/24", "dev", CLIENT_IF])
    try:
        got = bootsh(lab, "ifopen", f"imgfetch http://{name}/hello.ipxe", "imgstat")
        assert got.returncode == 0, got.stdout + got.stderr
        assert got.stdout.splitlines()[-2:] == [
            f"http://{name}/hello.ipxe... ok",
            "hello.ipxe : 18 bytes [script]",
        ]
    finally:
        if proc.returncode == 0:
            lab.run_in_client(["ip", "address", "del", "10.77.0.60/24", "dev", CLIENT_IF])
