//! `[mcp.servers.<name>]`: MCP servers whose tools the kernel offers as `<name>.<tool>`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One MCP server run as a child process speaking MCP over stdio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpServerConfig {
    /// The program (`npx`, `node`, `uvx`, a path).
    pub command: String,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Extra environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// `[mcp]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpConfig {
    /// Servers by name (the prefix of their tools' names).
    #[serde(default)]
    pub servers: BTreeMap<String, McpServerConfig>,
}
