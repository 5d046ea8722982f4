//! [`AgentError`]: what an agent's handler returns, keeping the cause of a failed syscall.

use std::sync::Arc;

use crate::error::{IpcError, SpawnError};
use crate::kernel::LlmError;
use crate::scheduler::SchedulerError;

/// An error an agent handler (or hook) returns.
///
/// It travels back to the asker as [`IpcError::Handler`]; it does **not** crash the agent (a
/// crash is a panic). A failed syscall keeps its cause: `?` on an [`IpcError`],
/// [`SpawnError`], [`SchedulerError`] or [`LlmError`] wraps it (`#[from]`), and
/// [`std::error::Error::source`] returns it, so an error that crossed several agents can still be
/// matched as the `Timeout` or `Crashed` it started as ([`IpcError::root_cause`]).
///
/// ```
/// use agent_os_kernel::prelude::*;
///
/// fn parse(input: &str) -> Result<u32, AgentError> {
///     input.trim().parse::<u32>().map_err(AgentError::other)
/// }
/// assert!(parse("12").is_ok());
/// assert!(matches!(parse("x"), Err(AgentError::Other(_))));
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The message was understood but could not be carried out.
    #[error("{0}")]
    Failed(String),
    /// The message was invalid for this agent.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// A message the handler sent, or a reply it waited for, failed.
    #[error("IPC failed: {0}")]
    Ipc(#[from] IpcError),
    /// A child the handler spawned could not start.
    #[error("spawn failed: {0}")]
    Spawn(#[from] SpawnError),
    /// The scheduler refused or could not serve a slice.
    #[error("scheduler: {0}")]
    Scheduler(#[from] SchedulerError),
    /// An LLM call failed.
    #[error("LLM call failed: {0}")]
    Llm(#[from] LlmError),
    /// A pager syscall failed (context overflow, access denied, storage, embedding).
    #[error("pager: {0}")]
    Pager(Arc<crate::pager::PagerError>),
    /// Any other error, kept whole (see [`AgentError::other`]).
    #[error(transparent)]
    Other(Arc<dyn std::error::Error + Send + Sync>),
}

impl From<crate::pager::PagerError> for AgentError {
    fn from(e: crate::pager::PagerError) -> Self {
        AgentError::Pager(Arc::new(e))
    }
}

impl From<crate::kernel::PagedLlmError> for AgentError {
    fn from(e: crate::kernel::PagedLlmError) -> Self {
        match e {
            crate::kernel::PagedLlmError::Pager(e) => e.into(),
            crate::kernel::PagedLlmError::Llm(e) => e.into(),
        }
    }
}

impl AgentError {
    /// A failure with a message.
    pub fn failed(msg: impl Into<String>) -> Self {
        AgentError::Failed(msg.into())
    }

    /// An invalid-request error with a message.
    pub fn invalid(msg: impl Into<String>) -> Self {
        AgentError::Invalid(msg.into())
    }

    /// Wraps any error, keeping it as the source (use with `map_err` before `?`).
    pub fn other(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        AgentError::Other(Arc::new(error))
    }

    /// The IPC error at the bottom of this error, following errors that came back from other
    /// agents' handlers ([`IpcError::Handler`]); `None` when the cause is not IPC.
    pub fn ipc_root(&self) -> Option<&IpcError> {
        match self {
            AgentError::Ipc(e) => Some(e.root_cause()),
            _ => None,
        }
    }

    /// A short, stable name of the variant (`failed`, `invalid`, `ipc`, `spawn`,
    /// `scheduler`, `llm`, `pager`, `other`), as used in [`crate::ErrorView`].
    pub fn kind(&self) -> &'static str {
        match self {
            AgentError::Failed(_) => "failed",
            AgentError::Invalid(_) => "invalid",
            AgentError::Ipc(_) => "ipc",
            AgentError::Spawn(_) => "spawn",
            AgentError::Scheduler(_) => "scheduler",
            AgentError::Llm(_) => "llm",
            AgentError::Pager(_) => "pager",
            AgentError::Other(_) => "other",
        }
    }
}
