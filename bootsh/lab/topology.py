"""The :class:`Lab`: a server and a client network namespace joined by a veth pair, extra hosts
on that link, and the life cycle that starts the services (``dnsmasq``, ``httpd``) and tears
everything down.

The veth is created inside the server namespace with its peer placed straight into the client
namespace, addresses and routes exist only there, and neither namespace has any other
interface, so no packet can leave the lab. Teardown kills the lab's own processes (by pid),
deletes the namespaces (which destroys the veth) and removes the temporary files; it runs on
leaving the ``with`` block for any reason and at interpreter exit.
"""

from __future__ import annotations

import atexit
import ipaddress
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any

from bootsh.lab import dnsmasq, httpd
from bootsh.lab.dnsmasq import read_log
from bootsh.lab.errors import LabError, LabUnavailable
from bootsh.lab.netns import (
    ETC_NETNS,
    cleanup_stale,
    delete_netns,
    in_netns,
    kill_netns_processes,
    netns_names,
    new_id,
    nsswitch_conf,
    quiet,
    run_ip,
    tx_checksum_off,
    wait_running,
)

#: Interface names inside the namespaces (they never exist in the initial namespace).
SERVER_IF = "veth-srv"
CLIENT_IF = "veth-cli"
#: A private /24 that only ever exists inside the lab's namespaces.
DEFAULT_SUBNET = "10.77.0.0/24"
#: RFC 6761 reserves .test: the lab's DNS answers for this domain and refuses everything else.
DEFAULT_DOMAIN = "bootsh.test"
#: The lab's IPv6 network (a unique local /64 that only exists inside the lab), when asked.
DEFAULT_SUBNET6 = "fd77::/64"
#: ``Lab(ipv6=...)``: what dnsmasq's router advertisements say. "slaac": a prefix for
#: address autoconfiguration, no DHCPv6; "stateless": the same with the O flag and DHCPv6
#: information (DNS, boot file URL); "stateful": the M flag and DHCPv6 addresses.
IPV6_MODES = ("slaac", "stateless", "stateful")
#: What iPXE-tagged clients get as boot file (formatted with the lab's attributes).
DEFAULT_IPXE_BOOTFILE = "http://{server_ip}/boot.ipxe"

_SERVER_IFINDEX = 10
_CLIENT_IFINDEX = 20
_TOOLS = ("ip", "dnsmasq", "ethtool")


