//! MCP servers' tools as kernel tools (through rmcp, the official Rust SDK, behind our own
//! types): stdio child-process servers and streamable-HTTP servers from
//! `[mcp.servers.<name>]`, their tools registered as
//! `<name>.<tool>` at kernel start and called through the agent's policy like any tool (a
//! per-agent allow list is the policy's tool patterns: `files.*`); a server that died is
//! started again on the next call.

mod config;
mod handler;
mod server;

use std::sync::Arc;

pub use config::{McpConfig, McpServerConfig};
pub use handler::ElicitationMode;

use crate::tools::registry::ToolRegistry;
use server::{McpServer, McpTool};

/// A configured MCP server as the kernel found it at start
/// ([`ToolRegistry::mcp_servers`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct McpServerStatus {
    /// Its name (the prefix of its tools).
    pub name: String,
    /// Whether it initialised and listed its tools.
    pub ready: bool,
    /// How many tools it offered.
    pub tools: usize,
    /// Why it is not ready.
    pub error: Option<String>,
}

/// Starts every configured server and registers its tools; a server that cannot start is
/// logged, recorded as not ready and skipped (its tools are absent).
pub(crate) async fn register(config: &McpConfig, registry: &ToolRegistry) {
    for (name, cfg) in &config.servers {
        let server = McpServer::new(name, cfg.clone());
        match server.tools().await {
            Ok(tools) => {
                tracing::info!(server = %name, tools = tools.len(), "MCP server ready");
                registry.set_mcp_server(McpServerStatus {
                    name: name.clone(),
                    ready: true,
                    tools: tools.len(),
                    error: None,
                });
                for remote in tools {
                    registry.register(Arc::new(McpTool {
                        name: format!("{name}.{}", remote.remote),
                        server: server.clone(),
                        remote,
                    }));
                }
            }
            Err(e) => {
                tracing::error!(server = %name, error = %e, "MCP server not available");
                registry.set_mcp_server(McpServerStatus {
                    name: name.clone(),
                    ready: false,
                    tools: 0,
                    error: Some(e),
                });
            }
        }
    }
}
