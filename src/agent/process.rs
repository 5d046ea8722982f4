//! [`AgentProcess`]: the actix actor that runs one agent.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix::{
    Actor, ActorContext, ActorFutureExt, AsyncContext, Context, Handler, Recipient, SpawnHandle,
    WrapFuture,
};
use tokio::sync::{Mutex as AsyncMutex, oneshot};
use tracing::{info, warn};

use crate::agent::control::{LoopControl, LoopRequest};
use crate::agent::durable::Durability;
use crate::agent::messages::ProcessCommand;
use crate::agent::run_loop::{LoopExit, panic_message, run_loop};
use crate::agent::state::ProcessShared;
use crate::agent::{Agent, AgentContext, AgentState};
use crate::checkpoint::CheckpointError;
use crate::error::IpcError;
use crate::events::KernelEvent;
use crate::ipc::current::Current;
use crate::ipc::envelope::Envelope;
use crate::ipc::mailbox::Mailbox;
use crate::ipc::queue::QueueRx;
use crate::kernel::Kernel;
use crate::pid::Pid;
use crate::scheduler::SlicePreempted;
use crate::supervisor::ExitReason;
use crate::supervisor::messages::{ChildCommand, ChildExited, ChildKey};

/// Builds a fresh agent (used for restarts).
pub(crate) type Factory<A> = Arc<dyn Fn() -> A + Send + Sync>;

/// The agent's own mailbox, set by the spawner before the first incarnation runs.
pub(crate) type Me<A> = Arc<OnceLock<Arc<Mailbox<A>>>>;

/// One agent process. Its actix mailbox is the **control lane** (stop, kill, supervisor
/// commands, snapshots): those are handled at once, even while a message is being handled.
/// Data messages travel in a separate bounded mailbox read by the run loop, one at a time.
pub(crate) struct AgentProcess<A: Agent> {
    pid: Pid,
    name: Arc<str>,
    priority: u8,
    kernel: Kernel,
    factory: Factory<A>,
    shared: Arc<ProcessShared>,
    ctl: Arc<LoopControl<A::Reply>>,
    mailbox: Arc<AsyncMutex<QueueRx<Envelope<A>>>>,
    me: Me<A>,
    supervisor: Recipient<ChildExited>,
    first: Option<Box<(A, oneshot::Receiver<()>)>>,
    loop_handle: Option<SpawnHandle>,
    stop_reason: Option<ExitReason>,
    stop_timeout: Duration,
    last_exit: Option<ExitReason>,
    finished: bool,
    durable: Arc<Durability>,
    policy: Arc<crate::security::policy::SecurityPolicy>,
}

/// Everything a process needs at start.
pub(crate) struct ProcessParts<A: Agent> {
    pub(crate) pid: Pid,
    pub(crate) name: Arc<str>,
    pub(crate) priority: u8,
    pub(crate) kernel: Kernel,
    pub(crate) factory: Factory<A>,
    pub(crate) agent: A,
    pub(crate) shared: Arc<ProcessShared>,
    pub(crate) rx: QueueRx<Envelope<A>>,
    pub(crate) me: Me<A>,
    pub(crate) supervisor: Recipient<ChildExited>,
    pub(crate) gate: oneshot::Receiver<()>,
    pub(crate) stop_timeout: Duration,
    pub(crate) durable: Arc<Durability>,
    pub(crate) policy: Arc<crate::security::policy::SecurityPolicy>,
}

impl<A: Agent> AgentProcess<A> {
    pub(crate) fn new(parts: ProcessParts<A>) -> Self {
        AgentProcess {
            pid: parts.pid,
            name: parts.name,
            priority: parts.priority,
            kernel: parts.kernel,
            factory: parts.factory,
            shared: parts.shared,
            ctl: Arc::new(LoopControl::default()),
            mailbox: Arc::new(AsyncMutex::new(parts.rx)),
            me: parts.me,
            supervisor: parts.supervisor,
            first: Some(Box::new((parts.agent, parts.gate))),
            loop_handle: None,
            stop_reason: None,
            stop_timeout: parts.stop_timeout,
            last_exit: None,
            finished: false,
            durable: parts.durable,
            policy: parts.policy,
        }
    }

    /// The agent's own mailbox (set before it first runs).
    pub(crate) fn mailbox(&self) -> Option<Arc<Mailbox<A>>> {
        self.me.get().cloned()
    }

    fn set_state(&self, to: AgentState) {
        self.kernel.set_agent_state(self.pid, &self.shared, to);
    }

