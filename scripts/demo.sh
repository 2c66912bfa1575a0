#!/usr/bin/env bash
# Runs every seed program under examples/ on spindle, one after another.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
cd "$root"
exec .venv/bin/python examples/demo.py "$@"
