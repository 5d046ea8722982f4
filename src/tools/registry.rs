//! The tool registry: every tool the kernel's agents can call, by name.

use std::sync::Arc;

use dashmap::DashMap;

use crate::provider::ToolSpec;
use crate::tools::mcp::McpServerStatus;
use crate::tools::tool::Tool;

/// Tools by name. Cheap to clone.
#[derive(Clone, Default)]
pub struct ToolRegistry {
    tools: Arc<DashMap<String, Arc<dyn Tool>>>,
    servers: Arc<DashMap<String, McpServerStatus>>,
}

impl std::fmt::Debug for ToolRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolRegistry")
            .field("tools", &self.names())
            .finish()
    }
}

/// The name a model sees: providers allow `[A-Za-z0-9_-]` only, so `.` becomes `__`.
pub(crate) fn wire_name(name: &str) -> String {
    name.replace('.', "__")
}

impl ToolRegistry {
    /// Adds (or replaces) a tool.
    pub fn register(&self, tool: Arc<dyn Tool>) {
        self.tools.insert(tool.name().to_string(), tool);
    }

    /// A tool by name (or by the name a model used for it).
    pub fn get(&self, name: &str) -> Option<Arc<dyn Tool>> {
        self.tools
            .get(name)
            .or_else(|| self.tools.get(&name.replace("__", ".")))
            .map(|t| t.value().clone())
    }

    /// Every tool's name, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.tools.iter().map(|e| e.key().clone()).collect();
        v.sort();
        v
    }

    /// Each configured MCP server as it was found at kernel start, sorted by name.
    pub fn mcp_servers(&self) -> Vec<McpServerStatus> {
        let mut v: Vec<McpServerStatus> = self.servers.iter().map(|e| e.value().clone()).collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    pub(crate) fn set_mcp_server(&self, status: McpServerStatus) {
        self.servers.insert(status.name.clone(), status);
    }

    /// A tool as a model sees it.
    pub(crate) fn spec(tool: &dyn Tool) -> ToolSpec {
        ToolSpec {
            name: wire_name(tool.name()),
            description: tool.description().to_string(),
            parameters: tool.schema(),
        }
    }
}
