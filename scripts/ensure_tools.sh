#!/usr/bin/env bash
# Make sure the system tools the test suite and the product use are installed:
#   promtool      (Debian `prometheus`)      checks and unit-tests the alert rules
#   pdftotext     (Debian `poppler-utils`)   reads the statement PDF back in tests
#   chromium, chromedriver (Debian `chromium`, `chromium-driver`)  portal tests
#   a TrueType CJK font (Debian `fonts-wqy-zenhei`, `fonts-droid-fallback`)
#                                            embedded into the statement PDF
#   node, npm     front-end assets (htmx, Swagger UI) from the npm registry
#   kubectl       renders k8s/ (kubectl kustomize) for the manifest tests; the machine
#                 image ships one, Debian's `kubernetes-client` where it does not
# Missing ones are installed with apt-get when we are root (or have sudo);
# otherwise it names the packages to install and exits 1. When everything is
# there it only checks a few paths (milliseconds).
set -euo pipefail
PATH="$PATH:/usr/sbin:/usr/local/sbin:/sbin"

declare -A need=(
    [promtool]=prometheus
    [pdftotext]=poppler-utils
    [chromium]=chromium
    [chromedriver]=chromium-driver
    [npm]=npm
    [kubectl]=kubernetes-client
)
missing=()
for cmd in "${!need[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
for font in /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf; do
    [[ -e "$font" ]] || missing+=("$( [[ $font == *wqy* ]] && echo fonts-wqy-zenhei || echo fonts-droid-fallback)")
done
((${#missing[@]} == 0)) && exit 0

echo "ensure_tools: installing ${missing[*]}" >&2
if [[ $(id -u) -eq 0 ]]; then SUDO=(); elif command -v sudo >/dev/null; then SUDO=(sudo); else
    echo "ensure_tools: please install: apt-get install ${missing[*]}" >&2; exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq >/dev/null
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# the Debian prometheus package starts a server where it can; the tests need only promtool
"${SUDO[@]}" pkill -x prometheus 2>/dev/null || true
