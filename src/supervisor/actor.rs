//! The supervisor actor: OTP-style restart strategies, intensity and escalation.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Actor, ActorContext, AsyncContext, Context, Handler, Recipient};
use dashmap::DashMap;
use tokio::sync::oneshot;
use tracing::{info, warn};

use crate::events::{EventBus, KernelEvent};
use crate::supervisor::messages::{AddChild, ChildCommand, ChildExited, ChildKey, StopSupervisor};
use crate::supervisor::window::RestartWindow;
use crate::supervisor::{ExitReason, RestartType, Strategy, SupervisorId, SupervisorSpec};

/// Addresses of every live supervisor, by id (shared with the kernel).
pub(crate) type SupervisorMap = Arc<DashMap<SupervisorId, actix::Addr<SupervisorActor>>>;

struct ChildSlot {
    key: ChildKey,
    restart: RestartType,
    /// The child's own restart limit.
    window: Option<RestartWindow>,
    handle: Recipient<ChildCommand>,
}

/// Children in start order with O(log n) lookup by key (a kernel may supervise 100 000
/// agents under one supervisor; exits must not cost O(n) each).
#[derive(Default)]
struct Children {
    by_seq: BTreeMap<u64, ChildSlot>,
    seq_of: HashMap<ChildKey, u64>,
    next: u64,
}

impl Children {
    fn push(&mut self, slot: ChildSlot) {
        let seq = self.next;
        self.next += 1;
        self.seq_of.insert(slot.key, seq);
        self.by_seq.insert(seq, slot);
    }

    fn seq(&self, key: ChildKey) -> Option<u64> {
        self.seq_of.get(&key).copied()
    }

    fn get(&self, seq: u64) -> Option<&ChildSlot> {
        self.by_seq.get(&seq)
    }

    fn get_mut(&mut self, seq: u64) -> Option<&mut ChildSlot> {
        self.by_seq.get_mut(&seq)
    }

    fn remove(&mut self, seq: u64) -> Option<ChildSlot> {
        let slot = self.by_seq.remove(&seq)?;
        self.seq_of.remove(&slot.key);
        Some(slot)
    }

    fn iter(&self) -> impl Iterator<Item = (&u64, &ChildSlot)> {
        self.by_seq.iter()
    }

    /// Children from `seq` on (start order), or all of them.
    fn range_from(&self, seq: u64) -> impl Iterator<Item = (&u64, &ChildSlot)> {
        self.by_seq.range(seq..)
    }

    fn drain(&mut self) -> Vec<ChildSlot> {
        self.seq_of.clear();
        std::mem::take(&mut self.by_seq).into_values().collect()
    }
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
    children: Children,
    window: RestartWindow,
    escalated: bool,
    /// Stopping gracefully: who waits for the end (empty when the parent asked).
    stopping: Option<Vec<oneshot::Sender<()>>>,
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
            children: Children::default(),
            window,
            escalated: false,
            stopping: None,
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

    fn backoff(&self) -> Duration {
        let n = self.window.recent().saturating_sub(1).min(16);
        let d = self.spec.backoff_min.saturating_mul(1u32 << n);
        d.min(self.spec.backoff_max)
    }

