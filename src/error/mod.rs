//! Error types, one per boundary.
//!
//! - [`IpcError`]: anything that goes wrong delivering a message or waiting for a reply.
//! - [`SpawnError`]: a spawn that could not start.
//! - [`AgentError`]: what an agent's own handler returns; it keeps the cause of a failed
//!   syscall, so errors that crossed agents can still be matched.
//! - [`KernelError`]: building, configuring or shutting down the kernel.
//! - [`ErrorView`]: any of them as JSON, with its chain of causes.

mod agent;
mod view;

use std::time::Duration;

use crate::config::ConfigError;
use crate::pid::Pid;
use crate::supervisor::SupervisorId;

pub use agent::AgentError;
pub use view::ErrorView;

/// Delivering a message or waiting for its reply failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
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
    /// The agent behind a pid is not of the type a typed handle was asked for
    /// ([`crate::Kernel::agent_ref`]).
    #[error("agent {pid} is a `{actual}`, not a `{expected}`")]
    WrongAgentType {
        /// The agent.
        pid: Pid,
        /// The agent type asked for.
        expected: &'static str,
        /// The agent's type.
        actual: &'static str,
    },
    /// A message published on a topic is not of the subscriber's message type.
    #[error("agent {pid} handles messages of type `{expected}`, not `{got}`")]
    WrongMessageType {
        /// The receiving agent.
        pid: Pid,
        /// The type the agent handles.
        expected: &'static str,
        /// The type that was sent.
        got: &'static str,
    },
    /// JSON was sent to an agent that was not spawned with JSON access
    /// ([`crate::Spawn::json`]).
    #[error(
        "agent `{name}` ({pid}) does not accept JSON: spawn it with `.json()` (its message type must be `Deserialize` and its reply type `Serialize`)"
    )]
    NoJsonAccess {
        /// The agent.
        pid: Pid,
        /// Its name.
        name: String,
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
    /// The handler finished with the message's [`crate::ReplyPort`] dropped unanswered.
    #[error("agent {0} dropped the reply port without answering")]
    NoReply(Pid),
    /// The handler returned an error; it is the [`std::error::Error::source`] of this one.
    #[error("agent {pid} returned an error: {error}")]
    Handler {
        /// The agent.
        pid: Pid,
        /// The agent's error.
        #[source]
        error: Box<AgentError>,
    },
    /// The kernel is shutting down and accepts no new messages.
    #[error("the kernel is shutting down")]
    ShuttingDown,
    /// A message to an agent with a durable mailbox could not be persisted (or was sent
    /// through a path that cannot wait for the write, like `try_tell`); it was not delivered.
    #[error("agent {pid}: durable message not delivered: {reason}")]
    Durable {
        /// The agent.
        pid: Pid,
        /// Why.
        reason: String,
    },
    /// The sending agent's policy does not allow it to message this agent.
    #[error("agent {pid}: {denied}")]
    Denied {
        /// The receiving agent.
        pid: Pid,
        /// The refusal.
        denied: crate::security::policy::Denied,
    },
    /// The message continued a task that a runaway limit ended; it was not handled.
    #[error("agent {pid}: {limit}")]
    Runaway {
        /// The agent.
        pid: Pid,
        /// The limit.
        limit: crate::checkpoint::RunawayLimit,
    },
}

impl IpcError {
    /// The agent this error concerns, if any.
    pub fn pid(&self) -> Option<Pid> {
        match self {
            IpcError::NoSuchAgent(pid)
            | IpcError::Terminated(pid)
            | IpcError::NoReply(pid)
            | IpcError::MailboxFull { pid, .. }
            | IpcError::WrongAgentType { pid, .. }
            | IpcError::WrongMessageType { pid, .. }
            | IpcError::NoJsonAccess { pid, .. }
            | IpcError::BadMessage { pid, .. }
            | IpcError::ReplyEncoding { pid, .. }
            | IpcError::Timeout { pid, .. }
            | IpcError::Crashed { pid, .. }
            | IpcError::Interrupted { pid, .. }
            | IpcError::Handler { pid, .. }
            | IpcError::Durable { pid, .. }
            | IpcError::Denied { pid, .. }
            | IpcError::Runaway { pid, .. } => Some(*pid),
            IpcError::ShuttingDown => None,
        }
    }

