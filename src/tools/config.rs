//! `[tools]`.

use serde::{Deserialize, Serialize};

/// `[tools]`: where agents' workspaces live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolsConfig {
    /// Each agent's workspace is `<workspace_root>/<pid>`, created on its first tool call.
    pub workspace_root: String,
}

impl Default for ToolsConfig {
    fn default() -> Self {
        ToolsConfig {
            workspace_root: "./data/workspaces".into(),
        }
    }
}
