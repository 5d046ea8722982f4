#!/usr/bin/env bash
# Installs the MCP servers the tests run (from the npm registry), idempotently, under
# ${AOK_MCP_DIR:-$HOME/.cache/agent-os/mcp}: @modelcontextprotocol/server-filesystem (stdio) and
# @modelcontextprotocol/server-everything (streamable HTTP).
set -euo pipefail
dir="${AOK_MCP_DIR:-$HOME/.cache/agent-os/mcp}"
version="2026.8.31"
for pkg in @modelcontextprotocol/server-filesystem @modelcontextprotocol/server-everything; do
    if [ -f "$dir/node_modules/$pkg/dist/index.js" ] \
        && grep -q "\"version\": \"$version\"" "$dir/node_modules/$pkg/package.json"; then
        echo "MCP servers: $pkg $version"
        continue
    fi
    command -v npm >/dev/null || { echo "npm is missing: install Node.js 20+ to run the MCP tests" >&2; exit 1; }
    mkdir -p "$dir"
    (cd "$dir" && npm install --silent --no-audit --no-fund "$pkg@$version")
    echo "MCP servers: $pkg $version"
done
