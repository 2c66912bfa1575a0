#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run):
#
#   0. what the tests need: PostgreSQL, Redis and headless Chromium (Debian packages, when
#      missing), and every virtual environment below, made or brought up to date;
#   1. ruff and mypy --strict, once;
#   2. the documentation site, built strictly (a broken reference or a missing page fails);
#   3. pytest, the whole suite (spindle's own tests, CPython's conformance tests, the real
#      libraries) on the compiled build, on each supported Python in its own virtual
#      environment: .venv (3.11 here), .venv-3.12, .venv-3.13 (scripts/setup.sh makes them);
#   4. spindle's own tests and the conformance run again on the pure-Python build of the same
#      sources (.venv-pure, scripts/setup-pure.sh), on the first Python;
#   5. the tests that exercise the poller again, on the `selectors` fallback that macOS and the
#      BSDs use (SPINDLE_POLLER=selectors), on the first Python.
#
#   bash scripts/test.sh                     all of it
#   bash scripts/test.sh tests/io -x         pytest arguments: passed to every Python's run
#                                            (step 5 then runs only without arguments)
#   SPINDLE_PYTHONS=3.11 bash scripts/test.sh    only the Pythons named
#
# Each step is a function, so a step can be added without touching the others; each says how
# long it took ("-- tests_on 3.12: 14m05s"), and the last line gives the whole time.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/python.sh"
cd "$root"
read -r -a pythons <<< "${SPINDLE_PYTHONS:-${SUPPORTED_PYTHONS[*]}}"

# The interpreter of the environment for Python $1, made (or updated) first.
python_for() {
    local version="$1"
    bash scripts/setup.sh >&2
    if [ "$(python_version_of .venv/bin/python)" = "$version" ]; then
        echo .venv/bin/python
    else
        bash scripts/setup.sh "$version" >&2
        echo ".venv-$version/bin/python"
    fi
}

# Every environment, made or brought up to date before any test runs: each Python's compiled
# build sits in the source tree, where a test may run it with another Python's interpreter.
environments() {
    local version
    for version in "${pythons[@]}"; do
        python_for "$version" >/dev/null
    done
    bash scripts/setup-pure.sh >&2
}

lint() {
    local py="$1"
    echo "== ruff"
    "$py" -m ruff check src tests bench examples docs setup.py
    echo "== mypy --strict"
    "$py" -m mypy
}

docs() {
    local py="$1" site
    echo "== docs: mkdocs build --strict"
    site="$(mktemp -d)"
    # Not --quiet: mkdocs then stops counting warnings, and strict mode would let them pass.
    NO_MKDOCS_2_WARNING=1 "$py" -m mkdocs build --strict --site-dir "$site"
    rm -rf "$site"
}

tests_on() {
    local version="$1" py
    shift
    py="$(python_for "$version")"
    echo "== pytest on Python $version, compiled build ($py)"
    SPINDLE_EXPECT_COMPILED=1 "$py" -m pytest "$@"
}

# The pure-Python build: the real libraries run on the compiled one (step 3).
tests_on_pure() {
    echo "== pytest on the pure-Python build (.venv-pure)"
    bash scripts/setup-pure.sh >&2
    .venv-pure/bin/python -m pytest --ignore=tests/integration "$@"
}

# Everything that runs real I/O through the poller: spindle's I/O tests, CPython's I/O suites,
# the real libraries, the example programs, python -m spindle and the runners (signals).
SELECTORS_TESTS=(
    tests/io tests/integration tests/test_example_programs.py tests/test_main.py
    tests/test_runners.py
    tests/conformance/{test_events,test_sock_lowlevel,test_streams,test_ssl,test_sslproto}.py
    tests/conformance/{test_subprocess,test_sendfile,test_server,test_unix_events}.py
    tests/conformance/test_buffered_proto.py
)
tests_on_selectors() {
    local version="$1" py
    py="$(python_for "$version")"
    echo "== pytest on Python $version with the selectors poller (SPINDLE_POLLER=selectors)"
    SPINDLE_POLLER=selectors "$py" -m pytest "${SELECTORS_TESTS[@]}"
}

# Runs one step and says how long it took (CI's time budget is read off these lines).
timed() {
    local start=$SECONDS
    "$@"
    echo "-- $1${2:+ $2}: $(minutes $((SECONDS - start)))"
}
minutes() {
    printf '%dm%02ds' $(($1 / 60)) $(($1 % 60))
}

# PostgreSQL and Redis for tests/integration (installed only when missing).
timed bash scripts/install-services.sh
# Headless Chromium for the test that loads the HTML timeline in a real browser.
timed bash scripts/install-browser.sh

timed environments
first="$(python_for "${pythons[0]}")"
timed lint "$first"
timed docs "$first"
for version in "${pythons[@]}"; do
    timed tests_on "$version" "$@"
done
timed tests_on_pure "$@"
if [ "$#" -eq 0 ]; then
    timed tests_on_selectors "${pythons[0]}"
fi
echo "-- the whole gate: $(minutes "$SECONDS")"
