//! Scheduler configuration: the `[scheduler]` section of the kernel config.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::error::SchedulerError;
use super::quota::Quota;

/// Which scheduling policy orders the waiting requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PolicyKind {
    /// First come, first served; priority is ignored for ordering.
    #[default]
    Fifo,
    /// Agents take turns (one grant per agent per round); every slice gets the configured
    /// round-robin quantum of tokens.
    RoundRobin,
    /// Lowest priority number first; waiting time ages a request towards the front so nothing
    /// starves.
    Priority,
    /// Stride scheduling (start-time fair queueing): slices are split between backlogged agents
    /// in proportion to a weight derived from priority (`101 - priority`).
    FairShare,
}

impl PolicyKind {
    /// All policies, in a stable order (used by the benchmark and stats).
    pub const ALL: [PolicyKind; 4] = [
        PolicyKind::Fifo,
        PolicyKind::RoundRobin,
        PolicyKind::Priority,
        PolicyKind::FairShare,
    ];

    /// The policy's configuration name.
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Fifo => "fifo",
            PolicyKind::RoundRobin => "round_robin",
            PolicyKind::Priority => "priority",
            PolicyKind::FairShare => "fair_share",
        }
    }
}

impl std::fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Configuration of the scheduler actor (`[scheduler]` in the kernel config).
///
/// Every field has a default, so an empty section is valid.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerConfig {
    /// The policy in force at start (switchable at run time).
    pub policy: PolicyKind,
    /// Concurrent slices over all providers (the machine's "cores"). At least 1.
    pub global_slots: usize,
    /// Concurrent slices per provider name. A provider without an entry is limited only by
    /// `global_slots`. Every value must be at least 1.
    pub per_provider_slots: BTreeMap<String, usize>,
    /// Tokens in a round-robin slice (the quantum written into each token under `round_robin`).
    pub rr_quantum_tokens: u64,
    /// Aging under the `priority` policy, in priority points per second of waiting: a request
    /// that has waited `100 / aging_per_sec` seconds overtakes any newcomer. Must be > 0.
    pub aging_per_sec: f64,
    /// Whether a more urgent waiter may revoke a running slice.
    pub preemption: bool,
    /// How much more urgent (in priority points) a waiter must be than a holder to preempt it.
    pub preempt_priority_gap: u8,
    /// Minimum time a slice runs before it may be preempted, in milliseconds.
    pub min_quantum_ms: u64,
    /// Lifetime of a slice when the request names none, in milliseconds; past it the token is
    /// invalid and its slot is reclaimed.
    pub default_slice_deadline_ms: u64,
    /// Period of the timer that reclaims expired slices, in milliseconds.
    pub reclaim_interval_ms: u64,
    /// Quota applied to every agent without an override.
    pub agent_quota: Quota,
    /// Quota applied to the sum of all agents.
    pub global_quota: Quota,
    /// Per-agent quota overrides, keyed by pid (as written by `Pid`'s `Display`).
    pub agent_overrides: BTreeMap<String, Quota>,
    /// Number of most recent wait times kept for the percentiles in stats.
    pub wait_samples: usize,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            policy: PolicyKind::Fifo,
            global_slots: 4,
            per_provider_slots: BTreeMap::new(),
            rr_quantum_tokens: 1024,
            aging_per_sec: 1.0,
            preemption: true,
            preempt_priority_gap: 20,
            min_quantum_ms: 200,
            default_slice_deadline_ms: 120_000,
            reclaim_interval_ms: 50,
            agent_quota: Quota::default(),
            global_quota: Quota::default(),
            agent_overrides: BTreeMap::new(),
            wait_samples: 8192,
        }
    }
}

impl SchedulerConfig {
    /// Checks the invariants documented on each field.
    pub fn validate(&self) -> Result<(), SchedulerError> {
        let bad = |m: String| Err(SchedulerError::InvalidConfig(m));
        if self.global_slots == 0 {
            return bad("global_slots must be at least 1".into());
        }
        if let Some((name, _)) = self.per_provider_slots.iter().find(|(_, n)| **n == 0) {
            return bad(format!("per_provider_slots.{name} must be at least 1"));
        }
        if self.aging_per_sec.is_nan() || self.aging_per_sec <= 0.0 {
            return bad("aging_per_sec must be > 0".into());
        }
        if self.rr_quantum_tokens == 0 {
            return bad("rr_quantum_tokens must be at least 1".into());
        }
        if self.default_slice_deadline_ms == 0 || self.reclaim_interval_ms == 0 {
            return bad("default_slice_deadline_ms and reclaim_interval_ms must be > 0".into());
        }
        if self.wait_samples == 0 {
            return bad("wait_samples must be at least 1".into());
        }
        self.agent_quota.validate("agent_quota")?;
        self.global_quota.validate("global_quota")?;
        for (pid, q) in &self.agent_overrides {
            if pid.parse::<crate::pid::Pid>().is_err() {
                return bad(format!("agent_overrides key `{pid}` is not a pid"));
            }
            q.validate(&format!("agent_overrides.{pid}"))?;
        }
        Ok(())
    }

    /// The default lifetime of a slice.
    pub fn default_slice_deadline(&self) -> Duration {
        Duration::from_millis(self.default_slice_deadline_ms)
    }

    /// The minimum run time before preemption.
    pub fn min_quantum(&self) -> Duration {
        Duration::from_millis(self.min_quantum_ms)
    }
}
