#!/usr/bin/env bash
# .ci/run's second pass: the test suite on the embedded PostgreSQL (pgserver) with the machine's
# server out of reach, so a test that rebuilds a URL and loses its socket directory fails here
# instead of quietly reaching the machine's server. As root, in namespaces of its own:
#   - network: a fresh loopback only, where nothing listens on 127.0.0.1:5432;
#   - mount: an empty /run/postgresql, so libpq's default socket is not the machine's either.
# Nothing there reaches the internet, so what the suite downloads comes from before:
# the layer's wheels for `sam build` (a wheelhouse, pip with no index), npx's cache (pass 1
# filled it), the locked .venv (uv offline).
set -euo pipefail
cd "$(dirname "$0")/.."

python=$(bash tools/find-python.sh)
wheelhouse="$PWD/.local/wheelhouse"
# The layer's wheels for both Lambda architectures (tests/deploy/test_deploy_docs.py builds the
# documented arm64 layer in a fresh clone), and the pinned uv a fresh clone's Makefile installs.
for arch in x86_64 aarch64; do
  "$python" -m pip download -q -r layers/common/requirements.txt -d "$wheelhouse" \
    --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform "manylinux2014_$arch" --platform "manylinux_2_17_$arch" \
    --platform "manylinux_2_28_$arch" 2> >(grep -v "is ignored: it is neither" >&2)
done
uv_version=$(sed -n 's/^UV_VERSION := //p' Makefile)
"$python" -m pip download -q --no-deps --only-binary=:all: -d "$wheelhouse" "uv==$uv_version"

exec unshare --net --mount -- bash -c '
  set -euo pipefail
  ip link set lo up
  if [[ -d /run/postgresql ]]; then mount -t tmpfs tmpfs /run/postgresql; fi
  export PG_DISCOVERY=embedded PG_LOCAL_UNREACHABLE=1
  export PIP_NO_INDEX=1 PIP_FIND_LINKS="$1" UV_OFFLINE=1 npm_config_offline=true
  shift
  exec .local/tools/bin/uv run --frozen pytest "$@"
' embedded-pass "$wheelhouse" "$@"
