#!/usr/bin/env bash
# xlsx-pages.sh WORKBOOK OUTDIR [DPI]
#
# Turns a workbook the tool wrote (report.xlsx, portfolio.xlsx, ...) into
# what a reader sees: OUTDIR/<name>.pdf by LibreOffice headless, and one
# PNG per page, OUTDIR/<name>-N.png, by pdftoppm (DPI 70 unless given).
# Installs Debian's libreoffice-calc and poppler-utils when missing
# (scripts/install-debian.sh); exits 3 with a message when they cannot be
# had, 1 when the conversion fails, 0 after writing the pages. Prints the
# pages written.
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: xlsx-pages.sh WORKBOOK OUTDIR [DPI]" >&2
    exit 2
fi
book=$1
out=$2
dpi=${3:-70}
here="$(cd "$(dirname "$0")" && pwd)"
[ -f "$book" ] || { echo "xlsx-pages: no workbook at $book" >&2; exit 1; }
"$here/install-debian.sh" soffice libreoffice-calc >/dev/null || exit 3
"$here/install-debian.sh" pdftoppm poppler-utils >/dev/null || exit 3
mkdir -p "$out"
name=$(basename "$book" .xlsx)
# A private LibreOffice profile: no clash with a running office, no state
# carried between runs.
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
soffice -env:UserInstallation="file://$profile" --headless --convert-to pdf --outdir "$out" "$book" >/dev/null 2>&1
[ -s "$out/$name.pdf" ] || { echo "xlsx-pages: LibreOffice wrote no PDF for $book" >&2; exit 1; }
pdftoppm -png -r "$dpi" "$out/$name.pdf" "$out/$name"
ls "$out/$name"-*.png
