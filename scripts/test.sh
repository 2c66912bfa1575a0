#!/usr/bin/env bash
# The whole test suite: lint, type-check, then every test (spindle's own and CPython's conformance run).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
# PostgreSQL and Redis for tests/integration (installed only when missing).
bash "$root/scripts/install-services.sh"
cd "$root"
py=.venv/bin/python
echo "== ruff"
$py -m ruff check src tests bench examples
echo "== mypy --strict"
$py -m mypy
echo "== pytest"
$py -m pytest "$@"
# Other projects' test suites on spindle's loop (a separate step; see scripts/peers.sh).  Left
# out when pytest was given arguments (a partial run) or SPINDLE_PEERS=0.
if [ "$#" -eq 0 ] && [ "${SPINDLE_PEERS:-1}" != 0 ]; then
    echo "== other projects' suites"
    bash "$root/scripts/peers.sh"
fi
