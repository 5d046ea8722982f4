//! The data lane of an agent process: take one message, await its handler, repeat.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::Poll;

use futures::FutureExt;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{Mutex as AsyncMutex, oneshot};

use crate::agent::control::{LoopControl, LoopRequest};
use crate::agent::durable::Durability;
use crate::agent::journal::{StepCtx, load_replay};
use crate::agent::process::{Factory, Me};
use crate::agent::step::{SnapshotPanicked, checkpoint, start_from};
use crate::agent::{Agent, AgentContext, AgentState, WaitReason};
use crate::error::{AgentError, IpcError};
use crate::ipc::envelope::DeliveryTag;
use crate::ipc::envelope::Envelope;
use crate::ipc::queue::QueueRx;
use crate::supervisor::ExitReason;
use crate::trajectory::StepOutcome;

/// Why a run loop ended.
pub(crate) enum LoopExit {
    /// A stop was requested through the control lane; `on_stop` ran.
    Stopped,
    /// The agent called `ctx.stop()`; `on_stop` ran.
    SelfStopped,
    /// A handler (or a between-message request) panicked.
    Crashed(String),
    /// `on_start` returned an error or panicked.
    StartFailed(String),
    /// Every sender is gone (the agent was deregistered).
    MailboxClosed,
}

/// Renders a panic payload as text.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

