#!/usr/bin/env bash
# Creates .venv-pure (once) with the pure-Python build of spindle (SPINDLE_PURE=1) and the
# development extras, installed as a copy (not editable: the source tree holds the compiled
# build's extension modules, which an editable install would import).  Safe to run again: it
# reinstalls when anything under src/, pyproject.toml or setup.py changed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="${PYTHON:-python3}"
venv="$root/.venv-pure"
if [ ! -x "$venv/bin/python" ]; then
    "$py" -m venv "$venv"
fi
stamp="$venv/.spindle-installed"
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ] || [ "$root/setup.py" -nt "$stamp" ] \
    || [ -n "$(find "$root/src" -newer "$stamp" -name '*.py' -print -quit)" ]; then
    "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
    SPINDLE_PURE=1 "$venv/bin/python" -m pip install -q "$root[dev]"
    touch "$stamp"
fi
