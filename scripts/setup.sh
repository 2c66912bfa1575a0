#!/usr/bin/env bash
# Creates a virtual environment (once) and installs spindle with its development extras into it.
#
#   bash scripts/setup.sh           .venv, made with $PYTHON (default python3)
#   bash scripts/setup.sh 3.12      .venv-3.12, made with Python 3.12 (see scripts/python.sh)
#
# Run by the other scripts; safe to run again: it only reinstalls when pyproject.toml changed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/python.sh"
if [ "$#" -eq 0 ]; then
    venv="$root/.venv"
    py="${PYTHON:-python3}"
else
    venv="$root/.venv-$1"
    if ! py="$(find_python "$1")"; then
        echo "setup: no Python $1 found (tried python$1 and pyenv's versions)" >&2
        exit 1
    fi
fi
if [ ! -x "$venv/bin/python" ]; then
    "$py" -m venv "$venv"
fi
stamp="$venv/.spindle-installed"
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
    "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
    # Until 0.1.0 the distribution was called "spindle" (a name taken on the package index):
    # drop that editable install and its metadata, so only spindle-async remains.
    "$venv/bin/python" -m pip uninstall -q -y spindle >/dev/null 2>&1 || true
    rm -rf "$root/src/spindle.egg-info"
    "$venv/bin/python" -m pip install -q -e "$root[dev]"
    touch "$stamp"
fi
