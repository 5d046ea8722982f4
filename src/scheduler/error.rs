//! Errors returned by the scheduler.

use crate::pid::Pid;

/// Why the scheduler refused or could not serve a request.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SchedulerError {
    /// The request's estimate exceeds the per-request cap; nothing was charged.
    #[error("agent {pid}: request for {estimated} tokens exceeds the per-request cap of {cap}")]
    OverRequestCap {
        /// The requesting agent.
        pid: Pid,
        /// Tokens the request estimated.
        estimated: u64,
        /// The cap in force.
        cap: u64,
    },
    /// The request's estimate exceeds the whole token budget of one quota window, so it could
    /// never be admitted; nothing was charged.
    #[error("agent {pid}: request for {estimated} tokens exceeds the {window_tokens}-token window")]
    ExceedsWindow {
        /// The requesting agent.
        pid: Pid,
        /// Tokens the request estimated.
        estimated: u64,
        /// The window's token budget.
        window_tokens: u64,
    },
    /// Priorities range from 0 (most urgent) to 100.
    #[error("priority {0} is out of range (0 most urgent ..= 100)")]
    InvalidPriority(u8),
    /// The agent was removed from the scheduler while its request waited.
    #[error("agent {0} was removed from the scheduler")]
    Cancelled(Pid),
    /// The configuration (or a quota) breaks a documented invariant.
    #[error("invalid scheduler configuration: {0}")]
    InvalidConfig(String),
    /// The scheduler actor is not running any more.
    #[error("the scheduler actor has stopped")]
    Stopped,
}
