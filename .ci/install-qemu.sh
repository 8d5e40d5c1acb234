#!/usr/bin/env bash
# Installs what the VM boot tests (tests/initramfs/) and bench/vmboot.py need: Debian's QEMU
# (qemu-system-x86, run with TCG: no KVM is assumed), QEMU's own iPXE ROMs (ipxe-qemu: the NIC
# option ROMs QEMU loads by default, and the reference netboot of the benchmark), SeaBIOS (a
# dependency of QEMU) and zstd. The second-stage initrd's /init needs a static busybox:
# busybox-static conflicts with the busybox package .ci/install-net.sh installs, so it is
# fetched with `apt-get download` and only its binary kept, at /opt/bootsh-vm/busybox (nothing
# installed). The guest kernel and its modules come from .ci/install-kernel.sh.
# Idempotent: safe to run again.
set -euo pipefail

source "$(dirname "$0")/lib.sh"
require_root install-qemu.sh

export DEBIAN_FRONTEND=noninteractive
mapfile -t need < <(missing_packages qemu-system-x86 ipxe-qemu zstd)
if ((${#need[@]})); then
    apt-get update -qq
    # No recommends: QEMU's recommends pull in a desktop's worth of UI libraries.
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

DEST=/opt/bootsh-vm
if [[ ! -x $DEST/busybox ]]; then
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    # apt-get download drops to the _apt user to write the .deb there.
    chmod 0755 "$scratch"
    chown _apt "$scratch" 2>/dev/null || true
    (cd "$scratch" && apt-get download -qq busybox-static) ||
        { apt-get update -qq && (cd "$scratch" && apt-get download -qq busybox-static); }
    dpkg-deb -x "$scratch"/busybox-static_*.deb "$scratch/root"
    mkdir -p "$DEST"
    install -m 0755 "$scratch/root/bin/busybox" "$DEST/busybox.tmp"
    mv "$DEST/busybox.tmp" "$DEST/busybox"
fi
if ! "$DEST/busybox" true 2>/dev/null; then
    echo "install-qemu.sh: $DEST/busybox does not run" >&2
    exit 1
fi

for path in /usr/bin/qemu-system-x86_64 /usr/lib/ipxe/qemu/efi-virtio.rom \
    /usr/lib/ipxe/qemu/efi-e1000.rom /usr/bin/zstd; do
    if [[ ! -e $path ]]; then
        echo "install-qemu.sh: $path missing after install" >&2
        exit 1
    fi
done
echo "install-qemu.sh: $(qemu-system-x86_64 --version | head -n 1), ipxe-qemu, zstd, $DEST/busybox present"
