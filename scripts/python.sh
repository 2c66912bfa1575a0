#!/usr/bin/env bash
# Helpers for the scripts that work on more than one Python (sourced, not run).
#
# spindle supports CPython 3.11, 3.12 and 3.13.  `.venv` is the main environment (made with
# $PYTHON, default python3); every other Python gets its own `.venv-X.Y`.  A version-named
# command such as `python3.12` may exist on PATH and still not run (a pyenv shim for a version
# that is installed but not selected), so each candidate is asked to run before it is used.

SUPPORTED_PYTHONS=(3.11 3.12 3.13)

# The path of an interpreter of version $1 (e.g. 3.12), or status 1 when there is none.
find_python() {
    local version="$1" candidate
    for candidate in "python$version" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$version".*/bin/"python$version"; do
        if "$candidate" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$version'.split('.'))))" >/dev/null 2>&1; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

# The X.Y version of the interpreter $1.
python_version_of() {
    "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])'
}
