//! The process registry: pid → everything needed to reach and describe a live agent.

use std::sync::Arc;
use std::time::Duration;

use actix::Recipient;
use chrono::{DateTime, Utc};
use dashmap::DashMap;
use parking_lot::Mutex;

use crate::agent::OverflowPolicy;
use crate::agent::messages::ProcessCommand;
use crate::agent::state::ProcessShared;
use crate::error::IpcError;
use crate::ipc::endpoint::Endpoint;
use crate::pid::Pid;
use crate::supervisor::{RestartType, SupervisorId};

/// A live agent, as the kernel sees it.
pub(crate) struct AgentEntry {
    pub(crate) name: Arc<str>,
    pub(crate) priority: u8,
    /// The typed mailbox behind `dyn` (handles, topics, JSON).
    pub(crate) endpoint: Arc<dyn Endpoint>,
    pub(crate) capacity: usize,
    pub(crate) overflow: OverflowPolicy,
    pub(crate) control: Recipient<ProcessCommand>,
    pub(crate) shared: Arc<ProcessShared>,
    pub(crate) supervisor: SupervisorId,
    pub(crate) parent: Option<Pid>,
    pub(crate) restart: RestartType,
    pub(crate) stop_timeout: Duration,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) topics: Mutex<Vec<Arc<str>>>,
    pub(crate) durability: Arc<crate::agent::durable::Durability>,
    pub(crate) policy: Arc<crate::security::policy::SecurityPolicy>,
}

/// Live agents by pid.
#[derive(Default)]
pub(crate) struct Registry {
    map: DashMap<Pid, Arc<AgentEntry>>,
}

impl Registry {
    pub(crate) fn insert(&self, pid: Pid, entry: AgentEntry) -> Arc<AgentEntry> {
        let entry = Arc::new(entry);
        self.map.insert(pid, entry.clone());
        entry
    }

    pub(crate) fn remove(&self, pid: Pid) -> Option<Arc<AgentEntry>> {
        self.map.remove(&pid).map(|(_, e)| e)
    }

    /// The entry of a live agent.
    pub(crate) fn entry(&self, pid: Pid) -> Result<Arc<AgentEntry>, IpcError> {
        self.map
            .get(&pid)
            .map(|e| e.value().clone())
            .ok_or(IpcError::NoSuchAgent(pid))
    }

    /// Runs `f` on a live agent's entry without cloning it (the hot send path).
    #[inline]
    pub(crate) fn with<R>(
        &self,
        pid: Pid,
        f: impl FnOnce(&AgentEntry) -> Result<R, IpcError>,
    ) -> Result<R, IpcError> {
        match self.map.get(&pid) {
            Some(e) => f(e.value()),
            None => Err(IpcError::NoSuchAgent(pid)),
        }
    }

    pub(crate) fn all(&self) -> Vec<Arc<AgentEntry>> {
        self.map.iter().map(|e| e.value().clone()).collect()
    }

    pub(crate) fn snapshot(&self) -> Vec<(Pid, Arc<AgentEntry>)> {
        self.map
            .iter()
            .map(|e| (*e.key(), e.value().clone()))
            .collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}
