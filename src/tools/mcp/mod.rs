//! MCP servers' tools as kernel tools (through rmcp, the official Rust SDK, behind our own
//! types): stdio child-process servers and streamable-HTTP servers from
//! `[mcp.servers.<name>]`, their tools registered as
//! `<name>.<tool>` at kernel start and called through the agent's policy like any tool (a
//! per-agent allow list is the policy's tool patterns: `files.*`); a server that died is
//! started again on the next call.

mod config;
mod server;

use std::sync::Arc;

pub use config::{McpConfig, McpServerConfig};

use crate::tools::registry::ToolRegistry;
use server::{McpServer, McpTool};

/// Starts every configured server and registers its tools; a server that cannot start is
/// logged and skipped (its tools are absent).
pub(crate) async fn register(config: &McpConfig, registry: &ToolRegistry) {
    for (name, cfg) in &config.servers {
        let server = McpServer::new(name, cfg.clone());
        match server.tools().await {
            Ok(tools) => {
                tracing::info!(server = %name, tools = tools.len(), "MCP server ready");
                for remote in tools {
                    registry.register(Arc::new(McpTool {
                        name: format!("{name}.{}", remote.remote),
                        server: server.clone(),
                        remote,
                    }));
                }
            }
            Err(e) => tracing::error!(server = %name, error = %e, "MCP server not available"),
        }
    }
}
