"""``vcreate`` and ``vdestroy``: 802.1Q VLAN netdevs as iPXE's ``vlan_cmd.c`` and ``net/vlan.c``.

``vcreate --tag 42 net0`` makes the netdev ``net0-42``: a VLAN link made in the kernel through
rtnetlink on the trunk's interface (``ip link add link veth-cli name veth-cli.42 type vlan
id 42``), so that DHCP on its raw socket and the kernel's TCP/UDP both use tagged frames.
The VLAN netdev has the trunk's MAC, driver and bus location (iPXE's ``netdev->dev`` is the
trunk's), and comes after the other netdevs. As in iPXE: an existing VLAN only gets its
priority updated; a VLAN on a VLAN is refused (ENOTTY), and so is a tag above 4094 or a
priority above 7 (EINVAL); ``vdestroy`` of a netdev that is not a VLAN fails with ENOTTY.

Where the kernel refuses (no 802.1Q support in it, no CAP_NET_ADMIN), the error is iPXE's
line with the kernel's reason mapped to iPXE's number, and the reason in words on stderr.
The priority is recorded, not applied: the kernel's VLAN tags its frames with priority 0
unless an egress QoS map says otherwise, which bootsh does not set.
"""

from __future__ import annotations

import errno as os_errno

from bootsh.api import (
    ENODEV_NETDEV,
    Command,
    Invocation,
    Netdev,
    Option,
    Shell,
    close_netdev,
    error_number,
    find_netdev,
    parse_integer,
    strerror,
)

_ERRFILE_VLAN = 0x00306000  # net/vlan.c
ENOTTY_VLAN = error_number("ENOTTY", _ERRFILE_VLAN)
EINVAL_VLAN = error_number("EINVAL", _ERRFILE_VLAN)
ENOTSUP_VLAN = error_number("ENOTSUP", _ERRFILE_VLAN)
EPERM_VLAN = error_number("EPERM", _ERRFILE_VLAN)
EIO_VLAN = error_number("EIO", _ERRFILE_VLAN)

_KEY = "vlan_cmds.vlans"


def _vlans(shell: Shell) -> dict[str, tuple[str, int, int]]:
    """VLAN netdev name -> (trunk name, tag, priority)."""
    found = shell.state.setdefault(_KEY, {})
    assert isinstance(found, dict)
    return found


def _kernel_name(trunk_ifname: str, tag: int) -> str:
    name = f"{trunk_ifname}.{tag}"
    return name if len(name) <= 15 else f"{trunk_ifname[: 14 - len(str(tag))]}.{tag}"


def vcreate(inv: Invocation) -> int:
    from bootsh.api import NetlinkError, create_vlan, replace  # not at every start

    shell = inv.shell
    tag = parse_integer(inv.value("tag") or "0")
    priority = parse_integer(inv.value("priority") or "0")
    trunk = find_netdev(shell, inv.args[0])
    if trunk is None:
        shell.print(f'"{inv.args[0]}": no such network device')
        return ENODEV_NETDEV
    vlans = _vlans(shell)
    name = f"{trunk.name}-{tag}"
    if name in vlans and vlans[name][:2] == (str(trunk.name), tag):
        vlans[name] = (str(trunk.name), tag, priority)  # exists: only the priority changes
        return 0
    rc = 0
    if str(trunk.name) in vlans or len((trunk.nic.mac or "").split(":")) != 6:
        rc = ENOTTY_VLAN  # no VLAN on a VLAN (nor on a non-Ethernet link)
    elif not 0 <= tag < 0xFFF or not 0 <= priority <= 7:
        rc = EINVAL_VLAN
    ifname = trunk.nic.ifname
    if rc == 0 and not ifname:
        rc = ENOTSUP_VLAN
        shell.diagnose(f"{trunk.name} has no kernel interface to carry a VLAN")
    if rc == 0 and ifname:
        kernel = _kernel_name(ifname, tag)
        try:
            create_vlan(ifname, kernel, tag)
        except (NetlinkError, OSError) as exc:
            number = exc.errno or os_errno.EIO
            rc = {os_errno.EOPNOTSUPP: ENOTSUP_VLAN, os_errno.EPERM: EPERM_VLAN}.get(
                number, EIO_VLAN
            )
            why = (
                " (this kernel has no 802.1Q VLAN support: CONFIG_VLAN_8021Q)"
                if number == os_errno.EOPNOTSUPP
                else " (VLANs need CAP_NET_ADMIN)"
                if number == os_errno.EPERM
                else ""
            )
            shell.diagnose(f"{name}: {exc}{why}")
    if rc:
        shell.print(f"Could not create VLAN device: {strerror(rc)}")
        return rc
    nic = replace(trunk.nic, ifname=kernel, facts={**trunk.nic.facts, "vlan-tag": str(tag)})
    shell.extra_netdevs.append(Netdev(nic, name))
    vlans[name] = (str(trunk.name), tag, priority)
    return 0


def vdestroy(inv: Invocation) -> int:
    from bootsh.api import NetlinkError, delete_link  # not at every start

    shell = inv.shell
    netdev = find_netdev(shell, inv.args[0])
    if netdev is None:
        shell.print(f'"{inv.args[0]}": no such network device')
        return ENODEV_NETDEV
    vlans = _vlans(shell)
    if str(netdev.name) not in vlans:
        shell.print(f"Could not destroy VLAN device: {strerror(ENOTTY_VLAN)}")
        return ENOTTY_VLAN
    close_netdev(shell, str(netdev.name))
    if netdev.nic.ifname:
        try:
            delete_link(netdev.nic.ifname)
        except NetlinkError as exc:
            shell.diagnose(f"{netdev.name}: {exc}")
    del vlans[str(netdev.name)]
    shell.extra_netdevs[:] = [n for n in shell.extra_netdevs if n.name != netdev.name]
    return 0


COMMANDS = (
    Command(
        "vcreate",
        vcreate,
        "create VLAN device",
        args="<trunk interface>",
        options=(
            Option("tag", "t", "tag", "VLAN tag"),
            Option("priority", "p", "priority", "default priority"),
        ),
        min_args=1,
        max_args=1,
    ),
    Command(
        "vdestroy", vdestroy, "destroy VLAN device", args="<VLAN interface>", min_args=1, max_args=1
    ),
)
