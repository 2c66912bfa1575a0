#!/usr/bin/env bash
# Creates a virtual environment (once) and installs spindle, compiled, with its development
# extras into it.
#
#   bash scripts/setup.sh           .venv, made with $PYTHON (default python3)
#   bash scripts/setup.sh 3.12      .venv-3.12, made with Python 3.12 (see scripts/python.sh)
#
# spindle's hot path is compiled with mypyc (setup.py) into extension modules beside their
# sources, which Python imports instead of the .py files (each Python version its own, by their
# file names): after editing one of the modules in src/spindle/compiled_modules.txt, run this
# again (the other scripts do) to rebuild them.  SPINDLE_REQUIRE_COMPILED=1 makes a failed
# compilation an error here, not a quiet fall-back to the pure-Python build.  For a pure-Python
# development install instead:
#   SPINDLE_PURE=1 .venv/bin/python -m pip install -e ".[dev]"
# Safe to run again: it reinstalls only when pyproject.toml or a compiled module changed.
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
# The source files of the compiled modules (one dotted name per line, # starts a comment).
compiled_sources() {
    sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$root/src/spindle/compiled_modules.txt" \
        | while read -r module; do echo "$root/src/${module//.//}.py"; done
}
stale() {
    [ ! -f "$stamp" ] && return 0
    local file
    for file in "$root/pyproject.toml" "$root/setup.py" "$root/src/spindle/compiled_modules.txt" \
        $(compiled_sources); do
        [ "$file" -nt "$stamp" ] && return 0
    done
    return 1
}
if stale; then
    "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
    # Until 0.1.0 the distribution was called "spindle" (a name taken on the package index):
    # drop that editable install and its metadata, so only spindle-async remains.
    "$venv/bin/python" -m pip uninstall -q -y spindle >/dev/null 2>&1 || true
    rm -rf "$root/src/spindle.egg-info"
    SPINDLE_REQUIRE_COMPILED=1 "$venv/bin/python" -m pip install -q -e "$root[dev]"
    touch "$stamp"
fi
