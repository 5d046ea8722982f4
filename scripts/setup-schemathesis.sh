#!/usr/bin/env bash
# Installs schemathesis (from PyPI, pinned) into a virtualenv under
# ${AOK_SCHEMATHESIS_DIR:-$HOME/.cache/agent-os/schemathesis}, idempotently: the HTTP API's
# property-based run against its own OpenAPI document (tests/api_schemathesis.rs) uses it.
set -euo pipefail
dir="${AOK_SCHEMATHESIS_DIR:-$HOME/.cache/agent-os/schemathesis}"
version="4.32.5"
if [ -x "$dir/bin/st" ] && "$dir/bin/python" -m pip show schemathesis 2>/dev/null | grep -q "^Version: $version$"; then
    echo "schemathesis: $version"
    exit 0
fi
command -v python3 >/dev/null || { echo "python3 is missing: install Python 3.10+ for the API property tests" >&2; exit 1; }
python3 -m venv "$dir"
"$dir/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==$version"
"$dir/bin/st" --version
