//! Fair share: stride scheduling with weights from priority.

use std::collections::HashMap;

use super::{Policy, QueueKey, WaitMeta};
use crate::agent::Pid;
use crate::scheduler::config::PolicyKind;

const STRIDE_ONE: u64 = 1 << 32;

/// The fair-share weight of a priority: `101 - priority`, so priority 0 weighs 101 and
/// priority 100 weighs 1.
pub fn weight_of(priority: u8) -> u64 {
    101 - u64::from(priority.min(100))
}

/// Start-time fair queueing. Each agent has a virtual finish time; a request starts at
/// `max(agent finish, virtual now)` and advances the agent's finish by `STRIDE_ONE / weight`.
/// Requests are served by start tag, so backlogged agents receive grants in proportion to their
/// weights; an idle agent banks no credit (its start is clamped to virtual now).
#[derive(Debug, Default)]
pub(crate) struct FairShare {
    vtime: u64,
    finish: HashMap<Pid, u64>,
}

impl Policy for FairShare {
    fn kind(&self) -> PolicyKind {
        PolicyKind::FairShare
    }

    fn key(&mut self, meta: &WaitMeta) -> QueueKey {
        let start = if meta.resume {
            // The preempted slice already paid its stride.
            self.vtime
        } else {
            let finish = self.finish.entry(meta.pid).or_insert(0);
            let start = (*finish).max(self.vtime);
            *finish = start.saturating_add(STRIDE_ONE / weight_of(meta.priority));
            start
        };
        QueueKey {
            primary: start,
            order: meta.order,
        }
    }

    fn granted(&mut self, _meta: &WaitMeta, key: QueueKey) {
        self.vtime = self.vtime.max(key.primary);
    }

    fn forget(&mut self, pid: Pid) {
        self.finish.remove(&pid);
    }
}
