//! Circuit breaker per backend: opens after N consecutive failures, half-opens after a
//! cooldown and lets one probe through; the probe's outcome closes or re-opens it.

use std::time::{Duration, Instant};

use serde::Deserialize;

/// Breaker settings.
#[derive(Clone, Debug, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker.
    pub failure_threshold: u32,
    /// Milliseconds the breaker stays open before half-opening.
    pub cooldown_ms: u64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            cooldown_ms: 30_000,
        }
    }
}

/// Observable breaker state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BreakerState {
    /// Calls pass.
    Closed,
    /// Calls are refused until the instant.
    Open(Instant),
    /// One probe is (or may be) in flight.
    HalfOpen,
}

/// The breaker.
#[derive(Debug)]
pub(super) struct CircuitBreaker {
    cfg: BreakerConfig,
    failures: u32,
    state: BreakerState,
    probe_out: bool,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub(super) fn new(cfg: BreakerConfig) -> Self {
        CircuitBreaker {
            cfg,
            failures: 0,
            state: BreakerState::Closed,
            probe_out: false,
        }
    }

    /// Current state (turns Open into HalfOpen once the cooldown passed).
    pub(super) fn state(&mut self, now: Instant) -> BreakerState {
        if let BreakerState::Open(until) = self.state
            && now >= until
        {
            self.state = BreakerState::HalfOpen;
            self.probe_out = false;
        }
        self.state
    }

    /// May a call be dispatched now? In half-open state only one probe is let through.
    pub(super) fn allow(&mut self, now: Instant) -> bool {
        match self.state(now) {
            BreakerState::Closed => true,
            BreakerState::Open(_) => false,
            BreakerState::HalfOpen => !std::mem::replace(&mut self.probe_out, true),
        }
    }

    /// Records a success.
    pub(super) fn on_success(&mut self) {
        self.failures = 0;
        self.state = BreakerState::Closed;
        self.probe_out = false;
    }

    /// Records a failure; returns true if this opened the breaker.
    pub(super) fn on_failure(&mut self, now: Instant) -> bool {
        self.failures = self.failures.saturating_add(1);
        let open = matches!(self.state, BreakerState::HalfOpen)
            || self.failures >= self.cfg.failure_threshold.max(1);
        if open && !matches!(self.state, BreakerState::Open(_)) {
            let cooldown = Duration::from_millis(self.cfg.cooldown_ms);
            self.state = BreakerState::Open(super::budget::after(now, cooldown));
            self.probe_out = false;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_half_opens_closes() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(BreakerConfig {
            failure_threshold: 2,
            cooldown_ms: 100,
        });
        assert!(!b.on_failure(t0));
        assert!(b.on_failure(t0));
        assert!(!b.allow(t0));
        let t1 = t0 + Duration::from_millis(100);
        assert!(b.allow(t1));
        assert!(!b.allow(t1), "only one probe");
        assert!(b.on_failure(t1));
        let t2 = t1 + Duration::from_millis(100);
        assert!(b.allow(t2));
        b.on_success();
        assert_eq!(b.state(t2), BreakerState::Closed);
    }
}
