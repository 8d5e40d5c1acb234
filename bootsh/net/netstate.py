"""Open netdevs: the raw socket, bootsh's own TX/RX counters and error kinds, per shell.

``ifopen`` binds an ``AF_PACKET``/``SOCK_RAW`` socket (all protocols) to the NIC's kernel
interface and sets the interface up (``SIOCSIFFLAGS``: the same effect as ``ip link set IF
up``, without a subprocess or a netlink dependency); ``ifclose`` closes the socket and leaves
the link as it is (iPXE's close does not touch the cable either). Counters are what *bootsh*
sent and received on that socket, as iPXE counts its own traffic: frames the kernel itself
sends out (``PACKET_OUTGOING``) are not counted as received. Nothing runs in the background:
``poll()`` drains what has arrived, as iPXE's ``netdev_poll()`` does, and ``ifstat`` polls
before printing. The state belongs to one shell (``Shell.netstate``); nothing is global.
"""

from __future__ import annotations

import _socket as socket  # the C module: socket.py would import enum and selectors
import contextlib
import errno
import fcntl
import struct
from collections import Counter

from bootsh.errors import BootshError
from bootsh.ipxe_errors import ipxe_errno, strerror
from bootsh.records import dataclass, field

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_SIOCGIFHWADDR = 0x8927
_IFF_UP = 0x1
_MAX_FRAME = 65536

# iPXE's ERRFILE of net/netdevice.c (also used for the link errors in bootsh.net.linkstate).
_ERRFILE_NETDEVICE = 0x00086000
#: The kernel interface is missing: iPXE's ENODEV ("No such device").
ENODEV_OPEN = ipxe_errno(0x2C, _ERRFILE_NETDEVICE, 0, errno.ENODEV)
#: No CAP_NET_RAW / CAP_NET_ADMIN: iPXE's EPERM ("Operation not permitted").
EPERM_OPEN = ipxe_errno(0x41, _ERRFILE_NETDEVICE, 0, errno.EPERM)
#: Any other failure of the socket: iPXE's EIO ("Input/output error").
EIO_OPEN = ipxe_errno(0x1D, _ERRFILE_NETDEVICE, 0, errno.EIO)


class OpenError(BootshError):
    """``ifopen`` failed: ``errno`` is iPXE's number, ``detail`` says why in plain words."""

    def __init__(self, number: int, detail: str) -> None:
        super().__init__(detail)
        self.errno = number
        self.detail = detail

    @property
    def reason(self) -> str:
        """iPXE's text for the error: ``No such device (https://ipxe.org/...)``."""
        return strerror(self.errno)


@dataclass
class Counters:
    """iPXE's ``struct net_device_stats`` for one direction: good, bad, and bad by reason."""

    good: int = 0
    bad: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    def fail(self, reason: str) -> None:
        self.bad += 1
        self.errors[reason] += 1


#: The most frames one ``poll`` receives.
POLL_LIMIT = 4096


@dataclass
class NetdevState:
    """One netdev's counters, and its socket while it is open (``sock`` None: closed)."""

    name: str
    ifname: str | None
    sock: socket.socket | None = None
    #: Whether opening set the link up (it was down): closing sets it down again.
    raised_link: bool = False
    tx: Counters = field(default_factory=Counters)
    rx: Counters = field(default_factory=Counters)

    @property
    def is_open(self) -> bool:
        return self.sock is not None

    def send(self, frame: bytes) -> bool:
        """Transmit one Ethernet frame; a failure is counted as a TX error, never raised."""
        if self.sock is None:
            self.tx.fail("The socket is not connected")
            return False
        try:
            self.sock.send(frame)
        except OSError as exc:
            self.tx.fail(exc.strerror or str(exc))
            return False
        self.tx.good += 1
        return True

    def poll(self, limit: int = POLL_LIMIT) -> list[bytes]:
        """Receive the frames waiting on the socket (counted), at most ``limit``; returns them.

        Bounded: under a flood frames arrive as fast as they are read, and "every frame
        waiting" never ran out (a DHCP session drained a broadcast flood past its -t, its
        list of frames growing). The socket's receive buffer holds far fewer than
        ``POLL_LIMIT`` frames, so one call still empties a queue that is not being refilled.
        """
        frames: list[bytes] = []
        if self.sock is None:
            return frames
        for _ in range(limit):
            try:
                data, address = self.sock.recvfrom(_MAX_FRAME)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                self.rx.fail(exc.strerror or str(exc))
                break
            if isinstance(address, tuple) and len(address) > 2 and address[2] == PACKET_OUTGOING:
                continue  # the kernel's own transmissions seen on the tap
            if len(data) < 14:
                self.rx.fail("Invalid argument (runt frame)")
                continue
            self.rx.good += 1
            frames.append(data)
        return frames


def _capability_message(ifname: str, capability: str, what: str) -> str:
    return f"{what} on {ifname} needs {capability} (run bootsh as root or grant it {capability})"


