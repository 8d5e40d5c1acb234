#!/usr/bin/env bash
# Puts one real Linux kernel (a bzImage) at /opt/bootsh-kernel/vmlinuz for the boot tests
# (tests/test_boot_lab.py, tests/test_kexec.py): the image behind Debian's
# linux-image-cloud-amd64 metapackage, fetched with `apt-get download` (not installed: nothing
# lands in /boot, no initramfs is built, no bootloader is touched), unpacked with dpkg-deb -x
# into a scratch directory; the vmlinuz is kept, and the .deb itself as
# /opt/bootsh-kernel/linux-image.deb: the VM tests (tests/initramfs/) take the guest's NIC modules
# (virtio_net, e1000) from it with `bootsh initramfs --kernel-deb`. Idempotent: safe to run again.
set -euo pipefail

DEST=/opt/bootsh-kernel
if [[ -s $DEST/vmlinuz && -s $DEST/linux-image.deb ]]; then
    echo "install-kernel.sh: $DEST/vmlinuz and $DEST/linux-image.deb present"
    exit 0
fi
source "$(dirname "$0")/lib.sh"
require_root install-kernel.sh "writes $DEST"

export DEBIAN_FRONTEND=noninteractive
meta=linux-image-cloud-amd64
# The metapackage depends on exactly one versioned image package (linux-image-X.Y.Z-N-cloud-amd64).
package=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
if [[ -z $package ]]; then
    apt-get update -qq
    package=$(apt-cache depends "$meta" | awk '/Depends: linux-image-/ {print $2; exit}')
fi
if [[ -z $package ]]; then
    echo "install-kernel.sh: cannot resolve the image package behind $meta" >&2
    exit 1
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# apt-get download drops to the _apt user to write the .deb there.
chmod 0755 "$scratch"
chown _apt "$scratch" 2>/dev/null || true
(cd "$scratch" && apt-get download -qq "$package")
deb=$(ls "$scratch"/*.deb)
dpkg-deb -x "$deb" "$scratch/root"
kernel=$(ls "$scratch"/root/boot/vmlinuz-* | head -n 1)
# A bzImage: the boot sector's 0xAA55 at 510 and "HdrS" at 0x202.
magic=$(od -An -tx1 -j 510 -N 2 "$kernel" | tr -d ' \n')
hdrs=$(dd if="$kernel" bs=1 skip=514 count=4 status=none)
if [[ $magic != 55aa || $hdrs != HdrS ]]; then
    echo "install-kernel.sh: $kernel from $package is not a bzImage" >&2
    exit 1
fi
mkdir -p "$DEST"
install -m 0644 "$kernel" "$DEST/vmlinuz.tmp"
mv "$DEST/vmlinuz.tmp" "$DEST/vmlinuz"
install -m 0644 "$deb" "$DEST/linux-image.deb.tmp"
mv "$DEST/linux-image.deb.tmp" "$DEST/linux-image.deb"
echo "$package" >"$DEST/package"
echo "install-kernel.sh: $DEST/vmlinuz and linux-image.deb from $package ($(stat -c %s "$DEST/vmlinuz") bytes)"
