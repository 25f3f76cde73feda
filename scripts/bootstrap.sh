#!/usr/bin/env bash
# Create (or bring up to date) a virtualenv from PyPI.
# usage: scripts/bootstrap.sh VENV_DIR PYTHON_MINOR ANSIBLE_CORE_SPEC
#          the collection's and the tests' requirements, plus that ansible-core
#        scripts/bootstrap.sh VENV_DIR PYTHON_MINOR -r REQUIREMENTS_FILE...
#          a tool environment: only the given pip arguments
# Nothing is done when VENV_DIR/.stamp records the same Python and the same requirements.
set -euo pipefail
venv=${1:-.venv}
minor=${2:-3.11}
shift 2 || true
here=$(cd "$(dirname "$0")/.." && pwd)
if [ "$#" -eq 0 ]; then
  set -- 'ansible-core>=2.19,<2.20'
fi
if [ "${1:-}" = "-r" ]; then
  pip_args=("$@")
else
  pip_args=(-r "$here/requirements.txt" -r "$here/tests/requirements.txt" "$1")
fi

python=$("$here/scripts/find_python.sh" "$minor")
# what the environment is made of: the interpreter, the arguments, the requirement files' contents
fingerprint() {
  local next=0 arg
  "$python" --version
  printf '%s\n' "${pip_args[@]}"
  for arg in "${pip_args[@]}"; do
    if [ "$next" = 1 ]; then cat "$arg"; fi
    if [ "$arg" = "-r" ]; then next=1; else next=0; fi
  done
}
wanted=$(fingerprint | sha256sum | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ -f "$venv/.stamp" ] && [ "$(cat "$venv/.stamp")" = "$wanted" ]; then
  touch "$venv/.stamp"
  exit 0
fi
if [ -x "$venv/bin/python" ] && [ "$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" != "$minor" ]; then
  rm -rf "$venv"
fi
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
log=$(mktemp)
if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${pip_args[@]}" >"$log" 2>&1; then
  grep -v "^WARNING: Location '.*' is ignored" "$log" >&2 || true
  rm -f "$log"
  echo "bootstrap: pip install failed for $venv" >&2
  exit 1
fi
rm -f "$log"
"$venv/bin/python" -m pip check >/dev/null 2>&1 || echo "bootstrap: warning: pip check reports conflicts in $venv" >&2
echo "$wanted" > "$venv/.stamp"
core=$("$venv/bin/python" -c 'from ansible.release import __version__; print(", ansible-core " + __version__)' 2>/dev/null || true)
echo "bootstrap: $venv ready ($("$venv/bin/python" --version)$core)"
