//! The rate-limit gate of one backend: its queue, RPM/TPM/concurrency budget, breaker and
//! counters, under one lock. Admission is one awaitable step, [`Gate::admit`]: a call that
//! finds nobody queued ahead and the budget and breaker open gets its [`Permit`] at once; any
//! other call waits in the queue, in priority order, until an attempt's end, a caller leaving
//! or the provider actor's timer (a window entry expiring, a pause ending) lets the head go.
//! Every admission is decided under the lock, in one total order.

use std::collections::BinaryHeap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use actix::{Message, WeakRecipient};
use parking_lot::Mutex;
use tokio::sync::oneshot;
use tracing::{info, warn};

use super::breaker::{BreakerConfig, BreakerState, CircuitBreaker};
use super::budget::{Budget, BudgetLimits, Wait, after};
use super::error::ProviderError;
use super::headers::RateInfo;
use super::stats::ProviderStats;

/// Asks the provider actor to call [`Gate::timer`] at this instant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arm(pub(crate) Instant);

impl Message for Arm {
    type Result = ();
}

/// A call waiting for admission.
struct Waiter {
    priority: u8,
    seq: u64,
    charge: u64,
    tx: oneshot::Sender<Result<Grant, ProviderError>>,
}

impl PartialEq for Waiter {
    fn eq(&self, o: &Self) -> bool {
        (self.priority, self.seq) == (o.priority, o.seq)
    }
}
impl Eq for Waiter {}
impl PartialOrd for Waiter {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Waiter {
    /// Max-heap order: lower priority number first, then earlier arrival.
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        o.priority.cmp(&self.priority).then(o.seq.cmp(&self.seq))
    }
}

/// An admission as the lock hands it out: a budget claim of `charge` tokens, settled exactly
/// once (by [`Permit`], or under the lock when its waiter is gone).
#[derive(Debug)]
struct Grant {
    charge: u64,
}

/// What one admission check found.
enum Admit {
    Go(Grant),
    Wait(Option<Instant>),
    Refuse(ProviderError),
}

struct State {
    budget: Budget,
    breaker: CircuitBreaker,
    queue: BinaryHeap<Waiter>,
    seq: u64,
    stats: ProviderStats,
    /// The earliest instant the actor's timer is armed for.
    armed: Option<Instant>,
    stopped: bool,
}

/// See the module docs.
pub(crate) struct Gate {
    name: Arc<str>,
    state: Mutex<State>,
    /// The provider actor's timer (weak: the gate does not keep its actor alive).
    timer: OnceLock<WeakRecipient<Arm>>,
}

fn stopped() -> ProviderError {
    ProviderError::Unavailable("provider actor stopped".into())
}

impl State {
    fn breaker_open(&self, name: &str) -> ProviderError {
        ProviderError::BreakerOpen {
            backend: name.to_owned(),
        }
    }

    fn try_admit(&mut self, name: &str, charge: u64, now: Instant) -> Admit {
        if let BreakerState::Open(_) = self.breaker.state(now) {
            return Admit::Refuse(self.breaker_open(name));
        }
        match self.budget.try_acquire(now, charge) {
            Err(Wait::Until(t)) => Admit::Wait(Some(t)),
            Err(Wait::Completion) => Admit::Wait(None),
            // Half-open with its probe out: wait for the probe's outcome.
            Ok(charge) if !self.breaker.allow(now) => {
                self.budget.release(charge);
                Admit::Wait(None)
            }
            Ok(charge) => {
                self.stats.attempts += 1;
                Admit::Go(Grant { charge })
            }
        }
    }

    /// Admits queued calls, head first, while the budget and breaker allow. Returns the
    /// instant the timer must be armed for, if it is not armed for that or earlier already.
    fn pump(&mut self, name: &str, now: Instant) -> Option<Instant> {
        while let Some(head) = self.queue.peek() {
            if head.tx.is_closed() {
                self.queue.pop();
                continue;
            }
            let charge = head.charge;
            match self.try_admit(name, charge, now) {
                Admit::Go(grant) => {
                    let Some(w) = self.queue.pop() else { break };
                    if let Err(Ok(grant)) = w.tx.send(Ok(grant)) {
                        // The caller left between the check and the send.
                        self.budget.release(grant.charge);
                    }
                }
                Admit::Refuse(e) => {
                    // The breaker is open: nothing queued can go.
                    for w in std::mem::take(&mut self.queue) {
                        self.stats.failed += 1;
                        let _ = w.tx.send(Err(e.clone()));
                    }
                }
                Admit::Wait(None) => return None,
                Admit::Wait(Some(t)) => {
                    if self.armed.is_some_and(|a| a <= t) {
                        return None;
                    }
                    self.armed = Some(t);
                    return Some(t);
                }
            }
        }
        None
    }
}

