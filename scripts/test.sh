#!/usr/bin/env bash
# The whole test suite: lint, type-check, then every test (spindle's own and CPython's
# conformance run) on the compiled build, then spindle's own tests and the conformance run
# again on the pure-Python build of the same sources.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Read once and taken out of the environment: spindle warns about a SPINDLE_* variable one
# typo away from one of its settings (SPINDLE_PEERS from SPINDLE_PS), and the tests that run
# programs in subprocesses would see that warning on their stderr.
peers="${SPINDLE_PEERS:-1}"
unset SPINDLE_PEERS
bash "$root/scripts/setup.sh"
# PostgreSQL and Redis for tests/integration (installed only when missing).
bash "$root/scripts/install-services.sh"
# Headless Chromium for the test that loads the HTML timeline in a real browser.
bash "$root/scripts/install-browser.sh"
cd "$root"
py=.venv/bin/python
echo "== ruff"
$py -m ruff check src tests bench examples setup.py
echo "== mypy --strict"
$py -m mypy
echo "== pytest (compiled build)"
SPINDLE_EXPECT_COMPILED=1 $py -m pytest "$@"
echo "== pytest (pure-Python build)"
bash "$root/scripts/setup-pure.sh"
.venv-pure/bin/python -m pytest --ignore=tests/integration "$@"
# Other projects' test suites on spindle's loop (a separate step; see scripts/peers.sh).  Left
# out when pytest was given arguments (a partial run) or SPINDLE_PEERS=0.
if [ "$#" -eq 0 ] && [ "$peers" != 0 ]; then
    echo "== other projects' suites"
    bash "$root/scripts/peers.sh"
fi
