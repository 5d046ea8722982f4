//! The scheduler actor: owns the scheduling state and arms its timers.

use std::time::{Duration, Instant};

use actix::{Actor, AsyncContext, Context, Handler, MessageResult, SpawnHandle};
use tokio::sync::mpsc::UnboundedSender;

use super::config::SchedulerConfig;
use super::core::{Core, Wakeups};
use super::error::SchedulerError;
use super::event::SchedulerEvent;
use super::messages::{Acquire, Forget, GetStats, Release, SetGlobalQuota, SetPolicy, SetQuota};

/// Mailbox capacity: acquisitions wait in the scheduler's queues, not in its mailbox, so the
/// mailbox is made large enough never to push back on `send`.
const MAILBOX_CAPACITY: usize = 1 << 20;

/// Timers fire on a millisecond wheel; waking a little late is harmless, early is not.
const TIMER_SLACK: Duration = Duration::from_millis(1);

/// The scheduler actor. Start it with [`super::Scheduler::start`] (or `Actor::start` and wrap
/// the address with [`super::Scheduler::from_addr`]).
pub struct SchedulerActor {
    core: Core,
    preempt_timer: Option<(Instant, SpawnHandle)>,
}

impl SchedulerActor {
    /// Builds the actor; fails if the configuration is invalid. `events`, if given, receives
    /// every [`SchedulerEvent`].
    pub fn new(
        config: SchedulerConfig,
        events: Option<UnboundedSender<SchedulerEvent>>,
    ) -> Result<Self, SchedulerError> {
        Ok(SchedulerActor {
            core: Core::new(config, events)?,
            preempt_timer: None,
        })
    }

    fn dispatch(&mut self, ctx: &mut Context<Self>) {
        let wake = self.core.dispatch(Instant::now());
        self.arm(wake, ctx);
    }

    fn arm(&mut self, wake: Wakeups, ctx: &mut Context<Self>) {
        let now = Instant::now();
        for (scope, until) in wake.quota {
            let delay = until.saturating_duration_since(now) + TIMER_SLACK;
            ctx.run_later(delay, move |act, ctx| {
                act.core.wake(scope);
                act.dispatch(ctx);
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
            let handle = ctx.run_later(delay, |act, ctx| {
                act.preempt_timer = None;
                act.dispatch(ctx);
            });
            self.preempt_timer = Some((at, handle));
        }
    }
}

impl Actor for SchedulerActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
        ctx.run_interval(self.core.reclaim_interval(), |act, ctx| {
            if act.core.reclaim(Instant::now()) {
                act.dispatch(ctx);
            }
        });
        tracing::debug!("scheduler actor started");
    }
}

impl Handler<Acquire> for SchedulerActor {
    type Result = ();

    fn handle(&mut self, msg: Acquire, ctx: &mut Self::Context) {
        self.core.submit(msg.request, msg.reply, Instant::now());
        self.dispatch(ctx);
    }
}

impl Handler<Release> for SchedulerActor {
    type Result = ();

    fn handle(&mut self, msg: Release, ctx: &mut Self::Context) {
        self.core.release(&msg.token, msg.usage, Instant::now());
        self.dispatch(ctx);
    }
}

impl Handler<SetPolicy> for SchedulerActor {
    type Result = ();

    fn handle(&mut self, msg: SetPolicy, ctx: &mut Self::Context) {
        self.core.set_policy(msg.0);
        self.dispatch(ctx);
    }
}

impl Handler<SetQuota> for SchedulerActor {
    type Result = Result<(), SchedulerError>;

    fn handle(&mut self, msg: SetQuota, ctx: &mut Self::Context) -> Self::Result {
        self.core.set_quota(msg.pid, msg.quota)?;
        self.dispatch(ctx);
        Ok(())
    }
}

impl Handler<SetGlobalQuota> for SchedulerActor {
    type Result = Result<(), SchedulerError>;

    fn handle(&mut self, msg: SetGlobalQuota, ctx: &mut Self::Context) -> Self::Result {
        self.core.set_global_quota(msg.0)?;
        self.dispatch(ctx);
        Ok(())
    }
}

impl Handler<Forget> for SchedulerActor {
    type Result = ();

    fn handle(&mut self, msg: Forget, ctx: &mut Self::Context) {
        self.core.forget(msg.0);
        self.dispatch(ctx);
    }
}

impl Handler<GetStats> for SchedulerActor {
    type Result = MessageResult<GetStats>;

    fn handle(&mut self, _msg: GetStats, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(self.core.stats(Instant::now()))
    }
}
