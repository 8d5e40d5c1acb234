#!/usr/bin/env bash
# Installs what the command-line tests need beyond Python: groff (renders docs/bootsh.1 with
# warnings on, tests/host/test_manpage_completion.py), and the shells whose completion of
# bootsh's options the tests run for real: bash (there), zsh and fish. python3-venv for the
# virtual environments of install.sh and .ci/run (Debian's python3 has no ensurepip without
# it). Idempotent: safe to run again.
set -euo pipefail

source "$(dirname "$0")/lib.sh"
require_root install-cli.sh

export DEBIAN_FRONTEND=noninteractive
mapfile -t need < <(missing_packages groff-base zsh fish python3-venv)
if ((${#need[@]})); then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

for tool in groff zsh fish; do
    if ! command -v "$tool" >/dev/null; then
        echo "install-cli.sh: $tool missing after install" >&2
        exit 1
    fi
done
