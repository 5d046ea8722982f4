//! Round-robin between agents.

use std::collections::HashMap;

use super::{Policy, QueueKey, WaitMeta};
use crate::pid::Pid;
use crate::scheduler::config::PolicyKind;

/// Agents take turns: each agent's successive requests fall in successive rounds, rounds are
/// served in order, and within a round requests keep request order. An agent with many queued
/// requests therefore gets one grant per round, like everyone else. (The quantum of each slice is
/// set by the scheduler from `rr_quantum_tokens`.)
#[derive(Debug, Default)]
pub(crate) struct RoundRobin {
    current_round: u64,
    next_round: HashMap<Pid, u64>,
}

impl Policy for RoundRobin {
    fn kind(&self) -> PolicyKind {
        PolicyKind::RoundRobin
    }

    fn key(&mut self, meta: &WaitMeta) -> QueueKey {
        let round = if meta.resume {
            self.current_round
        } else {
            let next = self.next_round.entry(meta.pid).or_insert(0);
            let round = (*next).max(self.current_round);
            *next = round + 1;
            round
        };
        QueueKey {
            primary: round,
            order: meta.order,
        }
    }

    fn granted(&mut self, _meta: &WaitMeta, key: QueueKey) {
        self.current_round = self.current_round.max(key.primary);
    }

    fn forget(&mut self, pid: Pid) {
        self.next_round.remove(&pid);
    }
}
