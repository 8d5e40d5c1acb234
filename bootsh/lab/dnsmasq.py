"""The lab's dnsmasq driver: the command lines (the lab's own DHCP, TFTP and DNS server, and
the bare DHCP servers of extra hosts), starting one, waiting until it listens, stopping it,
and reading its log files.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bootsh.lab.errors import LabError
from bootsh.lab.netns import NETNS_DIR

if TYPE_CHECKING:
    from bootsh.lab.topology import Lab


def command(lab: Lab) -> list[str]:
    """The lab's dnsmasq: DHCP, TFTP and DNS on the server's veth, as ``lab`` asks."""
    argv = [
        "dnsmasq",
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        # Root inside a throw-away namespace: it can read a served directory that only
        # root may enter (pytest's tmp_path is 0700) and write its lease and log files.
        "--user=root",
        f"--pid-file={lab.tmpdir / 'dnsmasq.pid'}",
        f"--dhcp-leasefile={lab.leases_path}",
        f"--log-facility={lab.dnsmasq_log_path}",
        f"--interface={lab.server_if}",
        "--bind-interfaces",
    ]
    if lab.ipv6 is not None:
        argv += ipv6_arguments(lab)
    if lab.dhcp and lab.ipv4:
        mask = str(lab.subnet.netmask)
        argv += [
            f"--dhcp-range={lab.dhcp_range[0]},{lab.dhcp_range[1]},{mask},1h",
            "--dhcp-authoritative",
            "--no-ping",  # else dnsmasq pings each new address and waits 3 s for no answer
            "--log-dhcp",
            # iPXE clients: they send option 175 (encapsulated iPXE options) and user-class
            # "iPXE"; tagged clients get option 175 back with sub-option 176 (no-pxedhcp=1:
            # do not wait for ProxyDHCP) and their own boot file.
            "--dhcp-match=set:ipxe,175",
            "--dhcp-userclass=set:ipxe,iPXE",
            "--dhcp-option=tag:ipxe,encap:175,176,1",
        ]
        if lab.ipxe_bootfile:
            argv.append(f"--dhcp-boot=tag:ipxe,{lab.ipxe_bootfile},,{lab.server_ip}")
        if lab.pxe_arch is not None:
            argv += pxe_arguments(lab.pxe_arch, lab.silent_ip)
    if lab.tftp:
        argv += ["--enable-tftp", f"--tftp-root={lab.serve_dir}"]
    if lab.dns:
        argv += [
            f"--domain={lab.domain}",
            f"--local=/{lab.domain}/",
            # An A record with IPv4, an AAAA record with IPv6 (both in a dual-stack lab).
            "--host-record="
            + ",".join(
                [lab.server_name]
                + ([lab.server_ip] if lab.ipv4 else [])
                + ([lab.server_ip6] if lab.ipv6 is not None else [])
            ),
            "--log-queries",
        ]
    else:
        argv.append("--port=0")
    argv += lab.extra_dnsmasq_args
    return argv


def ipv6_arguments(lab: Lab) -> list[str]:
    """Router advertisements for the lab's /64 and DHCPv6 as ``lab.ipv6`` asks: "slaac" (a
    prefix to autoconfigure, no flags), "stateless" (the O flag: DHCPv6 gives options only),
    "stateful" (the M flag: DHCPv6 gives addresses)."""
    # A router for 600 s (so that route shows it as gateway), advertised every 10 s and at
    # once in answer to a router solicitation.
    argv = ["--enable-ra", f"--ra-param={lab.server_if},10,600"]
    low, high = lab.subnet6[0x100], lab.subnet6[0x1FF]
    argv.append(
        {
            "slaac": f"--dhcp-range=::,constructor:{lab.server_if},ra-only,64,1h",
            "stateless": f"--dhcp-range=::,constructor:{lab.server_if},ra-stateless,64,1h",
            "stateful": f"--dhcp-range={low},{high},64,1h",
        }[str(lab.ipv6)]
    )
    if lab.ipv6 != "slaac":
        argv += [
            "--log-dhcp",
            f"--dhcp-option=option6:bootfile-url,{lab.http_url6}boot.ipxe",
        ]
    return argv


def pxe_arguments(arch: int, silent_ip: str) -> list[str]:
    """PXE boot services for clients of architecture ``arch`` (option 93: 9 is x86-64 EFI,
    what bootsh on x86_64 says; 0 is a PC BIOS). dnsmasq numbers the services with a boot
    file from 32768 on, in this order, and answers discovery for them (on port 4011, and on
    67 to a broadcast):

    - 32768, boot file ``bootsh-a.0`` from this server; 32769, ``bootsh-b.0``. Two of them,
      so that dnsmasq lists them for EFI clients too (with only one it leaves PXE options out
      for those and hands the file out directly);
    - 5, listed at ``silent_ip`` where nothing answers.

    Clients of that architecture get, with their lease, the discovery control (43.6 = 3: no
    broadcast, no multicast), the boot server list (43.8: 32768 and 32769 here, 5 at
    ``silent_ip``) and a menu (43.9, 43.10). ``pxebs`` sends the type little-endian, so
    ``pxebs net0 128`` asks for 32768, ``384`` for 32769 and ``1280`` for 5."""
    return [
        f"--pxe-service={arch},bootsh-lab-a,bootsh-a",
        f"--pxe-service={arch},bootsh-lab-b,bootsh-b",
        f"--pxe-service={arch},bootsh-lab-silent,5,{silent_ip}",
    ]


def host_command(tmpdir: Path, tag: str, log: Path, dns: bool, args: Sequence[str]) -> list[str]:
    """An extra host's dnsmasq on its ``eth0``: files named by ``tag`` in ``tmpdir``, no DNS
    unless ``dns``, and ``args`` as its whole DHCP set-up."""
    return [
        "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
        "--no-hosts", "--user=root", f"--port={53 if dns else 0}", "--bind-interfaces",
        "--interface=eth0", f"--pid-file={tmpdir / f'dnsmasq-{tag}.pid'}",
        f"--dhcp-leasefile={tmpdir / f'dnsmasq-{tag}.leases'}",
        f"--log-facility={log}", "--log-dhcp", *args,
    ]  # fmt: skip


def spawn(argv: Sequence[str], stderr_path: Path) -> subprocess.Popen[bytes]:
    """Start ``argv`` (a dnsmasq behind ``ip netns exec``) with its output in ``stderr_path``."""
    with stderr_path.open("wb") as stderr:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr)


def wait_listening(
    proc: subprocess.Popen[bytes],
    netns: str,
    ports: set[int],
    timeout: float,
    who: str,
    stderr_path: Path,
    log: Callable[[], str],
) -> None:
    """Wait until ``proc`` (started by ``ip netns exec``) runs in ``netns`` with the UDP
    ``ports`` bound; ``LabError`` (with its stderr and ``log()``) when it exits or times out."""
    ns = os.stat(NETNS_DIR / netns)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise LabError(
                f"{who} exited with status {proc.returncode}: "
                f"{read_log(stderr_path).strip()} {log().strip()}".strip()
            )
        # /proc/PID/net shows the namespace of PID: once the process (not yet `ip netns exec`)
        # runs there, its UDP sockets are listed as soon as they are bound.
        with contextlib.suppress(OSError):
            pid_ns = os.stat(f"/proc/{proc.pid}/ns/net")
            if (pid_ns.st_dev, pid_ns.st_ino) == (ns.st_dev, ns.st_ino) and ports <= _udp_ports(
                Path(f"/proc/{proc.pid}/net/udp")
            ):
                return
        if time.monotonic() > deadline:
            raise LabError(
                f"{who} not listening on UDP {sorted(ports)} after {timeout:g} s: {log().strip()}"
            )
        time.sleep(0.005)


def _udp_ports(path: Path) -> set[int]:
    """The UDP ports bound in ``path`` (/proc/PID/net/udp) and its IPv6 twin (udp6: DHCPv6
    listens on IPv6 only)."""
    ports = set()
    lines = path.read_text().splitlines()[1:]
    with contextlib.suppress(OSError):  # a kernel without IPv6 has no udp6
        lines += path.with_name("udp6").read_text().splitlines()[1:]
    for line in lines:
        fields = line.split()
        if len(fields) > 3 and fields[3] == "07":  # TCP_CLOSE: an unconnected UDP socket
            ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def stop(proc: subprocess.Popen[bytes], timeout: float) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


def read_log(path: Path) -> str:
    """The file's text so far ('' before it exists): dnsmasq's logs, the HTTP log."""
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
