#!/usr/bin/env bash
# Print the path of a CPython MINOR (e.g. 3.11): pyenv's newest patch release, else pythonMINOR on PATH.
set -euo pipefail
minor=${1:?usage: find_python.sh 3.11}
if command -v pyenv >/dev/null 2>&1; then
  root=$(pyenv root)
  best=
  for dir in "$root"/versions/"$minor".*; do
    [[ "$dir" =~ /$minor\.[0-9]+$ ]] || continue
    [ -x "$dir/bin/python3" ] || continue
    if [ -z "$best" ] || [ "$(printf '%s\n%s\n' "$best" "$dir" | sort -V | tail -n 1)" = "$dir" ]; then
      best=$dir
    fi
  done
  if [ -n "$best" ]; then
    echo "$best/bin/python3"; exit 0
  fi
fi
if command -v "python$minor" >/dev/null 2>&1; then command -v "python$minor"; exit 0; fi
echo "find_python.sh: no Python $minor found (install it with pyenv)" >&2
exit 1
