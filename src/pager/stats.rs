//! Per-agent pager statistics.

use serde::{Deserialize, Serialize};

use crate::pid::Pid;

/// Running counters of one page table.
#[derive(Debug, Clone, Default)]
pub(crate) struct Counters {
    pub(crate) faults: u64,
    pub(crate) evictions: u64,
    pub(crate) eviction_batches: u64,
    pub(crate) hits: u64,
    pub(crate) context_calls: u64,
    pub(crate) prompt_tokens: u64,
    pub(crate) stable_prefix_tokens: u64,
    pub(crate) last_prefix_stability: f64,
    pub(crate) pressure_notices: u64,
    pub(crate) summaries: u64,
    pub(crate) summaries_refused: u64,
}

/// What the pager reports about one agent.
///
/// Every page the agent owns is counted exactly once: `resident_pages + swapped_pages` is the
/// whole page table. A swapped page was left out by the budget on purpose (evicted, or one
/// entry larger than the whole budget) and is in storage; no page is ever dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PagerStats {
    /// The agent.
    pub pid: Pid,
    /// Its resident budget (tokens).
    pub budget_tokens: u64,
    /// Pages in the resident set.
    pub resident_pages: u64,
    /// Tokens in the resident set (never above `budget_tokens`).
    pub resident_tokens: u64,
    /// Pinned tokens (never evicted).
    pub pinned_tokens: u64,
    /// Pages swapped out to storage.
    pub swapped_pages: u64,
    /// Tokens swapped out to storage.
    pub swapped_tokens: u64,
    /// Page faults: swapped pages loaded back.
    pub faults: u64,
    /// Pages evicted.
    pub evictions: u64,
    /// Eviction passes (each evicts a batch down to the low-water mark).
    pub eviction_batches: u64,
    /// Accesses served from the resident set.
    pub hits: u64,
    /// `hits / (hits + faults)`, 1 when nothing was accessed.
    pub hit_rate: f64,
    /// `context()` calls.
    pub context_calls: u64,
    /// Share of the last prompt identical to the previous prompt's beginning (0–1).
    pub prefix_stability: f64,
    /// The same over every call since the table was loaded (token-weighted).
    pub mean_prefix_stability: f64,
    /// Memory-pressure notices sent.
    pub pressure_notices: u64,
    /// Summary pages made by compaction.
    pub summaries: u64,
    /// Summaries refused because they were not shorter than what they replaced.
    pub summaries_refused: u64,
}

impl PagerStats {
    pub(crate) fn from_counters(
        pid: Pid,
        budget: u64,
        counts: (u64, u64, u64, u64, u64),
        c: &Counters,
    ) -> Self {
        let (resident_pages, resident_tokens, pinned_tokens, swapped_pages, swapped_tokens) =
            counts;
        let accesses = c.hits + c.faults;
        PagerStats {
            pid,
            budget_tokens: budget,
            resident_pages,
            resident_tokens,
            pinned_tokens,
            swapped_pages,
            swapped_tokens,
            faults: c.faults,
            evictions: c.evictions,
            eviction_batches: c.eviction_batches,
            hits: c.hits,
            hit_rate: if accesses == 0 {
                1.0
            } else {
                c.hits as f64 / accesses as f64
            },
            context_calls: c.context_calls,
            prefix_stability: c.last_prefix_stability,
            mean_prefix_stability: if c.prompt_tokens == 0 {
                1.0
            } else {
                c.stable_prefix_tokens as f64 / c.prompt_tokens as f64
            },
            pressure_notices: c.pressure_notices,
            summaries: c.summaries,
            summaries_refused: c.summaries_refused,
        }
    }
}
