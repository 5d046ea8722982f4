//! The kernel's event stream: every lifecycle transition, crash, restart and escalation.
//!
//! Events are published on a bounded broadcast channel; a subscriber that falls more than the
//! channel's capacity behind loses the oldest events and is told how many (tokio's `Lagged`).
//! Events are only built when at least one subscriber exists, so an unobserved kernel pays
//! one atomic load per transition.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;
use tokio::sync::broadcast;

use crate::agent::AgentState;
use crate::pid::Pid;
use crate::supervisor::{ExitReason, SupervisorId};

/// Something that happened in the kernel.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum KernelEvent {
    /// An agent was spawned.
    Spawned {
        /// The new agent.
        pid: Pid,
        /// Its name.
        name: String,
        /// The supervisor it was placed under.
        supervisor: SupervisorId,
    },
    /// An agent moved from one lifecycle state to another.
    StateChanged {
        /// The agent.
        pid: Pid,
        /// Previous state.
        from: AgentState,
        /// New state.
        to: AgentState,
    },
    /// An agent's handler panicked or its start hook failed (an abnormal exit).
    Crashed {
        /// The agent.
        pid: Pid,
        /// The panic message or start error.
        reason: String,
    },
    /// An agent was rebuilt from its factory under the same pid.
    Restarted {
        /// The agent.
        pid: Pid,
        /// How many times it has been restarted so far.
        restarts: u32,
    },
    /// An agent terminated for good.
    Exited {
        /// The agent.
        pid: Pid,
        /// Why.
        reason: ExitReason,
    },
    /// Messages still queued for a terminated agent were discarded (asks got an error reply).
    MessagesDropped {
        /// The agent.
        pid: Pid,
        /// How many messages.
        count: usize,
    },
    /// The scheduler revoked an agent's running slice for a more urgent waiter (the notice
    /// reached the agent through its control lane).
    SlicePreempted {
        /// The holder whose slice was revoked.
        pid: Pid,
        /// The revoked token.
        token: u64,
        /// The agent the slot went to.
        by: Pid,
    },
    /// An agent's resident context crossed the pager's pressure threshold (once per upward
    /// crossing).
    MemoryPressure(crate::pager::MemoryPressure),
    /// A checkpoint of an agent was committed.
    Checkpointed {
        /// The agent.
        pid: Pid,
        /// The checkpoint.
        id: String,
        /// Its step.
        step: u64,
        /// `full` or `delta`.
        kind: String,
        /// Its body size in bytes.
        bytes: u64,
    },
    /// A checkpoint could not be written (the agent continues; its next checkpoint is full
    /// and carries the acknowledgements this one would have).
    CheckpointFailed {
        /// The agent.
        pid: Pid,
        /// Why.
        reason: String,
    },
    /// An agent was rebuilt from a checkpoint (after a crash, at kernel start, or on
    /// request).
    Restored {
        /// The agent.
        pid: Pid,
        /// The checkpoint it was rebuilt from (`None`: it had none, it restarted from its
        /// factory with its durable messages redelivered).
        checkpoint: Option<String>,
        /// Its step.
        step: u64,
        /// Durable messages redelivered.
        redelivered: usize,
    },
    /// A durable agent that was running when the kernel last stopped could not be resumed.
    ResumeFailed {
        /// The agent.
        pid: Pid,
        /// Why.
        reason: String,
    },
    /// A durable message was delivered `max_deliveries` times without its step committing;
    /// it is set aside (`status = 'dead'`) and not delivered again.
    DeadLetter {
        /// The agent.
        pid: Pid,
        /// The message's delivery id.
        delivery_id: String,
    },
    /// An agent's policy refused one of its syscalls.
    PolicyDenied {
        /// The agent.
        pid: Pid,
        /// The action (`ipc.send`, `llm.call`, `tool.call`, …).
        action: String,
        /// What it was aimed at.
        target: String,
        /// Why.
        reason: String,
    },
    /// A runaway limit ended an agent's task.
    RunawayStopped {
        /// The agent.
        pid: Pid,
        /// The limit.
        limit: crate::checkpoint::RunawayLimit,
    },
    /// A supervisor exceeded its restart intensity and escalated to its parent.
    SupervisorEscalated {
        /// The supervisor that gave up.
        supervisor: SupervisorId,
        /// The parent it escalated to (`None` for the root supervisor).
        parent: Option<SupervisorId>,
    },
}

/// Publishes [`KernelEvent`]s to any number of subscribers.
#[derive(Clone)]
pub(crate) struct EventBus {
    tx: broadcast::Sender<KernelEvent>,
    subscribers: Arc<AtomicUsize>,
}

impl EventBus {
    pub(crate) fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(16));
        EventBus {
            tx,
            subscribers: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// True when someone listens; callers use it to skip building events.
    #[inline]
    pub(crate) fn observed(&self) -> bool {
        self.subscribers.load(Ordering::Relaxed) > 0
    }

    /// Publishes an event built lazily (only if observed).
    #[inline]
    pub(crate) fn emit_with(&self, build: impl FnOnce() -> KernelEvent) {
        if self.observed() {
            let _ = self.tx.send(build());
        }
    }

    pub(crate) fn subscribe(&self) -> EventStream {
        self.subscribers.fetch_add(1, Ordering::Relaxed);
        EventStream {
            rx: self.tx.subscribe(),
            subscribers: self.subscribers.clone(),
        }
    }
}

/// A subscription to the kernel's events; see [`crate::Kernel::events`].
#[derive(Debug)]
pub struct EventStream {
    rx: broadcast::Receiver<KernelEvent>,
    subscribers: Arc<AtomicUsize>,
}

impl EventStream {
    /// The next event. `Err(Lagged(n))` means `n` events were lost because this subscriber
    /// fell behind; `Err(Closed)` means the kernel is gone.
    pub async fn recv(&mut self) -> Result<KernelEvent, broadcast::error::RecvError> {
        self.rx.recv().await
    }

    /// The next event if one is already buffered.
    pub fn try_recv(&mut self) -> Result<KernelEvent, broadcast::error::TryRecvError> {
        self.rx.try_recv()
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.subscribers.fetch_sub(1, Ordering::Relaxed);
    }
}
