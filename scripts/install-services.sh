#!/usr/bin/env bash
# Installs the servers the integration tests run real libraries against: PostgreSQL (asyncpg)
# and Redis (redis.asyncio).  Idempotent: installs only the Debian packages that are missing.
#
# The tests start their own throw-away instances on free loopback ports, so the system-wide
# services the packages would normally start are not wanted: while installing, a temporary
# policy-rc.d forbids service starts (the Debian mechanism maintainer scripts honour), and any
# instance that is running afterwards is stopped.  Needs root (or sudo) and apt-get; anywhere
# else it only reports what is missing, and the tests for a missing server skip.
set -euo pipefail

have_postgres() {
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null
}
have_redis() {
    command -v redis-server >/dev/null
}

missing=()
have_postgres || missing+=(postgresql)
have_redis || missing+=(redis-server)
if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

if ! command -v apt-get >/dev/null; then
    echo "install-services: no apt-get; install ${missing[*]} yourself (tests for them skip)" >&2
    exit 0
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null; then
        echo "install-services: not root and no sudo; cannot install ${missing[*]}" >&2
        exit 0
    fi
    sudo=(sudo)
fi

policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
    # Exit status 101 means "action forbidden": invoke-rc.d and deb-systemd-invoke start nothing.
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod 755 "$policy"
    own_policy=1
fi
cleanup() {
    if [ "$own_policy" -eq 1 ]; then
        "${sudo[@]}" rm -f "$policy"
    fi
}
trap cleanup EXIT

echo "install-services: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null

# Belt and braces: a service just installed that started anyway (no policy-rc.d support) is
# stopped.  The tests do not need its port, so a failure here is harmless.
for service in "${missing[@]}"; do
    if command -v service >/dev/null; then
        "${sudo[@]}" service "$service" stop >/dev/null 2>&1 || true
    fi
done