impl Gate {
    pub(crate) fn new(name: Arc<str>, limits: BudgetLimits, breaker: BreakerConfig) -> Self {
        let stats = ProviderStats {
            backend: name.to_string(),
            ..ProviderStats::default()
        };
        Gate {
            name,
            state: Mutex::new(State {
                budget: Budget::new(limits),
                breaker: CircuitBreaker::new(breaker),
                queue: BinaryHeap::new(),
                seq: 0,
                stats,
                armed: None,
                stopped: false,
            }),
            timer: OnceLock::new(),
        }
    }

    /// Connects the provider actor's timer (once, when the actor starts).
    pub(crate) fn attach(&self, timer: WeakRecipient<Arm>) {
        let _ = self.timer.set(timer);
    }

    fn arm(&self, wake: Option<Instant>) {
        if let Some(t) = wake
            && let Some(timer) = self.timer.get().and_then(WeakRecipient::upgrade)
        {
            timer.do_send(Arm(t));
        }
    }

    /// Tokens a call could still reserve now (`None`: nothing limits tokens).
    pub(crate) fn token_room(&self) -> Option<u64> {
        self.state.lock().budget.token_room(Instant::now())
    }

    /// Waits until the budget and the breaker admit a call of `charge` tokens, in `priority`
    /// order (0 first, ties in arrival order). Fails at once with `BreakerOpen` while the
    /// breaker is open (and a waiting call fails when it opens), with `Unavailable` once the
    /// provider actor stopped. Dropping the future leaves the queue; a permit granted to a
    /// dropped future is handed back uncharged.
    pub(crate) async fn admit(
        &self,
        priority: u8,
        charge: u64,
    ) -> Result<Permit<'_>, ProviderError> {
        let rx = {
            let now = Instant::now();
            let mut s = self.state.lock();
            if s.stopped {
                return Err(stopped());
            }
            if s.queue.is_empty() {
                match s.try_admit(&self.name, charge, now) {
                    Admit::Go(grant) => return Ok(self.permit(grant)),
                    Admit::Refuse(e) => {
                        s.stats.failed += 1;
                        return Err(e);
                    }
                    Admit::Wait(_) => {}
                }
            }
            let (tx, rx) = oneshot::channel();
            s.seq += 1;
            let seq = s.seq;
            s.queue.push(Waiter {
                priority,
                seq,
                charge,
                tx,
            });
            let wake = s.pump(&self.name, now);
            drop(s);
            self.arm(wake);
            rx
        };
        let mut waiting = Waiting {
            gate: self,
            rx,
            answered: false,
        };
        let answer = (&mut waiting.rx).await;
        waiting.answered = true;
        Ok(self.permit(answer.map_err(|_| stopped())??))
    }

    fn permit(&self, grant: Grant) -> Permit<'_> {
        Permit {
            gate: self,
            charge: grant.charge,
            settled: false,
        }
    }

    /// Settles a permit: `Ok` with the actual tokens (`None`: keep the charge) of a finished
    /// attempt, or the failure of one; pauses the backend on a 429 for `pause`.
    fn settle(&self, charge: u64, outcome: Settled<'_>) {
        let now = Instant::now();
        let mut s = self.state.lock();
        let (rate, tokens) = match &outcome {
            Settled::Done { rate, tokens, .. } => (Some(*rate), *tokens),
            Settled::Failed { rate, .. } => (Some(*rate), None),
            Settled::Abandoned => (None, None),
        };
        if let Some(rate) = rate {
            s.budget.observe(rate, now);
        }
        // An abandoned attempt's charge stays in the window (the server may have counted it);
        // its concurrency slot is free again.
        s.budget.complete(charge, now, tokens);
        match outcome {
            Settled::Done { preempted, .. } => {
                s.breaker.on_success();
                s.stats.succeeded += 1;
                s.stats.preempted += u64::from(preempted);
            }
            Settled::Failed {
                error,
                pause,
                retry,
                ..
            } => {
                if let Some(pause) = pause {
                    s.stats.rate_limited += 1;
                    info!(backend = %self.name, ?pause, "429: pausing the whole backend");
                    s.budget.pause(after(now, pause));
                }
                if error.counts_for_breaker() && s.breaker.on_failure(now) {
                    s.stats.breaker_opened += 1;
                    warn!(backend = %self.name, %error, "circuit breaker opened");
                }
                if retry {
                    s.stats.retries += 1;
                } else {
                    s.stats.failed += 1;
                }
            }
            Settled::Abandoned => {}
        }
        let wake = s.pump(&self.name, now);
        drop(s);
        self.arm(wake);
    }

    /// Applies `f` under the lock, then admits what the budget allows.
    fn update(&self, f: impl FnOnce(&mut State)) {
        let mut s = self.state.lock();
        f(&mut s);
        let wake = s.pump(&self.name, Instant::now());
        drop(s);
        self.arm(wake);
    }

    /// Takes back an admission that sent nothing (nothing is charged).
    fn release_unused(&self, charge: u64) {
        self.update(|s| s.budget.release(charge));
    }

    /// The provider actor's timer armed for `at` fired: admits what the budget now allows.
    pub(crate) fn timer(&self, at: Instant) {
        self.update(|s| {
            if s.armed.is_some_and(|a| a <= at) {
                s.armed = None;
            }
        });
    }

    /// The provider actor stopped: every waiting call is answered `Unavailable`, and so is
    /// every later one.
    pub(crate) fn stop(&self) {
        let mut s = self.state.lock();
        s.stopped = true;
        for w in std::mem::take(&mut s.queue) {
            let _ = w.tx.send(Err(stopped()));
        }
    }

    /// A snapshot of the counters and state.
    pub(crate) fn stats(&self) -> ProviderStats {
        let now = Instant::now();
        let mut s = self.state.lock();
        let mut out = s.stats.clone();
        out.queued = s.queue.iter().filter(|w| !w.tx.is_closed()).count();
        out.in_flight = s.budget.in_flight();
        out.breaker = Some(s.breaker.state(now));
        out.paused_until = s.budget.paused_until(now);
        out.budget = s.budget.snapshot(now);
        out
    }
}

