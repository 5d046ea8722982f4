//! The rate-limit gate of one backend: its queue, budget, breaker and counters, shared under
//! one lock by the provider actor and the callers.
//!
//! A call that finds the queue empty and the budget open is admitted at once and runs in its
//! caller's task (no actor hop); any other call waits in the queue, in priority order, until
//! the actor pumps it. Every admission is decided here, under the lock, in one total order.

use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use super::backend::Failed;
use super::breaker::{BreakerState, CircuitBreaker};
use super::budget::{Budget, Permit, Wait};
use super::error::ProviderError;
use super::headers::RateInfo;
use super::messages::ProviderStats;
use super::queued::{Pending, Queued};
use super::retry::RetryPolicy;

/// How a call entering the gate goes on.
pub(super) enum Entry {
    /// Admitted: run the attempt under this permit.
    Go(Queued, Permit),
    /// Queued: the actor's pump dispatches it (and answers it) later, on the receiver given
    /// here (`None`: on the one the call already had).
    Parked(Option<Pending>),
    /// Refused without an attempt (the call is handed back to be answered).
    Refused(Queued, ProviderError),
}

/// What one admission check found.
enum Admit {
    Go(Permit),
    Wait(Option<Instant>),
    Refuse(ProviderError),
}

/// What a pump pass produced, to act on once the lock is released.
#[derive(Default)]
pub(super) struct Pumped {
    /// Admitted calls with their permits.
    pub(super) go: Vec<(Queued, Permit)>,
    /// Calls refused (invalid slice, open breaker).
    pub(super) refused: Vec<(Queued, ProviderError)>,
    /// Pump again at this instant (a window entry expires or a pause ends).
    pub(super) wake: Option<Instant>,
}

/// After a failed attempt: retry it (after the delay) or answer it with the error.
pub(super) enum Verdict {
    Retry(Duration),
    Fail(ProviderError),
}

/// See the module docs.
pub(super) struct Gate {
    name: String,
    retry: RetryPolicy,
    budget: Budget,
    breaker: CircuitBreaker,
    queue: BinaryHeap<Queued>,
    seq: u64,
    stats: ProviderStats,
}

impl Gate {
    pub(super) fn new(
        name: &str,
        limits: super::budget::BudgetLimits,
        retry: RetryPolicy,
        breaker: super::breaker::BreakerConfig,
    ) -> Self {
        Gate {
            name: name.to_string(),
            retry,
            budget: Budget::new(limits),
            breaker: CircuitBreaker::new(breaker),
            queue: BinaryHeap::new(),
            seq: 0,
            stats: ProviderStats {
                backend: name.to_string(),
                ..ProviderStats::default()
            },
        }
    }

    fn breaker_open(&self) -> ProviderError {
        ProviderError::BreakerOpen {
            backend: self.name.clone(),
        }
    }

    /// A call arrives (or comes back for a retry). It runs now only if nothing waits ahead of
    /// it and the budget and breaker admit it; otherwise it joins the queue.
    pub(super) fn enter(&mut self, mut q: Queued, now: Instant) -> Entry {
        if !q.token.is_valid_at(now) {
            self.stats.failed += 1;
            return Entry::Refused(q, ProviderError::InvalidToken);
        }
        if q.seq == 0 {
            self.seq += 1;
            q.seq = self.seq;
        }
        if !self.queue.is_empty() {
            return Entry::Parked(self.park(q));
        }
        match self.admit(&mut q, now) {
            Admit::Go(permit) => Entry::Go(q, permit),
            Admit::Refuse(e) => {
                self.stats.failed += 1;
                Entry::Refused(q, e)
            }
            Admit::Wait(_) => Entry::Parked(self.park(q)),
        }
    }

    fn park(&mut self, mut q: Queued) -> Option<Pending> {
        let rx = q.park();
        self.queue.push(q);
        rx
    }

    fn admit(&mut self, q: &mut Queued, now: Instant) -> Admit {
        if let BreakerState::Open(_) = self.breaker.state(now) {
            return Admit::Refuse(self.breaker_open());
        }
        let charge = q.charge(self.budget.token_room(now));
        match self.budget.try_acquire(now, charge) {
            Err(Wait::Until(t)) => Admit::Wait(Some(t)),
            Err(Wait::Completion) => Admit::Wait(None),
            // Half-open with its probe out: wait for the probe's outcome.
            Ok(permit) if !self.breaker.allow(now) => {
                self.budget.cancel(permit);
                Admit::Wait(None)
            }
            Ok(permit) => {
                self.stats.attempts += 1;
                Admit::Go(permit)
            }
        }
    }

