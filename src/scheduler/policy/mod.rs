//! Scheduling policies. Each policy turns a waiting request into a [`QueueKey`]; the scheduler
//! keeps waiters in binary heaps ordered by that key, so a grant costs `O(log n)` whatever the
//! policy. Per-agent policy state (rounds, virtual time) lives in the policy.

mod fair_share;
mod fifo;
mod priority;
mod round_robin;

use std::fmt;

pub use fair_share::weight_of;

use super::config::{PolicyKind, SchedulerConfig};
use crate::pid::Pid;

/// Position of a waiter: smaller is served first. `primary` is the policy's key, `order` breaks
/// ties in request order (resumed requests get negative orders, so they lead their class).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct QueueKey {
    pub(crate) primary: u64,
    pub(crate) order: i64,
}

/// What a policy may look at when keying a request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WaitMeta {
    pub(crate) pid: Pid,
    pub(crate) priority: u8,
    /// Request order: increasing for new requests, negative and decreasing for resumes.
    pub(crate) order: i64,
    /// Microseconds since the scheduler started at which the request (or, for a resume, the
    /// preempted request) was queued.
    pub(crate) enqueued_us: u64,
    /// The request continues a preempted slice.
    pub(crate) resume: bool,
}

/// A scheduling policy.
pub(crate) trait Policy: Send + fmt::Debug {
    /// Which policy this is.
    fn kind(&self) -> PolicyKind;
    /// The queue position of a newly waiting request.
    fn key(&mut self, meta: &WaitMeta) -> QueueKey;
    /// Called when the request keyed `key` is granted.
    fn granted(&mut self, _meta: &WaitMeta, _key: QueueKey) {}
    /// Drops per-agent state.
    fn forget(&mut self, _pid: Pid) {}
}

/// Builds the policy `kind` from the configuration.
pub(crate) fn build(kind: PolicyKind, config: &SchedulerConfig) -> Box<dyn Policy> {
    match kind {
        PolicyKind::Fifo => Box::new(fifo::Fifo),
        PolicyKind::RoundRobin => Box::new(round_robin::RoundRobin::default()),
        PolicyKind::Priority => Box::new(priority::PriorityAging::new(config.aging_per_sec)),
        PolicyKind::FairShare => Box::new(fair_share::FairShare::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(pid: Pid, priority: u8, order: i64, us: u64) -> WaitMeta {
        WaitMeta {
            pid,
            priority,
            order,
            enqueued_us: us,
            resume: order < 0,
        }
    }

    #[test]
    fn equal_priority_fresh_agents_keep_request_order_under_every_policy() {
        let cfg = SchedulerConfig::default();
        for kind in PolicyKind::ALL {
            let mut p = build(kind, &cfg);
            let keys: Vec<QueueKey> = (0..50)
                .map(|i| p.key(&meta(Pid::new(), 30, i, i as u64 * 7)))
                .collect();
            let mut sorted = keys.clone();
            sorted.sort();
            assert_eq!(keys, sorted, "{kind}");
        }
    }

    #[test]
    fn a_resume_leads_its_class_under_every_policy() {
        let cfg = SchedulerConfig::default();
        for kind in PolicyKind::ALL {
            let mut p = build(kind, &cfg);
            let a = p.key(&meta(Pid::new(), 30, 1, 10));
            let b = p.key(&meta(Pid::new(), 30, 2, 20));
            let r = p.key(&meta(Pid::new(), 30, -1, 10));
            assert!(r < a && r < b, "{kind}: {r:?} {a:?} {b:?}");
        }
    }
}
