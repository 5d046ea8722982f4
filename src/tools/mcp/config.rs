//! `[mcp.servers.<name>]`: MCP servers whose tools the kernel offers as `<name>.<tool>`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::tools::mcp::handler::ElicitationMode;

/// One MCP server: a child process speaking MCP over stdio (`command`), or a server reached
/// over streamable HTTP (`url`). Exactly one of the two.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpServerConfig {
    /// The program (`npx`, `node`, `uvx`, a path).
    #[serde(default)]
    pub command: String,
    /// The server's streamable-HTTP endpoint (`http://127.0.0.1:3001/mcp`).
    #[serde(default)]
    pub url: Option<String>,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Extra environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// A call without an answer after this long (ms; 0 = 60 000) counts as a dead connection:
    /// the server is reconnected (or started again) and the call tried once more.
    #[serde(default)]
    pub timeout_ms: u64,
    /// What to answer when the server asks for input (`decline`, the default, or
    /// `accept_defaults`: accept a form whose required fields all have defaults, with them).
    #[serde(default)]
    pub elicitation: ElicitationMode,
}

/// `[mcp]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpConfig {
    /// Servers by name (the prefix of their tools' names).
    #[serde(default)]
    pub servers: BTreeMap<String, McpServerConfig>,
}