/// Runs one incarnation of an agent until it stops or crashes.
///
/// The mailbox receiver is behind an async mutex held for the loop's whole life: when the
/// actor cancels this future (kill, restart), the lock is released only once the future is
/// dropped, so the next incarnation (or the final drain) takes over exactly the messages that
/// were still queued.
#[allow(clippy::too_many_arguments)] // the incarnation's parts, passed once
pub(crate) async fn run_loop<A: Agent>(
    mut agent: A,
    mailbox: Arc<AsyncMutex<QueueRx<Envelope<A>>>>,
    mut actx: AgentContext,
    ctl: Arc<LoopControl<A::Reply>>,
    gate: Option<oneshot::Receiver<()>>,
    restarted_after: Option<ExitReason>,
    factory: Factory<A>,
    me: Me<A>,
) -> LoopExit {
    if let Some(gate) = gate {
        // Wait until the spawner has registered us; if it gave up, there is nothing to run.
        if gate.await.is_err() {
            return LoopExit::MailboxClosed;
        }
    }
    let mut rx = mailbox.lock_owned().await;
    actx.set_state(AgentState::Ready);
    let dur = actx.durability().clone();
    // A restart, a resume or a restore starts from a checkpoint, before the hooks run.
    let mut pending =
        match Box::pin(start_from(&mut agent, &actx, &dur, me.get().map(|m| &**m))).await {
            Ok(p) => p,
            Err(reason) => return LoopExit::StartFailed(reason),
        };
    let nonce: u64 = rand::random();
    if let Some(previous) = restarted_after {
        let hook = AssertUnwindSafe(agent.on_restart(&previous, &mut actx))
            .catch_unwind()
            .await;
        if let Some(exit) = start_failure(hook) {
            return exit;
        }
    }
    let hook = AssertUnwindSafe(agent.on_start(&mut actx))
        .catch_unwind()
        .await;
    if let Some(exit) = start_failure(hook) {
        return exit;
    }
    loop {
        if ctl.needs_attention() {
            let (requests, stop) = ctl.take();
            for req in requests {
                match req {
                    LoopRequest::Snapshot(tx) => {
                        match std::panic::catch_unwind(AssertUnwindSafe(|| agent.snapshot())) {
                            Ok(r) => {
                                let pid = actx.pid();
                                let _ = tx.send(r.map_err(|error| IpcError::Handler {
                                    pid,
                                    error: Box::new(error),
                                }));
                            }
                            Err(p) => {
                                let reason = panic_message(&*p);
                                let _ = tx.send(Err(IpcError::Crashed {
                                    pid: actx.pid(),
                                    reason: reason.clone(),
                                }));
                                return LoopExit::Crashed(reason);
                            }
                        }
                    }
                    LoopRequest::Checkpoint(tx) => {
                        match Box::pin(checkpoint(&agent, &actx, &dur, true)).await {
                            Ok(r) => {
                                let _ = tx.send(r);
                            }
                            Err(SnapshotPanicked(reason)) => {
                                let _ = tx.send(Err(crate::checkpoint::CheckpointError::Agent {
                                    pid: actx.pid(),
                                    reason: format!("snapshot panicked: {reason}"),
                                }));
                                return LoopExit::Crashed(reason);
                            }
                        }
                    }
                    LoopRequest::Restore(plan, lineage, tx) => {
                        let fresh = match std::panic::catch_unwind(AssertUnwindSafe(|| factory())) {
                            Ok(a) => a,
                            Err(p) => {
                                let reason = panic_message(&*p);
                                let _ = tx.send(Err(crate::checkpoint::CheckpointError::Agent {
                                    pid: actx.pid(),
                                    reason: format!("factory panicked: {reason}"),
                                }));
                                return LoopExit::Crashed(reason);
                            }
                        };
                        dur.install(*plan, *lineage);
                        let mut fresh = fresh;
                        match Box::pin(start_from(&mut fresh, &actx, &dur, me.get().map(|m| &**m)))
                            .await
                        {
                            Ok(more) => {
                                agent = fresh;
                                pending.extend(more);
                                let _ = tx.send(Ok(()));
                            }
                            Err(reason) => {
                                let _ = tx.send(Err(crate::checkpoint::CheckpointError::Agent {
                                    pid: actx.pid(),
                                    reason: reason.clone(),
                                }));
                                return LoopExit::Crashed(reason);
                            }
                        }
                    }
                    LoopRequest::Pressure(pressure) => {
                        let hook = AssertUnwindSafe(agent.on_memory_pressure(pressure, &mut actx))
                            .catch_unwind()
                            .await;
                        match hook {
                            Ok(Ok(())) => {}
                            Ok(Err(e)) => {
                                tracing::warn!(pid = %actx.pid(), error = %e, "on_memory_pressure failed");
                            }
                            Err(p) => return LoopExit::Crashed(panic_message(&*p)),
                        }
                    }
                }
            }
            if stop {
                Box::pin(final_checkpoint(&agent, &actx, &dur)).await;
                return Box::pin(finish(agent, actx, LoopExit::Stopped)).await;
            }
        }
        let next = match pending.pop_front() {
            Some(env) => Ok(env),
            None => rx.try_recv(),
        };
        let env = match next {
            Ok(env) => env,
            Err(TryRecvError::Disconnected) => return LoopExit::MailboxClosed,
            Err(TryRecvError::Empty) => {
                actx.set_state(AgentState::Waiting(WaitReason::Message));
                // Idle: wake on a message or on a control request, whichever comes first.
                let next = std::future::poll_fn(|cx| {
                    ctl.register(cx.waker());
                    if ctl.needs_attention() {
                        return Poll::Ready(None);
                    }
                    rx.poll_recv(cx).map(Some)
                })
                .await;
                match next {
                    None => continue,
                    Some(Some(env)) => env,
                    Some(None) => return LoopExit::MailboxClosed,
                }
            }
        };
        actx.set_state(AgentState::Running);
        let Envelope {
            msg,
            from,
            topic,
            reply,
            delivery,
        } = env;
        let pid = actx.pid();
        let step = match dur.begin_step(from == Some(pid), actx.step_limit()) {
            Ok(step) => step,
            Err(limit) => {
                // The task is over: this continuation is refused, not handled (and, if
                // durable, acknowledged with the checkpoint that records the end).
                tracing::warn!(%pid, %limit, "runaway limit: message refused");
                super::trace::refused(&actx, &dur, from, topic.as_ref(), limit.to_string());
                actx.kernel()
                    .events_bus()
                    .emit_with(|| crate::KernelEvent::RunawayStopped { pid, limit });
                if let Some(tag) = &delivery {
                    dur.handled(tag.row);
                }
                if let Some(tx) = reply {
                    let _ = tx.send(Err(IpcError::Runaway { pid, limit }));
                }
                if dur.due()
                    && let Err(SnapshotPanicked(reason)) =
                        Box::pin(checkpoint(&agent, &actx, &dur, false)).await
                {
                    return LoopExit::Crashed(reason);
                }
                continue;
            }
        };
        if let Some(tag) = &delivery {
            // Part of the step from now on: acknowledged by its checkpoint, redelivered if
            // the step crashes before one.
            dur.handled(tag.row);
        }
        let replay = match delivery.as_deref() {
            // A redelivered step of a journaled agent replays its completed calls (rare:
            // boxed, so the idle loop stays small).
            Some(tag) if tag.redelivered && dur.spec.mailbox => {
                Box::pin(load_replay(actx.kernel().storage(), pid, step, &tag.id)).await
            }
            _ => Default::default(),
        };
        actx.begin_step(step_ctx(&dur, step, delivery.as_deref(), nonce, replay));
        super::trace::begin(&mut actx, step, from, topic.as_ref());
        actx.begin(from, topic);
        let asked = reply.is_some();
        if asked {
            ctl.set_in_flight(reply);
        }
        let result = AssertUnwindSafe(agent.handle(msg, &mut actx))
            .catch_unwind()
            .await;
        let reply = if asked { ctl.take_in_flight() } else { None };
        match result {
            Ok(r) => {
                match &r {
                    Ok(_) => super::trace::end(&mut actx, &dur, StepOutcome::Ok, None),
                    Err(e) => {
                        super::trace::end(&mut actx, &dur, StepOutcome::Error, Some(e.to_string()))
                    }
                }
                actx.shared().add_handled();
                if dur.due()
                    && let Err(SnapshotPanicked(reason)) =
                        Box::pin(checkpoint(&agent, &actx, &dur, false)).await
                {
                    if let Some(tx) = reply {
                        let _ = tx.send(Err(IpcError::Crashed {
                            pid,
                            reason: reason.clone(),
                        }));
                    }
                    return LoopExit::Crashed(reason);
                }
                if let Some(tx) = reply {
                    let _ = tx.send(r.map_err(|error| IpcError::Handler {
                        pid,
                        error: Box::new(error),
                    }));
                }
            }
            Err(p) => {
                let reason = panic_message(&*p);
                super::trace::end(&mut actx, &dur, StepOutcome::Crashed, Some(reason.clone()));
                if let Some(tx) = reply {
                    let _ = tx.send(Err(IpcError::Crashed {
                        pid,
                        reason: reason.clone(),
                    }));
                }
                return LoopExit::Crashed(reason);
            }
        }
        if actx.take_stop() {
            Box::pin(final_checkpoint(&agent, &actx, &dur)).await;
            return Box::pin(finish(agent, actx, LoopExit::SelfStopped)).await;
        }
    }
}

