#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run), from a fresh clone:
#
#   0. what the tests need: PostgreSQL, Redis and headless Chromium (Debian packages, when
#      missing), and every virtual environment below, made or brought up to date;
#   1. ruff and mypy --strict, once;
#   2. the documentation site, built strictly (a broken reference or a missing page fails);
#   3. pytest, the whole suite (spindle's own tests, CPython's conformance tests, the real
#      libraries) on the compiled build, on the first supported Python (.venv: 3.11 here);
#   4. spindle's own tests and the conformance run again on the pure-Python build of the same
#      sources (.venv-pure, scripts/setup-pure.sh), on the first Python;
#   5. on each other supported Python (.venv-3.12, .venv-3.13), the compiled build made for it
#      and the part of the suite where Pythons differ (OTHER_PYTHON_TESTS below);
#   6. the tests that exercise the poller again, on the `selectors` fallback that macOS and the
#      BSDs use (SPINDLE_POLLER=selectors), on the first Python;
#   7. other projects' test suites on spindle's loop (scripts/peers.sh).
#
#   bash scripts/test.sh                     all of it
#   bash scripts/test.sh tests/io -x         pytest arguments, passed to every pytest run in
#                                            place of its own selection (steps 6 and 7 then
#                                            do not run)
#   SPINDLE_PYTHONS=3.11 bash scripts/test.sh    only the Pythons named (the first gets 3-4, 6)
#   SPINDLE_FULL=1 bash scripts/test.sh      the whole suite on every Python, not the part
#   SPINDLE_PEERS=0 bash scripts/test.sh     without step 7
#
# Each step is a function, so a step can be added without touching the others; each says how
# long it took ("-- pytest, Python 3.12, compiled: 4m05s"), and the last line gives the whole
# time.  CI's machine has 2 cores and 90 minutes: what each step took from a fresh clone, and
# the projected CI total, are in the README ("How long the test command takes").
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/python.sh"
cd "$root"
read -r -a pythons <<< "${SPINDLE_PYTHONS:-${SUPPORTED_PYTHONS[*]}}"
full="${SPINDLE_FULL:-0}"
run_peers="${SPINDLE_PEERS:-1}"
# These are the test command's own variables, not spindle's settings: the programs the tests
# start must not see them (spindle warns about a SPINDLE_ variable one typo away from a setting,
# and SPINDLE_PEERS is that close to SPINDLE_PS).
unset SPINDLE_PYTHONS SPINDLE_FULL SPINDLE_PEERS

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

# Lint and the docs: once, with the first Python's environment.
lint() {
    echo "== ruff"
    "$first" -m ruff check src tests bench examples docs setup.py
    echo "== mypy --strict"
    "$first" -m mypy
}

docs() {
    local site
    echo "== docs: mkdocs build --strict"
    site="$(mktemp -d)"
    # Not --quiet: mkdocs then stops counting warnings, and strict mode would let them pass.
    NO_MKDOCS_2_WARNING=1 "$first" -m mkdocs build --strict --site-dir "$site"
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

# What runs on the Pythons after the first: where spindle's behaviour follows the running Python
# or leans on its internals.  CPython's conformance tests (each Python's own copy), spindle's
# core (Future, Task, loop, timers, the compiled fast paths), the public API and what it
# re-exports, the runners and policies (3.14's deprecations are announced in 3.12/3.13),
# python -m spindle, install(), the compiled build itself, the documentation's examples (with
# their printed output) and the packaging test; spindle's API against that Python's own asyncio
# (tests/differential) and the locks, queues and bad numbers, which follow it per version
# (Condition.wait, Semaphore.acquire, sleep(NaN)); the diagnostics, which read frames and
# coroutine internals that change between Pythons; and the servers and Unix sockets, whose
# close follows the running Python.  Left to the first Python only: the real libraries
# (tests/integration), the rest of tests/io, the benchmarks' smoke tests and fork.
OTHER_PYTHON_TESTS=(
    tests/conformance tests/core tests/diagnostics tests/testing
    tests/test_public_api.py tests/test_docs.py tests/test_runners.py tests/test_main.py
    tests/test_patch.py tests/test_compiled.py tests/test_packaging.py tests/test_layers.py
    tests/test_tasks_api.py tests/test_taskgroups.py tests/test_timeouts.py
    tests/differential tests/test_locks.py tests/test_queues.py tests/test_waitqueue.py
    tests/test_bad_numbers.py
    tests/test_cancellation_reports.py tests/test_diagnostics.py tests/test_graph.py
    tests/test_ps.py tests/io/test_servers.py tests/io/test_unix.py
)
tests_on_other() {
    local version="$1"
    shift
    if [ "$#" -eq 0 ] && [ "$full" != 1 ]; then
        set -- "${OTHER_PYTHON_TESTS[@]}"
    fi
    tests_on "$version" "$@"
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
    echo "== pytest on Python ${pythons[0]} with the selectors poller (SPINDLE_POLLER=selectors)"
    SPINDLE_POLLER=selectors "$first" -m pytest "${SELECTORS_TESTS[@]}"
}

# Other projects' test suites on spindle's loop (scripts/peers.sh; tests/peers/README.md).
peers() {
    echo "== other projects' suites"
    bash scripts/peers.sh
}

# `timed LABEL COMMAND...` runs one step and says how long it took ("-- LABEL: 4m05s"); CI's
# time budget is read off these lines.
timed() {
    local label="$1" start=$SECONDS
    shift
    "$@"
    echo "-- $label: $(minutes $((SECONDS - start)))"
}
minutes() {
    printf '%dm%02ds' $(($1 / 60)) $(($1 % 60))
}

# PostgreSQL and Redis for tests/integration (installed only when missing).
timed install-services bash scripts/install-services.sh
# Headless Chromium for the test that loads the HTML timeline in a real browser.
timed install-browser bash scripts/install-browser.sh

timed environments environments
first="$(python_for "${pythons[0]}")"
timed lint lint
timed docs docs
timed "pytest, Python ${pythons[0]}, compiled" tests_on "${pythons[0]}" "$@"
timed "pytest, Python ${pythons[0]}, pure" tests_on_pure "$@"
for version in "${pythons[@]:1}"; do
    timed "pytest, Python $version, compiled" tests_on_other "$version" "$@"
done
if [ "$#" -eq 0 ]; then
    timed "pytest, Python ${pythons[0]}, selectors poller" tests_on_selectors
    if [ "$run_peers" != 0 ]; then
        timed "other projects' suites" peers
    fi
fi
echo "-- the whole gate: $(minutes "$SECONDS")"
