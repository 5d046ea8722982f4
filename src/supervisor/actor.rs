//! The supervisor actor: OTP-style restart strategies, intensity and escalation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Actor, AsyncContext, Context, Handler, Recipient};
use dashmap::DashMap;
use tracing::{info, warn};

use crate::events::{EventBus, KernelEvent};
use crate::supervisor::messages::{AddChild, ChildCommand, ChildExited, ChildKey};
use crate::supervisor::window::RestartWindow;
use crate::supervisor::{ExitReason, RestartType, Strategy, SupervisorId, SupervisorSpec};

/// Addresses of every live supervisor, by id (shared with the kernel).
pub(crate) type SupervisorMap = Arc<DashMap<SupervisorId, actix::Addr<SupervisorActor>>>;

struct ChildSlot {
    key: ChildKey,
    restart: RestartType,
    handle: Recipient<ChildCommand>,
}

/// Supervises an ordered list of children (agents and sub-supervisors).
///
/// On an abnormal exit (or any non-explicit exit of a permanent child) it records a restart in
/// its intensity window; within the limit it restarts the group its strategy names, after a
/// backoff. Over the limit it halts all its children and escalates to its parent, which treats
/// the whole supervisor as one failed child. The root supervisor has no parent: over its
/// limit it terminates the failing child instead of restarting it.
pub(crate) struct SupervisorActor {
    id: SupervisorId,
    spec: SupervisorSpec,
    parent: Option<Recipient<ChildExited>>,
    children: Vec<ChildSlot>,
    window: RestartWindow,
    escalated: bool,
    events: EventBus,
    registry: SupervisorMap,
}

impl SupervisorActor {
    pub(crate) fn new(
        id: SupervisorId,
        spec: SupervisorSpec,
        parent: Option<Recipient<ChildExited>>,
        events: EventBus,
        registry: SupervisorMap,
    ) -> Self {
        let window = RestartWindow::new(spec.max_restarts, spec.period);
        SupervisorActor {
            id,
            spec,
            parent,
            children: Vec::new(),
            window,
            escalated: false,
            events,
            registry,
        }
    }

    fn parent_id(&self) -> Option<SupervisorId> {
        if self.id == SupervisorId::ROOT {
            None
        } else {
            Some(self.spec.parent.unwrap_or(SupervisorId::ROOT))
        }
    }

    fn index_of(&self, key: ChildKey) -> Option<usize> {
        self.children.iter().position(|c| c.key == key)
    }

    fn backoff(&self) -> Duration {
        let n = self.window.recent().saturating_sub(1).min(16);
        let d = self.spec.backoff_min.saturating_mul(1u32 << n);
        d.min(self.spec.backoff_max)
    }

    /// Halts every child and tells the parent (or, at the root, terminates the failing child).
    fn escalate(&mut self, failed: usize, reason: &ExitReason) {
        warn!(supervisor = %self.id, name = %self.spec.name, %reason, "restart intensity exceeded");
        let parent_id = self.parent_id();
        self.events.emit_with(|| KernelEvent::SupervisorEscalated {
            supervisor: self.id,
            parent: parent_id,
        });
        match &self.parent {
            Some(parent) => {
                self.escalated = true;
                for child in &self.children {
                    child.handle.do_send(ChildCommand::Halt);
                }
                parent.do_send(ChildExited {
                    key: ChildKey::Supervisor(self.id),
                    reason: ExitReason::Crashed(format!(
                        "supervisor {} exceeded {} restarts in {:?}",
                        self.id, self.spec.max_restarts, self.spec.period
                    )),
                });
            }
            None => {
                // The root never dies: the failing child is terminated with its own reason.
                let child = self.children.remove(failed);
                child.handle.do_send(ChildCommand::Terminate(reason.clone()));
            }
        }
    }

