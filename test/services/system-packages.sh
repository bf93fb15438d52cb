#!/usr/bin/env bash
# Installs the Debian packages the build and the test suite need, when missing (needs root and
# Debian's package registry). Idempotent: prints "all present" and does nothing on a second run.
#   node-rdkafka compiles librdkafka: a C/C++ toolchain, python3 for node-gyp, and the libraries for
#   TLS, SASL and zstd/zlib compression (without libzstd-dev the consumer could not read
#   zstd-compressed topics). clickhouse-server (18.16) is the real server process the outage tests
#   stop and restart. chromium renders the reconciliation report in its test. kcat is the second
#   Kafka read limit of the benchmark. unzip and curl build and probe the Apicurio registry.
set -euo pipefail
PACKAGES="build-essential python3 pkg-config libssl-dev libsasl2-dev libzstd-dev zlib1g-dev
  clickhouse-server clickhouse-client chromium fonts-liberation kcat unzip curl"
missing=()
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then missing+=("$p"); fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "system packages missing: ${missing[*]}; install them as root (apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# Keep the package's own clickhouse-server service from starting on 8123/9000: the tests run their
# own instance (test/services/clickhouse-server.sh) on other ports.
policy=''
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  policy=1
fi
apt-get install -y -q --no-install-recommends "${missing[@]}"
if [ -n "$policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
