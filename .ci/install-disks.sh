#!/usr/bin/env bash
# Installs what the disk, ISO and iSCSI boot tests (tests/disks/) and `sanboot`/`sanhook` need:
# - gdisk (sgdisk: GPT), fdisk (sfdisk: MBR), dosfstools (mkfs.vfat) and e2fsprogs (mkfs.ext4) to make disk images;
# - mtools: bootsh reads FAT file systems (EFI system partitions) in user space with it (this
#   CI kernel has no vfat, and no partition-table support either: bootsh parses those itself);
# - xorriso, isolinux and syslinux-common to make bootable ISOs (bootsh reads ISO 9660 with
#   pycdlib, a pip dependency);
# - tgt (tgtd + tgtadm), the user-space iSCSI target the tests start in the lab;
# - qemu-block-extra (libiscsi, QEMU's iSCSI block driver) and qemu-system-common
#   (qemu-storage-daemon): bootsh's iSCSI initiator is libiscsi in qemu-storage-daemon,
#   exporting the LUN as a read-only file over FUSE (this kernel has no iscsi_tcp/sd).
# --no-install-recommends: tgt's recommends would start services. Idempotent.
set -euo pipefail

source "$(dirname "$0")/lib.sh"
require_root install-disks.sh

export DEBIAN_FRONTEND=noninteractive
mapfile -t need < <(missing_packages gdisk dosfstools e2fsprogs mtools xorriso isolinux \
    syslinux-common tgt qemu-block-extra qemu-system-common fuse3 util-linux fdisk)
if ((${#need[@]})); then
    apt-get update -qq
    # policy-rc.d: no package may start a daemon (tgt ships an init script)
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

for tool in sgdisk sfdisk mkfs.vfat mkfs.ext4 mtype xorriso tgtd tgtadm qemu-storage-daemon losetup; do
    if ! command -v "$tool" >/dev/null; then
        echo "install-disks.sh: $tool missing after install" >&2
        exit 1
    fi
done
for f in /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 \
    /usr/lib/x86_64-linux-gnu/qemu/block-iscsi.so; do
    [[ -e $f ]] || { echo "install-disks.sh: $f missing after install" >&2; exit 1; }
done
echo "install-disks.sh: disk, ISO and iSCSI tools present"
