//! The provider actor: one per backend. It owns the backend's gate timers and lifetime: when a
//! window entry expires or a pause ends it lets the gate admit the calls waiting for that, and
//! when it stops every waiting call is answered `Unavailable`. Calls never pass through its
//! mailbox: they wait at the gate (see [`super::gate`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tracing::info;

use super::gate::{Arm, Gate};

/// The actor.
pub(crate) struct ProviderActor {
    gate: Arc<Gate>,
    name: Arc<str>,
    kind: &'static str,
}

impl ProviderActor {
    pub(crate) fn new(gate: Arc<Gate>, name: Arc<str>, kind: &'static str) -> Self {
        ProviderActor { gate, name, kind }
    }
}

impl Actor for ProviderActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.gate.attach(ctx.address().downgrade().recipient());
        info!(backend = %self.name, kind = self.kind, "provider actor started");
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.gate.stop();
    }
}

impl Handler<Arm> for ProviderActor {
    type Result = ();

    fn handle(&mut self, Arm(at): Arm, ctx: &mut Context<Self>) {
        // One millisecond late, so that the window entry or pause has certainly ended.
        let delay = at.saturating_duration_since(Instant::now()) + Duration::from_millis(1);
        ctx.run_later(delay, move |act, _| act.gate.timer(at));
    }
}
