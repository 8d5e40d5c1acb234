#!/usr/bin/env bash
# Installs the en_US.UTF-8 locale for tests/host/test_bytes.py: a strict UTF-8 locale, where
# Python's standard streams refuse undecodable bytes (C.UTF-8 and C use surrogateescape and
# hide the bug). localedef compiles just this one locale (locale-gen would build every one
# listed in /etc/locale.gen). Idempotent: safe to run again.
set -euo pipefail

source "$(dirname "$0")/lib.sh"
require_root install-locale.sh

export DEBIAN_FRONTEND=noninteractive
if ! dpkg-query -W -f='${Status}' locales 2>/dev/null | grep -q "install ok installed"; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends locales >/dev/null
fi
if ! locale -a 2>/dev/null | grep -qix 'en_US.utf8'; then
    localedef -i en_US -c -f UTF-8 -A /usr/share/locale/locale.alias en_US.UTF-8
fi
if ! locale -a | grep -qix 'en_US.utf8'; then
    echo "install-locale.sh: en_US.UTF-8 missing after localedef" >&2
    exit 1
fi
echo "install-locale.sh: en_US.UTF-8 present"
