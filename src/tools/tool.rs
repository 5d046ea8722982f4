//! The [`Tool`] trait: a device an agent can call.

use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::Value;

use crate::pid::Pid;
use crate::security::policy::{PermissionLevel, SecurityPolicy};

/// What a tool gets with each call.
#[derive(Debug, Clone)]
pub struct ToolContext {
    /// The calling agent.
    pub pid: Pid,
    /// Its workspace directory (created on first use).
    pub workspace: PathBuf,
    /// Its policy (paths, network, limits).
    pub policy: Arc<SecurityPolicy>,
    /// Stable across a replay of the same step after a crash: give it to the outside system
    /// so that an effect is not made twice.
    pub idempotency_key: String,
    /// The kernel (pager, storage, providers).
    pub kernel: crate::Kernel,
}

/// A failed tool call, returned to the agent as data it can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[serde(tag = "error", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ToolError {
    /// No tool has this name.
    #[error("no tool `{name}`")]
    NoSuchTool {
        /// The name asked for.
        name: String,
    },
    /// The arguments do not match the tool's schema (the field is named).
    #[error("invalid arguments for `{tool}`: {reason}")]
    InvalidArguments {
        /// The tool.
        tool: String,
        /// The first problem, with its path (`$.path: required`).
        reason: String,
    },
    /// The agent's policy refused it.
    #[error("{reason}")]
    Denied {
        /// The refusal, as the policy words it.
        reason: String,
    },
    /// The tool ran and failed.
    #[error("`{tool}` failed: {reason}")]
    Failed {
        /// The tool.
        tool: String,
        /// Why.
        reason: String,
    },
}

/// A device: a name, a description and the JSON Schema of its arguments for the model, the
/// permission level it needs, and an async call.
pub trait Tool: Send + Sync + 'static {
    /// Its name (`fs.read`, `code.python`, `mcp.github.search`).
    fn name(&self) -> &str;
    /// What it does, for the model.
    fn description(&self) -> &str;
    /// The JSON Schema of its arguments (checked before each call).
    fn schema(&self) -> Value;
    /// The permission level it needs (default `standard`).
    fn level(&self) -> PermissionLevel {
        PermissionLevel::Standard
    }
    /// Runs it.
    fn call(&self, args: Value, cx: ToolContext) -> BoxFuture<'static, Result<Value, ToolError>>;
}

impl std::fmt::Debug for dyn Tool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tool")
            .field("name", &self.name())
            .finish_non_exhaustive()
    }
}
