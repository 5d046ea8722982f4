//! Capacity: the global and per-provider slots ("cores") and the slices running in them.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::Recipient;
use rustc_hash::FxHashMap;

use super::messages::SlicePreempted;
use super::policy::WaitMeta;
use super::token::{SliceToken, TokenId};

/// A slice that holds a slot.
#[derive(Debug)]
pub(crate) struct RunningSlice {
    pub(crate) token: SliceToken,
    pub(crate) meta: WaitMeta,
    pub(crate) lane: usize,
    pub(crate) estimated: u64,
    pub(crate) granted_at: Instant,
    pub(crate) notify: Option<Recipient<SlicePreempted>>,
}

/// What preemption found for a blocked waiter.
#[derive(Debug, PartialEq)]
pub(crate) enum Victim {
    /// Revoke this slice.
    Found(TokenId),
    /// A slice could be revoked once it has run its minimum quantum, at this instant.
    NotYet(Instant),
    /// No running slice is less urgent by the required gap.
    None,
}

/// Slot accounting. Lane 0 is "global only"; lane `i > 0` is the provider `names[i]`.
pub(crate) struct Slots {
    global_cap: usize,
    global_used: usize,
    caps: Vec<usize>,
    used: Vec<usize>,
    names: Vec<Arc<str>>,
    running: FxHashMap<TokenId, RunningSlice>,
    deadlines: BinaryHeap<Reverse<(Instant, TokenId)>>,
}

impl Slots {
    pub(crate) fn new(global_cap: usize, providers: &[(Arc<str>, usize)]) -> Self {
        let mut caps = vec![usize::MAX];
        let mut names: Vec<Arc<str>> = vec![Arc::from("")];
        for (name, cap) in providers {
            names.push(name.clone());
            caps.push(*cap);
        }
        Slots {
            global_cap,
            global_used: 0,
            used: vec![0; caps.len()],
            caps,
            names,
            running: FxHashMap::default(),
            deadlines: BinaryHeap::new(),
        }
    }

    /// Number of lanes (1 + configured providers).
    pub(crate) fn lanes(&self) -> usize {
        self.caps.len()
    }

    /// The lane of a provider (0 when none is named or it has no configured capacity).
    pub(crate) fn lane_of(&self, provider: Option<&str>) -> usize {
        provider
            .and_then(|p| self.names.iter().skip(1).position(|n| &**n == p))
            .map_or(0, |i| i + 1)
    }

    pub(crate) fn global_cap(&self) -> usize {
        self.global_cap
    }

    pub(crate) fn running_len(&self) -> usize {
        self.running.len()
    }

    /// Running slices per configured provider.
    pub(crate) fn per_provider(&self) -> impl Iterator<Item = (&str, usize)> {
        self.names
            .iter()
            .zip(&self.used)
            .skip(1)
            .map(|(n, u)| (&**n, *u))
    }

    pub(crate) fn has_room(&self, lane: usize) -> bool {
        self.global_used < self.global_cap
            && self.used.get(lane).is_some_and(|u| *u < self.caps[lane])
    }

    pub(crate) fn occupy(&mut self, slice: RunningSlice) {
        self.global_used += 1;
        self.used[slice.lane] += 1;
        self.deadlines
            .push(Reverse((slice.token.deadline(), slice.token.id())));
        self.running.insert(slice.token.id(), slice);
    }

    /// Frees the slot of `id`, if it still holds one.
    pub(crate) fn free(&mut self, id: TokenId) -> Option<RunningSlice> {
        let slice = self.running.remove(&id)?;
        self.global_used -= 1;
        self.used[slice.lane] -= 1;
        Some(slice)
    }

