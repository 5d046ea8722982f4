//! Trajectories: the kernel records what agents' steps did — the message that started each
//! step, its LLM calls (backend, tokens, latency, cost), its tool calls (argument digest,
//! outcome, error), preemptions, page faults and the outcome — with no code in the agent, and
//! stores them (`trajectories` table) for queries by agent type and task. What gets recorded
//! is `[trajectories] record`: `calls` (the default: steps that called an LLM or a tool, and
//! steps that did not end well), `all`, or `off`.

mod config;
mod query;
mod store;
mod trace;
mod writer;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{mpsc, oneshot};

pub use config::{RecordMode, TrajectoryConfig};
pub use query::TrajectoryQuery;
pub(crate) use trace::CUT_OFF_PREFIX;
pub use trace::{AttemptTrace, LlmCallTrace, StepOutcome, ToolCallTrace, TrajectoryStep};
pub(crate) use trace::{StepCalls, StepOpen};

use crate::storage::{Storage, StorageError};
use writer::{Counters, Job};

/// The kernel's trajectory recorder and reader ([`crate::Kernel::trajectories`]). Cheap to
/// clone.
#[derive(Clone, Debug)]
pub struct Trajectories {
    mode: RecordMode,
    storage: Storage,
    tx: mpsc::Sender<Job>,
    counters: Arc<Counters>,
}

/// Counters of a [`Trajectories`] since the kernel started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrajectoryStats {
    /// Steps queued for writing.
    pub recorded: u64,
    /// Steps lost: the queue was full, or their batch failed every attempt.
    pub dropped: u64,
    /// Steps written.
    pub written: u64,
}

impl Trajectories {
    /// Starts the writer (on the current tokio runtime).
    pub(crate) fn start(storage: Storage, config: &TrajectoryConfig) -> Self {
        let counters = Arc::new(Counters::default());
        let tx = writer::spawn(storage.clone(), counters.clone());
        Trajectories {
            mode: config.record,
            storage,
            tx,
            counters,
        }
    }

    /// What is recorded.
    pub fn mode(&self) -> RecordMode {
        self.mode
    }

    /// Whether the mode keeps a step with these calls and this outcome.
    pub(crate) fn keeps(&self, calls: &StepCalls, outcome: StepOutcome) -> bool {
        match self.mode {
            RecordMode::Off => false,
            RecordMode::All => true,
            RecordMode::Calls => calls.any() || outcome != StepOutcome::Ok,
        }
    }

    /// Queues a finished step (one [`Trajectories::keeps`]); never waits.
    pub(crate) fn record(&self, step: TrajectoryStep) {
        match self.tx.try_send(Job::Step(Box::new(step))) {
            Ok(()) => {
                self.counters.recorded.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                let before = self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                if before.is_power_of_two() || before == 0 {
                    tracing::warn!(dropped = before + 1, "trajectory queue full: steps dropped");
                }
            }
        }
    }

    /// Waits until every step queued so far is written.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Job::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// The recorded steps `q` selects, oldest first (call [`Trajectories::flush`] first to
    /// see the latest).
    pub async fn query(&self, q: TrajectoryQuery) -> Result<Vec<TrajectoryStep>, StorageError> {
        store::select(&self.storage, &q).await
    }

    /// Counters since the kernel started.
    pub fn stats(&self) -> TrajectoryStats {
        TrajectoryStats {
            recorded: self.counters.recorded.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            written: self.counters.written.load(Ordering::Relaxed),
        }
    }
}
