//! Quotas: token, call and cost budgets per window, per agent and global.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::error::SchedulerError;

/// A budget per fixed window. `None` means unlimited.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Quota {
    /// Tokens (input + output) per window.
    pub max_tokens: Option<u64>,
    /// Calls (released slices) per window.
    pub max_calls: Option<u64>,
    /// Cost in US dollars per window.
    pub max_cost_usd: Option<f64>,
    /// Largest estimate one request may carry; a larger request is refused at once.
    pub max_tokens_per_request: Option<u64>,
    /// Window length in milliseconds. A window starts at the first charge after the previous
    /// one ended.
    pub window_ms: u64,
}

impl Default for Quota {
    fn default() -> Self {
        Quota {
            max_tokens: None,
            max_calls: None,
            max_cost_usd: None,
            max_tokens_per_request: None,
            window_ms: 60_000,
        }
    }
}

impl Quota {
    /// An unlimited quota.
    pub fn unlimited() -> Self {
        Quota::default()
    }

    /// True when the quota caps neither tokens, calls nor cost: a window under it never makes a
    /// request wait (a per-request cap is checked on arrival, not against the window).
    pub fn caps_nothing(&self) -> bool {
        self.max_tokens.is_none() && self.max_calls.is_none() && self.max_cost_usd.is_none()
    }

    /// The window as a duration.
    pub fn window(&self) -> Duration {
        Duration::from_millis(self.window_ms)
    }

    /// Checks the quota's invariants; `at` names it in the error.
    pub fn validate(&self, at: &str) -> Result<(), SchedulerError> {
        if self.window_ms == 0 {
            return Err(SchedulerError::InvalidConfig(format!(
                "{at}.window_ms must be > 0"
            )));
        }
        if self.max_cost_usd.is_some_and(|c| c.is_nan() || c < 0.0) {
            return Err(SchedulerError::InvalidConfig(format!(
                "{at}.max_cost_usd must be >= 0"
            )));
        }
        Ok(())
    }
}

/// What one slice actually used, reported at release.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Generated tokens.
    pub output_tokens: u64,
    /// Cost in US dollars.
    pub cost_usd: f64,
}

impl Usage {
    /// Usage of `input` prompt and `output` generated tokens at no cost.
    pub fn tokens(input: u64, output: u64) -> Self {
        Usage {
            input_tokens: input,
            output_tokens: output,
            cost_usd: 0.0,
        }
    }

    /// Input plus output tokens.
    pub fn total_tokens(&self) -> u64 {
        self.input_tokens.saturating_add(self.output_tokens)
    }
}

/// Usage counted in the current window of one quota scope.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct WindowUsage {
    /// Tokens charged in this window.
    pub tokens: u64,
    /// Calls charged in this window.
    pub calls: u64,
    /// Cost charged in this window.
    pub cost_usd: f64,
    /// Tokens reserved by slices still running (their estimates).
    pub reserved_tokens: u64,
    /// Slices still running.
    pub reserved_calls: u64,
}

/// The running account of one scope (an agent or the whole kernel) against a [`Quota`].
#[derive(Clone, Debug)]
pub(crate) struct Ledger {
    window_start: Option<Instant>,
    usage: WindowUsage,
}

/// Outcome of asking a ledger whether a request fits.
#[derive(Debug, PartialEq)]
pub(crate) enum Admission {
    /// The request fits now.
    Admit,
    /// The window is exhausted; it resets at the instant given.
    WaitUntil(Instant),
}

impl Ledger {
    pub(crate) fn new() -> Self {
        Ledger {
            window_start: None,
            usage: WindowUsage::default(),
        }
    }

    /// Current window usage (after rolling an ended window).
    pub(crate) fn usage(&mut self, quota: &Quota, now: Instant) -> WindowUsage {
        self.roll(quota, now);
        self.usage
    }

    fn roll(&mut self, quota: &Quota, now: Instant) {
        if let Some(start) = self.window_start
            && now >= start + quota.window()
        {
            self.window_start = None;
            self.usage.tokens = 0;
            self.usage.calls = 0;
            self.usage.cost_usd = 0.0;
        }
    }

    fn touch(&mut self, now: Instant) {
        if self.window_start.is_none() {
            self.window_start = Some(now);
        }
    }

