"""iPXE's error numbers and texts.

An iPXE error number packs, from the top: the POSIX-like code (bits 30-24), the source
file's id (bits 23-13), a per-file number telling errors of the same code apart (bits 12-8)
and the platform's own error (bits 7-0; on Linux the kernel errno). ``strerror`` prints the
message and the error's page on ipxe.org.
"""

from __future__ import annotations


def ipxe_errno(posix: int, errfile: int, uniq: int, platform: int) -> int:
    """Compose an error number; ``errfile`` is the already-positioned ERRFILE value."""
    return (posix << 24) | errfile | (uniq << 8) | (platform & 0xFF)


def ipxe_strerror(message: str, number: int) -> str:
    """Format an error the way iPXE's ``strerror()`` does: ``Message (https://ipxe.org/hex)``."""
    return f"{message} (https://ipxe.org/{number:08x})"


# -- the numbers the interpreter and the flow commands return --------------------------------
#
# POSIX codes (iPXE's include/errno.h) and the Linux build's platform byte (the kernel errno,
# include/ipxe/errno/linux.h).
EPOSIX = {
    "EACCES": (0x02, 13),
    "EADDRINUSE": (0x03, 98),
    "EADDRNOTAVAIL": (0x04, 99),
    "EBUSY": (0x0A, 16),
    "ECANCELED": (0x0B, 125),
    "ECONNREFUSED": (0x0E, 111),
    "ECONNRESET": (0x0F, 104),
    "EHOSTUNREACH": (0x17, 113),
    "EINVAL": (0x1C, 22),
    "EINPROGRESS": (0x1A, 115),
    "EIO": (0x1D, 5),
    "EISDIR": (0x1F, 21),
    "ELOOP": (0x20, 40),
    "ENETUNREACH": (0x28, 101),
    "ENODEV": (0x2C, 19),
    "ENOENT": (0x2D, 2),
    "ENOEXEC": (0x2E, 8),
    "ENOMEM": (0x31, 12),
    "ENOSPC": (0x34, 28),
    "ENOTCONN": (0x38, 107),
    "ENOTSUP": (0x3C, 95),
    "ENOTTY": (0x3D, 25),
    "ENXIO": (0x3E, 6),
    "EPERM": (0x41, 1),
    "EPIPE": (0x42, 32),
    "EPROTO": (0x43, 71),
    "ERANGE": (0x46, 34),
    "ETIMEDOUT": (0x4C, 110),
}

# Source files' ids (include/ipxe/errfile.h), already shifted into place.
ERRFILE_EXEC = 0x00022000  # core/exec.c: execv, echo, exit, isset, iseq, sleep
ERRFILE_PARSEOPT = 0x00162000  # core/parseopt.c: option and argument parsing
ERRFILE_SCRIPT = 0x00028000  # image/script.c: script lines, goto


def error_number(name: str, errfile: int, uniq: int = 0) -> int:
    """iPXE's error number for the POSIX kind ``name`` raised in ``errfile`` (Linux build)."""
    posix, platform = EPOSIX[name]
    return ipxe_errno(posix, errfile, uniq, platform)


_err = error_number


#: ``NAME: command not found``
ENOEXEC_COMMAND = _err("ENOEXEC", ERRFILE_EXEC)
#: ``isset`` of an empty value
ENOENT_ISSET = _err("ENOENT", ERRFILE_EXEC)
#: ``iseq`` of different values
ERANGE_ISEQ = _err("ERANGE", ERRFILE_EXEC)
#: ``sleep`` interrupted (Ctrl-C)
ECANCELED_SLEEP = _err("ECANCELED", ERRFILE_EXEC)
#: expanding a command's arguments ran out of memory (bootsh: hit its expansion bound)
ENOMEM_EXPAND = _err("ENOMEM", ERRFILE_EXEC)
#: ``-h``/``--help``: "Nothing to do"
ECANCELED_NO_OP = _err("ECANCELED", ERRFILE_PARSEOPT, 0x01)
#: ``"x": invalid integer value``
EINVAL_INTEGER = _err("EINVAL", ERRFILE_PARSEOPT, 0x01)
#: ``Unrecognised option "-x"``
EINVAL_UNKNOWN_OPTION = _err("EINVAL", ERRFILE_PARSEOPT, 0x02)
#: ``Option "x" requires an argument`` / ``takes no argument``
EINVAL_MISSING_ARGUMENT = _err("EINVAL", ERRFILE_PARSEOPT, 0x03)
#: wrong number of arguments (usage only)
ERANGE_ARGS = _err("ERANGE", ERRFILE_PARSEOPT)
#: ``goto`` to a label that is not in the script
ENOENT_LABEL = _err("ENOENT", ERRFILE_SCRIPT)
#: a script whose last line ends in ``\`` (that line never runs)
EINVAL_CONTINUATION = _err("EINVAL", ERRFILE_SCRIPT)
#: ``goto`` outside a script: ``Not in a script: ...``
ENOTTY_GOTO = _err("ENOTTY", ERRFILE_SCRIPT)