    fn start_loop(
        &mut self,
        agent: A,
        gate: Option<oneshot::Receiver<()>>,
        restarted_after: Option<ExitReason>,
        ctx: &mut Context<Self>,
    ) {
        self.ctl.reset_stop();
        let me: Arc<dyn Any + Send + Sync> = self.me.clone();
        let actx = AgentContext::new(
            self.pid,
            self.name.clone(),
            self.priority,
            ctx.address().recipient(),
            self.kernel.clone(),
            self.shared.clone(),
            me,
            self.durable.clone(),
        )
        .with_policy(self.policy.clone())
        .with_agent_type(super::trace::type_of::<A>(&self.durable).into());
        let current = Current {
            pid: self.pid,
            shared: self.shared.clone(),
            events: self.kernel.events_bus().clone(),
            ipc: (!self.policy.agents.is_open())
                .then(|| (self.policy.clone(), self.kernel.audit().clone())),
        };
        let fut = current.scope(run_loop(
            agent,
            self.mailbox.clone(),
            actx,
            self.ctl.clone(),
            gate,
            restarted_after,
            self.factory.clone(),
            self.me.clone(),
        ));
        let handle = ctx.spawn(fut.into_actor(self).map(|exit, act, ctx| {
            act.loop_handle = None;
            act.on_loop_exit(exit, ctx);
        }));
        self.loop_handle = Some(handle);
    }

    /// Cancels the running incarnation; the message it was handling gets `Interrupted`.
    fn abort_loop(&mut self, why: &'static str, ctx: &mut Context<Self>) {
        if let Some(handle) = self.loop_handle.take() {
            ctx.cancel_future(handle);
            if let Some(tx) = self.ctl.take_in_flight() {
                let _ = tx.send(Err(IpcError::Interrupted { pid: self.pid, why }));
            }
            let pid = self.pid;
            self.ctl
                .fail_requests(|| IpcError::Interrupted { pid, why });
        }
    }

    fn on_loop_exit(&mut self, exit: LoopExit, ctx: &mut Context<Self>) {
        match exit {
            LoopExit::Stopped | LoopExit::MailboxClosed => {
                let reason = self.stop_reason.take().unwrap_or(ExitReason::Shutdown);
                self.finalize(reason, ctx);
            }
            LoopExit::SelfStopped => self.report(ExitReason::Normal),
            LoopExit::Crashed(reason) => {
                warn!(pid = %self.pid, name = %self.name, %reason, "agent crashed");
                self.emit_crash(&reason);
                self.report(ExitReason::Crashed(reason));
            }
            LoopExit::StartFailed(reason) => {
                warn!(pid = %self.pid, name = %self.name, %reason, "agent failed to start");
                self.emit_crash(&reason);
                self.report(ExitReason::StartFailed(reason));
            }
        }
    }

    fn emit_crash(&self, reason: &str) {
        let pid = self.pid;
        self.kernel.events_bus().emit_with(|| KernelEvent::Crashed {
            pid,
            reason: reason.to_string(),
        });
    }

    /// Suspends and lets the supervisor decide (restart or terminate).
    fn report(&mut self, reason: ExitReason) {
        self.set_state(AgentState::Suspended);
        self.last_exit = Some(reason.clone());
        self.supervisor.do_send(ChildExited {
            key: ChildKey::Agent(self.pid),
            reason,
        });
    }

    /// A graceful stop: the current message finishes, `on_stop` runs, the agent terminates with
    /// `reason`; past `deadline` the handler is aborted (`StopTimeout`).
    fn stop(&mut self, deadline: Duration, reason: ExitReason, ctx: &mut Context<Self>) {
        if self.loop_handle.is_none() {
            self.finalize(reason, ctx);
            return;
        }
        self.stop_reason = Some(reason);
        self.ctl.request_stop();
        ctx.run_later(deadline, |act, ctx| {
            if !act.finished && act.loop_handle.is_some() && act.stop_reason.is_some() {
                act.abort_loop("stop deadline expired", ctx);
                act.finalize(ExitReason::StopTimeout, ctx);
            }
        });
    }

    /// Terminates for good: deregisters, fails what is still queued, records the exit, stops
    /// linked children, tells the supervisor, stops the actor.
    fn finalize(&mut self, reason: ExitReason, ctx: &mut Context<Self>) {
        if self.finished {
            return;
        }
        self.finished = true;
        let entry = self.kernel.deregister(self.pid);
        let pid = self.pid;
        self.ctl.fail_requests(|| IpcError::Terminated(pid));
        let mailbox = self.mailbox.clone();
        let drain = async move {
            // Waits until a cancelled incarnation has really been dropped.
            let mut rx = mailbox.lock_owned().await;
            rx.close();
            let mut dropped = 0usize;
            while let Ok(env) = rx.try_recv() {
                dropped += 1;
                if let Some(tx) = env.reply {
                    let _ = tx.send(Err(IpcError::Terminated(pid)));
                }
            }
            dropped
        };
        ctx.spawn(drain.into_actor(self).map(move |dropped, act, ctx| {
            if dropped > 0 {
                warn!(pid = %pid, dropped, "agent terminated with messages still queued");
                act.kernel
                    .events_bus()
                    .emit_with(|| KernelEvent::MessagesDropped {
                        pid,
                        count: dropped,
                    });
            }
            act.set_state(AgentState::Terminated);
            info!(pid = %pid, name = %act.name, %reason, "agent exited");
            act.kernel
                .agent_exited(pid, entry.as_deref(), &act.shared, &reason);
            act.shared.set_exit(reason.clone());
            // Last: a supervisor waiting for its children to stop sees them gone for good.
            act.supervisor.do_send(ChildExited {
                key: ChildKey::Agent(pid),
                reason,
            });
            ctx.stop();
        }));
    }
}

