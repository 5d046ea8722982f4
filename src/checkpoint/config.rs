//! `[durability]`: when agents are checkpointed, how long checkpoints are kept, durable
//! mailbox redelivery, resume on start, and the runaway limits.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// When an agent is checkpointed. A step is one handled message.
///
/// In configuration: `"every_step"`, `"manual"`, `{ every_steps = 10 }`,
/// `{ interval_ms = 5000 }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CheckpointPolicy {
    /// After every step (the default for durable agents).
    EveryStep,
    /// After every `n`-th step.
    EverySteps(u32),
    /// After the first step that ends at least this many milliseconds after the previous
    /// checkpoint.
    IntervalMs(u64),
    /// Only when asked ([`crate::Kernel::checkpoint`]) — and at a graceful kernel shutdown for
    /// durable agents.
    Manual,
}

impl CheckpointPolicy {
    /// Whether this policy checkpoints automatically at all.
    pub fn is_automatic(self) -> bool {
        !matches!(self, CheckpointPolicy::Manual)
    }

    pub(crate) fn problem(self) -> Option<&'static str> {
        match self {
            CheckpointPolicy::EverySteps(0) => Some("every_steps must be at least 1"),
            CheckpointPolicy::IntervalMs(0) => Some("interval_ms must be at least 1"),
            _ => None,
        }
    }
}

/// Whether a step waits for its checkpoint to commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum WriteMode {
    /// The step's reply goes out and the next message is taken only after the checkpoint
    /// (and the acknowledgement of the step's durable messages) committed.
    #[default]
    Sync,
    /// The checkpoint is queued to the kernel's checkpoint writer and committed behind; a
    /// crash can lose the last steps, whose durable messages are then redelivered.
    Behind,
}

/// Per-task caps that end a runaway loop with [`crate::RunawayLimit`] and a
/// [`crate::KernelEvent::RunawayStopped`] event. `0` means no cap.
///
/// A **task** starts with a message that did not come from the agent itself; the messages the
/// agent sends itself while working on it are further steps of the same task. The counters
/// are checkpointed, so a restart continues them instead of starting a fresh budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunawayLimits {
    /// Steps (handled messages) per task.
    pub max_steps_per_task: u64,
    /// Consecutive failed LLM calls (reset by a successful one).
    pub max_consecutive_llm_failures: u32,
    /// Wall time per task, in milliseconds (it keeps running across restarts).
    pub max_task_wall_ms: u64,
}

impl RunawayLimits {
    /// No caps at all.
    pub fn unlimited() -> Self {
        RunawayLimits {
            max_steps_per_task: 0,
            max_consecutive_llm_failures: 0,
            max_task_wall_ms: 0,
        }
    }
}

/// `[durability]`: see `config/default.toml` for each key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DurabilityConfig {
    /// Policy of agents spawned without one (ordinary agents).
    pub checkpoint: CheckpointPolicy,
    /// Policy of durable agents spawned without one.
    pub durable_checkpoint: CheckpointPolicy,
    /// Sync or write-behind.
    pub write: WriteMode,
    /// At most this many deltas between two full checkpoints (≥ 1); a full one is also
    /// written as soon as the deltas since the last one weigh as much as it.
    pub full_every: u32,
    /// Checkpoints kept per agent (with what they depend on); 0 = no count limit.
    pub keep_last: u32,
    /// Checkpoints older than this are deleted (seconds; 0 = no age limit). The newest one
    /// is always kept.
    pub max_age_secs: u64,
    /// Crashed steps of a durable message before it is set aside as dead.
    pub max_deliveries: u32,
    /// Resume the durable agents that were running when the kernel last stopped.
    pub resume_on_start: bool,
    /// Acknowledged durable messages are kept this long (seconds), so a producer that sends
    /// the same delivery id again is recognised as a duplicate.
    pub acked_retention_secs: u64,
    /// Runaway limits of every agent (per spawn: `SpawnOptions::limits`).
    pub limits: RunawayLimits,
}

impl Default for DurabilityConfig {
    fn default() -> Self {
        DurabilityConfig {
            checkpoint: CheckpointPolicy::Manual,
            durable_checkpoint: CheckpointPolicy::EveryStep,
            write: WriteMode::Sync,
            full_every: 1000,
            keep_last: 20,
            max_age_secs: 0,
            max_deliveries: 3,
            resume_on_start: true,
            acked_retention_secs: 86_400,
            limits: RunawayLimits::default(),
        }
    }
}

impl DurabilityConfig {
    /// `(key, reason)` for every invalid value.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(r) = self.checkpoint.problem() {
            out.push(("durability.checkpoint", r.to_string()));
        }
        if let Some(r) = self.durable_checkpoint.problem() {
            out.push(("durability.durable_checkpoint", r.to_string()));
        }
        if self.full_every == 0 {
            out.push(("durability.full_every", "must be at least 1".to_string()));
        }
        if self.max_deliveries == 0 {
            out.push((
                "durability.max_deliveries",
                "must be at least 1".to_string(),
            ));
        }
        out
    }

    /// `max_age_secs` as a duration, if set.
    pub fn max_age(&self) -> Option<Duration> {
        (self.max_age_secs > 0).then(|| Duration::from_secs(self.max_age_secs))
    }
}
