#!/usr/bin/env bash
# Installs what bootsh.lab (the network lab, tests/test_lab.py) needs: Debian's dnsmasq as
# DHCP/TFTP/DNS server, iproute2 for namespaces and veth pairs, ethtool for the checksum offload
# setting, busybox (udhcpc, the benchmark's reference client), curl and tftp-hpa's tftp client,
# openssl (tests/test_fetch.py makes a private CA for its HTTPS server; tests/trust makes the
# PKI and the signatures imgverify checks).
# dnsmasq-base rather than dnsmasq: it has no system service that would start on install and
# grab port 53/67 on the host. Idempotent: safe to run again.
set -euo pipefail

source "$(dirname "$0")/lib.sh"
require_root install-net.sh

export DEBIAN_FRONTEND=noninteractive
mapfile -t need < <(missing_packages dnsmasq-base iproute2 ethtool busybox curl tftp-hpa openssl)
if ((${#need[@]})); then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

for tool in dnsmasq ip ethtool busybox curl tftp openssl; do
    if ! command -v "$tool" >/dev/null && [[ ! -x /usr/sbin/$tool ]]; then
        echo "install-net.sh: $tool missing after install" >&2
        exit 1
    fi
done
echo "install-net.sh: dnsmasq-base iproute2 ethtool busybox curl tftp-hpa present"