impl<A: Agent> Actor for AgentProcess<A> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some(first) = self.first.take() {
            let (agent, gate) = *first;
            self.start_loop(agent, Some(gate), None, ctx);
        }
    }
}

impl<A: Agent> Handler<ProcessCommand> for AgentProcess<A> {
    type Result = ();

    fn handle(&mut self, cmd: ProcessCommand, ctx: &mut Context<Self>) {
        if self.finished {
            match cmd {
                ProcessCommand::Snapshot(tx) => {
                    let _ = tx.send(Err(IpcError::Terminated(self.pid)));
                }
                ProcessCommand::Checkpoint(tx) => {
                    let _ = tx.send(Err(CheckpointError::NotRunning(self.pid)));
                }
                ProcessCommand::Restore(_, _, tx) => {
                    let _ = tx.send(Err(CheckpointError::NotRunning(self.pid)));
                }
                _ => {}
            }
            return;
        }
        match cmd {
            ProcessCommand::Stop { deadline, reason } => self.stop(deadline, reason, ctx),
            ProcessCommand::Kill => {
                self.abort_loop("killed", ctx);
                self.finalize(ExitReason::Killed, ctx);
            }
            ProcessCommand::Pressure(pressure) => {
                if self.loop_handle.is_some() {
                    self.ctl.push(LoopRequest::Pressure(pressure));
                }
            }
            ProcessCommand::Checkpoint(tx) => {
                if self.loop_handle.is_some() {
                    self.ctl.push(LoopRequest::Checkpoint(tx));
                } else {
                    let _ = tx.send(Err(CheckpointError::NotRunning(self.pid)));
                }
            }
            ProcessCommand::Restore(plan, lineage, tx) => {
                if self.loop_handle.is_some() {
                    self.ctl.push(LoopRequest::Restore(plan, lineage, tx));
                } else {
                    let _ = tx.send(Err(CheckpointError::NotRunning(self.pid)));
                }
            }
            ProcessCommand::Snapshot(tx) => {
                if self.loop_handle.is_some() {
                    self.ctl.push(LoopRequest::Snapshot(tx));
                } else {
                    let _ = tx.send(Err(IpcError::Interrupted {
                        pid: self.pid,
                        why: "agent is suspended",
                    }));
                }
            }
        }
    }
}

impl<A: Agent> Handler<ChildCommand> for AgentProcess<A> {
    type Result = ();

    fn handle(&mut self, cmd: ChildCommand, ctx: &mut Context<Self>) {
        if self.finished {
            return;
        }
        match cmd {
            ChildCommand::Restart => {
                if let Some(reason) = self.stop_reason.take() {
                    // A stop requested through the kernel wins over a restart: the agent
                    // terminates as asked instead of coming back.
                    self.abort_loop("stopped", ctx);
                    self.finalize(reason, ctx);
                    return;
                }
                self.abort_loop("restarted by its supervisor", ctx);
                let factory = self.factory.clone();
                match std::panic::catch_unwind(AssertUnwindSafe(|| factory())) {
                    Ok(agent) => {
                        let restarts = self.shared.add_restart();
                        info!(pid = %self.pid, name = %self.name, restarts, "agent restarted");
                        let pid = self.pid;
                        self.kernel
                            .events_bus()
                            .emit_with(|| KernelEvent::Restarted { pid, restarts });
                        let previous = self.last_exit.take().unwrap_or(ExitReason::GroupRestart);
                        self.durable.plan_restart();
                        self.start_loop(agent, None, Some(previous), ctx);
                    }
                    Err(p) => {
                        let reason = panic_message(&*p);
                        self.emit_crash(&reason);
                        self.report(ExitReason::StartFailed(reason));
                    }
                }
            }
            ChildCommand::Halt => {
                self.abort_loop("halted by its supervisor", ctx);
                self.last_exit = Some(ExitReason::GroupRestart);
                self.set_state(AgentState::Suspended);
            }
            ChildCommand::Shutdown(reason) => self.stop(self.stop_timeout, reason, ctx),
            ChildCommand::Terminate(reason) => {
                self.abort_loop("terminated by its supervisor", ctx);
                self.finalize(reason, ctx);
            }
        }
    }
}

/// The scheduler's preemption notice arrives on the control lane: it is published as an
/// event; the holder itself sees `token.revoked()` and stops at its next chunk.
impl<A: Agent> Handler<SlicePreempted> for AgentProcess<A> {
    type Result = ();

    fn handle(&mut self, notice: SlicePreempted, _ctx: &mut Context<Self>) {
        info!(pid = %self.pid, token = notice.token, by = %notice.by, "slice preempted");
        self.kernel
            .events_bus()
            .emit_with(|| KernelEvent::SlicePreempted {
                pid: notice.pid,
                token: notice.token,
                by: notice.by,
            });
    }
}
