//! The task an agent is working on, and the runaway limits checked against it.

use serde::{Deserialize, Serialize};

use crate::checkpoint::RunawayLimits;

/// Which runaway limit ended a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RunawayLimit {
    /// The task took its `max_steps_per_task` steps.
    #[error(
        "the task reached its limit of {limit} steps (durability.limits.max_steps_per_task, or the agent type's step limit in Kernel::tuning)"
    )]
    Steps {
        /// The cap.
        limit: u64,
    },
    /// `max_consecutive_llm_failures` LLM calls failed in a row.
    #[error(
        "the task's last {limit} LLM calls failed in a row (durability.limits.max_consecutive_llm_failures)"
    )]
    ConsecutiveLlmFailures {
        /// The cap.
        limit: u32,
    },
    /// The task ran longer than `max_task_wall_ms`.
    #[error(
        "the task ran past its wall-time limit of {limit_ms} ms (durability.limits.max_task_wall_ms)"
    )]
    WallTime {
        /// The cap, in milliseconds.
        limit_ms: u64,
    },
}

/// Counters of the current task (checkpointed with the agent).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct TaskState {
    /// Steps taken in this task, the one being handled included.
    pub(crate) steps: u64,
    /// LLM calls that failed in a row.
    pub(crate) llm_failures: u32,
    /// When the task started (Unix ms, wall clock: it keeps counting across restarts).
    pub(crate) started_ms: u64,
    /// The limit that ended it, if one did: its remaining steps are refused.
    pub(crate) ended: Option<RunawayLimit>,
    /// The agent's step that began it (names the task in trajectories).
    #[serde(default)]
    pub(crate) first_step: u64,
}

/// Now, in Unix milliseconds.
pub(crate) fn now_ms() -> u64 {
    let ms = chrono::Utc::now().timestamp_millis();
    u64::try_from(ms).unwrap_or(0)
}

impl TaskState {
    /// A new task begins (a message from someone else than the agent itself).
    pub(crate) fn begin(&mut self) {
        *self = TaskState {
            steps: 0,
            llm_failures: 0,
            started_ms: now_ms(),
            ended: None,
            first_step: 0,
        };
    }

    /// Counts one more step; the limit it breaks, if any (then the task is over).
    pub(crate) fn step(&mut self, limits: &RunawayLimits) -> Option<RunawayLimit> {
        if let Some(ended) = self.ended {
            return Some(ended);
        }
        self.steps = self.steps.saturating_add(1);
        if limits.max_steps_per_task > 0 && self.steps > limits.max_steps_per_task {
            return self.end(RunawayLimit::Steps {
                limit: limits.max_steps_per_task,
            });
        }
        self.check_time(limits)
    }

    /// Whether an LLM call may start now.
    pub(crate) fn may_call(&mut self, limits: &RunawayLimits) -> Option<RunawayLimit> {
        if let Some(ended) = self.ended {
            return Some(ended);
        }
        let cap = limits.max_consecutive_llm_failures;
        if cap > 0 && self.llm_failures >= cap {
            return self.end(RunawayLimit::ConsecutiveLlmFailures { limit: cap });
        }
        self.check_time(limits)
    }

    /// Records an LLM call's outcome.
    pub(crate) fn llm_outcome(&mut self, ok: bool) {
        if ok {
            self.llm_failures = 0;
        } else {
            self.llm_failures = self.llm_failures.saturating_add(1);
        }
    }

    fn check_time(&mut self, limits: &RunawayLimits) -> Option<RunawayLimit> {
        let cap = limits.max_task_wall_ms;
        if cap > 0 && now_ms().saturating_sub(self.started_ms) > cap {
            return self.end(RunawayLimit::WallTime { limit_ms: cap });
        }
        None
    }

    fn end(&mut self, limit: RunawayLimit) -> Option<RunawayLimit> {
        self.ended = Some(limit);
        Some(limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_beyond_the_cap_end_the_task_for_good() {
        let limits = RunawayLimits {
            max_steps_per_task: 2,
            ..RunawayLimits::unlimited()
        };
        let mut t = TaskState::default();
        t.begin();
        assert_eq!(t.step(&limits), None);
        assert_eq!(t.step(&limits), None);
        assert_eq!(t.step(&limits), Some(RunawayLimit::Steps { limit: 2 }));
        assert!(t.may_call(&limits).is_some());
        t.begin();
        assert_eq!(t.step(&limits), None);
    }

    #[test]
    fn consecutive_failures_reset_on_success() {
        let limits = RunawayLimits {
            max_consecutive_llm_failures: 2,
            ..RunawayLimits::unlimited()
        };
        let mut t = TaskState::default();
        t.begin();
        t.llm_outcome(false);
        t.llm_outcome(true);
        t.llm_outcome(false);
        assert_eq!(t.may_call(&limits), None);
        t.llm_outcome(false);
        assert_eq!(
            t.may_call(&limits),
            Some(RunawayLimit::ConsecutiveLlmFailures { limit: 2 })
        );
    }
}