    fn restart_group(&mut self, failed: usize, ctx: &mut Context<Self>) {
        let range = match self.spec.strategy {
            Strategy::OneForOne => failed..failed + 1,
            Strategy::OneForAll => 0..self.children.len(),
            Strategy::RestForOne => failed..self.children.len(),
        };
        let mut group = Vec::new();
        let mut temporary = Vec::new();
        for i in range {
            let child = &self.children[i];
            if i != failed && child.restart == RestartType::Temporary {
                temporary.push(child.key);
                continue;
            }
            if i != failed {
                // Siblings stop handling at once; they restart together with the failed child.
                child.handle.do_send(ChildCommand::Halt);
            }
            group.push(child.handle.clone());
        }
        for key in temporary {
            if let Some(i) = self.index_of(key) {
                let child = self.children.remove(i);
                child
                    .handle
                    .do_send(ChildCommand::Terminate(ExitReason::SupervisorShutdown));
            }
        }
        let delay = self.backoff();
        ctx.run_later(delay, move |_, _| {
            for handle in group {
                handle.do_send(ChildCommand::Restart);
            }
        });
    }

    fn terminate_all(&mut self, reason: ExitReason) {
        for child in self.children.drain(..) {
            child.handle.do_send(ChildCommand::Terminate(reason.clone()));
        }
    }
}

impl Actor for SupervisorActor {
    type Context = Context<Self>;
}

impl Handler<AddChild> for SupervisorActor {
    type Result = ();

    fn handle(&mut self, msg: AddChild, _ctx: &mut Context<Self>) {
        self.children.push(ChildSlot {
            key: msg.key,
            restart: msg.restart,
            handle: msg.handle,
        });
    }
}

impl Handler<ChildExited> for SupervisorActor {
    type Result = ();

    fn handle(&mut self, msg: ChildExited, ctx: &mut Context<Self>) {
        let Some(idx) = self.index_of(msg.key) else {
            return;
        };
        if msg.reason.is_explicit() {
            self.children.remove(idx);
            return;
        }
        if self.escalated {
            // Halted while our parent decides; the decision restarts or terminates everyone.
            return;
        }
        let restart = match self.children[idx].restart {
            RestartType::Permanent => true,
            RestartType::Transient => msg.reason.is_abnormal(),
            RestartType::Temporary => false,
        };
        if !restart {
            let child = self.children.remove(idx);
            child.handle.do_send(ChildCommand::Terminate(msg.reason));
            return;
        }
        if !self.window.record(Instant::now()) {
            self.escalate(idx, &msg.reason);
            return;
        }
        info!(supervisor = %self.id, child = ?msg.key, reason = %msg.reason, "restarting");
        self.restart_group(idx, ctx);
    }
}

/// A supervisor is itself a child of its parent supervisor.
impl Handler<ChildCommand> for SupervisorActor {
    type Result = ();

    fn handle(&mut self, msg: ChildCommand, ctx: &mut Context<Self>) {
        match msg {
            ChildCommand::Halt => {
                self.escalated = true;
                for child in &self.children {
                    child.handle.do_send(ChildCommand::Halt);
                }
            }
            ChildCommand::Restart => {
                self.escalated = false;
                self.window.clear();
                let temporary: Vec<ChildKey> = self
                    .children
                    .iter()
                    .filter(|c| c.restart == RestartType::Temporary)
                    .map(|c| c.key)
                    .collect();
                for key in temporary {
                    if let Some(i) = self.index_of(key) {
                        let child = self.children.remove(i);
                        child
                            .handle
                            .do_send(ChildCommand::Terminate(ExitReason::SupervisorShutdown));
                    }
                }
                for child in &self.children {
                    child.handle.do_send(ChildCommand::Restart);
                }
            }
            ChildCommand::Terminate(_) => {
                self.terminate_all(ExitReason::SupervisorShutdown);
                self.registry.remove(&self.id);
                actix::ActorContext::stop(ctx);
            }
        }
    }
}
