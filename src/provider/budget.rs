//! The rate-limit budget of one backend: sliding-window RPM and TPM, a concurrency cap, a
//! pause (429 + `retry-after`) and corrections from the server's rate-limit headers.
//!
//! Accounting is conservative so that a server enforcing the same limits never has to say 429:
//! a request is charged from the moment it is dispatched, and its charge leaves the window
//! `window` after its *response* arrived (the server admitted it earlier than that). The token
//! charge is an estimate (prompt + `max_tokens`) until the usage is known, then the actual
//! usage (over-estimates are refunded, under-estimates charged).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::headers::RateInfo;

/// `now + d`, or — should that not be representable — a year from now (never a panic).
pub(super) fn after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(365 * 86_400)))
        .unwrap_or(now)
}

/// Static limits of a backend.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct BudgetLimits {
    /// Requests per window (`None`: unlimited).
    pub(super) requests: Option<u64>,
    /// Tokens per window (`None`: unlimited).
    pub(super) tokens: Option<u64>,
    /// Window length (60 s for RPM/TPM; shorter in tests).
    pub(super) window: Duration,
    /// Requests in flight at once.
    pub(super) max_concurrency: usize,
}

/// Why a request cannot be dispatched yet.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Wait {
    /// Retry at this instant (a window entry expires or a pause ends).
    Until(Instant),
    /// Retry when an in-flight request completes.
    Completion,
}

/// Live budget state.
#[derive(Debug)]
pub(super) struct Budget {
    limits: BudgetLimits,
    /// Dispatched, not yet answered: how many, and the tokens they are charged.
    open: usize,
    open_tokens: u64,
    /// Answered, still in the window: (expiry, tokens), expiries non-decreasing.
    done: VecDeque<(Instant, u64)>,
    done_tokens: u64,
    paused_until: Option<Instant>,
    server_requests: Option<(u64, Instant)>,
    server_tokens: Option<(u64, Instant)>,
}

impl Budget {
    /// An empty budget.
    pub(super) fn new(limits: BudgetLimits) -> Self {
        Budget {
            limits,
            open: 0,
            open_tokens: 0,
            done: VecDeque::new(),
            done_tokens: 0,
            paused_until: None,
            server_requests: None,
            server_tokens: None,
        }
    }

    /// Requests in flight.
    pub(super) fn in_flight(&self) -> usize {
        self.open
    }

    /// Until when the backend is paused, if it is.
    pub(super) fn paused_until(&self, now: Instant) -> Option<Instant> {
        self.paused_until.filter(|p| *p > now)
    }

    fn earliest_expiry(&self) -> Wait {
        self.done
            .front()
            .map_or(Wait::Completion, |(t, _)| Wait::Until(*t))
    }

    /// The configured limits and the tokens a call could still reserve now.
    pub(super) fn snapshot(&self, now: Instant) -> super::stats::BudgetStats {
        super::stats::BudgetStats {
            rpm: self.limits.requests,
            tpm: self.limits.tokens,
            window_ms: u64::try_from(self.limits.window.as_millis()).unwrap_or(u64::MAX),
            max_concurrency: self.limits.max_concurrency,
            tokens_available: self.token_room(now),
        }
    }

