//! Events the scheduler emits, so the kernel can publish agent state transitions.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::error::SchedulerError;
use super::quota::Usage;
use super::token::TokenId;
use crate::pid::Pid;

/// Which budget a request waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuotaScope {
    /// The agent's own quota.
    Agent(Pid),
    /// The kernel-wide quota.
    Global,
}

/// A scheduler event. The kernel maps `Queued` to `Waiting(slice)`, `WaitingQuota` to
/// `Waiting(quota)`, `Granted` to `Running`, and `Preempted`/`Released`/`Expired` to the end of
/// `Running`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum SchedulerEvent {
    /// The request waits for a slice (capacity or policy).
    Queued {
        /// The agent.
        pid: Pid,
        /// Its priority.
        priority: u8,
        /// Its target provider.
        provider: Option<Arc<str>>,
        /// Whether it resumes a preempted slice.
        resume: bool,
    },
    /// The request waits for a quota window to reset.
    WaitingQuota {
        /// The agent.
        pid: Pid,
        /// The exhausted budget.
        scope: QuotaScope,
        /// When the window resets and the request is looked at again.
        until: Instant,
    },
    /// A slice was granted.
    Granted {
        /// The agent.
        pid: Pid,
        /// The token's id.
        token: TokenId,
        /// Time from request to grant.
        waited: Duration,
    },
    /// A running slice was revoked for a more urgent waiter.
    Preempted {
        /// The holder.
        pid: Pid,
        /// The revoked token.
        token: TokenId,
        /// The agent the slot went to.
        by: Pid,
    },
    /// A slice was released with its usage.
    Released {
        /// The holder.
        pid: Pid,
        /// The token.
        token: TokenId,
        /// What it used.
        usage: Usage,
    },
    /// A slice passed its deadline and its slot was reclaimed.
    Expired {
        /// The holder.
        pid: Pid,
        /// The token.
        token: TokenId,
    },
    /// A request was refused (nothing was charged).
    Denied {
        /// The agent.
        pid: Pid,
        /// Why.
        error: SchedulerError,
    },
}
