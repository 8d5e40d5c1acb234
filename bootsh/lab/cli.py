"""The lab's command line (``bootsh lab`` and ``python -m bootsh.lab``): its options, running
a lab with a command in the client namespace (or until a signal), and the SIGINT, SIGTERM and
SIGHUP handling that passes signals on to that command and always tears the lab down.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType
from typing import Any

from bootsh.lab.errors import LabError
from bootsh.lab.netns import cleanup_stale
from bootsh.lab.topology import DEFAULT_DOMAIN, DEFAULT_IPXE_BOOTFILE, DEFAULT_SUBNET, Lab
from bootsh.nics.nic import normalise_mac


class _Stop(BaseException):
    """Raised by the signal handler to end the lab when no command is running."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _Signals:
    """SIGINT, SIGTERM and SIGHUP for the command-line mode.

    With a command running, the command decides: SIGTERM and SIGHUP are passed on (SIGKILL
    follows after a grace period), and so is SIGINT unless it came from the terminal, which
    has sent it to the command already (an interactive bootsh uses Ctrl-C to cancel a command,
    not to end the lab). Without a command, the first signal ends the lab; later ones are
    ignored so that the teardown runs to its end.
    """

    def __init__(self) -> None:
        self.child: subprocess.Popen[bytes] | None = None
        self.received: int | None = None
        self.kill_at: float | None = None
        self.stopping = False
        self._saved: dict[int, Any] = {}

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self._saved[signum] = signal.signal(signum, self._handle)

    def restore(self) -> None:
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping:
            return
        child = self.child
        if child is not None and child.poll() is None:
            self.received = signum
            if signum == signal.SIGINT and _terminal_in_foreground():
                return
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signum)
            if signum != signal.SIGINT and self.kill_at is None:
                self.kill_at = time.monotonic() + 5.0
            return
        self.stopping = True
        raise _Stop(signum)


def _terminal_in_foreground() -> bool:
    try:
        return os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp()
    except OSError:
        return False


def _subnet_option(text: str) -> str:
    """``--subnet``: checked here, so that a typo is argparse's one line, not a traceback."""
    try:
        network = ipaddress.IPv4Network(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IPv4 network") from None
    if network.num_addresses < 8:
        raise argparse.ArgumentTypeError(f"{network} is too small for a lab (at least a /29)")
    return text


def _port_option(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"{text} is not a port (1-65535)")
    return port


def _mac_option(text: str) -> str:
    """``--client-mac``: a MAC as ``--net``'s (``bootsh.nics.nic``); the kernel refuses a
    multicast (or broadcast) veth address."""
    mac = normalise_mac(text)
    if mac is None or int(mac[:2], 16) & 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a unicast Ethernet MAC")
    return mac


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The lab's options, for this module's main and for ``bootsh lab``."""
    parser.add_argument(
        "--serve", metavar="DIR", help="directory served over TFTP and HTTP (default: empty)"
    )
    parser.add_argument(
        "--subnet", type=_subnet_option, default=DEFAULT_SUBNET, help="lab subnet (%(default)s)"
    )
    parser.add_argument("--domain", default=DEFAULT_DOMAIN, help="DNS domain (%(default)s)")
    parser.add_argument("--no-dns", action="store_true", help="no DNS server (dnsmasq --port=0)")
    parser.add_argument("--no-tftp", action="store_true", help="no TFTP server")
    parser.add_argument("--no-http", action="store_true", help="no HTTP server")
    parser.add_argument(
        "--http-port", type=_port_option, default=80, help="HTTP port (%(default)s)"
    )
    parser.add_argument(
        "--ipxe-bootfile",
        default=DEFAULT_IPXE_BOOTFILE,
        metavar="URL",
        help="boot file for iPXE clients, '' for none (%(default)s)",
    )
    parser.add_argument(
        "--client-mac", type=_mac_option, metavar="MAC", help="MAC address of the client veth"
    )
    parser.add_argument(
        "--no-client-ipv6",
        action="store_true",
        help="IPv6 off in the client namespace: its kernel sends nothing on the veth",
    )
    parser.add_argument(
        "--dnsmasq-arg", action="append", default=[], metavar="ARG", help="extra dnsmasq option"
    )
    parser.add_argument(
        "--cleanup-stale",
        action="store_true",
        help="remove labs left by dead owners and exit (when no command is given)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    parser.add_argument(
        "command",
        nargs=argparse.REMAINDER,
        help="command run in the client namespace (after --); without one, run until Ctrl-C",
    )


def tell(text: str) -> None:
    """One line of the lab's own on stderr. A reader of stderr that went away (``2>&1 |
    head -1``) silences the lab but stops nothing: the command's status still counts and
    the teardown still runs."""
    try:
        sys.stderr.write(f"bootsh lab: {text}\n")
        sys.stderr.flush()
    except BrokenPipeError:
        # Later lines go to /dev/null instead of failing again (bootsh.cli.OutputGuard does so
        # for the shell; the lab may not import the host).
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stderr.fileno())
        except (OSError, ValueError):
            pass  # no descriptor of its own (a test's stream): nothing to redirect
        finally:
            os.close(devnull)


def run(ns: argparse.Namespace) -> int:
    """Run the lab as ``add_arguments`` parsed it; return the process exit status."""
    command = list(ns.command)
    if command[:1] == ["--"]:
        command = command[1:]

    def say(text: str) -> None:
        if not ns.quiet:
            tell(text)

    if ns.cleanup_stale:
        removed = cleanup_stale()
        say(f"removed {len(removed)} stale lab(s){': ' if removed else ''}{' '.join(removed)}")
        if not command:
            return 0
    signals = _Signals()
    signals.install()
    lab = Lab(
        ns.serve,
        subnet=ns.subnet,
        domain=ns.domain,
        dns=not ns.no_dns,
        tftp=not ns.no_tftp,
        http=not ns.no_http,
        http_port=ns.http_port,
        ipxe_bootfile=ns.ipxe_bootfile or None,
        client_mac=ns.client_mac,
        client_ipv6=not ns.no_client_ipv6,
        dnsmasq_args=ns.dnsmasq_arg,
    )
    status = 0
    try:
        lab.start()
        say(f"up in {lab.timings['up']:.2f} s: {lab.describe()}")
        if not command:
            say(f"enter the client with: ip netns exec {lab.client_ns} $SHELL; Ctrl-C ends the lab")
            while True:
                signal.pause()
        status = _run_command(lab, command, signals)
    except _Stop as stop:
        status = 0 if not command else 128 + stop.signum
    except LabError as exc:
        tell(str(exc))
        status = 1
    finally:
        signals.stopping = True
        try:
            lab.close()
        except LabError as exc:
            tell(str(exc))
            status = status or 1
        signals.restore()
    if "down" in lab.timings:
        say(f"down in {lab.timings['down']:.2f} s")
    return status


def _run_command(lab: Lab, command: Sequence[str], signals: _Signals) -> int:
    env = {**os.environ, **lab.env()}
    try:
        child = subprocess.Popen(lab.client_argv(command), env=env)
    except OSError as exc:
        raise LabError(f"cannot run {command[0]}: {exc}") from exc
    signals.child = child
    while True:
        try:
            returncode = child.wait(0.1)
            break
        except subprocess.TimeoutExpired:
            if signals.kill_at is not None and time.monotonic() > signals.kill_at:
                child.kill()
    signals.child = None
    if returncode < 0:
        return 128 - returncode
    return returncode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bootsh.lab",
        description="A throw-away network lab: DHCP, TFTP, DNS and HTTP from a server network "
        "namespace, a command in a client namespace joined to it by a veth pair.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
