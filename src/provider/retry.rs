//! Retry policy: jittered exponential backoff and a per-call attempt budget shared across the
//! whole fallback chain (a fallback does not restart the budget from zero).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rand::Rng;
use serde::Deserialize;

/// Per-backend retry settings.
#[derive(Clone, Debug, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Attempts on this backend before the router moves on (first try included).
    pub max_attempts: u32,
    /// Delay before the first retry, in milliseconds (doubled per retry).
    pub base_delay_ms: u64,
    /// Cap of one delay, in milliseconds.
    pub max_delay_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay_ms: 250,
            max_delay_ms: 10_000,
        }
    }
}

impl RetryPolicy {
    /// Delay before retry number `retry` (1-based): uniformly drawn from
    /// `[d/2, d]` with `d = min(max, base · 2^(retry-1))` ("equal jitter").
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(20);
        let d = self
            .base_delay_ms
            .saturating_mul(1u64 << exp)
            .min(self.max_delay_ms);
        let lo = d / 2;
        let ms = if d > lo {
            rand::rng().random_range(lo..=d)
        } else {
            d
        };
        Duration::from_millis(ms)
    }
}

/// Attempts left for one logical call, shared by every backend the router tries.
#[derive(Debug)]
pub(crate) struct AttemptBudget(AtomicU32);

impl AttemptBudget {
    /// A budget of `attempts` attempts in total.
    pub(crate) fn new(attempts: u32) -> Self {
        AttemptBudget(AtomicU32::new(attempts))
    }

    /// Takes one attempt; false when none is left.
    pub(crate) fn take(&self) -> bool {
        self.0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok()
    }

    /// Attempts left.
    pub(crate) fn remaining(&self) -> u32 {
        self.0.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_cap() {
        let p = RetryPolicy {
            max_attempts: 5,
            base_delay_ms: 100,
            max_delay_ms: 300,
        };
        for _ in 0..50 {
            let d1 = p.backoff(1).as_millis();
            assert!((50..=100).contains(&d1), "{d1}");
            let d3 = p.backoff(3).as_millis();
            assert!((150..=300).contains(&d3), "{d3}");
        }
        let b = AttemptBudget::new(2);
        assert!(b.take() && b.take() && !b.take());
    }
}