    /// Frees every slot whose deadline has passed.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<RunningSlice> {
        let mut out = Vec::new();
        while let Some(Reverse((deadline, id))) = self.deadlines.peek().copied() {
            if deadline > now {
                break;
            }
            self.deadlines.pop();
            if let Some(s) = self.free(id) {
                out.push(s);
            }
        }
        if self.deadlines.len() > 4 * self.running.len() + 64 {
            // Drop entries of slices already released so the heap stays proportional.
            let running = &self.running;
            self.deadlines
                .retain(|Reverse((_, id))| running.contains_key(id));
        }
        out
    }

    /// Token ids of the running slices of `pid`.
    pub(crate) fn held_by(&self, pid: crate::pid::Pid) -> Vec<TokenId> {
        self.running
            .values()
            .filter(|s| s.meta.pid == pid)
            .map(|s| s.token.id())
            .collect()
    }

    /// Finds the slice to revoke for a waiter of `priority` in `lane`: the least urgent holder
    /// (ties: the most recently granted) among those of other agents whose slot the waiter can
    /// use, that is at
    /// least `gap` points less urgent and has run at least `min_quantum`. `O(running)`, and the
    /// number of running slices is bounded by the global capacity.
    pub(crate) fn victim(
        &self,
        waiter: crate::pid::Pid,
        lane: usize,
        priority: u8,
        gap: u8,
        min_quantum: Duration,
        now: Instant,
    ) -> Victim {
        let provider_full = lane != 0 && self.used[lane] >= self.caps[lane];
        let threshold = priority.saturating_add(gap.max(1));
        let mut best: Option<&RunningSlice> = None;
        let mut soonest: Option<Instant> = None;
        for s in self.running.values() {
            if (provider_full && s.lane != lane)
                || s.meta.priority < threshold
                || s.meta.pid == waiter
            {
                continue;
            }
            let ready_at = s.granted_at + min_quantum;
            if ready_at > now {
                soonest = Some(soonest.map_or(ready_at, |t| t.min(ready_at)));
                continue;
            }
            let better = best
                .is_none_or(|b| (s.meta.priority, s.granted_at) > (b.meta.priority, b.granted_at));
            if better {
                best = Some(s);
            }
        }
        match (best, soonest) {
            (Some(s), _) => Victim::Found(s.token.id()),
            (None, Some(t)) => Victim::NotYet(t),
            (None, None) => Victim::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pid::Pid;

    fn slice(
        slots: &Slots,
        id: TokenId,
        priority: u8,
        provider: Option<&str>,
        ago_ms: u64,
    ) -> RunningSlice {
        let now = Instant::now();
        let pid = Pid::new();
        RunningSlice {
            token: SliceToken::new(
                id,
                pid,
                provider.map(Arc::from),
                priority,
                1,
                now + Duration::from_secs(60),
            ),
            meta: WaitMeta {
                pid,
                priority,
                order: id as i64,
                enqueued_us: 0,
                resume: false,
            },
            lane: slots.lane_of(provider),
            estimated: 1,
            granted_at: now - Duration::from_millis(ago_ms),
            notify: None,
        }
    }

    #[test]
    fn the_victim_is_the_least_urgent_eligible_holder_on_a_usable_slot() {
        let mut s = Slots::new(3, &[(Arc::from("p"), 1)]);
        let q = Duration::from_millis(100);
        let now = Instant::now();
        s.occupy(slice(&s, 1, 60, None, 500));
        s.occupy(slice(&s, 2, 90, None, 500));
        s.occupy(slice(&s, 3, 70, Some("p"), 500));
        assert!(!s.has_room(0) && !s.has_room(1));
        let me = Pid::new();
        // Global lane: any holder; the least urgent is 90.
        assert_eq!(s.victim(me, 0, 10, 20, q, now), Victim::Found(2));
        // Provider p is full: only its holder may be revoked.
        assert_eq!(s.victim(me, 1, 10, 20, q, now), Victim::Found(3));
        // Within the gap: nothing.
        assert_eq!(s.victim(me, 0, 80, 20, q, now), Victim::None);
        // Not yet run its minimum quantum: retry later.
        let mut s = Slots::new(1, &[]);
        s.occupy(slice(&s, 9, 90, None, 0));
        assert!(matches!(
            s.victim(me, 0, 0, 20, q, Instant::now()),
            Victim::NotYet(_)
        ));
        assert_eq!(s.free(9).map(|r| r.token.id()), Some(9));
        assert!(s.has_room(0));
    }
}
