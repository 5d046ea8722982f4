//! The kernel and its scheduler: state transitions from scheduler events, stats, cleanup.

use tokio::sync::mpsc::UnboundedReceiver;

use crate::agent::state::ProcessShared;
use crate::agent::{AgentState, WaitReason};
use crate::events::KernelEvent;
use crate::kernel::Kernel;
use crate::pid::Pid;
use crate::scheduler::{Scheduler, SchedulerError, SchedulerEvent, SchedulerStats};

impl Kernel {
    /// The scheduler handle (slice tokens for LLM work, policies, quotas).
    pub fn scheduler(&self) -> &Scheduler {
        &self.inner.scheduler
    }

    /// Queue depth per class, wait-time percentiles, grants, preemptions, usage per agent.
    pub async fn scheduler_stats(&self) -> Result<SchedulerStats, SchedulerError> {
        self.inner.scheduler.stats().await
    }

    /// Turns scheduler events into agent state transitions: `Queued` → `Waiting(slice)`,
    /// `WaitingQuota` → `Waiting(quota)`, `Granted` → `Running`.
    pub(crate) fn follow_scheduler(&self, mut events: UnboundedReceiver<SchedulerEvent>) {
        // A weak handle: the follower must not keep the kernel alive.
        let inner = std::sync::Arc::downgrade(&self.inner);
        actix::spawn(async move {
            while let Some(event) = events.recv().await {
                let Some(inner) = inner.upgrade() else { break };
                let kernel = Kernel { inner };
                let (pid, to) = match event {
                    SchedulerEvent::Queued { pid, .. } => {
                        (pid, AgentState::Waiting(WaitReason::Slice))
                    }
                    SchedulerEvent::WaitingQuota { pid, .. } => {
                        (pid, AgentState::Waiting(WaitReason::Quota))
                    }
                    SchedulerEvent::Granted { pid, .. } => (pid, AgentState::Running),
                    _ => continue,
                };
                kernel.transition(pid, to);
            }
        });
    }

    /// Sets a live agent's state and publishes the transition.
    pub(crate) fn transition(&self, pid: Pid, to: AgentState) {
        if let Ok(entry) = self.inner.registry.entry(pid) {
            self.set_agent_state(pid, &entry.shared, to);
        }
    }

    /// Sets an agent's state; publishes `StateChanged` when it changed (and someone listens).
    pub(crate) fn set_agent_state(&self, pid: Pid, shared: &ProcessShared, to: AgentState) {
        let from = shared.swap_state(to);
        if from != to {
            self.inner
                .events
                .emit_with(|| KernelEvent::StateChanged { pid, from, to });
        }
    }

    pub(crate) fn forget_in_scheduler(&self, pid: Pid) {
        let scheduler = self.inner.scheduler.clone();
        actix::spawn(async move {
            let _ = scheduler.forget(pid).await;
        });
    }
}
