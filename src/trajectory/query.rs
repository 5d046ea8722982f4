//! [`TrajectoryQuery`]: which recorded steps to read.

use chrono::{DateTime, Utc};

use crate::pid::Pid;

/// Filters for [`Trajectories::query`](super::Trajectories::query); all optional, combined
/// with AND; oldest first, at most `limit` (default 1 000) — the oldest that match, or the
/// newest with [`TrajectoryQuery::newest`].
#[derive(Debug, Clone)]
pub struct TrajectoryQuery {
    pub(crate) agent_type: Option<String>,
    pub(crate) task: Option<String>,
    pub(crate) pid: Option<Pid>,
    pub(crate) from: Option<DateTime<Utc>>,
    pub(crate) limit: u64,
    pub(crate) newest: bool,
}

impl Default for TrajectoryQuery {
    fn default() -> Self {
        TrajectoryQuery {
            agent_type: None,
            task: None,
            pid: None,
            from: None,
            limit: 1_000,
            newest: false,
        }
    }
}

impl TrajectoryQuery {
    /// Every step (up to the limit).
    pub fn new() -> Self {
        Self::default()
    }

    /// Steps of agents of this type (the registered name, else the Rust type).
    pub fn agent_type(mut self, agent_type: impl Into<String>) -> Self {
        self.agent_type = Some(agent_type.into());
        self
    }

    /// Steps of this task.
    pub fn task(mut self, task: impl Into<String>) -> Self {
        self.task = Some(task.into());
        self
    }

    /// Steps of this agent.
    pub fn pid(mut self, pid: Pid) -> Self {
        self.pid = Some(pid);
        self
    }

    /// Steps started at or after `from`.
    pub fn from(mut self, from: DateTime<Utc>) -> Self {
        self.from = Some(from);
        self
    }

    /// At most this many steps.
    pub fn limit(mut self, limit: u64) -> Self {
        self.limit = limit;
        self
    }

    /// When more steps match than the limit, keep the newest ones (still returned oldest
    /// first) instead of the oldest.
    pub fn newest(mut self) -> Self {
        self.newest = true;
        self
    }
}