    /// The error this one started as: for a [`IpcError::Handler`] whose agent failed on an IPC
    /// syscall of its own ([`AgentError::Ipc`]), that error's root, and so on down the agents
    /// it crossed; otherwise `self`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use agent_os_kernel::{AgentError, IpcError, Pid};
    ///
    /// let (a, b) = (Pid::new(), Pid::new());
    /// let timeout = IpcError::Timeout { pid: b, after: Duration::from_secs(1) };
    /// // `a` asked `b`, which timed out; `a`'s handler returned it with `?`.
    /// let seen = IpcError::Handler { pid: a, error: Box::new(AgentError::from(timeout)) };
    /// assert!(matches!(seen.root_cause(), IpcError::Timeout { pid, .. } if *pid == b));
    /// ```
    pub fn root_cause(&self) -> &IpcError {
        let mut cur = self;
        while let IpcError::Handler { error, .. } = cur {
            match &**error {
                AgentError::Ipc(inner) => cur = inner,
                _ => break,
            }
        }
        cur
    }

    /// A short, stable name of the variant (`no_such_agent`, `mailbox_full`, `timeout`,
    /// `crashed`, `handler`, …), as used in [`ErrorView`].
    pub fn kind(&self) -> &'static str {
        match self {
            IpcError::NoSuchAgent(_) => "no_such_agent",
            IpcError::MailboxFull { .. } => "mailbox_full",
            IpcError::WrongAgentType { .. } => "wrong_agent_type",
            IpcError::WrongMessageType { .. } => "wrong_message_type",
            IpcError::NoJsonAccess { .. } => "no_json_access",
            IpcError::BadMessage { .. } => "bad_message",
            IpcError::ReplyEncoding { .. } => "reply_encoding",
            IpcError::Timeout { .. } => "timeout",
            IpcError::Crashed { .. } => "crashed",
            IpcError::Terminated(_) => "terminated",
            IpcError::Interrupted { .. } => "interrupted",
            IpcError::NoReply(_) => "no_reply",
            IpcError::Handler { .. } => "handler",
            IpcError::ShuttingDown => "shutting_down",
            IpcError::Durable { .. } => "durable",
            IpcError::Denied { .. } => "denied",
            IpcError::Runaway { .. } => "runaway",
        }
    }
}

/// A spawn that could not start.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// Priority outside 0..=100.
    #[error("priority {0} is out of range: use 0 (most urgent) to 100")]
    InvalidPriority(u8),
    /// Mailbox capacity 0.
    #[error("mailbox capacity must be at least 1")]
    InvalidMailboxCapacity,
    /// The named supervisor does not exist (or has stopped).
    #[error("no supervisor with id {0}")]
    NoSuchSupervisor(SupervisorId),
    /// The per-spawn quota is invalid.
    #[error("invalid quota: {0}")]
    InvalidQuota(String),
    /// A restart limit of zero restarts or a zero period.
    #[error("invalid restart limit: {0}")]
    InvalidRestartLimit(String),
    /// The factory panicked while building the agent.
    #[error("the agent factory panicked: {0}")]
    FactoryPanicked(String),
    /// The kernel is shutting down and accepts no new agents.
    #[error("the kernel is shutting down")]
    ShuttingDown,
    /// Invalid durability options (checkpoint policy, durable mailbox without a registered
    /// type, unknown agent type, …).
    #[error("invalid durability options: {0}")]
    Durability(String),
    /// No agent type is registered under this name ([`crate::KernelBuilder::agent_type`]).
    #[error("no agent type `{0}` is registered (KernelBuilder::agent_type)")]
    UnknownAgentType(String),
    /// The agent's durable state could not be written or read.
    #[error("durable state of the agent: {0}")]
    Storage(String),
}

/// Building, configuring, or operating the kernel failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