class Lab:
    """A server and a client namespace joined by a veth pair; see the package docstring.

    Names and addresses are known from construction on; :meth:`start` (or ``with``) builds the
    lab, :meth:`close` tears it down and may be called any number of times.
    """

    def __init__(
        self,
        serve: str | os.PathLike[str] | None = None,
        *,
        subnet: str = DEFAULT_SUBNET,
        dhcp: bool = True,
        tftp: bool = True,
        dns: bool = True,
        http: bool = True,
        http_port: int = 80,
        domain: str = DEFAULT_DOMAIN,
        ipxe_bootfile: str | None = DEFAULT_IPXE_BOOTFILE,
        client_mac: str | None = None,
        client_ipv6: bool = True,
        dnsmasq_args: Sequence[str] = (),
        timeout: float = 10.0,
        command_timeout: float | None = 120.0,
        ipv6: str | None = None,
        ipv4: bool = True,
        pxe_arch: int | None = None,
    ) -> None:
        self.id = new_id()
        self.name = self.id.name
        self.server_ns = f"{self.name}-srv"
        self.client_ns = f"{self.name}-cli"
        self.server_if = SERVER_IF
        self.client_if = CLIENT_IF
        self.subnet = ipaddress.IPv4Network(subnet)
        if self.subnet.num_addresses < 8:
            raise LabError(f"subnet {subnet} is too small for a lab (at least a /29)")
        size = self.subnet.num_addresses
        self.server_ip = str(self.subnet[1])
        self.dhcp_range = (
            str(self.subnet[min(100, size // 2)]),
            str(self.subnet[min(199, size - 2)]),
        )
        self.domain = domain
        self.server_name = f"server.{domain}"
        self.dhcp, self.tftp, self.dns, self.http = dhcp, tftp, dns, http
        self.http_port = http_port
        port = "" if http_port == 80 else f":{http_port}"
        self.http_url = f"http://{self.server_ip}{port}/"
        self.ipxe_bootfile = (
            ipxe_bootfile.format(server_ip=self.server_ip, http_url=self.http_url, domain=domain)
            if ipxe_bootfile
            else None
        )
        self.client_mac = client_mac
        self.client_ipv6 = client_ipv6
        if ipv6 is not None and ipv6 not in IPV6_MODES:
            raise LabError(f"ipv6 mode {ipv6!r} is none of {', '.join(IPV6_MODES)}")
        if ipv6 is not None and not client_ipv6:
            raise LabError("an IPv6 lab needs IPv6 in the client namespace (client_ipv6=True)")
        if not ipv4 and ipv6 is None:
            raise LabError("a lab without IPv4 needs IPv6 (ipv6='slaac', ...)")
        #: None: no IPv6 on the server side at all (the default: nothing is advertised).
        self.ipv6 = ipv6
        #: False: the server has no IPv4 address and dnsmasq no DHCPv4 range.
        self.ipv4 = ipv4
        self.subnet6 = ipaddress.IPv6Network(DEFAULT_SUBNET6)
        self.server_ip6 = str(self.subnet6[1])
        self.http_url6 = f"http://[{self.server_ip6}]{port}/"
        if pxe_arch is not None and not 0 <= pxe_arch <= 0xFFFF:
            raise LabError(f"PXE client architecture {pxe_arch} is not a 16-bit number")
        if pxe_arch is not None and not (dhcp and ipv4):
            raise LabError("PXE boot services need the lab's DHCP over IPv4 (dhcp=True, ipv4=True)")
        #: None: no PXE boot services (the default). Else dnsmasq answers PXE boot server
        #: discovery (``pxebs``) for the services of ``dnsmasq.pxe_arguments``, listed in the
        #: PXE options of the clients that say they have this architecture (option 93).
        self.pxe_arch = pxe_arch
        #: An address in the lab's subnet where nothing answers (a listed boot server that
        #: never replies).
        self.silent_ip = str(self.subnet[-2])
        self.extra_dnsmasq_args = tuple(dnsmasq_args)
        self.timeout = timeout
        self.command_timeout = command_timeout
        self.tmpdir = Path(tempfile.gettempdir()) / self.name
        self.serve_dir = Path(serve).resolve() if serve is not None else self.tmpdir / "serve"
        #: Seconds taken by the last start ("up") and close ("down").
        self.timings: dict[str, float] = {}
        self._dnsmasq: subprocess.Popen[bytes] | None = None
        self._httpd: httpd.HTTPServer | None = None
        self._httpd6: httpd.HTTPServer | None = None
        self._started = False
        self._closed = False
        #: Namespaces of the extra hosts (``add_host``) and the dnsmasqs started there.
        self.hosts: list[str] = []
        self._host_dnsmasqs: list[subprocess.Popen[bytes]] = []

    # -- context manager

    def __enter__(self) -> Lab:
        return self if self._started and not self._closed else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- files

    @property
    def dnsmasq_log_path(self) -> Path:
        return self.tmpdir / "dnsmasq.log"

    @property
    def leases_path(self) -> Path:
        return self.tmpdir / "dnsmasq.leases"

    @property
    def http_log_path(self) -> Path:
        return self.tmpdir / "http.log"

    def dnsmasq_log(self) -> str:
        """dnsmasq's log so far (DHCP transactions with their tags, TFTP, DNS queries)."""
        return read_log(self.dnsmasq_log_path)

    def leases(self) -> str:
        """dnsmasq's lease file as it is now."""
        return read_log(self.leases_path)

    def http_log(self) -> str:
        """One line per HTTP request served."""
        return read_log(self.http_log_path)

    @property
    def dnsmasq_pid(self) -> int | None:
        return self._dnsmasq.pid if self._dnsmasq else None

    # -- running things

    def client_argv(self, argv: Sequence[str]) -> list[str]:
        """``argv`` prefixed so that it runs in the client namespace (for Popen and friends)."""
        return ["ip", "netns", "exec", self.client_ns, *argv]

    def server_argv(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.server_ns, *argv]

    def run_in_client(self, argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[Any]:
        """``subprocess.run`` of ``argv`` in the client namespace (timeout: command_timeout)."""
        self._require_running()
        kwargs.setdefault("timeout", self.command_timeout)
        return subprocess.run(self.client_argv(argv), **kwargs)

    def run_in_server(self, argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[Any]:
        self._require_running()
        kwargs.setdefault("timeout", self.command_timeout)
        return subprocess.run(self.server_argv(argv), **kwargs)

    def env(self) -> dict[str, str]:
        """The lab described as environment variables (given to the command-line mode's command)."""
        return {
            "BOOTSH_LAB_SERVER_IP": self.server_ip,
            "BOOTSH_LAB_SUBNET": str(self.subnet),
            "BOOTSH_LAB_CLIENT_IF": self.client_if,
            "BOOTSH_LAB_CLIENT_NS": self.client_ns,
            "BOOTSH_LAB_SERVER_NS": self.server_ns,
            "BOOTSH_LAB_HTTP_URL": self.http_url,
            "BOOTSH_LAB_DOMAIN": self.domain,
            "BOOTSH_LAB_SERVE": str(self.serve_dir),
        } | ({"BOOTSH_LAB_SERVER_IP6": self.server_ip6} if self.ipv6 is not None else {})

    def describe(self) -> str:
        services = []
        if self.dhcp and self.ipv4:
            services.append(f"DHCP {self.dhcp_range[0]}-{self.dhcp_range[1]}")
        if self.tftp:
            services.append("TFTP")
        if self.dns:
            services.append(f"DNS {self.server_name}")
        if self.ipv6 is not None:
            services.append(f"IPv6 {self.ipv6} {self.subnet6}")
        if self.pxe_arch is not None:
            services.append(f"PXE boot services (arch {self.pxe_arch})")
        if self.http:
            services += [f"HTTP {url}" for url in self.http_urls()]
        address = f"{self.server_ip}/{self.subnet.prefixlen}" if self.ipv4 else ""
        if self.ipv6 is not None:
            address = " ".join(filter(None, (address, f"{self.server_ip6}/64")))
        return (
            f"server {address} on {self.server_if} in netns "
            f"{self.server_ns} ({', '.join(services) or 'no services'}) serving {self.serve_dir}; "
            f"client interface {self.client_if} in netns {self.client_ns}"
        )

    def http_urls(self) -> list[str]:
        """The HTTP server's base URLs: IPv4 and/or IPv6, as the lab has them."""
        return ([self.http_url] if self.ipv4 else []) + (
            [self.http_url6] if self.ipv6 is not None else []
        )

    # -- life cycle

    def start(self) -> Lab:
        if self._started:
            raise LabError("a lab starts only once")
        self._started = True
        t0 = time.monotonic()
        _check_tools()
        cleanup_stale(timeout=self.timeout)
        atexit.register(self.close)
        try:
            self.tmpdir.mkdir(mode=0o700)
            if self.serve_dir == self.tmpdir / "serve":
                self.serve_dir.mkdir()
            if not self.serve_dir.is_dir():
                raise LabError(f"{self.serve_dir}: no such directory to serve")
            self._make_namespaces()
            if self.dhcp or self.tftp or self.dns or self.ipv6 is not None:
                self._start_dnsmasq()
            if self.http:
                self._start_http()
        except BaseException:
            self.close()
            raise
        self.timings["up"] = time.monotonic() - t0
        return self

    def close(self) -> None:
        """Tear down everything this lab made; safe to call again and after a failed start."""
        if self._closed or not self._started:
            return
        self._closed = True
        atexit.unregister(self.close)
        t0 = time.monotonic()
        problems: list[str] = []
        for server, which in ((self._httpd, ""), (self._httpd6, " (IPv6)")):
            if server is not None:
                try:
                    server.stop(self.timeout)
                except Exception as exc:
                    problems.append(f"HTTP server{which}: {exc}")
        if self._dnsmasq is not None:
            try:
                dnsmasq.stop(self._dnsmasq, self.timeout)
            except Exception as exc:
                problems.append(f"dnsmasq: {exc}")
        for proc in self._host_dnsmasqs:
            try:
                dnsmasq.stop(proc, self.timeout)
            except Exception as exc:
                problems.append(f"dnsmasq of an extra host: {exc}")
        lab_namespaces = (self.client_ns, self.server_ns, *self.hosts)
        namespaces = [n for n in lab_namespaces if n in netns_names()]
        try:
            kill_netns_processes(namespaces, self.timeout)
        except LabError as exc:
            problems.append(str(exc))
        for name in namespaces:
            try:
                delete_netns(name)
            except LabError as exc:
                problems.append(str(exc))
        shutil.rmtree(ETC_NETNS / self.client_ns, ignore_errors=True)
        shutil.rmtree(self.tmpdir, ignore_errors=True)
        self.timings["down"] = time.monotonic() - t0
        if problems:
            raise LabError("lab teardown incomplete: " + "; ".join(problems))

    # -- extra hosts on the lab's link (a second DHCP server, a ProxyDHCP server, a responder)

    def add_host(self, ip: str) -> str:
        """Another host on the lab's link, in a namespace of its own; returns its name.

        Its interface ``eth0`` is a macvlan (bridge mode) of the server's veth, so the client
        reaches it on the same link (broadcasts included) without changing the server's
        side; it has address ``ip`` in the lab subnet, no IPv6 and tx checksum offload off
        (a raw-socket client sees finished checksums). Torn down with the lab.
        """
        self._require_running()
        index = len(self.hosts)
        ns = f"{self.name}-h{index}"
        link = f"mvh{index}"
        run_ip("netns", "add", ns)
        self.hosts.append(ns)
        in_netns(ns, partial(quiet, ipv6=False), timeout=self.timeout)
        run_ip("-n", self.server_ns, "link", "add", link, "link", self.server_if,
            "type", "macvlan", "mode", "bridge")  # fmt: skip
        run_ip("-n", self.server_ns, "link", "set", link, "netns", ns)
        run_ip("-n", ns, "link", "set", link, "name", "eth0")
        run_ip("-n", ns, "address", "add", f"{ip}/{self.subnet.prefixlen}", "dev", "eth0")
        run_ip("-n", ns, "link", "set", "lo", "up")
        run_ip("-n", ns, "link", "set", "eth0", "up")
        tx_checksum_off(ns, "eth0", self.timeout, where=f" in {ns}")
        in_netns(ns, partial(wait_running, "eth0", self.timeout), timeout=self.timeout + 1)
        return ns

    def host_argv(self, ns: str, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", ns, *argv]

    def start_host_dnsmasq(
        self, ns: str, args: Sequence[str], *, ports: Sequence[int] = (67,), dns: bool = False
    ) -> Path:
        """Run a dnsmasq on the extra host ``ns`` with ``args`` (its whole DHCP setup: no
        defaults besides files, interface and no DNS unless ``dns``); returns its log file.
        It listens (UDP ``ports``) when this returns."""
        self._require_running()
        tag = ns.rsplit("-", 1)[1]
        log = self.tmpdir / f"dnsmasq-{tag}.log"
        argv = dnsmasq.host_command(self.tmpdir, tag, log, dns, args)
        stderr_path = self.tmpdir / f"dnsmasq-{tag}.stderr"
        proc = dnsmasq.spawn(self.host_argv(ns, argv), stderr_path)
        self._host_dnsmasqs.append(proc)
        dnsmasq.wait_listening(
            proc,
            ns,
            set(ports),
            self.timeout,
            f"dnsmasq on {ns}",
            stderr_path,
            lambda: read_log(log),
        )
        return log

    def _require_running(self) -> None:
        if not self._started or self._closed:
            raise LabError("the lab is not running")

    def _make_namespaces(self) -> None:
        run_ip("netns", "add", self.server_ns)
        run_ip("netns", "add", self.client_ns)
        # Before the veth exists: no IPv6 on the server side unless an IPv6 lab is asked for
        # (it then sends nothing the client did not ask for: no router solicitations, no MLD)
        # and no forwarding, ever.
        in_netns(self.server_ns, partial(quiet, ipv6=self.ipv6 is not None), timeout=self.timeout)
        # The client's kernel: IPv6 as on any Linux host unless asked otherwise (without it the
        # kernel sends nothing on veth-cli, so a raw-socket client sees only its own traffic).
        in_netns(self.client_ns, partial(quiet, ipv6=self.client_ipv6), timeout=self.timeout)
        # Created inside the server namespace, peer moved straight into the client namespace:
        # neither end is ever visible in the initial namespace.
        # Distinct ifindexes: with equal ones (both would be 2 in fresh namespaces) the kernel
        # does not treat a veth's carrier change as urgent and the link only comes up after
        # linkwatch's one-second batching delay.
        peer = ["peer", "name", self.client_if, "index", str(_CLIENT_IFINDEX)]
        if self.client_mac:
            peer += ["address", self.client_mac]
        run_ip(
            "-n", self.server_ns, "link", "add", self.server_if,
            "index", str(_SERVER_IFINDEX), "type", "veth",
            *peer, "netns", self.client_ns,
        )  # fmt: skip
        if self.ipv4:
            prefix = f"{self.server_ip}/{self.subnet.prefixlen}"
            run_ip("-n", self.server_ns, "address", "add", prefix, "dev", self.server_if)
        if self.ipv6 is not None:
            # nodad: usable at once (the HTTP server binds it next), no DAD wait.
            prefix6 = f"{self.server_ip6}/{self.subnet6.prefixlen}"
            run_ip("-n", self.server_ns, "address", "add", prefix6, "dev", self.server_if, "nodad")
        run_ip("-n", self.server_ns, "link", "set", "lo", "up")
        run_ip("-n", self.server_ns, "link", "set", self.server_if, "up")
        run_ip("-n", self.client_ns, "link", "set", "lo", "up")
        run_ip("-n", self.client_ns, "link", "set", self.client_if, "up")
        # The veth's carrier comes up asynchronously: wait for it, so that whatever runs next
        # (bootsh reading the link state, a DHCP client) finds both ends running.
        for ns, ifname in ((self.server_ns, self.server_if), (self.client_ns, self.client_if)):
            in_netns(ns, partial(wait_running, ifname, self.timeout), timeout=self.timeout + 1)
        tx_checksum_off(self.server_ns, self.server_if, self.timeout)
        if self.dns:
            # ip netns exec bind-mounts /etc/netns/NS/* over /etc: the client resolves through
            # the lab's DNS, never through the host's resolvers.
            etc = ETC_NETNS / self.client_ns
            etc.mkdir(parents=True, exist_ok=True)
            server = self.server_ip if self.ipv4 else self.server_ip6
            (etc / "resolv.conf").write_text(f"nameserver {server}\nsearch {self.domain}\n")
            # Name lookups only from files and that DNS: no NSS module (resolve, mdns) that
            # would ask a host daemon over a Unix socket, which crosses network namespaces.
            (etc / "nsswitch.conf").write_text(nsswitch_conf())

    def _start_dnsmasq(self) -> None:
        stderr_path = self.tmpdir / "dnsmasq.stderr"
        self._dnsmasq = proc = dnsmasq.spawn(self.server_argv(dnsmasq.command(self)), stderr_path)
        want = {67} if self.dhcp and self.ipv4 else set()
        want |= {547} if self.ipv6 not in (None, "slaac") else set()
        want |= {4011} if self.pxe_arch is not None else set()
        want |= {69} if self.tftp else set()
        want |= {53} if self.dns else set()
        dnsmasq.wait_listening(
            proc, self.server_ns, want, self.timeout, "dnsmasq", stderr_path, self.dnsmasq_log
        )

    def _start_http(self) -> None:
        if self.ipv6 is not None:
            address6 = (self.server_ip6, self.http_port)
            self._httpd6 = httpd.serve(
                self.server_ns, address6, self.serve_dir, self.http_log_path, self.timeout
            )
            httpd.wait_answering(self.server_ns, address6, self.timeout)
        if not self.ipv4:
            return
        address = (self.server_ip, self.http_port)
        self._httpd = httpd.serve(
            self.server_ns, address, self.serve_dir, self.http_log_path, self.timeout
        )
        httpd.wait_answering(self.server_ns, address, self.timeout)


#: Capability bits (linux/capability.h) the lab needs: namespaces and mounts, links.
_CAP_NET_ADMIN, _CAP_SYS_ADMIN = 12, 21


def _effective_capabilities() -> int:
    """The process's effective capability set (``CapEff`` of /proc/self/status); all bits
    when it cannot be read (the tools will say what fails)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    except (OSError, ValueError, IndexError):
        pass
    return ~0


def _check_tools() -> None:
    # Root is not enough (a container, setpriv): checked here so that the error names the
    # capabilities instead of being ip(8)'s mount failure halfway through the set-up.
    needed = (1 << _CAP_SYS_ADMIN) | (1 << _CAP_NET_ADMIN)
    if os.geteuid() != 0 or _effective_capabilities() & needed != needed:
        raise LabUnavailable(
            "the lab needs CAP_SYS_ADMIN (namespaces) and CAP_NET_ADMIN (links): run it as root"
        )
    missing = [t for t in _TOOLS if shutil.which(t) is None and not Path(f"/usr/sbin/{t}").exists()]
    if missing:
        raise LabUnavailable(f"missing {', '.join(missing)}: run .ci/install-net.sh")