/// The step's view for its syscalls: its number, its delivery, and — for a redelivered
/// durable message — the journal of the earlier run of this step.
fn step_ctx(
    dur: &Durability,
    step: u64,
    delivery: Option<&DeliveryTag>,
    nonce: u64,
    replay: std::collections::HashMap<u32, crate::storage::durable::journal::JournalEntry>,
) -> StepCtx {
    StepCtx {
        step,
        delivery: delivery.map(|t| t.id.clone()),
        nonce,
        journaled: dur.spec.mailbox,
        replay,
        next_call: Default::default(),
    }
}

/// A checkpoint before a graceful exit, for agents that checkpoint on their own and handled
/// messages since their last one (a kernel shutdown checkpoints every durable agent).
async fn final_checkpoint<A: Agent>(agent: &A, actx: &AgentContext, dur: &Durability) {
    let needed = {
        let st = dur.state.lock();
        (dur.automatic() || dur.spec.mailbox) && st.steps_since > 0
    };
    if needed && let Ok(Err(e)) = checkpoint(agent, actx, dur, true).await {
        tracing::error!(pid = %actx.pid(), error = %e, "final checkpoint not written");
    }
}

/// The exit for a start hook (`on_restart`, `on_start`) that failed or panicked.
fn start_failure(hook: Result<Result<(), AgentError>, Box<dyn Any + Send>>) -> Option<LoopExit> {
    match hook {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(LoopExit::StartFailed(e.to_string())),
        Err(p) => Some(LoopExit::StartFailed(panic_message(&*p))),
    }
}

/// Runs `on_stop` (a panic there is logged, not escalated: the agent is leaving anyway).
async fn finish<A: Agent>(mut agent: A, mut actx: AgentContext, exit: LoopExit) -> LoopExit {
    if let Err(p) = AssertUnwindSafe(agent.on_stop(&mut actx))
        .catch_unwind()
        .await
    {
        tracing::warn!(pid = %actx.pid(), panic = %panic_message(&*p), "on_stop panicked");
    }
    exit
}
