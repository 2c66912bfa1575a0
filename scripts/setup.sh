#!/usr/bin/env bash
# Creates .venv (once) and installs spindle with its development extras into it.
# Sourced by the other scripts; safe to run again: it only reinstalls when pyproject.toml changed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="${PYTHON:-python3}"
if [ ! -x "$root/.venv/bin/python" ]; then
    "$py" -m venv "$root/.venv"
fi
stamp="$root/.venv/.spindle-installed"
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
    "$root/.venv/bin/python" -m pip install -q --upgrade pip >/dev/null
    "$root/.venv/bin/python" -m pip install -q -e "$root[dev]"
    touch "$stamp"
fi
