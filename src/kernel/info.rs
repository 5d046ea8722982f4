//! [`AgentInfo`]: what `status` and `list` report.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::agent::AgentState;
use crate::error::IpcError;
use crate::kernel::{AgentEntry, Kernel};
use crate::pid::Pid;
use crate::supervisor::{RestartType, SupervisorId};

/// A live agent's status.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct AgentInfo {
    /// Its pid.
    pub pid: Pid,
    /// Its name.
    pub name: String,
    /// Its lifecycle state.
    pub state: AgentState,
    /// Its priority (0 most urgent … 100).
    pub priority: u8,
    /// Restarts so far.
    pub restarts: u32,
    /// Messages handled so far (across restarts).
    pub handled: u64,
    /// Messages queued now.
    pub mailbox_len: usize,
    /// Mailbox capacity.
    pub mailbox_capacity: usize,
    /// Its supervisor.
    pub supervisor: SupervisorId,
    /// The agent that spawned it with `spawn_child`, if any.
    pub parent: Option<Pid>,
    /// Its restart type.
    pub restart: RestartType,
    /// Its Rust type (`my_crate::Counter`).
    pub agent_type: &'static str,
    /// Whether it accepts JSON messages (spawned with `.json()`).
    pub json: bool,
    /// When it was spawned.
    pub created_at: DateTime<Utc>,
}

impl AgentInfo {
    pub(crate) fn of(pid: Pid, e: &AgentEntry) -> Self {
        AgentInfo {
            pid,
            name: e.name.to_string(),
            state: e.shared.state(),
            priority: e.priority,
            restarts: e.shared.restarts(),
            handled: e.shared.handled(),
            mailbox_len: e.endpoint.queued(),
            mailbox_capacity: e.capacity,
            supervisor: e.supervisor,
            parent: e.parent,
            restart: e.restart,
            agent_type: e.endpoint.agent_type(),
            json: e.endpoint.accepts_json(),
            created_at: e.created_at,
        }
    }
}

impl Kernel {
    /// Status of a live agent.
    pub fn status(&self, pid: Pid) -> Result<AgentInfo, IpcError> {
        self.inner.registry.with(pid, |e| Ok(AgentInfo::of(pid, e)))
    }

    /// Every live agent, sorted by pid (i.e. by spawn time).
    pub fn list(&self) -> Vec<AgentInfo> {
        let mut all: Vec<AgentInfo> = self
            .inner
            .registry
            .snapshot()
            .iter()
            .map(|(pid, e)| AgentInfo::of(*pid, e))
            .collect();
        all.sort_by_key(|i| i.pid);
        all
    }

    /// The Rust type of a live agent.
    pub(crate) fn agent_type(&self, pid: Pid) -> Option<&'static str> {
        self.inner
            .registry
            .with(pid, |e| Ok(e.endpoint.agent_type()))
            .ok()
    }

    /// Number of live agents.
    pub fn agent_count(&self) -> usize {
        self.inner.registry.len()
    }
}

impl Kernel {
    /// The security policy a running agent was spawned with.
    pub fn policy_of(&self, pid: Pid) -> Result<crate::security::policy::SecurityPolicy, IpcError> {
        Ok((*self.inner.registry.entry(pid)?.policy).clone())
    }

    /// The kernel's metrics in the Prometheus text format (what the HTTP API serves at
    /// `/metrics`): agents by state, mailbox depths, scheduler grants, waits and preemptions,
    /// each backend's counters, breaker state, latency, 429s, tokens and cost, page faults,
    /// audit counters. The names are in [`crate::telemetry`].
    pub async fn metrics_text(&self) -> String {
        crate::telemetry::render(self).await
    }
}
