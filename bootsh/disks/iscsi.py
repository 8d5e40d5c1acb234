"""iSCSI: iPXE's ``iscsi:`` root paths, the attach, and what the next kernel is told.

Root path (iPXE's ``iscsi_parse_root_path``)::

    iscsi:<servername>:<protocol>:<port>:<LUN>:<targetname>

``servername`` may be ``[IPv6]``; empty ``protocol`` is TCP (6), empty ``port`` is 3260;
``LUN`` is iPXE's SCSI LUN text (hex, first level used); the target name is everything after
the fourth colon. Credentials come from the settings ``username``/``password`` (CHAP) and
``reverse-username``/``reverse-password`` (mutual CHAP), the initiator from ``initiator-iqn``
(default ``iqn.2010-04.org.ipxe:<hostname>`` as iPXE makes it).

The initiator is libiscsi, the user-space initiator QEMU uses, run inside
``qemu-storage-daemon``, which exports the LUN read-only as a regular file through FUSE; that
file is then read like any local disk. Why not open-iscsi: it needs the kernel's
``iscsi_tcp`` and SCSI disk drivers, which this project's CI kernel does not have, so it
could neither run nor be tested there. QEMU's driver has no mutual CHAP: a
``reverse-username`` is refused with that reason. The daemon is started daemonized (its
parent exits once the export is up or the login failed: no polling) and stopped by its pid
(from ``--pidfile``) on ``sanunhook`` or when the shell ends.

iBFT cannot be written from user space, so a described drive (hooked without
``--no-describe``) is passed on the next kernel's command line the way its initramfs reads
it: dracut (Fedora, RHEL, SUSE: an ``initramfs-*.img``) gets ``rd.iscsi.initiator=``,
``netroot=iscsi:...`` and ``ip=dhcp``; initramfs-tools with open-iscsi (Debian, Ubuntu: an
``initrd.img-*``) gets ``iscsi_initiator=``, ``iscsi_target_name=``, ``iscsi_target_ip=``,
``iscsi_target_port=``, ``iscsi_username=``/``iscsi_password=`` and
``iscsi_in_username=``/``iscsi_in_password=``; an initrd of neither name gets both. dracut
takes one ``netroot=`` per described drive; initramfs-tools logs in to one target, so a
described drive on another target is left out, with a note. The CHAP secrets end up in the
next kernel's ``/proc/cmdline``, readable by every user there (iPXE's iBFT holds them too, but
only root reads ``/sys/firmware/ibft``): the price of having no iBFT.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from bootsh.ipxe_errors import error_number
from bootsh.records import dataclass

ERRFILE_ISCSI = 0x000D6000  # net/tcp/iscsi.c
ERRFILE_TCP = 0x00086000  # net/tcp.c (ERRFILE_NET | 0x00080000)
EINVAL_ROOT_PATH_TOO_SHORT = error_number("EINVAL", ERRFILE_ISCSI, 0x01)
EINVAL_BAD_CREDENTIAL_MIX = error_number("EINVAL", ERRFILE_ISCSI, 0x02)
EINVAL_NO_TARGET_IQN = error_number("EINVAL", ERRFILE_ISCSI, 0x04)
EIO_TARGET_UNAVAILABLE = error_number("EIO", ERRFILE_ISCSI, 0x01)
ENOTSUP_ISCSI = error_number("ENOTSUP", ERRFILE_ISCSI)
EPERM_INITIATOR_AUTHENTICATION = error_number("EPERM", ERRFILE_ISCSI, 0x01)
EPERM_INITIATOR_AUTHORISATION = error_number("EPERM", ERRFILE_ISCSI, 0x02)
ENODEV_ISCSI = error_number("ENODEV", ERRFILE_ISCSI)
ECONNREFUSED_ISCSI = error_number("ECONNREFUSED", ERRFILE_TCP)
ETIMEDOUT_ISCSI = error_number("ETIMEDOUT", ERRFILE_TCP)
ENETUNREACH_ISCSI = error_number("ENETUNREACH", ERRFILE_TCP)

#: iPXE's texts for the numbers above that its common table lacks.
TEXTS = {
    EINVAL_ROOT_PATH_TOO_SHORT: "Root path too short",
    EINVAL_BAD_CREDENTIAL_MIX: "Bad credential mix",
    EINVAL_NO_TARGET_IQN: "No target IQN",
    EIO_TARGET_UNAVAILABLE: "Target not currently operational",
    EPERM_INITIATOR_AUTHENTICATION: "Initiator authentication failed",
    EPERM_INITIATOR_AUTHORISATION: "Initiator not authorised",
    ECONNREFUSED_ISCSI: "Connection refused",
}

#: How long a login or a SCSI command may take (libiscsi's timeout; the daemon's start).
LOGIN_TIMEOUT = 20
#: A daemon whose iSCSI connection is gone this long is ended (the target is gone).
LOST_AFTER = 20.0
WATCH_INTERVAL = 0.5


class IscsiError(Exception):
    def __init__(self, number: int, why: str) -> None:
        super().__init__(why)
        self.errno = number
        self.why = why


@dataclass(frozen=True)
class RootPath:
    server: str
    port: int
    lun: int
    target: str

    @property
    def portal(self) -> str:
        return (
            f"[{self.server}]:{self.port}" if ":" in self.server else f"{self.server}:{self.port}"
        )


_FIELDS = "too few fields (iscsi:<server>:<protocol>:<port>:<LUN>:<target IQN>)"


def parse_root_path(uri: str) -> RootPath:
    """``iscsi:server:protocol:port:lun:target`` as iPXE reads it."""
    rest = uri[len("iscsi:") :] if uri.lower().startswith("iscsi:") else uri
    server = ""
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            raise IscsiError(EINVAL_ROOT_PATH_TOO_SHORT, "unterminated [ in the server name")
        server, rest = rest[1:end], rest[end + 1 :]
        if not rest.startswith(":"):
            raise IscsiError(EINVAL_ROOT_PATH_TOO_SHORT, _FIELDS)
        rest = rest[1:]
        fields = rest.split(":", 3)
    else:
        parts = rest.split(":", 4)
        server, fields = parts[0], parts[1:]
    if len(fields) < 4:
        raise IscsiError(EINVAL_ROOT_PATH_TOO_SHORT, _FIELDS)
    _protocol, port_text, lun_text, target = fields
    try:
        port = int(port_text) if port_text else 3260
        lun = int(lun_text.split("-")[0], 16) if lun_text else 0
    except ValueError:
        raise IscsiError(EINVAL_ROOT_PATH_TOO_SHORT, "the port or LUN is not a number") from None
    if not target:
        raise IscsiError(EINVAL_NO_TARGET_IQN, "no target IQN")
    if not server:
        raise IscsiError(EINVAL_ROOT_PATH_TOO_SHORT, "no server")
    return RootPath(server, port, lun, target)


@dataclass(frozen=True)
class Credentials:
    initiator: str
    username: str = ""
    password: str = ""
    reverse_username: str = ""
    reverse_password: str = ""

    def check(self) -> None:
        """iPXE's ``iscsi_check_auth``: a password needs its username, reverse needs forward."""
        if bool(self.username) != bool(self.password) or (
            bool(self.reverse_username) != bool(self.reverse_password)
        ):
            raise IscsiError(EINVAL_BAD_CREDENTIAL_MIX, "a CHAP username needs its password")
        if self.reverse_username and not self.username:
            raise IscsiError(EINVAL_BAD_CREDENTIAL_MIX, "mutual CHAP needs forward CHAP too")


