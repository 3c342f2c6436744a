#!/usr/bin/env bash
# Which Python 3.12 (the Lambda runtime's) the set-up uses; prints one line for UV_PYTHON:
#   1. a python3.12 under pyenv ($PYENV_ROOT or ~/.pyenv), newest first, or on PATH;
#   2. else "3.12", letting uv download one, when the user allows uv downloads
#      (UV_PYTHON_DOWNLOADS unset or "automatic"; "never"/"manual" forbid it);
#   3. else, on stderr, one line saying what to install, and exit 1.
# Only bash builtins and the interpreters themselves: it runs on every `make` call.
set -u

is_312() {
  [[ -x "$1" ]] && [[ "$("$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" == "3.12" ]]
}

pyenv_root="${PYENV_ROOT:-${HOME:-}/.pyenv}"
candidates=()
shopt -s nullglob
for dir in "$pyenv_root"/versions/3.12*/bin; do candidates=("$dir/python3.12" "${candidates[@]}"); done
shopt -u nullglob
IFS=: read -r -a path_dirs <<< "${PATH:-}"
for dir in "${path_dirs[@]}"; do
  [[ -n "$dir" ]] && candidates+=("$dir/python3.12" "$dir/python3")
done

for python in "${candidates[@]}"; do
  if is_312 "$python"; then
    echo "$python"
    exit 0
  fi
done

case "${UV_PYTHON_DOWNLOADS:-automatic}" in
  automatic | "")
    echo "3.12"
    exit 0
    ;;
esac

echo "Python 3.12 not found (pyenv, PATH) and UV_PYTHON_DOWNLOADS=${UV_PYTHON_DOWNLOADS} forbids uv to fetch it: install Python 3.12 (pyenv install 3.12 | apt-get install python3.12 | brew install python@3.12) or unset UV_PYTHON_DOWNLOADS" >&2
exit 1
