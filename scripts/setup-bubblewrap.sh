#!/usr/bin/env bash
# Installs bubblewrap (`bwrap`), the sandbox of code and shell tools, and checks that it can
# create its namespaces here. Idempotent: does nothing when `bwrap` works already.
set -euo pipefail

check() {
    bwrap --ro-bind / / --unshare-all --die-with-parent -- /bin/true 2>/dev/null
}

if command -v bwrap >/dev/null 2>&1 && check; then
    echo "bubblewrap: $(bwrap --version)"
    exit 0
fi
if ! command -v bwrap >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq bubblewrap util-linux >/dev/null
    else
        echo "bubblewrap is missing: install the package \`bubblewrap\` (as root: apt-get install bubblewrap)" >&2
        exit 1
    fi
fi
if ! check; then
    echo "bubblewrap is installed but cannot create namespaces here (user namespaces disabled?)" >&2
    exit 1
fi
echo "bubblewrap: $(bwrap --version)"
