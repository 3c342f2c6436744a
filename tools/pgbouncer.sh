#!/usr/bin/env bash
# Installs PgBouncer (Debian package), the RDS Proxy stand-in of `make load PGBOUNCER=1` and
# tests/deploy/test_pgbouncer.py, when it is absent. Quiet when present. Needs root (CI and
# the dev machines run as root); `apt-get update` runs once, before the install.
set -euo pipefail
if command -v pgbouncer >/dev/null 2>&1 || [[ -x /usr/sbin/pgbouncer ]]; then
  exit 0
fi
if [[ "$(id -u)" != 0 ]]; then
  echo "pgbouncer is missing: install the Debian package pgbouncer (as root: $0)" >&2
  exit 1
fi
echo "installing pgbouncer (Debian package) ..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends pgbouncer >/dev/null
# The package starts a system service on Debian; the tests start their own instances.
if command -v service >/dev/null 2>&1; then service pgbouncer stop >/dev/null 2>&1 || true; fi
echo "pgbouncer: $(/usr/sbin/pgbouncer --version | head -1)"
