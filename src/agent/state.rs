//! Lifecycle states of an agent process and the per-process shared counters.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::events::{EventBus, KernelEvent};
use crate::pid::Pid;
use crate::supervisor::ExitReason;

/// Why a process is waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum WaitReason {
    /// Idle: its mailbox is empty.
    Message,
    /// Waiting for a scheduler slice (LLM work).
    Slice,
    /// Over quota until its window resets.
    Quota,
    /// Waiting for a reply to an `ask` it made.
    Reply,
}

/// The lifecycle state of an agent.
///
/// `Created → Ready → Running ⇄ Waiting(..) → Suspended → Terminated`. `Suspended` covers a
/// crashed agent awaiting its supervisor's decision (restart after backoff, or termination)
/// and an agent halted by an escalating supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AgentState {
    /// Registered; its actor is not yet running.
    Created,
    /// Its actor runs and its start hook is executing.
    Ready,
    /// Handling a message.
    Running,
    /// Waiting for something.
    Waiting(WaitReason),
    /// Not handling messages (crashed awaiting restart, or halted); messages keep queueing.
    Suspended,
    /// Gone for good.
    Terminated,
}

impl AgentState {
    fn to_u8(self) -> u8 {
        match self {
            AgentState::Created => 0,
            AgentState::Ready => 1,
            AgentState::Running => 2,
            AgentState::Waiting(WaitReason::Message) => 3,
            AgentState::Waiting(WaitReason::Slice) => 4,
            AgentState::Waiting(WaitReason::Quota) => 5,
            AgentState::Waiting(WaitReason::Reply) => 6,
            AgentState::Suspended => 7,
            AgentState::Terminated => 8,
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            0 => AgentState::Created,
            1 => AgentState::Ready,
            2 => AgentState::Running,
            3 => AgentState::Waiting(WaitReason::Message),
            4 => AgentState::Waiting(WaitReason::Slice),
            5 => AgentState::Waiting(WaitReason::Quota),
            6 => AgentState::Waiting(WaitReason::Reply),
            7 => AgentState::Suspended,
            _ => AgentState::Terminated,
        }
    }

    /// A short lowercase name (`waiting(message)` etc.), as stored in the registry table.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentState::Created => "created",
            AgentState::Ready => "ready",
            AgentState::Running => "running",
            AgentState::Waiting(WaitReason::Message) => "waiting(message)",
            AgentState::Waiting(WaitReason::Slice) => "waiting(slice)",
            AgentState::Waiting(WaitReason::Quota) => "waiting(quota)",
            AgentState::Waiting(WaitReason::Reply) => "waiting(reply)",
            AgentState::Suspended => "suspended",
            AgentState::Terminated => "terminated",
        }
    }
}

impl std::fmt::Display for AgentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Counters and state shared between a process actor, its run loop and the registry.
pub(crate) struct ProcessShared {
    state: AtomicU8,
    reply_waits: AtomicU32,
    restarts: AtomicU32,
    handled: AtomicU64,
    exit: OnceLock<ExitReason>,
    exited: Notify,
    children: Mutex<Vec<Pid>>,
}

impl ProcessShared {
    pub(crate) fn new() -> Self {
        ProcessShared {
            state: AtomicU8::new(AgentState::Created.to_u8()),
            reply_waits: AtomicU32::new(0),
            restarts: AtomicU32::new(0),
            handled: AtomicU64::new(0),
            exit: OnceLock::new(),
            exited: Notify::new(),
            children: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn state(&self) -> AgentState {
        AgentState::from_u8(self.state.load(Ordering::Acquire))
    }

    /// Sets the state; publishes `StateChanged` when it changed (and someone listens).
    pub(crate) fn transition(&self, pid: Pid, to: AgentState, events: &EventBus) {
        let from = AgentState::from_u8(self.state.swap(to.to_u8(), Ordering::AcqRel));
        if from != to {
            events.emit_with(|| KernelEvent::StateChanged { pid, from, to });
        }
    }

    /// Moves from `from` to `to` only if the state is still `from` (a wait ending must not
    /// overwrite a later transition); publishes the change.
    pub(crate) fn settle(&self, pid: Pid, from: AgentState, to: AgentState, events: &EventBus) {
        let moved = self.state.compare_exchange(
            from.to_u8(),
            to.to_u8(),
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        if moved.is_ok() && from != to {
            events.emit_with(|| KernelEvent::StateChanged { pid, from, to });
        }
    }

    /// Counts one more reply awaited; true for the first (the agent starts waiting).
    pub(crate) fn begin_reply_wait(&self) -> bool {
        self.reply_waits.fetch_add(1, Ordering::AcqRel) == 0
    }

    /// Counts one reply awaited less; true for the last (the agent stops waiting).
    pub(crate) fn end_reply_wait(&self) -> bool {
        self.reply_waits.fetch_sub(1, Ordering::AcqRel) == 1
    }

    pub(crate) fn restarts(&self) -> u32 {
        self.restarts.load(Ordering::Relaxed)
    }

    pub(crate) fn add_restart(&self) -> u32 {
        self.restarts.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(crate) fn handled(&self) -> u64 {
        self.handled.load(Ordering::Relaxed)
    }

    pub(crate) fn add_handled(&self) {
        self.handled.fetch_add(1, Ordering::Relaxed);
    }

    /// Records the final exit reason (first call wins) and wakes every waiter.
    pub(crate) fn set_exit(&self, reason: ExitReason) {
        let _ = self.exit.set(reason);
        self.exited.notify_waiters();
    }

    /// Records a linked child (stopped when this agent terminates).
    pub(crate) fn add_child(&self, pid: Pid) {
        self.children.lock().push(pid);
    }

    /// Takes the linked children.
    pub(crate) fn take_children(&self) -> Vec<Pid> {
        std::mem::take(&mut *self.children.lock())
    }

    /// Resolves with the exit reason once the process has terminated.
    pub(crate) async fn wait_exit(&self) -> ExitReason {
        loop {
            let notified = self.exited.notified();
            if let Some(r) = self.exit.get() {
                return r.clone();
            }
            notified.await;
        }
    }
}
