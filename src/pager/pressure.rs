//! Memory pressure: the notice an agent gets when its resident set crosses the threshold.

use serde::{Deserialize, Serialize};

use crate::pid::Pid;

/// Told to an agent (through [`crate::Agent::on_memory_pressure`], between two messages, and
/// as [`crate::KernelEvent::MemoryPressure`]) once each time its resident set rises to the
/// pressure threshold from below it. Eviction starts only at the budget itself, so the agent
/// has the room between the two to summarise, free or pin what it needs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MemoryPressure {
    /// The agent.
    pub pid: Pid,
    /// Resident tokens when the threshold was crossed.
    pub resident_tokens: u64,
    /// The agent's budget.
    pub budget_tokens: u64,
    /// The threshold, as a share of the budget.
    pub threshold: f64,
}

/// Where pressure notices go (set by the kernel).
pub(crate) type Notifier = Box<dyn Fn(MemoryPressure) + Send + Sync>;
