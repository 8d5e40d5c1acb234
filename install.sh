#!/bin/sh
# Install bootsh from this checkout on a stock Debian or Ubuntu, whose Python is "externally
# managed" (PEP 668: pip refuses the system's site-packages). bootsh gets a virtual
# environment of its own and a command on PATH:
#
#   as root    /opt/bootsh (the venv), /usr/local/bin/bootsh (on every user's PATH and on
#              sudo's secure_path, so `sudo bootsh` finds it), the man page and the bash, zsh
#              and fish completions under /usr/local/share; python3-venv is installed with
#              apt-get when missing.
#   as a user  ~/.local/share/bootsh/venv, ~/.local/bin/bootsh, ~/.local/share/man and the
#              bash and fish completions under ~/.local/share (root cannot use this one).
#
# BOOTSH_VENV and BOOTSH_PREFIX (bin/ and share/) name other places. Running it again upgrades. The copy
# is not editable: the checkout may move or go. (.ci/run makes a separate, editable venv in
# .venv for the tests; the two never touch each other.)
set -eu
cd "$(dirname "$0")"

say() { printf 'install.sh: %s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then
    venv=${BOOTSH_VENV:-/opt/bootsh}
    prefix=${BOOTSH_PREFIX:-/usr/local}
else
    venv=${BOOTSH_VENV:-$HOME/.local/share/bootsh/venv}
    prefix=${BOOTSH_PREFIX:-$HOME/.local}
fi
bin=$prefix/bin
share=$prefix/share

# Python 3.11 or newer, with venv and ensurepip (Debian splits them into python3-venv).
if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing python3-venv with apt-get"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    else
        die "python3 with its venv module is needed: sudo apt-get install python3-venv"
    fi
fi
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "bootsh needs Python 3.11 or newer; python3 is $(python3 -V 2>&1)"

if [ ! -x "$venv/bin/python" ]; then
    say "creating the virtual environment $venv"
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv"
fi
say "installing bootsh into $venv"
had_build=no
[ -e build ] && had_build=yes
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade .
# setuptools builds in the checkout; leave it as it was found.
[ "$had_build" = yes ] || rm -rf build

mkdir -p "$bin"
ln -sf "$venv/bin/bootsh" "$bin/bootsh"
mkdir -p "$share/man/man1" "$share/bash-completion/completions" \
    "$share/fish/vendor_completions.d"
cp docs/bootsh.1 "$share/man/man1/bootsh.1"
"$venv/bin/bootsh" --completion bash >"$share/bash-completion/completions/bootsh"
"$venv/bin/bootsh" --completion fish >"$share/fish/vendor_completions.d/bootsh.fish"
if [ "$(id -u)" -eq 0 ] || [ -n "${BOOTSH_PREFIX:-}" ]; then
    mkdir -p "$share/zsh/site-functions"
    "$venv/bin/bootsh" --completion zsh >"$share/zsh/site-functions/_bootsh"
fi

say "$("$bin/bootsh" --version) is $bin/bootsh"
case ":$PATH:" in
*":$bin:"*) ;;
*) say "$bin is not on your PATH yet: add it (Debian's ~/.profile does at the next login)" ;;
esac
