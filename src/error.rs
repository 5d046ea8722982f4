//! Error types, one per boundary.
//!
//! - [`IpcError`]: anything that goes wrong delivering a message or waiting for a reply.
//! - [`SpawnError`]: a spawn that could not start.
//! - [`AgentError`]: what an agent's own handler returns to its caller.
//! - [`KernelError`]: building, configuring or shutting down the kernel.

use std::time::Duration;

use crate::config::ConfigError;
use crate::pid::Pid;
use crate::supervisor::SupervisorId;

/// An error an agent handler returns. It travels back to the sender of the message (for
/// `ask`) as [`IpcError::Handler`]; it does **not** crash the agent. A crash is a panic.
#[derive(Debug, Clone, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum AgentError {
    /// The message was understood but could not be carried out.
    #[error("{0}")]
    Failed(String),
    /// The message was invalid for this agent.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// A syscall the handler made (send, ask, spawn…) failed.
    #[error("syscall failed: {0}")]
    Syscall(String),
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
}

impl From<IpcError> for AgentError {
    fn from(e: IpcError) -> Self {
        AgentError::Syscall(e.to_string())
    }
}

impl From<crate::scheduler::SchedulerError> for AgentError {
    fn from(e: crate::scheduler::SchedulerError) -> Self {
        AgentError::Syscall(e.to_string())
    }
}

impl From<SpawnError> for AgentError {
    fn from(e: SpawnError) -> Self {
        AgentError::Syscall(e.to_string())
    }
}

/// Delivering a message or waiting for its reply failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IpcError {
    /// No live agent has this pid.
    #[error("no live agent with pid {0}")]
    NoSuchAgent(Pid),
    /// The agent's bounded mailbox is full and its overflow policy rejects new messages.
    #[error("mailbox of agent {pid} is full ({capacity} messages queued)")]
    MailboxFull {
        /// The receiving agent.
        pid: Pid,
        /// Its mailbox capacity.
        capacity: usize,
    },
    /// The message's Rust type is not the one the agent handles.
    #[error("agent {pid} handles messages of type `{expected}`, not `{got}`")]
    WrongMessageType {
        /// The receiving agent.
        pid: Pid,
        /// The type the agent handles.
        expected: &'static str,
        /// The type that was sent.
        got: &'static str,
    },
    /// A JSON message could not be decoded into the agent's message type.
    #[error("message for agent {pid} is not a valid `{expected}`: {reason}")]
    BadMessage {
        /// The receiving agent.
        pid: Pid,
        /// The type the agent handles.
        expected: &'static str,
        /// What serde said.
        reason: String,
    },
    /// The reply has a different Rust type than the caller asked for.
    #[error("agent {pid} replies with `{actual}`, not `{requested}`")]
    WrongReplyType {
        /// The replying agent.
        pid: Pid,
        /// The type the agent replies with.
        actual: &'static str,
        /// The type the caller asked for.
        requested: &'static str,
    },
    /// The reply could not be encoded as JSON.
    #[error("reply of agent {pid} could not be encoded as JSON: {reason}")]
    ReplyEncoding {
        /// The replying agent.
        pid: Pid,
        /// What serde said.
        reason: String,
    },
    /// No reply arrived within the timeout. The message may still be handled later.
    #[error("agent {pid} did not reply within {after:?}")]
    Timeout {
        /// The agent asked.
        pid: Pid,
        /// The timeout that elapsed.
        after: Duration,
    },
    /// The agent panicked while handling this very message. It is restarted according to its
    /// supervision; the message is not retried.
    #[error("agent {pid} crashed while handling the message: {reason}")]
    Crashed {
        /// The agent that crashed.
        pid: Pid,
        /// The panic message.
        reason: String,
    },
    /// The agent terminated (stopped, killed, or not restarted) before handling the message.
    #[error("agent {0} terminated before handling the message")]
    Terminated(Pid),
    /// The agent's handler was aborted (kill, stop deadline or a sibling restart) while it was
    /// handling the message.
    #[error("agent {pid} was interrupted while handling the message ({why})")]
    Interrupted {
        /// The agent.
        pid: Pid,
        /// Why it was interrupted.
        why: &'static str,
    },
    /// The handler returned an error.
    #[error("agent {pid} returned an error: {error}")]
    Handler {
        /// The agent.
        pid: Pid,
        /// The agent's error.
        error: AgentError,
    },
    /// The kernel is shutting down and accepts no new messages.
    #[error("the kernel is shutting down")]
    ShuttingDown,
}

/// A spawn that could not start.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SpawnError {
    /// Priority outside 0..=100.
    #[error("priority {0} is out of range: use 0 (most urgent) to 100")]
    InvalidPriority(u8),
    /// Mailbox capacity 0.
    #[error("mailbox capacity must be at least 1")]
    InvalidMailboxCapacity,
    /// The named supervisor does not exist (or has shut down).
    #[error("no supervisor with id {0}")]
    NoSuchSupervisor(SupervisorId),
    /// The per-spawn quota is invalid.
    #[error("invalid quota: {0}")]
    InvalidQuota(String),
    /// The factory panicked while building the agent.
    #[error("the agent factory panicked: {0}")]
    FactoryPanicked(String),
    /// The kernel is shutting down and accepts no new agents.
    #[error("the kernel is shutting down")]
    ShuttingDown,
}

/// Building, configuring, or operating the kernel failed.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// Configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Storage could not be opened, migrated or written.
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    /// The provider layer could not start (bad backend configuration).
    #[error(transparent)]
    Provider(#[from] crate::provider::ProviderError),
    /// The kernel must be built inside a running actix system.
    #[error(
        "no actix system is running: build the kernel inside `#[actix::main]`, `#[actix_rt::test]` or `actix_rt::System::new().block_on(..)`"
    )]
    NoActixSystem,
    /// An IPC operation failed.
    #[error(transparent)]
    Ipc(#[from] IpcError),
    /// A spawn failed.
    #[error(transparent)]
    Spawn(#[from] SpawnError),
}
