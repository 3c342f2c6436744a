#!/usr/bin/env bash
# The system packages `make test` needs beyond Python, installed when missing (Debian/Ubuntu,
# as root, no stdin; quiet when everything is present). README's Quick start lists the same.
#   curl                 the pasted README/banner commands (tests/newcomer)
#   node, npx            asl-validator for the state machine (tests/unit)
#   PostgreSQL server    binaries for the private cluster the fault/load tests restart
#                        (/usr/lib/postgresql/*/bin, or PG_BIN_DIR), and its `postgres` user
#   runuser              runs that cluster as `postgres` when the tests run as root
#   chromium             the API page (/docs) tested in a real browser (tests/newcomer)
#   ip, unshare          .ci/run's second pass: the embedded Postgres, 127.0.0.1:5432 out of reach
#   python3 -m venv      the bootstrap of uv into .local/tools
#   aarch64 strip        the documented arm64 build's layer, stripped on an x86_64 machine
#                        (devstack/layer_slim.py; llvm-strip does as well)
set -euo pipefail

missing=()
need() { # need <command-or-test> <debian package>
  if ! eval "$1" >/dev/null 2>&1; then missing+=("$2"); fi
}
need "command -v curl" curl
need "command -v node && command -v npx" "nodejs npm"
need "compgen -G '/usr/lib/postgresql/*/bin/postgres' || [[ -x \"\${PG_BIN_DIR:-/nonexistent}/postgres\" ]]" postgresql
need "getent passwd postgres" postgresql
need "command -v runuser && command -v unshare" util-linux
need "command -v chromium" chromium
need "command -v ip" iproute2
need "python3 -m venv --help" python3-venv
need "[[ \$(uname -m) == aarch64 ]] || command -v aarch64-linux-gnu-strip || command -v llvm-strip" \
  binutils-aarch64-linux-gnu

if ((${#missing[@]} == 0)); then
  exit 0
fi
# One package may be named twice (postgresql): install each once.
read -r -a packages <<< "$(printf '%s\n' "${missing[@]}" | tr ' ' '\n' | sort -u | tr '\n' ' ')"
if [[ $(id -u) -ne 0 ]]; then
  echo "make test needs: ${packages[*]} (install them: sudo apt-get install ${packages[*]})" >&2
  exit 1
fi
echo "ci-prereqs: installing ${packages[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq < /dev/null
apt-get install -y -qq --no-install-recommends "${packages[@]}" < /dev/null > /dev/null
