//! Priority with aging.

use super::{Policy, QueueKey, WaitMeta};
use crate::scheduler::config::PolicyKind;

/// Serves the lowest effective priority first, where the effective priority of a request falls
/// by `aging_per_sec` points per second of waiting.
///
/// Effective priority at time `t` is `priority - rate * (t - enqueued)`. Ordering by it is the
/// same, for every `t`, as ordering by the static key `priority / rate + enqueued`, so the key is
/// computed once at enqueue and the heap never needs re-sorting as requests age.
#[derive(Debug)]
pub(crate) struct PriorityAging {
    us_per_point: u64,
}

impl PriorityAging {
    pub(crate) fn new(aging_per_sec: f64) -> Self {
        let us = (1_000_000.0 / aging_per_sec).clamp(1.0, (u64::MAX / 1024) as f64);
        PriorityAging {
            us_per_point: us as u64,
        }
    }
}

impl Policy for PriorityAging {
    fn kind(&self) -> PolicyKind {
        PolicyKind::Priority
    }

    fn key(&mut self, meta: &WaitMeta) -> QueueKey {
        QueueKey {
            primary: meta
                .enqueued_us
                .saturating_add(u64::from(meta.priority).saturating_mul(self.us_per_point)),
            order: meta.order,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pid::Pid;

    #[test]
    fn an_old_low_priority_request_overtakes_fresh_urgent_ones() {
        let mut p = PriorityAging::new(100.0); // 10 ms per point: 100 points = 1 s
        let m = |priority, us, order| WaitMeta {
            pid: Pid::new(),
            priority,
            order,
            enqueued_us: us,
            resume: false,
        };
        let low = p.key(&m(100, 0, 0));
        assert!(p.key(&m(0, 500_000, 1)) < low);
        assert!(p.key(&m(0, 1_000_001, 2)) > low);
    }
}
