#!/usr/bin/env bash
# The differential tests' reference (tests/differential/): the real iPXE, Debian trixie's `ipxe`
# package at one pinned version, run under Debian's QEMU (qemu-system-x86, TCG: no KVM).
#
# bookworm's own ipxe (2019) is too old (no ping/poweroff, old ifstat), so trixie's is fetched
# with `apt-get download` through a private apt configuration: a sources list naming only trixie
# on the mirror this machine already uses, with its own lists and cache directories under
# $STATE. The machine's apt configuration is never changed and nothing from trixie is
# installed: the .deb is unpacked with dpkg-deb -x and only ipxe.lkrn is kept, at
# /opt/bootsh-ipxe/ipxe.lkrn. Any failure is loud (non-zero exit): CI must not run the
# differential tests without their reference. Idempotent: safe to run again.
set -euo pipefail

VERSION=1.21.1+git20250501.dad20602+dfsg-1
DEST=/opt/bootsh-ipxe
STATE=/var/tmp/bootsh-ipxe-apt

source "$(dirname "$0")/lib.sh"
require_root install-ipxe.sh
export DEBIAN_FRONTEND=noninteractive

# QEMU (no recommends: they pull in a desktop's worth of UI libraries); SeaBIOS comes with it.
if [[ $(dpkg-query -W -f='${Status}' qemu-system-x86 2>/dev/null || true) != "install ok installed" ]]; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null
fi
command -v qemu-system-x86_64 >/dev/null || {
    echo "install-ipxe.sh: qemu-system-x86_64 missing after install" >&2
    exit 1
}

if [[ -s $DEST/ipxe.lkrn && $(cat "$DEST/version" 2>/dev/null) == "$VERSION" ]]; then
    echo "install-ipxe.sh: $DEST/ipxe.lkrn ($VERSION) present"
    exit 0
fi

# The mirror the machine already uses for Debian (first deb.debian.org-style URI of the
# system's sources), so that trixie comes from the same place as everything else.
find_mirror() {
    apt-get indextargets --format '$(REPO_URI)' 'Created-By: Packages' 2>/dev/null |
        grep -m1 -E '/debian/?$' || true
}
mirror=$(find_mirror)
if [[ -z $mirror ]]; then
    # No package lists yet (a machine where apt-get update never ran): make them.
    apt-get update -qq
    mirror=$(find_mirror)
fi
mirror=${mirror%/}
if [[ -z $mirror ]]; then
    echo "install-ipxe.sh: cannot find the machine's Debian mirror in its apt sources" >&2
    exit 1
fi

rm -rf "$STATE"
mkdir -p "$STATE/lists/partial" "$STATE/cache/archives/partial" "$STATE/deb"
cat >"$STATE/trixie.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
apt_opts=(
    -o "Dir::Etc::SourceList=$STATE/trixie.sources"
    -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$STATE/lists"
    -o "Dir::Cache=$STATE/cache"
)
if ! apt-get "${apt_opts[@]}" update -qq; then
    echo "install-ipxe.sh: apt-get update of trixie from $mirror failed" >&2
    exit 1
fi
# apt-get download drops to the _apt user to write the .deb.
chmod 0755 "$STATE" "$STATE/deb"
chown _apt "$STATE/deb" 2>/dev/null || true
if ! (cd "$STATE/deb" && apt-get "${apt_opts[@]}" download -qq "ipxe=$VERSION"); then
    echo "install-ipxe.sh: cannot download ipxe=$VERSION from trixie on $mirror" >&2
    exit 1
fi
deb=$(ls "$STATE"/deb/ipxe_*.deb)
dpkg-deb -x "$deb" "$STATE/root"
lkrn=$STATE/root/usr/lib/ipxe/ipxe.lkrn
if [[ ! -s $lkrn ]]; then
    echo "install-ipxe.sh: $deb has no usr/lib/ipxe/ipxe.lkrn" >&2
    exit 1
fi
mkdir -p "$DEST"
install -m 0644 "$lkrn" "$DEST/ipxe.lkrn.tmp"
mv "$DEST/ipxe.lkrn.tmp" "$DEST/ipxe.lkrn"
echo "$VERSION" >"$DEST/version"
rm -rf "$STATE"
echo "install-ipxe.sh: $DEST/ipxe.lkrn from ipxe $VERSION ($(stat -c %s "$DEST/ipxe.lkrn") bytes), $(qemu-system-x86_64 --version | head -n 1)"
