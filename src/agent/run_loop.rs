//! The data lane of an agent process: take one message, await its handler, repeat.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::Poll;

use futures::FutureExt;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{Mutex as AsyncMutex, oneshot};

use crate::agent::control::{LoopControl, LoopRequest};
use crate::agent::{Agent, AgentContext, AgentState, WaitReason};
use crate::error::{AgentError, IpcError};
use crate::ipc::envelope::Envelope;
use crate::ipc::queue::QueueRx;
use crate::supervisor::ExitReason;

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
pub(crate) async fn run_loop<A: Agent>(
    mut agent: A,
    mailbox: Arc<AsyncMutex<QueueRx<Envelope<A>>>>,
    mut actx: AgentContext,
    ctl: Arc<LoopControl<A::Reply>>,
    gate: Option<oneshot::Receiver<()>>,
    restarted_after: Option<ExitReason>,
) -> LoopExit {
    if let Some(gate) = gate {
        // Wait until the spawner has registered us; if it gave up, there is nothing to run.
        if gate.await.is_err() {
            return LoopExit::MailboxClosed;
        }
    }
    let mut rx = mailbox.lock_owned().await;
    actx.set_state(AgentState::Ready);
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
                return finish(agent, actx, LoopExit::Stopped).await;
            }
        }
        let env = match rx.try_recv() {
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
        } = env;
        actx.begin(from, topic);
        let asked = reply.is_some();
        if asked {
            ctl.set_in_flight(reply);
        }
        let result = AssertUnwindSafe(agent.handle(msg, &mut actx))
            .catch_unwind()
            .await;
        let reply = if asked { ctl.take_in_flight() } else { None };
        let pid = actx.pid();
        match result {
            Ok(r) => {
                actx.shared().add_handled();
                if let Some(tx) = reply {
                    let _ = tx.send(r.map_err(|error| IpcError::Handler {
                        pid,
                        error: Box::new(error),
                    }));
                }
            }
            Err(p) => {
                let reason = panic_message(&*p);
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
            return finish(agent, actx, LoopExit::SelfStopped).await;
        }
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
