//! Counters and state of one backend, as [`Router::stats`](super::Router::stats) reports them.

use std::time::Instant;

use super::breaker::BreakerState;

/// Counters and state of one backend.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ProviderStats {
    /// Backend name.
    pub backend: String,
    /// Calls waiting in the gate's queue for budget.
    pub queued: usize,
    /// Requests in flight.
    pub in_flight: usize,
    /// Attempts admitted to the backend.
    pub attempts: u64,
    /// Attempts that succeeded.
    pub succeeded: u64,
    /// Calls answered with an error on this backend.
    pub failed: u64,
    /// Retries scheduled.
    pub retries: u64,
    /// 429 responses received.
    pub rate_limited: u64,
    /// Streams cut by a revoked slice.
    pub preempted: u64,
    /// Times the breaker opened.
    pub breaker_opened: u64,
    /// Breaker state now.
    pub breaker: Option<BreakerState>,
    /// Dispatch paused until (429 + retry-after).
    pub paused_until: Option<Instant>,
    /// The rate budget: its limits and what is left of it.
    pub budget: BudgetStats,
}

/// A backend's rate budget as configured, and the room left in it now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BudgetStats {
    /// Requests per window (`None`: unlimited).
    pub rpm: Option<u64>,
    /// Tokens per window (`None`: unlimited).
    pub tpm: Option<u64>,
    /// The window, milliseconds.
    pub window_ms: u64,
    /// Requests in flight at once, at most.
    pub max_concurrency: usize,
    /// Tokens a call could still reserve now (`None`: nothing limits tokens).
    pub tokens_available: Option<u64>,
}