    /// Tokens a new call could still reserve now: what is left of the TPM window and of the
    /// server's reported remaining tokens, whichever is smaller; `None` when neither limits
    /// tokens. (Window entries that expired but were not yet pruned still count, so this errs
    /// low.)
    pub(super) fn token_room(&self, now: Instant) -> Option<u64> {
        let local = self
            .limits
            .tokens
            .map(|tpm| tpm.saturating_sub(self.open_tokens.saturating_add(self.done_tokens)));
        let server = self
            .server_tokens
            .filter(|(_, reset)| *reset > now)
            .map(|(left, _)| left);
        match (local, server) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Tries to dispatch a request estimated at `tokens`; on success the request is in flight,
    /// charged `tokens`, until [`Budget::complete`] or [`Budget::release`] (the caller keeps
    /// the charge and settles it exactly once).
    pub(super) fn try_acquire(&mut self, now: Instant, tokens: u64) -> Result<u64, Wait> {
        if let Some(p) = self.paused_until(now) {
            return Err(Wait::Until(p));
        }
        if self.open >= self.limits.max_concurrency.max(1) {
            return Err(Wait::Completion);
        }
        while let Some((t, n)) = self.done.front().copied() {
            if t > now {
                break;
            }
            self.done.pop_front();
            self.done_tokens = self.done_tokens.saturating_sub(n);
        }
        if let Some(rpm) = self.limits.requests
            && self.open.saturating_add(self.done.len()) as u64 >= rpm
        {
            return Err(self.earliest_expiry());
        }
        if let Some(tpm) = self.limits.tokens {
            let used = self.open_tokens.saturating_add(self.done_tokens);
            // A request larger than the whole window still runs, alone.
            if used > 0 && used.saturating_add(tokens) > tpm {
                return Err(self.earliest_expiry());
            }
        }
        if let Some((left, reset)) = self.server_requests {
            if reset <= now {
                self.server_requests = None;
            } else if left == 0 {
                return Err(Wait::Until(reset));
            }
        }
        if let Some((left, reset)) = self.server_tokens {
            if reset <= now {
                self.server_tokens = None;
            } else if left < tokens {
                return Err(Wait::Until(reset));
            }
        }
        if let Some((left, _)) = &mut self.server_requests {
            *left = left.saturating_sub(1);
        }
        if let Some((left, _)) = &mut self.server_tokens {
            *left = left.saturating_sub(tokens);
        }
        self.open += 1;
        self.open_tokens = self.open_tokens.saturating_add(tokens);
        Ok(tokens)
    }

    /// Ends a dispatched request charged `charged`: its charge becomes `actual_tokens` when
    /// known and starts expiring now.
    pub(super) fn complete(&mut self, charged: u64, now: Instant, actual_tokens: Option<u64>) {
        self.release(charged);
        let tokens = actual_tokens.unwrap_or(charged);
        let expires = after(now, self.limits.window);
        // Keep expiries non-decreasing even if the clock readings of callers interleave.
        let expires = self.done.back().map_or(expires, |(t, _)| expires.max(*t));
        self.done.push_back((expires, tokens));
        self.done_tokens = self.done_tokens.saturating_add(tokens);
    }

    /// Takes a request charged `charged` out of the in-flight count without charging the
    /// window (it was not sent).
    pub(super) fn release(&mut self, charged: u64) {
        self.open = self.open.saturating_sub(1);
        self.open_tokens = self.open_tokens.saturating_sub(charged);
    }

    /// Pauses dispatch until `until` (429 with `retry-after`).
    pub(super) fn pause(&mut self, until: Instant) {
        if self.paused_until.is_none_or(|p| p < until) {
            self.paused_until = Some(until);
        }
    }

    /// Applies the server's view of the remaining budget (its reset durations are already
    /// clamped to the backend's `max_pause`).
    pub(super) fn observe(&mut self, info: &RateInfo, now: Instant) {
        if let (Some(left), Some(reset)) = (info.remaining_requests, info.reset_requests)
            && !reset.is_zero()
        {
            self.server_requests = Some((left, after(now, reset)));
        }
        if let (Some(left), Some(reset)) = (info.remaining_tokens, info.reset_tokens)
            && !reset.is_zero()
        {
            self.server_tokens = Some((left, after(now, reset)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> BudgetLimits {
        BudgetLimits {
            requests: Some(2),
            tokens: Some(100),
            window: Duration::from_secs(1),
            max_concurrency: 4,
        }
    }

    #[test]
    fn rpm_tpm_refund_and_pause() {
        let t0 = Instant::now();
        let mut b = Budget::new(limits());
        let p1 = b.try_acquire(t0, 80);
        assert!(p1.is_ok());
        assert_eq!(b.try_acquire(t0, 30), Err(Wait::Completion));
        if let Ok(p) = p1 {
            b.complete(p, t0, Some(20)); // refund 60
        }
        let p2 = b.try_acquire(t0, 30);
        assert!(p2.is_ok());
        // RPM 2 reached: wait for the first entry's expiry.
        assert_eq!(
            b.try_acquire(t0, 1),
            Err(Wait::Until(t0 + Duration::from_secs(1)))
        );
        let later = t0 + Duration::from_millis(1001);
        assert!(b.try_acquire(later, 1).is_ok());
        b.pause(later + Duration::from_secs(5));
        assert_eq!(
            b.try_acquire(later, 1),
            Err(Wait::Until(later + Duration::from_secs(5)))
        );
    }

    #[test]
    fn server_headers_tighten() {
        let t0 = Instant::now();
        let mut b = Budget::new(limits());
        let info = RateInfo {
            remaining_requests: Some(0),
            reset_requests: Some(Duration::from_millis(300)),
            ..RateInfo::default()
        };
        b.observe(&info, t0);
        assert_eq!(
            b.try_acquire(t0, 1),
            Err(Wait::Until(t0 + Duration::from_millis(300)))
        );
        assert!(b.try_acquire(t0 + Duration::from_millis(301), 1).is_ok());
    }
}
