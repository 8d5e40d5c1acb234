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
``iscsi_in_username=``/``iscsi_in_password=``; an initrd of neither name gets both.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bootsh.ipxe_errors import error_number

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

#: How long a login may take (libiscsi's timeout, and the daemon's start as a whole).
LOGIN_TIMEOUT = 20


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


def parse_root_path(uri: str) -> RootPath:
    """``iscsi:server:protocol:port:lun:target`` as iPXE reads it."""
    rest = uri[len("iscsi:") :] if uri.lower().startswith("iscsi:") else uri
    server = ""
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            raise IscsiError(EINVAL_ROOT_PATH_TOO_SHORT, f"{uri}: unterminated [")
        server, rest = rest[1:end], rest[end + 1 :]
        if not rest.startswith(":"):
            raise IscsiError(EINVAL_ROOT_PATH_TOO_SHORT, f"{uri}: too few fields")
        rest = rest[1:]
        fields = rest.split(":", 3)
    else:
        parts = rest.split(":", 4)
        server, fields = parts[0], parts[1:]
    if len(fields) < 4:
        raise IscsiError(EINVAL_ROOT_PATH_TOO_SHORT, f"{uri}: too few fields")
    _protocol, port_text, lun_text, target = fields
    try:
        port = int(port_text) if port_text else 3260
        lun = int(lun_text.split("-")[0], 16) if lun_text else 0
    except ValueError:
        raise IscsiError(EINVAL_ROOT_PATH_TOO_SHORT, f"{uri}: bad port or LUN") from None
    if not target:
        raise IscsiError(EINVAL_NO_TARGET_IQN, f"{uri}: no target IQN")
    if not server:
        raise IscsiError(EINVAL_ROOT_PATH_TOO_SHORT, f"{uri}: no server")
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


class Attachment:
    """A LUN exported as a read-only file by a qemu-storage-daemon we started."""

    def __init__(self, root: RootPath, creds: Credentials) -> None:
        self.root = root
        self.creds = creds
        self.pid: int | None = None
        self.directory = Path(tempfile.mkdtemp(prefix="bootsh-iscsi-"))
        self.path = self.directory / "disk"

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
            why = " ".join(proc.stderr.split())
            why = why.split(": ", 2)[-1] if why else "qemu-storage-daemon failed"
            raise IscsiError(_error_for(why), why)
        self._adopt(pidfile)

    def _adopt(self, pidfile: Path) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.pid = int(pidfile.read_text().strip())

    def detach(self) -> None:
        """Log out (the daemon ends), the FUSE file goes, the directory is removed."""
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and _alive(self.pid):
                time.sleep(0.02)  # not our child: no wait(); its /proc entry says when
            if _alive(self.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
            self.pid = None
        if _is_mount(self.path):
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True, timeout=30,
                           check=False)  # fmt: skip
        shutil.rmtree(self.directory, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _is_mount(path: Path) -> bool:
    try:
        with open("/proc/self/mounts") as f:
            return any(line.split()[1] == str(path) for line in f if len(line.split()) > 1)
    except OSError:
        return False


def _q(value: str) -> str:
    """QEMU's option syntax: a comma in a value is doubled."""
    return value.replace(",", ",,")


def cmdline_for(root: RootPath, creds: Credentials, initrds: list[str]) -> list[str]:
    """What the next kernel's initramfs needs to log in to ``root`` again."""
    names = [p.rsplit("/", 1)[-1] for p in initrds]
    dracut = any(n.startswith("initramfs") for n in names)
    tools = any(n.startswith("initrd.img") for n in names)
    if not dracut and not tools:
        dracut = tools = True
    out: list[str] = []
    if dracut:
        cred = ""
        if creds.username:
            cred = f"{creds.username}:{creds.password}"
            if creds.reverse_username:
                cred += f":{creds.reverse_username}:{creds.reverse_password}"
            cred += "@"
        server = f"[{root.server}]" if ":" in root.server else root.server
        out += [
            f"rd.iscsi.initiator={creds.initiator}",
            f"netroot=iscsi:{cred}{server}::{root.port}:{root.lun}:{root.target}",
        ]
    if tools:
        out += [
            f"iscsi_initiator={creds.initiator}",
            f"iscsi_target_name={root.target}",
            f"iscsi_target_ip={root.server}",
            f"iscsi_target_port={root.port}",
        ]
        if creds.username:
            out += [f"iscsi_username={creds.username}", f"iscsi_password={creds.password}"]
        if creds.reverse_username:
            out += [
                f"iscsi_in_username={creds.reverse_username}",
                f"iscsi_in_password={creds.reverse_password}",
            ]
    return out