def default_initiator(hostname: str | None) -> str:
    return f"iqn.2010-04.org.ipxe:{hostname or socket.gethostname()}"


def _error_for(text: str) -> int:
    lower = text.lower()
    if "authentication" in lower:
        return EPERM_INITIATOR_AUTHENTICATION
    if "authoriz" in lower or "authoris" in lower:
        return EPERM_INITIATOR_AUTHORISATION
    if "not found" in lower or "removed" in lower or ("lun" in lower and "exist" in lower):
        return ENODEV_ISCSI
    if "refused" in lower:
        return ECONNREFUSED_ISCSI
    if "timed out" in lower or "timeout" in lower:
        return ETIMEDOUT_ISCSI
    if "not currently operational" in lower or "unavailable" in lower:
        return EIO_TARGET_UNAVAILABLE
    return EIO_TARGET_UNAVAILABLE


def _daemon_error(stderr: str) -> str:
    """qemu-storage-daemon's error in one line: the login status the target gave, if any."""
    why = " ".join(stderr.split())
    if not why:
        return "qemu-storage-daemon failed and said nothing"
    if "Status: " in why:  # libiscsi: "... Failed to log in to target. Status: X(513)"
        status = why.rsplit("Status: ", 1)[1].strip()
        return f"the target refused the login: {status}"
    return why.split(": ", 1)[-1]