    /// Halts every child and tells the parent (or, at the root, terminates the failing child).
    fn escalate(&mut self, failed: u64, reason: &ExitReason) {
        warn!(supervisor = %self.id, name = %self.spec.name, %reason, "restart intensity exceeded");
        let parent_id = self.parent_id();
        self.events.emit_with(|| KernelEvent::SupervisorEscalated {
            supervisor: self.id,
            parent: parent_id,
        });
        match &self.parent {
            Some(parent) => {
                self.escalated = true;
                for (_, child) in self.children.iter() {
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
                if let Some(child) = self.children.remove(failed) {
                    child
                        .handle
                        .do_send(ChildCommand::Terminate(reason.clone()));
                }
            }
        }
    }

    fn restart_group(&mut self, failed: u64, ctx: &mut Context<Self>) {
        let members: Vec<(u64, &ChildSlot)> = match self.spec.strategy {
            Strategy::OneForOne => self
                .children
                .get(failed)
                .map(|c| (failed, c))
                .into_iter()
                .collect(),
            Strategy::OneForAll => self.children.iter().map(|(s, c)| (*s, c)).collect(),
            Strategy::RestForOne => self
                .children
                .range_from(failed)
                .map(|(s, c)| (*s, c))
                .collect(),
        };
        let mut group = Vec::new();
        let mut temporary = Vec::new();
        for (seq, child) in members {
            if seq != failed && child.restart == RestartType::Temporary {
                temporary.push(seq);
                continue;
            }
            if seq != failed {
                // Siblings stop handling at once; they restart together with the failed child.
                child.handle.do_send(ChildCommand::Halt);
            }
            group.push(child.handle.clone());
        }
        for seq in temporary {
            if let Some(child) = self.children.remove(seq) {
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

    /// Starts a graceful stop (once): no new spawns under it, every child told to shut down;
    /// `done` fires when it has ended.
    fn begin_stop(&mut self, done: Option<oneshot::Sender<()>>, ctx: &mut Context<Self>) {
        let first = self.stopping.is_none();
        self.stopping.get_or_insert_with(Vec::new).extend(done);
        if first {
            // (The kernel already removed it when the stop came through `stop_supervisor`.)
            info!(supervisor = %self.id, name = %self.spec.name, "supervisor stopping");
            self.registry.remove(&self.id);
            for (_, child) in self.children.iter() {
                child
                    .handle
                    .do_send(ChildCommand::Shutdown(ExitReason::SupervisorShutdown));
            }
        }
        self.finish_stop_if_done(ctx);
    }

    /// Once a stopping supervisor has no child left: leaves its parent, answers its waiters,
    /// stops.
    fn finish_stop_if_done(&mut self, ctx: &mut Context<Self>) {
        if self.children.by_seq.is_empty()
            && let Some(waiters) = self.stopping.take()
        {
            if let Some(parent) = &self.parent {
                parent.do_send(ChildExited {
                    key: ChildKey::Supervisor(self.id),
                    reason: ExitReason::SupervisorShutdown,
                });
            }
            for done in waiters {
                let _ = done.send(());
            }
            ctx.stop();
        }
    }

    fn terminate_all(&mut self, reason: ExitReason) {
        for child in self.children.drain() {
            child
                .handle
                .do_send(ChildCommand::Terminate(reason.clone()));
        }
    }
}

impl Actor for SupervisorActor {
    type Context = Context<Self>;
}

impl Handler<AddChild> for SupervisorActor {
    type Result = ();

    fn handle(&mut self, msg: AddChild, _ctx: &mut Context<Self>) {
        if self.stopping.is_some() {
            // Spawned just as the stop began: it leaves with the others.
            msg.handle
                .do_send(ChildCommand::Shutdown(ExitReason::SupervisorShutdown));
        }
        self.children.push(ChildSlot {
            key: msg.key,
            restart: msg.restart,
            window: msg
                .limit
                .map(|(max, period)| RestartWindow::new(max, period)),
            handle: msg.handle,
        });
    }
}

impl Handler<ChildExited> for SupervisorActor {
    type Result = ();

    fn handle(&mut self, msg: ChildExited, ctx: &mut Context<Self>) {
        let Some(idx) = self.children.seq(msg.key) else {
            return;
        };
        if msg.reason.is_explicit() {
            self.children.remove(idx);
            self.finish_stop_if_done(ctx);
            return;
        }
        if self.stopping.is_some() {
            // Failed while its supervisor stops: it is not restarted.
            if let Some(child) = self.children.remove(idx) {
                child.handle.do_send(ChildCommand::Terminate(msg.reason));
            }
            self.finish_stop_if_done(ctx);
            return;
        }
        if self.escalated {
            // Halted while our parent decides; the decision restarts or terminates everyone.
            return;
        }
        let Some(slot) = self.children.get(idx) else {
            return;
        };
        let restart = match slot.restart {
            RestartType::Permanent => true,
            RestartType::Transient => msg.reason.is_abnormal(),
            RestartType::Temporary => false,
        };
        let now = Instant::now();
        let over_own_limit = restart
            && self
                .children
                .get_mut(idx)
                .and_then(|c| c.window.as_mut())
                .is_some_and(|w| !w.record(now));
        if over_own_limit {
            warn!(supervisor = %self.id, child = ?msg.key, reason = %msg.reason,
                "child exceeded its own restart limit: terminated");
        }
        if !restart || over_own_limit {
            if let Some(child) = self.children.remove(idx) {
                child.handle.do_send(ChildCommand::Terminate(msg.reason));
            }
            return;
        }
        if !self.window.record(now) {
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
            ChildCommand::Halt | ChildCommand::Restart if self.stopping.is_some() => {}
            ChildCommand::Shutdown(_) => self.begin_stop(None, ctx),
            ChildCommand::Halt => {
                self.escalated = true;
                for (_, child) in self.children.iter() {
                    child.handle.do_send(ChildCommand::Halt);
                }
            }
            ChildCommand::Restart => {
                self.escalated = false;
                self.window.clear();
                let temporary: Vec<u64> = self
                    .children
                    .iter()
                    .filter(|(_, c)| c.restart == RestartType::Temporary)
                    .map(|(s, _)| *s)
                    .collect();
                for seq in temporary {
                    if let Some(child) = self.children.remove(seq) {
                        child
                            .handle
                            .do_send(ChildCommand::Terminate(ExitReason::SupervisorShutdown));
                    }
                }
                for (_, child) in self.children.iter() {
                    child.handle.do_send(ChildCommand::Restart);
                }
            }
            ChildCommand::Terminate(_) => {
                self.terminate_all(ExitReason::SupervisorShutdown);
                self.registry.remove(&self.id);
                for done in self.stopping.take().into_iter().flatten() {
                    let _ = done.send(());
                }
                ctx.stop();
            }
        }
    }
}

/// A graceful stop asked through the kernel.
impl Handler<StopSupervisor> for SupervisorActor {
    type Result = ();

    fn handle(&mut self, msg: StopSupervisor, ctx: &mut Context<Self>) {
        self.begin_stop(Some(msg.done), ctx);
    }
}
