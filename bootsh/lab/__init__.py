"""A throw-away network lab: a server and a client network namespace joined by a veth pair.

The server namespace runs Debian's ``dnsmasq`` (DHCP, TFTP and DNS) and an HTTP server, both
serving one directory; commands run in the client namespace, whose only interface is the other
end of the veth. Nothing is ever configured outside the two namespaces, so no packet can leave
the lab. Typical use::

    with Lab(serve="images") as lab:
        lab.run_in_client(["busybox", "udhcpc", "-i", lab.client_if, "-q", "-n"], check=True)
        lab.run_in_client(["curl", "-fsS", f"{lab.http_url}boot.ipxe"], check=True)

and from a shell::

    bootsh lab --serve images -- bootsh --net af_packet,if=veth-cli

The modules, each a concern (this file only re-exports what other code imports):

- ``topology``: the :class:`Lab` (namespaces, veth, extra hosts, start and teardown);
- ``netns``: namespace names and owners, ``ip``, :func:`in_netns`, :func:`netns_pids`,
  interface set-up inside a namespace, :func:`cleanup_stale` of labs whose owner died;
- ``dnsmasq``: the dnsmasq command lines, starting one, waiting until it listens, its logs;
- ``httpd``: the HTTP server (in-process, its socket created in the server namespace);
- ``cli``: ``bootsh lab`` / ``python -m bootsh.lab``: options, running a command, signals;
- ``errors``: :class:`LabError` and :class:`LabUnavailable`.

Imports the base (only ``bootsh.errors``) and ``nics`` (``normalise_mac``); within it,
``errors`` < ``netns`` < ``dnsmasq``, ``httpd`` < ``topology`` < ``cli``. Nothing in bootsh
imports the lab except ``bootsh.cli`` (lazily, for ``bootsh lab``),
so the HTTP stack stays out of bootsh's start-up.
"""

from bootsh.lab.cli import add_arguments, main, run
from bootsh.lab.errors import LabError, LabUnavailable
from bootsh.lab.netns import NAME_PREFIX, cleanup_stale, in_netns, netns_pids, stale_lock
from bootsh.lab.topology import CLIENT_IF, DEFAULT_DOMAIN, DEFAULT_SUBNET, SERVER_IF, Lab

__all__ = [
    "CLIENT_IF",
    "DEFAULT_DOMAIN",
    "DEFAULT_SUBNET",
    "NAME_PREFIX",
    "SERVER_IF",
    "Lab",
    "LabError",
    "LabUnavailable",
    "add_arguments",
    "cleanup_stale",
    "in_netns",
    "main",
    "netns_pids",
    "run",
    "stale_lock",
]
