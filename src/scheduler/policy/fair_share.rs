//! Fair share: stride scheduling with weights from priority.

use std::collections::HashMap;

use super::{Policy, QueueKey, WaitMeta};
use crate::pid::Pid;
use crate::scheduler::config::PolicyKind;

const STRIDE_ONE: u64 = 1 << 32;

/// The fair-share weight of a priority: `101 - priority`, so priority 0 weighs 101 and
/// priority 100 weighs 1.
pub fn weight_of(priority: u8) -> u64 {
    101 - u64::from(priority.min(100))
}

fn stride(priority: u8) -> u64 {
    STRIDE_ONE / weight_of(priority)
}

/// Weighted fair queueing with virtual finish tags (stride scheduling). Each agent has a virtual
/// finish time; a request starts at `max(agent finish, virtual now)` and finishes one stride
/// (`STRIDE_ONE / weight`) later. Requests are served by finish tag, so backlogged agents receive
/// grants in proportion to their weights, and of two fresh requests the heavier (more urgent)
/// goes first; an idle agent banks no credit (its start is clamped to virtual now). Virtual now
/// is the start tag of the last grant.
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
        let tag = if meta.resume {
            // The preempted slice already paid its stride: it leads at virtual now.
            self.vtime
        } else {
            let finish = self.finish.entry(meta.pid).or_insert(0);
            let start = (*finish).max(self.vtime);
            *finish = start.saturating_add(stride(meta.priority));
            *finish
        };
        QueueKey {
            primary: tag,
            order: meta.order,
        }
    }

    fn granted(&mut self, meta: &WaitMeta, key: QueueKey) {
        let start = if meta.resume {
            key.primary
        } else {
            key.primary.saturating_sub(stride(meta.priority))
        };
        self.vtime = self.vtime.max(start);
    }

    fn forget(&mut self, pid: Pid) {
        self.finish.remove(&pid);
    }
}