class Attachment:
    """A LUN exported as a read-only file by a qemu-storage-daemon we started.

    The daemon is held by a pidfd (signals cannot reach a recycled pid; its exit is an event
    to wait for). A watchdog thread ends it when its iSCSI connection is gone for
    ``LOST_AFTER`` seconds: libiscsi reconnects forever and every read of the drive would
    wait with it; once the daemon is gone the kernel fails them (the FUSE connection
    aborts), and ``lost`` says why.
    """

    def __init__(self, root: RootPath, creds: Credentials) -> None:
        self.root = root
        self.creds = creds
        self.pid: int | None = None
        self.pidfd: int | None = None
        self.lost: str | None = None
        self.directory = Path(tempfile.mkdtemp(prefix="bootsh-iscsi-"))
        self.path = self.directory / "disk"
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None

    def attach(self) -> None:
        if self.creds.reverse_username:
            raise IscsiError(
                ENOTSUP_ISCSI, "mutual CHAP (reverse-username) is not supported by libiscsi in QEMU"
            )
        daemon = shutil.which("qemu-storage-daemon")
        if daemon is None:
            raise IscsiError(
                ENOTSUP_ISCSI, "qemu-storage-daemon is not installed (.ci/install-disks.sh)"
            )
        self._probe()
        self.path.touch()
        pidfile = self.directory / "pid"
        argv = [daemon, "--daemonize", "--pidfile", str(pidfile)]
        blockdev = (
            f"driver=iscsi,node-name=san,transport=tcp,portal={_q(self.root.portal)},"
            f"target={_q(self.root.target)},lun={self.root.lun},"
            f"initiator-name={_q(self.creds.initiator)},timeout={LOGIN_TIMEOUT},read-only=on"
        )
        if self.creds.username:
            secret = self.directory / "secret"
            fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(self.creds.password)
            argv += ["--object", f"secret,id=chap,file={_q(str(secret))}"]
            blockdev += f",user={_q(self.creds.username)},password-secret=chap"
        argv += [
            "--blockdev", blockdev,
            "--export", f"type=fuse,id=san,node-name=san,mountpoint={_q(str(self.path))},"
            "writable=off",
        ]  # fmt: skip
        try:
            proc = subprocess.run(
                argv, capture_output=True, text=True, timeout=LOGIN_TIMEOUT + 10, check=False
            )
        except subprocess.TimeoutExpired:
            self._adopt(pidfile)
            self.detach()
            raise IscsiError(ETIMEDOUT_ISCSI, f"no answer from {self.root.portal}") from None
        finally:
            with contextlib.suppress(OSError):
                (self.directory / "secret").unlink()
        if proc.returncode != 0:
            self._adopt(pidfile)
            self.detach()
            why = _daemon_error(proc.stderr)
            raise IscsiError(_error_for(why), why)
        self._adopt(pidfile)
        if self.pidfd is not None:
            self._watchdog = threading.Thread(
                target=self._watch, name=f"iscsi-watchdog-{self.pid}", daemon=True
            )
            self._watchdog.start()

    def _probe(self) -> None:
        """A TCP connection to the portal first: libiscsi reports a refused or unreachable
        portal only as "Can not reconnect right now"; this says what happened, as iPXE does."""
        portal = self.root.portal
        try:
            with socket.create_connection((self.root.server, self.root.port), LOGIN_TIMEOUT):
                pass
        except ConnectionRefusedError:
            raise IscsiError(ECONNREFUSED_ISCSI, f"{portal} refused the connection") from None
        except TimeoutError:
            raise IscsiError(ETIMEDOUT_ISCSI, f"no answer from {portal}") from None
        except OSError as exc:
            unreachable = exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH)
            number = ENETUNREACH_ISCSI if unreachable else EIO_TARGET_UNAVAILABLE
            raise IscsiError(number, f"cannot reach {portal}: {exc.strerror or exc}") from None

    def _adopt(self, pidfile: Path) -> None:
        """Hold the daemon (its pid from ``--pidfile``) by a pidfd."""
        with contextlib.suppress(OSError, ValueError):
            self.pid = int(pidfile.read_text().strip())
            self.pidfd = os.pidfd_open(self.pid)

    def _watch(self) -> None:
        """End the daemon once it has had no established TCP connection for ``LOST_AFTER``."""
        assert self.pid is not None and self.pidfd is not None
        pid, pidfd = self.pid, self.pidfd
        last = time.monotonic()
        while not self._stop.is_set():
            readable, _, _ = select.select([pidfd], [], [], WATCH_INTERVAL)
            if readable:  # the daemon ended on its own
                self.lost = self.lost or "qemu-storage-daemon ended"
                return
            if established_connections(pid):
                last = time.monotonic()
            elif time.monotonic() - last > LOST_AFTER:
                self.lost = (
                    f"the connection to {self.root.portal} was lost and not re-established"
                    f" within {LOST_AFTER:g} s"
                )
                with contextlib.suppress(OSError):
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                return

    def detach(self) -> None:
        """Log out (the daemon ends), the FUSE file goes, the directory is removed."""
        self._stop.set()
        if self._watchdog is not None:
            self._watchdog.join(WATCH_INTERVAL * 4)
            self._watchdog = None
        if self.pidfd is not None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                with contextlib.suppress(OSError):
                    signal.pidfd_send_signal(self.pidfd, sig)
                # not our child (it daemonized): no wait(); the pidfd turns readable at its end
                if select.select([self.pidfd], [], [], 10)[0]:
                    break
            os.close(self.pidfd)
            self.pidfd = None
        self.pid = None
        if _is_mount(self.path):
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True, timeout=30,
                           check=False)  # fmt: skip
        shutil.rmtree(self.directory, ignore_errors=True)


