#!/usr/bin/env bash
# The boot flow end to end, on this machine, as root: a throw-away network lab (dnsmasq DHCP,
# TFTP and DNS, an HTTP server) serving boot.ipxe, a real Debian kernel and an initramfs built
# from initrd/; bootsh in the lab's client namespace runs `autoboot` (DHCP, then chain the
# offered boot.ipxe, which fetches the kernel and initrd) and, with --dry-run, prints the kexec
# plan instead of booting. Extra arguments go to bootsh (e.g. -x to trace the script).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ci=$here/../../.ci

command -v dnsmasq >/dev/null || [[ -x /usr/sbin/dnsmasq ]] || bash "$ci/install-net.sh"
[[ -s /opt/bootsh-kernel/vmlinuz ]] || bash "$ci/install-kernel.sh"

serve=$(mktemp -d)
trap 'rm -rf "$serve"' EXIT
cp "$here/boot.ipxe" /opt/bootsh-kernel/vmlinuz "$serve/"
# newc is the format the kernel unpacks; busybox builds it from a file list on stdin.
(cd "$here/initrd" && find . -mindepth 1 | LC_ALL=C sort | busybox cpio -o -H newc) \
    >"$serve/initrd.cpio" 2>/dev/null

bootsh lab -q --serve "$serve" -- bootsh --dry-run --net af_packet,if=veth-cli "$@" -c autoboot