    /// Refuses requests that can never be admitted (nothing is charged).
    pub(crate) fn precheck(
        quota: &Quota,
        pid: crate::pid::Pid,
        estimated: u64,
    ) -> Result<(), SchedulerError> {
        if let Some(cap) = quota.max_tokens_per_request
            && estimated > cap
        {
            return Err(SchedulerError::OverRequestCap {
                pid,
                estimated,
                cap,
            });
        }
        if let Some(window_tokens) = quota.max_tokens
            && estimated > window_tokens
        {
            return Err(SchedulerError::ExceedsWindow {
                pid,
                estimated,
                window_tokens,
            });
        }
        Ok(())
    }

    /// Whether a request estimating `estimated` tokens fits in the current window. Asking never
    /// charges anything.
    pub(crate) fn admit(&mut self, quota: &Quota, estimated: u64, now: Instant) -> Admission {
        self.roll(quota, now);
        let u = &self.usage;
        let over_tokens = quota.max_tokens.is_some_and(|max| {
            u.tokens
                .saturating_add(u.reserved_tokens)
                .saturating_add(estimated)
                > max
        });
        let over_calls = quota
            .max_calls
            .is_some_and(|max| u.calls.saturating_add(u.reserved_calls).saturating_add(1) > max);
        let over_cost = quota.max_cost_usd.is_some_and(|max| u.cost_usd >= max);
        if !(over_tokens || over_calls || over_cost) {
            return Admission::Admit;
        }
        // Exhausted by running slices only: their release (not a window reset) frees room,
        // but a reset is the latest point at which to look again.
        let start = self.window_start.unwrap_or(now);
        Admission::WaitUntil(start + quota.window())
    }

    /// Reserves a granted slice's estimate until it is released.
    pub(crate) fn reserve(&mut self, estimated: u64, now: Instant) {
        self.touch(now);
        self.usage.reserved_tokens = self.usage.reserved_tokens.saturating_add(estimated);
        self.usage.reserved_calls = self.usage.reserved_calls.saturating_add(1);
    }

    /// Drops a reservation (the slice's slot was freed).
    pub(crate) fn unreserve(&mut self, estimated: u64) {
        self.usage.reserved_tokens = self.usage.reserved_tokens.saturating_sub(estimated);
        self.usage.reserved_calls = self.usage.reserved_calls.saturating_sub(1);
    }

    /// Charges actual usage and one call to the current window.
    pub(crate) fn charge(&mut self, quota: &Quota, usage: &Usage, now: Instant) {
        self.roll(quota, now);
        self.touch(now);
        self.usage.tokens = self.usage.tokens.saturating_add(usage.total_tokens());
        self.usage.calls = self.usage.calls.saturating_add(1);
        self.usage.cost_usd += usage.cost_usd;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_rolls_and_asking_is_free() {
        let q = Quota {
            max_calls: Some(1),
            window_ms: 100,
            ..Quota::default()
        };
        let mut l = Ledger::new();
        let t0 = Instant::now();
        assert_eq!(l.admit(&q, 10, t0), Admission::Admit);
        l.reserve(10, t0);
        l.unreserve(10);
        l.charge(&q, &Usage::tokens(5, 5), t0);
        let until = t0 + Duration::from_millis(100);
        for _ in 0..10 {
            assert_eq!(l.admit(&q, 10, t0), Admission::WaitUntil(until));
        }
        assert_eq!(l.usage(&q, t0).calls, 1);
        assert_eq!(l.admit(&q, 10, until), Admission::Admit);
        assert_eq!(l.usage(&q, until).calls, 0);
    }

    #[test]
    fn reservations_prevent_overshoot_and_cost_exhausts_the_window() {
        let q = Quota {
            max_tokens: Some(100),
            max_cost_usd: Some(1.0),
            window_ms: 1_000,
            ..Quota::default()
        };
        let mut l = Ledger::new();
        let t0 = Instant::now();
        assert_eq!(l.admit(&q, 60, t0), Admission::Admit);
        l.reserve(60, t0);
        // 60 reserved + 60 more would exceed 100 even though nothing is charged yet.
        assert!(matches!(l.admit(&q, 60, t0), Admission::WaitUntil(_)));
        assert_eq!(l.admit(&q, 40, t0), Admission::Admit);
        l.unreserve(60);
        l.charge(
            &q,
            &Usage {
                input_tokens: 10,
                output_tokens: 10,
                cost_usd: 1.0,
            },
            t0,
        );
        assert!(
            matches!(l.admit(&q, 1, t0), Admission::WaitUntil(_)),
            "cost spent"
        );
        let later = t0 + Duration::from_millis(1_000);
        assert_eq!(l.admit(&q, 1, later), Admission::Admit);
        assert!(
            Ledger::precheck(&q, crate::pid::Pid::new(), 101).is_err(),
            "larger than the window"
        );
    }
}
