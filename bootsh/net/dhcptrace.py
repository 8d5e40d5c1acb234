"""DHCP frames decoded by scapy, one line each, for ``bootsh -v``.

The exchange itself builds and reads its frames by hand (``bootsh.net.dhcp``): a lease must
not wait for a packet library's import, which costs more than the whole exchange with a
local server. Where time no longer matters — a person debugging a DHCP server with ``-v`` —
scapy earns its import: its dissectors name every option it knows (``message-type=offer``,
``router=...``, ``param_req_list=[...]``) and show the rest by number, in the order the
frame carries them, which is what one compares with the server's configuration and logs.

Imported only when ``-v`` is given (it imports scapy at once, before the session's clock
starts, so the import is not counted against the exchange's timers).
"""

from __future__ import annotations

from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.inet import IP
from scapy.layers.l2 import Ether

#: A line longer than this is cut (a hostile server can fill 1 400 bytes of options).
MAX_LINE = 1000


def describe(frame: bytes) -> str:
    """``Discover xid 0x... 0.0.0.0 -> 255.255.255.255 ...: [options]``: one line, bounded."""
    try:
        packet = Ether(frame)
        bootp = packet.getlayer(BOOTP)
        dhcp = packet.getlayer(DHCP)
        ip = packet.getlayer(IP)
        if bootp is None or ip is None:
            return f"not a BOOTP frame: {packet.summary()}"
        kind = packet.summary().rpartition(" / ")[2]  # "DHCP Offer", or "BOOTP" for BOOTP
        options = DHCP.fields_desc[0].i2repr(dhcp, dhcp.options) if dhcp is not None else "[]"
        text = (
            f"{kind} xid {bootp.xid:#010x} {ip.src} -> {ip.dst}"
            f" ({packet.src} -> {packet.dst})"
            f" ciaddr {bootp.ciaddr} yiaddr {bootp.yiaddr} siaddr {bootp.siaddr}"
            f" giaddr {bootp.giaddr} options {options}"
        )
    except Exception as exc:  # scapy on a hostile frame: say so, never stop the exchange
        text = f"undecodable frame ({len(frame)} bytes): {type(exc).__name__}: {exc}"
    return text if len(text) <= MAX_LINE else text[: MAX_LINE - 3] + "..."