def established_connections(pid: int) -> int:
    """How many TCP connections of process ``pid`` are established (``/proc``: its sockets'
    inodes, looked up in the TCP tables of its network namespace)."""
    inodes: set[str] = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
    count = 0
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/net/{table}") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if len(fields) > 9 and fields[3] == "01" and fields[9] in inodes:
                    count += 1
    return count


def _is_mount(path: Path) -> bool:
    try:
        with open("/proc/self/mounts") as f:
            return any(line.split()[1] == str(path) for line in f if len(line.split()) > 1)
    except OSError:
        return False


def _q(value: str) -> str:
    """QEMU's option syntax: a comma in a value is doubled."""
    return value.replace(",", ",,")


def cmdline_for(
    volumes: list[tuple[str, RootPath, Credentials]], initrds: list[str], cmdline: str
) -> tuple[list[str], list[str]]:
    """What the next kernel's initramfs needs to log in to ``volumes`` again.

    ``volumes``: (drive name, root path, credentials) of each described drive, the boot drive
    first. Returns the words to add to ``cmdline`` and one line per volume that cannot be
    passed. dracut takes a ``netroot=`` per volume; initramfs-tools' open-iscsi script logs
    in to one target only (every LUN of it appears): the first, and a volume on another
    target or portal is left out with a note.
    """
    if not volumes:
        return [], []
    names = [p.rsplit("/", 1)[-1] for p in initrds]
    dracut = any(n.startswith("initramfs") for n in names)
    tools = any(n.startswith("initrd.img") for n in names)
    if not dracut and not tools:
        dracut = tools = True
    out: list[str] = []
    notes: list[str] = []
    _, first, first_creds = volumes[0]
    if dracut:
        out.append(f"rd.iscsi.initiator={first_creds.initiator}")
        for _, root, creds in volumes:
            cred = ""
            if creds.username:
                cred = f"{creds.username}:{creds.password}"
                if creds.reverse_username:
                    cred += f":{creds.reverse_username}:{creds.reverse_password}"
                cred += "@"
            server = f"[{root.server}]" if ":" in root.server else root.server
            out.append(f"netroot=iscsi:{cred}{server}::{root.port}:{root.lun}:{root.target}")
        if not any(w.startswith("ip=") for w in cmdline.split()):
            out.append("ip=dhcp")
    if tools:
        out += [
            f"iscsi_initiator={first_creds.initiator}",
            f"iscsi_target_name={first.target}",
            f"iscsi_target_ip={first.server}",
            f"iscsi_target_port={first.port}",
        ]
        if first_creds.username:
            out += [
                f"iscsi_username={first_creds.username}",
                f"iscsi_password={first_creds.password}",
            ]
        if first_creds.reverse_username:
            out += [
                f"iscsi_in_username={first_creds.reverse_username}",
                f"iscsi_in_password={first_creds.reverse_password}",
            ]
        for name, root, _ in volumes[1:]:
            if (root.target, root.server, root.port) != (first.target, first.server, first.port):
                notes.append(
                    f"SAN device {name} ({root.target} on {root.portal}) is not passed to the"
                    " next kernel: initramfs-tools logs in to one iSCSI target"
                )
    return out, notes
