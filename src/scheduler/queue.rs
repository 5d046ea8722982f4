//! The wait queues: one binary heap per provider lane, ordered by policy key.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};
use std::time::Instant;

use super::messages::GrantReply;
use super::policy::{QueueKey, WaitMeta};
use super::request::SliceRequest;

/// A request waiting for a slice (in a queue or parked on a quota).
#[derive(Debug)]
pub(crate) struct Waiter {
    pub(crate) request: SliceRequest,
    pub(crate) meta: WaitMeta,
    pub(crate) key: QueueKey,
    /// Index of the capacity lane (0 = global only).
    pub(crate) lane: usize,
    pub(crate) queued_at: Instant,
    pub(crate) reply: GrantReply,
}

struct Entry(Waiter);

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.0.key == other.0.key
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    // Reversed: BinaryHeap is a max-heap and the smallest key is served first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.key.cmp(&self.0.key)
    }
}

/// Min-heaps of waiters, one per capacity lane, with depth counters per priority class.
pub(crate) struct WaitQueues {
    lanes: Vec<BinaryHeap<Entry>>,
    depth: [usize; 101],
    len: usize,
}

impl WaitQueues {
    pub(crate) fn new(lanes: usize) -> Self {
        WaitQueues {
            lanes: (0..lanes.max(1)).map(|_| BinaryHeap::new()).collect(),
            depth: [0; 101],
            len: 0,
        }
    }

    pub(crate) fn lanes(&self) -> usize {
        self.lanes.len()
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn push(&mut self, waiter: Waiter) {
        self.depth[usize::from(waiter.meta.priority.min(100))] += 1;
        self.len += 1;
        let lane = waiter.lane.min(self.lanes.len() - 1);
        self.lanes[lane].push(Entry(waiter));
    }

    pub(crate) fn peek(&self, lane: usize) -> Option<&Waiter> {
        self.lanes.get(lane)?.peek().map(|e| &e.0)
    }

    pub(crate) fn pop(&mut self, lane: usize) -> Option<Waiter> {
        let w = self.lanes.get_mut(lane)?.pop()?.0;
        self.depth[usize::from(w.meta.priority.min(100))] -= 1;
        self.len -= 1;
        Some(w)
    }

    /// Removes every waiter (for re-keying or filtering).
    pub(crate) fn drain(&mut self) -> Vec<Waiter> {
        self.depth = [0; 101];
        self.len = 0;
        self.lanes
            .iter_mut()
            .flat_map(|h| std::mem::take(h).into_vec())
            .map(|e| e.0)
            .collect()
    }

    /// Waiting requests per priority class (non-empty classes only).
    pub(crate) fn depth_by_priority(&self) -> BTreeMap<u8, usize> {
        (0u8..=100)
            .zip(self.depth.iter().copied())
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}
