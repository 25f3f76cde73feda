#!/usr/bin/env bash
# Create a virtualenv with the collection's and the tests' Python requirements.
# usage: scripts/bootstrap.sh VENV_DIR PYTHON_MINOR ANSIBLE_CORE_SPEC
set -euo pipefail
venv=${1:-.venv}
minor=${2:-3.11}
core=${3:-ansible-core>=2.19,<2.20}
here=$(cd "$(dirname "$0")/.." && pwd)

python=$(scripts/find_python.sh "$minor")
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  -r "$here/requirements.txt" -r "$here/tests/requirements.txt" "$core"
touch "$venv/.stamp"
echo "bootstrap: $venv ready ($("$venv/bin/python" --version), $("$venv/bin/ansible" --version | head -1))"
