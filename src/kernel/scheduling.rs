//! The kernel and its scheduler: stats, agent state, cleanup.

use crate::agent::AgentState;
use crate::agent::state::ProcessShared;
use crate::kernel::Kernel;
use crate::pid::Pid;
use crate::scheduler::{Scheduler, SchedulerError, SchedulerStats};

impl Kernel {
    /// The scheduler handle (slice tokens for LLM work, policies, quotas).
    pub fn scheduler(&self) -> &Scheduler {
        &self.inner.scheduler
    }

    /// Queue depth per class, wait-time percentiles, grants, preemptions, usage per agent.
    pub async fn scheduler_stats(&self) -> Result<SchedulerStats, SchedulerError> {
        self.inner.scheduler.stats().await
    }

    /// Sets an agent's state; publishes `StateChanged` when it changed (and someone listens).
    pub(crate) fn set_agent_state(&self, pid: Pid, shared: &ProcessShared, to: AgentState) {
        shared.transition(pid, to, &self.inner.events);
    }

    pub(crate) fn forget_in_scheduler(&self, pid: Pid) {
        let scheduler = self.inner.scheduler.clone();
        actix::spawn(async move {
            let _ = scheduler.forget(pid).await;
        });
    }
}