# strerror()'s fallback table (hci/strerror.c ``common_errors``): matched on the POSIX code and
# the platform byte only, so any error of these kinds prints this text.
COMMON_ERRORS = {
    0x00: "Operation completed successfully",
    0x02: "Permission denied",
    0x0B: "Operation canceled",
    0x0F: "Connection reset",
    0x1C: "Invalid argument",
    0x1D: "Input/output error",
    0x28: "Network unreachable",
    0x2C: "No such device",
    0x2D: "No such file or directory",
    0x2E: "Exec format error",
    0x31: "Not enough space",
    0x34: "No space left on device",
    0x38: "The socket is not connected",
    0x3C: "Operation not supported",
    0x41: "Operation not permitted",
    0x46: "Result too large",
    0x4C: "Connection timed out",
}
# The Linux platform byte of each common error, to check the masked match.
_COMMON_PLATFORM = {
    0x00: 0, 0x02: 13, 0x0B: 125, 0x0F: 104, 0x1C: 22, 0x1D: 5, 0x28: 101, 0x2C: 19,
    0x2D: 2, 0x2E: 8, 0x31: 12, 0x34: 28, 0x38: 107, 0x3C: 95, 0x41: 1, 0x46: 34, 0x4C: 110,
}  # fmt: skip


# The error tables (``__errortab``) linked into iPXE besides ``common_errors``: their numbers
# print their own text, not the common one of their POSIX code (a TFTP or HTTP "Not found" is
# not "No such file or directory"). Linux-build numbers; the files' ERRFILE ids are
# include/ipxe/errfile.h's.
_ERRFILE_NETDEVICE = 0x00086000  # net/netdevice.c
_ERRFILE_IFMGMT = 0x000EE000  # usr/ifmgmt.c
_ERRFILE_HTTPCORE = 0x000C6000  # net/tcp/httpcore.c
_ERRFILE_TFTP = 0x00126000  # net/udp/tftp.c
ERRORTAB: dict[int, str] = {
    _err("EINPROGRESS", _ERRFILE_NETDEVICE, 0x01): "Unknown",
    _err("ENOTCONN", _ERRFILE_NETDEVICE, 0x01): "Down",
    _err("EINPROGRESS", _ERRFILE_NETDEVICE, 0x02): "Unused",
    _err("EINPROGRESS", _ERRFILE_NETDEVICE, 0x03): "Incomplete",
    _err("EADDRNOTAVAIL", _ERRFILE_IFMGMT, 0x01): "No configuration methods succeeded",
    _err("ENOENT", _ERRFILE_HTTPCORE, 0x01): "Not found",
    _err("EIO", _ERRFILE_HTTPCORE, 0x04): "HTTP 4xx Client Error",
    _err("EIO", _ERRFILE_HTTPCORE, 0x05): "HTTP 5xx Server Error",
    _err("ENOENT", _ERRFILE_TFTP, 0x01): "Not found",
}


def strerror(number: int, known: dict[int, str] | None = None) -> str:
    """iPXE's ``strerror()`` for the Linux build.

    ``known`` maps exact numbers to the texts of the error tables linked in (such as the
    netdevice link errors); otherwise the POSIX code and platform byte are looked up in the
    common table, and failing that the number is printed: ``Error 0x3d028019 (https://...)``.
    """
    number = abs(number) & 0xFFFFFFFF
    if known and number in known:
        return ipxe_strerror(known[number], number)
    if number in ERRORTAB:
        return ipxe_strerror(ERRORTAB[number], number)
    posix, platform = (number >> 24) & 0x7F, number & 0xFF
    if posix in COMMON_ERRORS and _COMMON_PLATFORM[posix] == platform:
        return ipxe_strerror(COMMON_ERRORS[posix], number)
    # iPXE's own vsprintf pads the digits to the width and then adds "0x".
    return f"Error 0x{number:08x} (https://ipxe.org/{number:08x})"