/// A call's place in the queue. Leaving it unanswered (the caller's future dropped) hands back
/// a grant that arrived meanwhile, and lets the calls behind it go if it was holding them up.
struct Waiting<'g> {
    gate: &'g Gate,
    rx: oneshot::Receiver<Result<Grant, ProviderError>>,
    answered: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        // After `close`, a grant is either in the channel (taken back here) or refused to the
        // sender (which takes it back under the lock).
        self.rx.close();
        match self.rx.try_recv() {
            Ok(Ok(grant)) => self.gate.release_unused(grant.charge),
            // It may have been the head holding the others up.
            _ => self.gate.update(|_| {}),
        }
    }
}

/// How an attempt ended, for the budget and the breaker.
enum Settled<'a> {
    Done {
        rate: &'a RateInfo,
        tokens: Option<u64>,
        preempted: bool,
    },
    Failed {
        error: &'a ProviderError,
        rate: &'a RateInfo,
        pause: Option<Duration>,
        retry: bool,
    },
    Abandoned,
}

/// An admitted call's claim on the gate: one request in flight and its token charge. Settle
/// it with [`Permit::succeeded`] or [`Permit::failed`]; dropped unsettled (the caller went
/// away mid-attempt) it frees the concurrency slot and leaves the charge in the window.
#[must_use = "a permit holds a concurrency slot until settled"]
pub(crate) struct Permit<'g> {
    gate: &'g Gate,
    charge: u64,
    settled: bool,
}

impl Permit<'_> {
    /// The attempt succeeded: the charge becomes `tokens` (the usage) when known.
    pub(crate) fn succeeded(mut self, rate: &RateInfo, tokens: Option<u64>, preempted: bool) {
        self.settled = true;
        let done = Settled::Done {
            rate,
            tokens,
            preempted,
        };
        self.gate.settle(self.charge, done);
    }

    /// The attempt failed: charged as reserved; a 429 pauses the backend for `pause`; the
    /// breaker counts it; `retry` says whether the call tries again.
    pub(crate) fn failed(
        mut self,
        error: &ProviderError,
        rate: &RateInfo,
        pause: Option<Duration>,
        retry: bool,
    ) {
        self.settled = true;
        let failed = Settled::Failed {
            error,
            rate,
            pause,
            retry,
        };
        self.gate.settle(self.charge, failed);
    }

    /// Hands the permit back unused (nothing was sent): nothing is charged.
    pub(crate) fn cancel(mut self) {
        self.settled = true;
        self.gate.release_unused(self.charge);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.gate.settle(self.charge, Settled::Abandoned);
        }
    }
}
