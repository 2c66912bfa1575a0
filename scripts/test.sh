#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run), from a fresh clone:
#
#   0. what the tests need: PostgreSQL, Redis and headless Chromium (Debian packages, when
#      missing), and every virtual environment below, made or brought up to date;
#   1. ruff and mypy --strict, once;
#   2. the documentation site, built strictly (a broken reference or a missing page fails);
#   3. pytest, the whole suite (spindle's own tests, CPython's conformance tests, the real
#      libraries), on the compiled build made for each supported Python (.venv: 3.11 here,
#      .venv-3.12, .venv-3.13);
#   4. spindle's own tests and the conformance run again on the pure-Python build of the same
#      sources (.venv-pure, scripts/setup-pure.sh), on the first Python;
#   5. the tests that exercise the poller again, on the `selectors` fallback that macOS and the
#      BSDs use (SPINDLE_POLLER=selectors), on the first Python;
#   6. other projects' test suites on spindle's loop (scripts/peers.sh).
#
#   Steps 3-6 run two at a time (`in_lanes` below): a test run spends most of its time
#   waiting (on subprocesses, sockets, timers), so two of them share CI's two cores well.
#
#   bash scripts/test.sh                     all of it
#   bash scripts/test.sh tests/io -x         pytest arguments, passed to every pytest run in
#                                            place of its own selection (steps 5 and 6 then
#                                            do not run)
#   SPINDLE_PYTHONS=3.11 bash scripts/test.sh    only the Pythons named (the first gets 4, 5)
#   SPINDLE_PEERS=0 bash scripts/test.sh     without step 6
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
run_peers="${SPINDLE_PEERS:-1}"
# These are the test command's own variables, not spindle's settings: the programs the tests
# start must not see them (spindle warns about a SPINDLE_ variable one typo away from a setting,
# and SPINDLE_PEERS is that close to SPINDLE_PS).
unset SPINDLE_PYTHONS SPINDLE_PEERS

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
    echo "== other projects' suites${1:+: $*}"
    bash scripts/peers.sh "$@"
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

# `in_lanes RUN...` runs the steps two at a time, in two lanes that each take the next step
# not yet taken when their last one ends.  A RUN is "LABEL|FUNCTION ARGS"; the command's own
# arguments (`pytest_args`, kept as an array so that `-k "a and b"` stays one argument) follow
# ARGS.  Each step's output is kept aside and printed whole when it ends, so two steps' lines
# never mix.  Fails if any step failed.
in_lanes() {
    local lane status=0 next pids=()
    next="$(mktemp)"
    echo 0 > "$next"
    for lane in 0 1; do
        run_lane "$next" "$@" &
        pids+=("$!")
    done
    # Each lane waited for by its number: `wait -n` returns 127 for a lane that ended, and
    # that bash cleaned out of its job table, before it was called (two quick lanes).
    for lane in "${pids[@]}"; do
        wait "$lane" || status=1
    done
    rm -f "$next"
    return "$status"
}
run_lane() {
    local next="$1" i failed=0 log run
    shift
    log="$(mktemp)"
    while true; do
        # Take the next step's number (the lock: the other lane reads and writes it too).
        i="$(flock "$next" bash -c 'i=$(cat "$1"); echo $((i + 1)) > "$1"; echo "$i"' _ "$next")"
        [ "$i" -lt "$#" ] || break
        run="${*:i+1:1}"
        read -r -a step <<< "${run#*|}"
        # In the background and waited for: a step run as `step || failed=1` would run
        # without `set -e`, and a failing command inside it would go unnoticed.
        timed "${run%%|*}" "${step[@]}" "${pytest_args[@]}" > "$log" 2>&1 &
        if ! wait "$!"; then
            failed=1
            echo "-- ${run%%|*}: FAILED" >> "$log"
        fi
        flock "$next" cat "$log"
    done
    rm -f "$log"
    return "$failed"
}

# PostgreSQL and Redis for tests/integration (installed only when missing).
timed install-services bash scripts/install-services.sh
# Headless Chromium for the test that loads the HTML timeline in a real browser.
timed install-browser bash scripts/install-browser.sh

timed environments environments
first="$(python_for "${pythons[0]}")"
timed lint lint
timed docs docs
# Two at a time, longest first: each Python's compiled build, the other projects' suites
# (aiohttp's, as long as the other four together, as a step of its own), the pure build, the
# selectors poller.
pytest_args=("$@")
runs=()
for version in "${pythons[@]}"; do
    runs+=("pytest, Python $version, compiled|tests_on $version")
done
if [ "$#" -eq 0 ] && [ "$run_peers" != 0 ]; then
    runs+=("other projects' suites|peers" "aiohttp's suite|peers aiohttp")
fi
runs+=("pytest, Python ${pythons[0]}, pure|tests_on_pure")
if [ "$#" -eq 0 ]; then
    runs+=("pytest, Python ${pythons[0]}, selectors poller|tests_on_selectors")
fi
in_lanes "${runs[@]}"
echo "-- the whole gate: $(minutes "$SECONDS")"
