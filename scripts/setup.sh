#!/usr/bin/env bash
# Creates .venv (once) and installs spindle, compiled, with its development extras into it.
#
# spindle's hot path is compiled with mypyc (setup.py) into extension modules beside their
# sources, which Python imports instead of the .py files: after editing one of the modules in
# src/spindle/compiled_modules.txt, run this again (the other scripts do) to rebuild them.
# SPINDLE_REQUIRE_COMPILED=1 makes a failed compilation an error here, not a quiet fall-back
# to the pure-Python build.  For a pure-Python development install instead:
#   SPINDLE_PURE=1 .venv/bin/python -m pip install -e ".[dev]"
# Safe to run again: it reinstalls only when pyproject.toml or a compiled module changed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="${PYTHON:-python3}"
if [ ! -x "$root/.venv/bin/python" ]; then
    "$py" -m venv "$root/.venv"
fi
stamp="$root/.venv/.spindle-installed"
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
    "$root/.venv/bin/python" -m pip install -q --upgrade pip >/dev/null
    SPINDLE_REQUIRE_COMPILED=1 "$root/.venv/bin/python" -m pip install -q -e "$root[dev]"
    touch "$stamp"
fi
