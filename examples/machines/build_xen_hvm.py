#!/usr/bin/env python3
"""Regenerate ``examples/machines/xen-hvm/sysfs/``: the built-in example machine's sysfs.

A Linux HVM guest on qemu-xen (i440FX) with PV drivers loaded and the emulated NICs kept
(``xen_emul_unplug=unnecessary``: PV drivers on, emulated devices kept), so each vif is seen twice:

=============  ==================  ============================  =========
vif            MAC                 emulated twin                 netfront
=============  ==================  ============================  =========
vif 0          00:16:3e:5f:48:e4   rtl8139 0000:00:04.0, eth1    eth0
vif 1          00:16:3e:1a:2b:3c   e1000 0000:00:05.0, eth2      eth3
=============  ==================  ============================  =========

plus the host bridge, PIIX3 ISA/IDE, PIIX4 ACPI, the Xen platform device at 00:02.0, Cirrus
VGA at 00:03.0 and ``hypervisor/type = xen``. The MACs are those of ``xen-hvm/xenstore.txt``
(guest domid 7, both vifs ``type = vif_ioemu``), so the twins pair up.

The shapes come from ``tests/sysfs_tree.py`` (imported from the checkout: it is test
support, not part of the installed package), so the committed tree and the tests' trees
cannot drift apart; ``tests/test_pci_nics.py`` checks that this script rebuilds the
committed tree exactly.

Usage: ``python examples/machines/build_xen_hvm.py [TARGET]`` (default: beside this file).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from tests.sysfs_tree import SysfsTree, Vif, xen_hvm_guest  # noqa: E402

VIF0_MAC = "00:16:3e:5f:48:e4"
VIF1_MAC = "00:16:3e:1a:2b:3c"
DEFAULT_TARGET = HERE / "xen-hvm" / "sysfs"


def build(root: Path) -> SysfsTree:
    """Build the example machine's sysfs under ``root`` (which must not hold one yet)."""
    return xen_hvm_guest(
        root,
        [
            Vif(0, VIF0_MAC, model="rtl8139", ifname="eth0", twin_ifname="eth1"),
            Vif(1, VIF1_MAC, model="e1000", ifname="eth3", twin_ifname="eth2"),
        ],
    )


def main(argv: list[str]) -> int:
    target = Path(argv[1]) if len(argv) > 1 else DEFAULT_TARGET
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        fresh = Path(scratch) / "sysfs"
        build(fresh)
        if target.exists():
            shutil.rmtree(target)
        fresh.rename(target)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