def _link_up(sock: socket.socket, ifname: str) -> bool:
    """Set the link up; True when it was down (bootsh raised it), False when it was up."""
    request = struct.pack("16sH14x", ifname.encode(), 0)
    flags = struct.unpack_from("H", fcntl.ioctl(sock, _SIOCGIFFLAGS, request), 16)[0]
    if flags & _IFF_UP:
        return False  # already up: no CAP_NET_ADMIN needed
    try:
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH14x", ifname.encode(), flags | _IFF_UP))
    except PermissionError:
        raise OpenError(
            EPERM_OPEN, _capability_message(ifname, "CAP_NET_ADMIN", "setting the link up")
        ) from None
    return True


def link_down(sock: socket.socket, ifname: str) -> None:
    """Set the link down again (it was down before bootsh opened it); OSError passes."""
    request = struct.pack("16sH14x", ifname.encode(), 0)
    flags = struct.unpack_from("H", fcntl.ioctl(sock, _SIOCGIFFLAGS, request), 16)[0]
    if flags & _IFF_UP:
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH14x", ifname.encode(), flags & ~_IFF_UP))


def _kernel_mac(sock: socket.socket, ifname: str) -> str:
    reply = fcntl.ioctl(sock, _SIOCGIFHWADDR, struct.pack("16s16x", ifname.encode()))
    return ":".join(f"{b:02x}" for b in reply[18:24])


def open_raw(ifname: str, mac: str | None = None) -> tuple[socket.socket, bool]:
    """A non-blocking raw socket bound to ``ifname``, whose link is set up, and whether
    bootsh set it up (it was down).

    With ``mac``, the kernel's interface must have that address: a NIC read from another
    machine's sysfs tree or XenStore dump may name an ``eth0`` that is not its own here.
    """
    try:
        # Protocol 0 until bound: the socket then receives nothing from other interfaces
        # meanwhile, and the bind registers it once (opened with ETH_P_ALL, the bind first
        # unregisters it, which waits for an RCU grace period: milliseconds of a lease).
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    except PermissionError:
        raise OpenError(
            EPERM_OPEN, _capability_message(ifname, "CAP_NET_RAW", "a raw (AF_PACKET) socket")
        ) from None
    except OSError as exc:
        raise OpenError(EIO_OPEN, f"cannot create a raw socket: {exc.strerror}") from None
    try:
        try:
            sock.bind((ifname, ETH_P_ALL))  # Python puts the protocol in network order here
        except OSError as exc:
            if exc.errno in (errno.ENODEV, errno.ENXIO):
                raise OpenError(ENODEV_OPEN, f"no kernel interface {ifname!r}") from None
            raise OpenError(EIO_OPEN, f"cannot bind to {ifname}: {exc.strerror}") from None
        if mac is not None and (kernel := _kernel_mac(sock, ifname)) != mac:
            raise OpenError(
                ENODEV_OPEN,
                f"the kernel's {ifname} is not this NIC (its MAC is {kernel}, not {mac})",
            )
        raised = _link_up(sock, ifname)
        # Bound while the link was down, the socket holds a pending ENETDOWN (af_packet sets
        # it at bind time): read and drop it, or the first poll would count it as a receive
        # error, where iPXE's open of a down netdev shows RXE:0. Later errors still count.
        sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock, raised


@dataclass
class NetdevStates:
    """Every netdev's state in one shell, by ``netN`` name (created on first use)."""

    states: dict[str, NetdevState] = field(default_factory=dict)
    #: Names in the order they were (last) opened, most recent last.
    opened: list[str] = field(default_factory=list)

    def is_open(self, name: str) -> bool:
        state = self.states.get(name)
        return state is not None and state.is_open

    def get(self, name: str, ifname: str | None) -> NetdevState:
        state = self.states.get(name)
        if state is None or state.ifname != ifname:
            if state is not None:
                self.close(name)
            state = NetdevState(name, ifname)
            self.states[name] = state
        return state

    def peek(self, name: str) -> NetdevState | None:
        return self.states.get(name)

    def open(self, name: str, ifname: str | None, what: str, mac: str | None = None) -> NetdevState:
        """Open ``name`` (a no-op when open); ``what`` describes the NIC for messages."""
        state = self.get(name, ifname)
        if state.sock is not None:
            return state
        if not ifname:
            raise OpenError(ENODEV_OPEN, f"{what} has no kernel interface to open")
        state.sock, state.raised_link = open_raw(ifname, mac)
        if name in self.opened:
            self.opened.remove(name)
        self.opened.append(name)
        return state

    def close(self, name: str, *, restore_link: bool = True) -> None:
        """Close ``name``; a link bootsh set up when opening it goes down again (the
        interface is left as it was found), unless ``restore_link`` is False."""
        state = self.states.get(name)
        if state is not None and state.sock is not None:
            if state.raised_link and restore_link and state.ifname:
                with contextlib.suppress(OSError):  # gone, or no CAP_NET_ADMIN any more
                    link_down(state.sock, state.ifname)
            state.raised_link = False
            with contextlib.suppress(OSError):
                state.sock.close()
            state.sock = None

    def close_all(self, *, restore_links: bool = True) -> None:
        for name in list(self.states):
            self.close(name, restore_link=restore_links)
