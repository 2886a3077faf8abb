#!/usr/bin/env bash
# Install headless Chromium for the report test (tests/it/report.rs), from
# Debian's `chromium` package, when no Chromium is on the PATH. Exits 0
# when a Chromium is available afterwards, 1 otherwise (the test then
# skips with a message). Needs root or passwordless sudo, and a package
# mirror.
set -uo pipefail
for c in chromium chromium-browser google-chrome; do
    if command -v "$c" >/dev/null 2>&1; then
        echo "found $(command -v "$c")"
        exit 0
    fi
done
if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
else
    echo "install-chromium: not root and no passwordless sudo: install Debian's chromium package by hand" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq >/dev/null 2>&1
if ! "${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; then
    echo "install-chromium: apt-get install chromium failed (no mirror reachable?)" >&2
    exit 1
fi
command -v chromium >/dev/null 2>&1 && echo "installed $(command -v chromium)"
