"""Regenerate ``xen-hvm/xenstore.txt`` from a real xenstored 4.17 and a real ``xenstore-ls -f``.

The example machine is an HVM guest, domain 7, with two vifs whose emulated twins are in
``xen-hvm/sysfs`` (vif 0: rtl8139 at 00:04.0, vif 1: e1000 at 00:05.0). Its nodes are the ones
libxl 4.17 writes for such a guest (domain directory, /vm, /libxl, the vif frontends and
backends with their permissions), plus what the guest's netfront and dom0's netback add when
they connect (state 4). Both the emulated NICs and netfront being up means the guest kernel
was booted with ``xen_emul_unplug=unnecessary``, which is exactly the case bootsh's twin
policies are about.

Run as root (the daemon's socket is root-only) from the repository root, after
``.ci/install-xen.sh``::

    python examples/machines/build_xen_hvm_xenstore.py            # rewrite the file
    python examples/machines/build_xen_hvm_xenstore.py --check    # exit 1 if it differs

The output is deterministic (fixed uuid and times), so ``--check`` (and a test) can tell when
the committed file no longer matches what the daemon produces.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TARGET = HERE / "xen-hvm" / "xenstore.txt"

DOMID = 7
NAME = "xen-hvm"
UUID = "5a1f3c2e-8d4b-4c6a-9e7f-0b1c2d3e4f50"
MACS = ("00:16:3e:5f:48:e4", "00:16:3e:1a:2b:3c")

#: Under /local/domain/7, besides name, domid and device/vif (written by populate_guest).
DOMAIN_KEYS = {
    "vm": f"/vm/{UUID}",
    "cpu/0/availability": "online",
    "cpu/1/availability": "online",
    "memory/static-max": "2097152",
    "memory/target": "2097153",
    "memory/videoram": "8192",
    "store/port": "1",
    "store/ring-ref": "1044476",
    "console/backend": f"/local/domain/0/backend/console/{DOMID}/0",
    "console/backend-id": "0",
    "console/limit": "1048576",
    "console/type": "xenconsoled",
    "console/output": "pty",
    "console/tty": "/dev/pts/2",
    "console/port": "2",
    "console/ring-ref": "1044479",
    "platform/acpi": "1",
    "platform/acpi_s3": "1",
    "platform/acpi_s4": "1",
    "platform/acpi_laptop_slate": "0",
    "image/device-model-pid": "2318",
    "control/platform-feature-multiprocessor-suspend": "1",
    "control/platform-feature-xs_reset_watches": "1",
}
#: Written by Linux's xen-netfront when it connects (one queue).
FRONTEND_CONNECTED = {
    "tx-ring-ref": "{tx}",
    "rx-ring-ref": "{rx}",
    "event-channel": "{evtchn}",
    "request-rx-copy": "1",
    "feature-rx-notify": "1",
    "feature-sg": "1",
    "feature-gso-tcpv4": "1",
    "feature-gso-tcpv6": "1",
    "feature-ipv6-csum-offload": "1",
}
#: Written by Linux's xen-netback in dom0.
BACKEND_CONNECTED = {
    "feature-sg": "1",
    "feature-gso-tcpv4": "1",
    "feature-gso-tcpv6": "1",
    "feature-ipv6-csum-offload": "1",
    "feature-rx-copy": "1",
    "feature-rx-flip": "0",
    "feature-multicast-control": "1",
    "feature-dynamic-multicast-control": "1",
    "feature-split-event-channels": "1",
    "multi-queue-max-queues": "2",
    "feature-ctrl-ring": "1",
}
VM_KEYS = {
    "uuid": UUID,
    "name": NAME,
    "start_time": "1732550400.27",
}
LIBXL_KEYS = {
    "type": "hvm",
    "dm-version": "qemu_xen",
}


def dump() -> str:
    """The example guest's XenStore, as `xenstore-ls -f` prints it from a fresh daemon."""
    sys.path.insert(0, str(ROOT))
    from tests.xenstored import VifSpec, Xenstored, populate_guest

    tool = shutil.which("xenstore-ls")
    if tool is None:
        raise SystemExit("xenstore-ls is missing: run .ci/install-xen.sh")
    vifs = [VifSpec(0, MACS[0]), VifSpec(1, MACS[1])]
    with Xenstored() as xsd:
        with xsd.client() as client:
            populate_guest(client, DOMID, vifs, name=NAME)
            dom = f"/local/domain/{DOMID}"
            for key, value in DOMAIN_KEYS.items():
                client.write(f"{dom}/{key}".encode(), value.encode())
            for vif in vifs:
                n = vif.index
                front = f"{dom}/device/vif/{n}"
                back = f"/local/domain/0/backend/vif/{DOMID}/{n}"
                refs = {"tx": str(8 + 2 * n), "rx": str(9 + 2 * n), "evtchn": str(5 + n)}
                for key, value in FRONTEND_CONNECTED.items():
                    client.write(f"{front}/{key}".encode(), value.format(**refs).encode())
                for key, value in BACKEND_CONNECTED.items():
                    client.write(f"{back}/{key}".encode(), value.encode())
                for key in ("frontend", "backend"):
                    path = front if key == "frontend" else back
                    libxl = f"/libxl/{DOMID}/device/vif/{n}/{key}"
                    client.write(libxl.encode(), path.encode())
            for key, value in VM_KEYS.items():
                client.write(f"/vm/{UUID}/{key}".encode(), value.encode())
            for key, value in LIBXL_KEYS.items():
                client.write(f"/libxl/{DOMID}/{key}".encode(), value.encode())
            client.write(f"/local/domain/0/device-model/{DOMID}/state".encode(), b"running")
        result = subprocess.run(
            [tool, "-f"], env=xsd.tool_env(), capture_output=True, text=True, check=True
        )
    return result.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("--output", type=Path, default=TARGET)
    args = parser.parse_args(argv)
    text = dump()
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != text:
            print(f"{args.output} differs from what xenstored produces now", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text)
    print(f"wrote {args.output} ({len(text.splitlines())} nodes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
