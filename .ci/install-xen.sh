#!/usr/bin/env bash
# Installs what tests/xenstored.py needs to run the real C xenstored of Xen 4.17 without a
# hypervisor: the Xen libraries it links against, the xenstore-* client tools, gcc for the
# LD_PRELOAD stub, and the daemon itself unpacked from xen-utils-4.17 into /opt/bootsh-xen.
# Installing xen-utils-4.17 the normal way would pull udev and upgrade systemd, hence dpkg -x.
# Idempotent: safe to run again.
set -euo pipefail

PREFIX=/opt/bootsh-xen
XENSTORED="$PREFIX/usr/lib/xen-4.17/bin/xenstored"

source "$(dirname "$0")/lib.sh"
require_root install-xen.sh

export DEBIAN_FRONTEND=noninteractive
mapfile -t need < <(missing_packages libxenmisc4.17 xenstore-utils gcc)
if ((${#need[@]})); then
    apt-get update
    apt-get install -y --no-install-recommends "${need[@]}"
fi

if [[ -x "$XENSTORED" ]]; then
    echo "install-xen.sh: $XENSTORED already present"
    exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# apt-get download drops privileges to _apt: the directory must be writable by it, or apt
# falls back to an unsandboxed download with a warning.
chmod 0777 "$tmp"
(cd "$tmp" && apt-get download xen-utils-4.17)
mkdir -p "$PREFIX"
dpkg -x "$tmp"/xen-utils-4.17_*.deb "$PREFIX"
if ldd "$XENSTORED" | grep -q "not found"; then
    echo "install-xen.sh: missing libraries for $XENSTORED" >&2
    exit 1
fi
echo "install-xen.sh: installed $XENSTORED"
