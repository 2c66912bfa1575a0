#!/usr/bin/env bash
# Installs headless Chromium (Debian's `chromium` package) for the tests that load spindle's
# HTML timeline in a real browser (tests/diagnostics/test_timeline_browser.py).  Idempotent:
# installs only when no chromium is on PATH.  Needs root (or sudo) and apt-get; anywhere else
# it only says what is missing, and the browser tests skip.
set -euo pipefail

if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "install-browser: no apt-get; install chromium yourself (the browser tests skip)" >&2
    exit 0
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null; then
        echo "install-browser: not root and no sudo; cannot install chromium" >&2
        exit 0
    fi
    sudo=(sudo)
fi
echo "install-browser: installing chromium" >&2
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    chromium fonts-dejavu-core >/dev/null
