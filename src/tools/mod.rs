//! Tools — the devices of this OS: the [`Tool`] trait, the [`ToolRegistry`], the built-in
//! tools (`fs.read`, `fs.write`, `fs.list`, `code.python`, `shell.run`, `mem.remember`,
//! `mem.recall`, `http.fetch`), and the tool
//! syscalls on the agent's context (`ctx.tool`, `ctx.tool_specs`, `ctx.call_tools`), each
//! call passing the agent's policy, the schema check, the journal and the audit log.

mod builtin;
mod config;
pub mod mcp;
mod registry;
mod schema;
mod syscall;
mod tool;

pub use config::ToolsConfig;
pub use registry::ToolRegistry;
pub use tool::{Tool, ToolContext, ToolError};

pub(crate) use builtin::registry as builtin_registry;
