//! The provider actor: one per backend. It owns the backend's rate-limit queue — calls that
//! could not run on arrival wait there, in slice-priority order, for RPM/TPM/concurrency budget
//! and the breaker — and pumps it: when budget frees up or a pause or window entry ends, it
//! starts the admitted calls. A call that finds the queue empty and the budget open never
//! waits for the actor (see [`super::gate`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tracing::info;

use super::backend::{Backend, Timeouts};
use super::call::{Shared, drive, stopped, submit};
use super::estimate::{upper_embed, upper_reservation};
use super::gate::Gate;
use super::messages::{Chat, Embed, GetStats, Pump};
use super::queued::{Done, Job};
use super::retry::RetryPolicy;
use super::usage::UsageLedger;

/// Static settings of one provider actor.
#[derive(Clone, Debug)]
pub struct ProviderSettings {
    /// Backend name (logs, usage ledger).
    pub name: String,
    /// Budget limits.
    pub limits: super::budget::BudgetLimits,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Breaker settings.
    pub breaker: super::breaker::BreakerConfig,
    /// Attempt timeouts.
    pub timeouts: Timeouts,
}

/// The actor.
pub struct ProviderActor {
    shared: Arc<Shared>,
    kind: &'static str,
    wake: Option<(Instant, SpawnHandle)>,
}

impl ProviderActor {
    /// An actor driving `backend` under `settings`, recording usage into `ledger`.
    pub fn new(settings: ProviderSettings, backend: Arc<dyn Backend>, ledger: UsageLedger) -> Self {
        let gate = Gate::new(
            &settings.name,
            settings.limits,
            settings.retry,
            settings.breaker,
        );
        ProviderActor {
            kind: backend.kind(),
            shared: Arc::new(Shared {
                gate: parking_lot::Mutex::new(gate),
                backend,
                name: Arc::from(settings.name.as_str()),
                timeouts: settings.timeouts,
                ledger,
            }),
            wake: None,
        }
    }

    /// What the actor shares with the handles that call through it.
    pub(super) fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    fn schedule_wake(&mut self, at: Instant, ctx: &mut Context<Self>) {
        if let Some((t, h)) = self.wake {
            if t <= at {
                return;
            }
            ctx.cancel_future(h);
        }
        let delay = at.saturating_duration_since(Instant::now()) + Duration::from_millis(1);
        let h = ctx.run_later(delay, |act, ctx| {
            act.wake = None;
            act.pump(ctx);
        });
        self.wake = Some((at, h));
    }

    /// Starts every queued call the budget and breaker admit, each in its own task.
    fn pump(&mut self, ctx: &mut Context<Self>) {
        let out = self.shared.gate.lock().pump(Instant::now());
        for (q, e) in out.refused {
            // Queued calls always have their channel: nothing comes back.
            let _ = q.answer(Err(e));
        }
        for (q, permit) in out.go {
            let (shared, addr) = (Arc::clone(&self.shared), ctx.address());
            // The call has its channel (it was parked): `drive` answers on it.
            actix::spawn(async move {
                drive(&shared, &addr, q, Some(permit)).await;
            });
        }
        if let Some(t) = out.wake {
            self.schedule_wake(t, ctx);
        }
    }
}

impl Actor for ProviderActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Pumps are idempotent; keep the mailbox roomy so bursts never park a sender.
        ctx.set_mailbox_capacity(4096);
        info!(backend = %self.shared.name, kind = self.kind, "provider actor started");
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        for q in self.shared.gate.lock().drain() {
            let _ = q.answer(Err(stopped()));
        }
    }
}

impl Handler<Pump> for ProviderActor {
    type Result = ();

    fn handle(&mut self, _: Pump, ctx: &mut Context<Self>) {
        self.pump(ctx);
    }
}

impl Handler<Chat> for ProviderActor {
    type Result = ();

    fn handle(&mut self, msg: Chat, ctx: &mut Context<Self>) {
        let (shared, addr) = (Arc::clone(&self.shared), ctx.address());
        actix::spawn(async move {
            let upper = upper_reservation(&msg.req);
            let job = Job::Chat {
                req: Arc::new(msg.req),
                sink: msg.sink,
            };
            let job = (job, upper);
            let into = Done::into_chat;
            let r = submit(&shared, &addr, job, &msg.token, &msg.attempts, into).await;
            let _ = msg.reply.send(r);
        });
    }
}

impl Handler<Embed> for ProviderActor {
    type Result = ();

    fn handle(&mut self, msg: Embed, ctx: &mut Context<Self>) {
        let (shared, addr) = (Arc::clone(&self.shared), ctx.address());
        actix::spawn(async move {
            let upper = upper_embed(&msg.req.inputs);
            let job = Job::Embed { req: msg.req };
            let job = (job, upper);
            let into = Done::into_embed;
            let r = submit(&shared, &addr, job, &msg.token, &msg.attempts, into).await;
            let _ = msg.reply.send(r);
        });
    }
}

impl Handler<GetStats> for ProviderActor {
    type Result = MessageResult<GetStats>;

    fn handle(&mut self, _: GetStats, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.shared.gate.lock().stats(Instant::now()))
    }
}
