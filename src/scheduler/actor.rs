//! The scheduler actor: drives time for the shared scheduling state.
//!
//! Acquisitions and releases are applied to the shared [`Core`](super::core) by the
//! [`super::Scheduler`] handles themselves, under the state's lock. What needs time stays here:
//! the expiry (reclaim) interval, the quota-window timers and the preemption retry timer. A
//! handle whose operation needs a timer sends [`Arm`]; the actor's own timer callbacks take the
//! same lock, let the core act, and arm whatever that asks for in turn.

use std::time::{Duration, Instant};

use actix::{Actor, AsyncContext, Context, Handler, SpawnHandle};

use super::core::Wakeups;
use super::error::SchedulerError;
use super::messages::Arm;
use super::shared::{Shared, State};

/// Timers fire on a millisecond wheel; waking a little late is harmless, early is not.
const TIMER_SLACK: Duration = Duration::from_millis(1);

/// The actor that drives the scheduler's timers. It is started (and reached) only through a
/// [`super::Scheduler`] handle: [`super::Scheduler::start`], `start_with_events` or
/// `start_in_arbiter`. When it stops (its arbiter or the system stops), every waiting request
/// fails with [`SchedulerError::Stopped`] and the handles refuse new work.
pub struct SchedulerActor {
    shared: Shared,
    preempt_timer: Option<(Instant, SpawnHandle)>,
}

impl std::fmt::Debug for SchedulerActor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulerActor")
            .field(
                "preempt_timer",
                &self.preempt_timer.as_ref().map(|(t, _)| t),
            )
            .finish_non_exhaustive()
    }
}

impl SchedulerActor {
    /// The actor for `shared`.
    pub(crate) fn new(shared: Shared) -> Self {
        SchedulerActor {
            shared,
            preempt_timer: None,
        }
    }

    /// Lets `op` change the state (it returns whether anything may now be granted), dispatches
    /// if so, and arms the timers the core asks for.
    fn step(&mut self, ctx: &mut Context<Self>, op: impl FnOnce(&mut State, Instant) -> bool) {
        let wake = {
            let mut st = self.shared.lock();
            let now = Instant::now();
            if !op(&mut st, now) || st.is_stopped() {
                return;
            }
            let wake = st.core.dispatch(now);
            st.claim(wake)
        };
        self.arm(wake, ctx);
    }

    fn arm(&mut self, wake: Wakeups, ctx: &mut Context<Self>) {
        let now = Instant::now();
        for (scope, until) in wake.quota {
            let delay = until.saturating_duration_since(now) + TIMER_SLACK;
            ctx.run_later(delay, move |act, ctx| {
                act.step(ctx, |st, _| {
                    st.core.wake(scope);
                    true
                });
            });
        }
        if let Some(at) = wake.preempt_at {
            if self.preempt_timer.as_ref().is_some_and(|(t, _)| *t <= at) {
                return;
            }
            if let Some((_, handle)) = self.preempt_timer.take() {
                ctx.cancel_future(handle);
            }
            let delay = at.saturating_duration_since(now) + TIMER_SLACK;
            let handle = ctx.run_later(delay, move |act, ctx| {
                act.preempt_timer = None;
                act.step(ctx, |st, _| {
                    st.preempt_fired(at);
                    true
                });
            });
            self.preempt_timer = Some((at, handle));
        }
    }

    /// Marks the shared state stopped and fails every waiting request (idempotent).
    fn shut(&self) {
        let waiters = self.shared.lock().stop();
        if !waiters.is_empty() {
            tracing::debug!(
                waiters = waiters.len(),
                "scheduler stopped, failing waiting requests"
            );
        }
        for w in waiters {
            let _ = w.reply.send(Err(SchedulerError::Stopped));
        }
    }
}

impl Actor for SchedulerActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let interval = self.shared.lock().core.reclaim_interval();
        ctx.run_interval(interval, |act, ctx| {
            act.step(ctx, |st, now| st.core.reclaim(now));
        });
        tracing::debug!("scheduler actor started");
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        self.shut();
        tracing::debug!("scheduler actor stopped");
    }
}

impl Drop for SchedulerActor {
    // An arbiter that stops drops its actors without `stopped`: the handles must still learn it.
    fn drop(&mut self) {
        self.shut();
    }
}

impl Handler<Arm> for SchedulerActor {
    type Result = ();

    fn handle(&mut self, msg: Arm, ctx: &mut Self::Context) {
        self.arm(msg.0, ctx);
    }
}
