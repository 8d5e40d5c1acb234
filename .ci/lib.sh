# Sourced by the .ci/install-*.sh scripts: what each of them did alike.

# require_root SCRIPT: stop unless running as root (every install script writes system places).
require_root() {
    if [[ $(id -u) -ne 0 ]]; then
        echo "$1: must run as root${2:+ ($2)}" >&2
        exit 1
    fi
}

# missing_packages PKG...: the Debian packages among PKG that are not installed, one a line.
missing_packages() {
    local pkg status
    for pkg in "$@"; do
        status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
        [[ $status == "install ok installed" ]] || echo "$pkg"
    done
}
