#!/usr/bin/env bash
# Other projects' own test suites (anyio, aiohttp, uvloop, websockets, uvicorn) run on spindle's
# loop: tests/peers/README.md.  Called by scripts/test.sh as its own step; runnable alone:
#
#   bash scripts/peers.sh                        # the default suites, on spindle's loop
#   bash scripts/peers.sh anyio uvloop           # some suites (aiohttp only when named)
#   SPINDLE_PEERS_TARGETS=spindle,asyncio bash scripts/peers.sh   # and on stock asyncio
#
# Needs the network on first use (PyPI, and Debian's archive for websockets' tests); the
# sources and the suites' environments are kept in ~/.cache/spindle-peers.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
cd "$root"
exec .venv/bin/python -m tests.peers --targets "${SPINDLE_PEERS_TARGETS:-spindle}" "$@"
