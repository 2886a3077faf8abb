#!/usr/bin/env bash
# install-debian.sh COMMAND PACKAGE...
#
# Makes COMMAND available by installing Debian's PACKAGEs when it is not on
# the PATH already (not when BACKLOG_RISK_NO_INSTALL is set). Exits 0 when COMMAND is available afterwards, 1 (with a
# message on stderr saying what to install by hand) otherwise, so a test
# can skip with that message instead of failing. Needs root or passwordless
# sudo, and a package mirror. Used by install-chromium.sh (browser tests)
# and xlsx-pages.sh (LibreOffice and poppler for workbook pages).
set -uo pipefail
if [ $# -lt 2 ]; then
    echo "usage: install-debian.sh COMMAND PACKAGE..." >&2
    exit 2
fi
cmd=$1
shift
if command -v "$cmd" >/dev/null 2>&1; then
    echo "found $(command -v "$cmd")"
    exit 0
fi
if [ -n "${BACKLOG_RISK_NO_INSTALL:-}" ]; then
    echo "install-debian: $cmd is missing and BACKLOG_RISK_NO_INSTALL is set: install Debian's $* by hand" >&2
    exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
else
    echo "install-debian: $cmd is missing; not root and no passwordless sudo: install Debian's $* by hand" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq >/dev/null 2>&1
if ! "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1; then
    echo "install-debian: apt-get install $* failed (no mirror reachable?)" >&2
    exit 1
fi
if command -v "$cmd" >/dev/null 2>&1; then
    echo "installed $(command -v "$cmd")"
    exit 0
fi
echo "install-debian: installed $* but $cmd is still not on the PATH" >&2
exit 1
