#!/usr/bin/env bash
# Install headless Chromium for the report test (tests/it/report.rs), from
# Debian's `chromium` package, when no Chromium is on the PATH. Exits 0
# when a Chromium is available afterwards, 1 otherwise (the test then
# skips with a message). Needs root or passwordless sudo, and a package
# mirror.
set -uo pipefail
for c in chromium-browser google-chrome; do
    if command -v "$c" >/dev/null 2>&1; then
        echo "found $(command -v "$c")"
        exit 0
    fi
done
exec "$(dirname "$0")/install-debian.sh" chromium chromium
