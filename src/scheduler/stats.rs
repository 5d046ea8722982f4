//! Scheduler statistics: queue depths, wait-time percentiles, grants, preemptions, usage.

use std::collections::BTreeMap;
use std::time::Duration;

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::config::PolicyKind;
use super::quota::{Usage, WindowUsage};
use crate::pid::Pid;

/// Counters and usage of one agent.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AgentStats {
    /// Slices granted.
    pub grants: u64,
    /// Slices revoked for a more urgent waiter.
    pub preemptions: u64,
    /// Slices reclaimed at their deadline.
    pub expirations: u64,
    /// Slices released (each charged as one call).
    pub calls: u64,
    /// Prompt tokens used.
    pub input_tokens: u64,
    /// Generated tokens used.
    pub output_tokens: u64,
    /// Cost in US dollars.
    pub cost_usd: f64,
    /// Usage in the agent's current quota window.
    pub window: WindowUsage,
}

/// A snapshot of the scheduler.
#[derive(Clone, Debug, Serialize)]
pub struct SchedulerStats {
    /// The policy in force.
    pub policy: PolicyKind,
    /// Global concurrent-slice capacity.
    pub global_slots: usize,
    /// Slices running now.
    pub running: usize,
    /// Slices running now per configured provider.
    pub running_per_provider: BTreeMap<String, usize>,
    /// Requests waiting for a slice.
    pub queued: usize,
    /// Requests waiting for a slice, by priority class (only non-empty classes).
    pub queue_depth_by_priority: BTreeMap<u8, usize>,
    /// Requests waiting for a quota window to reset.
    pub waiting_quota: usize,
    /// Median wait from request to grant, over the most recent grants.
    pub wait_p50: Duration,
    /// 90th percentile wait.
    pub wait_p90: Duration,
    /// 99th percentile wait.
    pub wait_p99: Duration,
    /// Slices granted since start.
    pub grants: u64,
    /// Slices preempted since start.
    pub preemptions: u64,
    /// Slices expired since start.
    pub expirations: u64,
    /// Requests refused since start.
    pub denials: u64,
    /// Usage in the current global quota window.
    pub global_window: WindowUsage,
    /// Per-agent counters.
    pub agents: BTreeMap<Pid, AgentStats>,
}

/// Accumulates counters; owned by the scheduler core.
#[derive(Debug)]
pub(crate) struct Recorder {
    waits_us: Vec<u64>,
    next: usize,
    cap: usize,
    pub(crate) grants: u64,
    pub(crate) preemptions: u64,
    pub(crate) expirations: u64,
    pub(crate) denials: u64,
    pub(crate) agents: FxHashMap<Pid, AgentStats>,
}

impl Recorder {
    pub(crate) fn new(cap: usize) -> Self {
        Recorder {
            waits_us: Vec::with_capacity(cap.min(1 << 16)),
            next: 0,
            cap: cap.max(1),
            grants: 0,
            preemptions: 0,
            expirations: 0,
            denials: 0,
            agents: FxHashMap::default(),
        }
    }

    pub(crate) fn agent(&mut self, pid: Pid) -> &mut AgentStats {
        self.agents.entry(pid).or_default()
    }

    pub(crate) fn granted(&mut self, pid: Pid, waited: Duration) {
        self.grants += 1;
        self.agent(pid).grants += 1;
        let us = u64::try_from(waited.as_micros()).unwrap_or(u64::MAX);
        if self.waits_us.len() < self.cap {
            self.waits_us.push(us);
        } else {
            self.waits_us[self.next] = us;
            self.next = (self.next + 1) % self.cap;
        }
    }

    pub(crate) fn preempted(&mut self, pid: Pid) {
        self.preemptions += 1;
        self.agent(pid).preemptions += 1;
    }

    pub(crate) fn expired(&mut self, pid: Pid) {
        self.expirations += 1;
        self.agent(pid).expirations += 1;
    }

    pub(crate) fn used(&mut self, pid: Pid, usage: &Usage) {
        let a = self.agent(pid);
        a.calls += 1;
        a.input_tokens = a.input_tokens.saturating_add(usage.input_tokens);
        a.output_tokens = a.output_tokens.saturating_add(usage.output_tokens);
        a.cost_usd += usage.cost_usd;
    }

    /// A copy of the recorded waits (µs), in no particular order.
    pub(crate) fn waits(&self) -> Vec<u64> {
        self.waits_us.clone()
    }
}

/// Sets the p50, p90 and p99 wait of `stats` (nearest rank) from the recorded `waits_us`.
pub(crate) fn fill_waits(stats: &mut SchedulerStats, mut waits_us: Vec<u64>) {
    waits_us.sort_unstable();
    let [p50, p90, p99] =
        [50.0, 90.0, 99.0].map(|p| Duration::from_micros(percentile(&waits_us, p)));
    stats.wait_p50 = p50;
    stats.wait_p90 = p90;
    stats.wait_p99 = p99;
}

/// Nearest-rank percentile of sorted samples (0 when empty).
pub(crate) fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&[], 50.0), 0);
    }
}