    /// Admits queued calls, head first, while the budget and breaker allow.
    pub(super) fn pump(&mut self, now: Instant) -> Pumped {
        let mut out = Pumped::default();
        while let Some(mut q) = self.queue.pop() {
            if q.abandoned() {
                continue;
            }
            if !q.token.is_valid_at(now) {
                self.stats.failed += 1;
                out.refused.push((q, ProviderError::InvalidToken));
                continue;
            }
            match self.admit(&mut q, now) {
                Admit::Go(permit) => out.go.push((q, permit)),
                Admit::Refuse(e) => {
                    // The breaker is open: nothing queued can go.
                    let before = out.refused.len();
                    out.refused.push((q, e));
                    for q in std::mem::take(&mut self.queue).into_vec() {
                        out.refused.push((q, self.breaker_open()));
                    }
                    self.stats.failed += (out.refused.len() - before) as u64;
                    break;
                }
                Admit::Wait(wake) => {
                    self.queue.push(q);
                    out.wake = wake;
                    self.sweep_invalid(&mut out.refused);
                    break;
                }
            }
        }
        out
    }

    /// While blocked, takes out the queued calls whose slice was revoked or expired meanwhile.
    fn sweep_invalid(&mut self, refused: &mut Vec<(Queued, ProviderError)>) {
        if self
            .queue
            .iter()
            .all(|q| q.token.is_valid() && !q.abandoned())
        {
            return;
        }
        let (keep, gone): (Vec<_>, Vec<_>) = std::mem::take(&mut self.queue)
            .into_vec()
            .into_iter()
            .partition(|q| q.token.is_valid() && !q.abandoned());
        self.queue = keep.into();
        for q in gone.into_iter().filter(|q| !q.abandoned()) {
            self.stats.failed += 1;
            refused.push((q, ProviderError::InvalidToken));
        }
    }

    /// An attempt succeeded. Returns true when calls are waiting (the actor should pump).
    pub(super) fn succeeded(
        &mut self,
        permit: Permit,
        rate: &RateInfo,
        tokens: Option<u64>,
        preempted: bool,
        now: Instant,
    ) -> bool {
        self.budget.observe(rate, now);
        self.budget.complete(permit, now, tokens);
        self.breaker.on_success();
        self.stats.succeeded += 1;
        self.stats.preempted += u64::from(preempted);
        !self.queue.is_empty()
    }

    /// An attempt was abandoned half-way (its caller went away): its reservation stays charged,
    /// as the server may have counted it. Returns true when calls are waiting.
    pub(super) fn attempt_dropped(&mut self, permit: Permit, now: Instant) -> bool {
        self.budget.complete(permit, now, None);
        !self.queue.is_empty()
    }

    /// An attempt of `q` failed: charges it, pauses the backend on a 429, feeds the breaker and
    /// decides between a retry and the end. Also returns true when calls are waiting.
    pub(super) fn failed(
        &mut self,
        permit: Permit,
        q: &Queued,
        failed: Failed,
        now: Instant,
    ) -> (Verdict, bool) {
        let Failed { error, rate } = failed;
        self.budget.observe(&rate, now);
        self.budget.complete(permit, now, None);
        let name = &self.name;
        if let ProviderError::RateLimited { retry_after, .. } = &error {
            self.stats.rate_limited += 1;
            let pause = retry_after.unwrap_or_else(|| self.retry.backoff(q.tries));
            info!(backend = %name, ?pause, "429: pausing the whole backend");
            self.budget.pause(now + pause);
        }
        if error.counts_for_breaker() && self.breaker.on_failure(now) {
            self.stats.breaker_opened += 1;
            warn!(backend = %name, %error, "circuit breaker opened");
        }
        let waiting = !self.queue.is_empty();
        let retry = error.is_transient()
            && q.tries < self.retry.max_attempts
            && q.token.is_valid()
            && q.attempts.take();
        if !retry {
            debug!(backend = %name, %error, tries = q.tries, "call failed");
            self.stats.failed += 1;
            return (Verdict::Fail(error), waiting);
        }
        self.stats.retries += 1;
        let delay = match error {
            // The pause already holds dispatch back.
            ProviderError::RateLimited { .. } => Duration::ZERO,
            _ => self.retry.backoff(q.tries),
        };
        debug!(backend = %name, %error, ?delay, tries = q.tries, "retrying");
        (Verdict::Retry(delay), waiting)
    }

    /// Takes every queued call out (the actor is stopping).
    pub(super) fn drain(&mut self) -> Vec<Queued> {
        std::mem::take(&mut self.queue).into_vec()
    }

    /// A snapshot of the counters and state.
    pub(super) fn stats(&mut self, now: Instant) -> ProviderStats {
        let mut s = self.stats.clone();
        s.queued = self.queue.len();
        s.in_flight = self.budget.in_flight();
        s.breaker = Some(self.breaker.state(now));
        s.paused_until = self.budget.paused_until(now);
        s
    }
}
