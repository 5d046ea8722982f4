#!/usr/bin/env bash
# Installs headless Chromium and its WebDriver (Debian's `chromium` and `chromium-driver`)
# for the admin page's browser test (tests/ui_browser.rs). Idempotent: does nothing when
# `chromium` and `chromedriver` are already on PATH.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    echo "chromium: $(chromium --version 2>/dev/null || echo '?'); $(chromedriver --version 2>/dev/null | head -n1)"
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium chromium-driver >/dev/null
else
    echo "chromium or chromedriver is missing: as root, apt-get install chromium chromium-driver" >&2
    exit 1
fi
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    echo "chromium-driver installed, but \`chromium\` or \`chromedriver\` is still not on PATH" >&2
    exit 1
fi
echo "chromium: $(chromium --version 2>/dev/null || echo '?'); $(chromedriver --version 2>/dev/null | head -n1)"
