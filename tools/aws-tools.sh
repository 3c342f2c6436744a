#!/usr/bin/env bash
# Installs the AWS command-line tools from their locks, each into an environment of its own
# (.local/aws-tools/<name>): their pins would fight the application's lockfile, and checkov
# pins libraries of its own. tools/aws-tools/<name>.txt is `uv pip compile --universal
# --generate-hashes` output of <name>.in: every package, every version, every hash, so two clean
# clones run the same cfn-lint rules. Re-lock after editing a .in file with:
#   tools/aws-tools.sh --lock
# Usage: tools/aws-tools.sh UV DEST
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if [[ "${1:-}" == "--lock" ]]; then
  uv="${2:-.local/tools/bin/uv}"
  for spec in "$here"/aws-tools/*.in; do
    "$uv" pip compile --universal --python-version 3.12 --generate-hashes --quiet \
      "$spec" -o "${spec%.in}.txt"
  done
  exit 0
fi

uv="$1"
dest="$2"
locks=("$here"/aws-tools/*.txt)
i=0
for lock in "${locks[@]}"; do
  i=$((i + 1))
  name="$(basename "$lock" .txt)"
  count="$(grep -c '^[A-Za-z0-9]' "$lock")"
  echo "aws-tools [$i/${#locks[@]}] $name: $count locked packages into $dest/$name" \
       "(first install downloads ~400 MB in all; later ones come from uv's cache)"
  "$uv" venv -q --allow-existing --python "${UV_PYTHON:-3.12}" "$dest/$name"
  # sync, not install: exactly the lock, with every hash checked; nothing else stays.
  "$uv" pip sync -q --require-hashes --python "$dest/$name/bin/python" "$lock"
done
echo "aws-tools: done ($(du -sh "$dest" | cut -f1) in $dest)"
