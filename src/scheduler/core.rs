//! The scheduler's state machine, free of actix: queues, slots, quotas, preemption, stats.
//! One `Core` is shared, under one lock, by every `Scheduler` handle and the actor
//! (`shared.rs`); the actor turns its [`Wakeups`] into timers.

use rustc_hash::FxHashMap;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;
use tracing::{debug, trace};

use super::config::{PolicyKind, SchedulerConfig};
use super::error::SchedulerError;
use super::event::{QuotaScope, SchedulerEvent};
use super::messages::SlicePreempted;
use super::policy::{self, Policy, WaitMeta};
use super::queue::{WaitQueues, Waiter};
use super::quota::{Admission, Ledger, Quota, Usage};
use super::request::{SliceProgress, SliceRequest};
use super::slots::{RunningSlice, Slots, Victim};
use super::stats::{Recorder, SchedulerStats};
use super::token::{SliceToken, TokenId};
use crate::pid::Pid;

/// Timers the actor must arm after a state change.
#[derive(Debug, Default)]
pub(crate) struct Wakeups {
    /// Look at the waiters parked on a quota scope again at this instant (window reset).
    pub(crate) quota: Vec<(QuotaScope, Instant)>,
    /// Try preemption again at this instant (a holder reaches its minimum quantum).
    pub(crate) preempt_at: Option<Instant>,
}

impl Wakeups {
    /// True when no timer is asked for.
    pub(crate) fn is_empty(&self) -> bool {
        self.quota.is_empty() && self.preempt_at.is_none()
    }
}

/// What became of a slice request on arrival (see [`Core::submit`]).
pub(crate) enum Submitted {
    /// Granted at once.
    Granted(SliceToken),
    /// Refused: it can never be served.
    Denied(SchedulerError),
    /// Waiting: the token (or a refusal) arrives here; dropping it withdraws the request.
    Queued(oneshot::Receiver<Result<SliceToken, SchedulerError>>),
}

#[derive(Default)]
struct Parked {
    waiters: Vec<Waiter>,
    timer: Option<Instant>,
}

/// See the module docs.
pub(crate) struct Core {
    config: SchedulerConfig,
    policy: Box<dyn Policy>,
    queues: WaitQueues,
    slots: Slots,
    parked: FxHashMap<QuotaScope, Parked>,
    ledgers: FxHashMap<Pid, Ledger>,
    overrides: FxHashMap<Pid, Quota>,
    global: Ledger,
    global_quota: Quota,
    recorder: Recorder,
    events: Option<UnboundedSender<SchedulerEvent>>,
    epoch: Instant,
    next_order: i64,
    next_front: i64,
    next_token: TokenId,
    resume_origin: FxHashMap<Pid, u64>,
}

impl Core {
    pub(crate) fn new(
        config: SchedulerConfig,
        events: Option<UnboundedSender<SchedulerEvent>>,
    ) -> Result<Self, SchedulerError> {
        config.validate()?;
        let providers: Vec<(Arc<str>, usize)> = config
            .per_provider_slots
            .iter()
            .map(|(name, n)| (Arc::from(name.as_str()), *n))
            .collect();
        let slots = Slots::new(config.global_slots, &providers);
        let mut overrides = FxHashMap::default();
        for (pid, quota) in &config.agent_overrides {
            let pid: Pid = pid
                .parse()
                .map_err(|e| SchedulerError::InvalidConfig(format!("{e}")))?;
            overrides.insert(pid, quota.clone());
        }
        Ok(Core {
            policy: policy::build(config.policy, &config),
            queues: WaitQueues::new(slots.lanes()),
            slots,
            parked: FxHashMap::default(),
            ledgers: FxHashMap::default(),
            overrides,
            global: Ledger::new(),
            global_quota: config.global_quota.clone(),
            recorder: Recorder::new(config.wait_samples),
            events,
            epoch: Instant::now(),
            next_order: 0,
            next_front: 0,
            next_token: 1,
            resume_origin: FxHashMap::default(),
            config,
        })
    }

    /// Interval of the expiry timer.
    pub(crate) fn reclaim_interval(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.config.reclaim_interval_ms)
    }

    fn emit(&self, event: SchedulerEvent) {
        if let Some(tx) = &self.events {
            // A closed event channel only means nobody listens any more.
            let _ = tx.send(event);
        }
    }

    fn agent_quota(&self, pid: Pid) -> &Quota {
        self.overrides.get(&pid).unwrap_or(&self.config.agent_quota)
    }

    fn deny(&mut self, pid: Pid, error: SchedulerError) -> Submitted {
        debug!(%pid, %error, "slice request denied");
        self.recorder.denials += 1;
        self.emit(SchedulerEvent::Denied {
            pid,
            error: error.clone(),
        });
        Submitted::Denied(error)
    }

    /// Takes a slice request: refuses it at once (nothing charged) if it can never be served,
    /// grants it at once if nothing waits ahead of it, a slot is free and its quotas are in
    /// reach, and queues it otherwise (a queued request may still be granted by the
    /// [`Core::dispatch`] that follows under the same lock).
    pub(crate) fn submit(&mut self, request: SliceRequest, now: Instant) -> Submitted {
        let pid = request.pid;
        if request.priority > 100 {
            return self.deny(pid, SchedulerError::InvalidPriority(request.priority));
        }
        let est = request.estimated_tokens;
        let checks = Ledger::precheck(self.agent_quota(pid), pid, est)
            .and_then(|()| Ledger::precheck(&self.global_quota, pid, est));
        if let Err(error) = checks {
            return self.deny(pid, error);
        }
        let now_us = u64::try_from(now.duration_since(self.epoch).as_micros()).unwrap_or(u64::MAX);
        let (order, enqueued_us) = if request.resume {
            self.next_front -= 1;
            let origin = self.resume_origin.remove(&pid).unwrap_or(now_us);
            (self.next_front, origin.min(now_us))
        } else {
            self.next_order += 1;
            (self.next_order, now_us)
        };
        let meta = WaitMeta {
            pid,
            priority: request.priority,
            order,
            enqueued_us,
            resume: request.resume,
        };
        let key = self.policy.key(&meta);
        let lane = self.slots.lane_of(request.provider.as_deref());
        trace!(%pid, priority = meta.priority, resume = meta.resume, "slice request queued");
        self.emit(SchedulerEvent::Queued {
            pid,
            priority: meta.priority,
            provider: request.provider.clone(),
            resume: meta.resume,
        });
        request.progress(SliceProgress::Queued);
        // The same decision `dispatch` would take for this request at the head of an empty
        // queue, without the round trip through the queue and a reply channel.
        if self.queues.len() == 0
            && self.slots.has_room(lane)
            && self.over_quota(pid, est, now).is_none()
        {
            let token = self.mint(&request, &meta, now);
            self.occupy(token.clone(), request, meta, key, lane, now, now);
            return Submitted::Granted(token);
        }
        let (reply, rx) = oneshot::channel();
        self.queues.push(Waiter {
            request,
            meta,
            key,
            lane,
            queued_at: now,
            reply,
        });
        Submitted::Queued(rx)
    }

    /// Grants slices while capacity and quotas allow, preempting where the rules say so.
    pub(crate) fn dispatch(&mut self, now: Instant) -> Wakeups {
        let mut wake = Wakeups::default();
        if self.queues.len() == 0 {
            return wake;
        }
        loop {
            let mut run: Option<(policy::QueueKey, usize)> = None;
            let mut any: Option<(policy::QueueKey, usize)> = None;
            for lane in 0..self.queues.lanes() {
                let Some(w) = self.queues.peek(lane) else {
                    continue;
                };
                if any.is_none_or(|(k, _)| w.key < k) {
                    any = Some((w.key, lane));
                }
                if self.slots.has_room(lane) && run.is_none_or(|(k, _)| w.key < k) {
                    run = Some((w.key, lane));
                }
            }
            let Some((_, lane)) = run.or(any) else {
                break;
            };
            if !self.head_ready(lane, now, &mut wake) {
                continue;
            }
            if run.is_some() {
                if let Some(w) = self.queues.pop(lane) {
                    self.grant(w, now);
                }
                continue;
            }
            if !self.config.preemption {
                break;
            }
            let Some(w) = self.queues.peek(lane) else {
                break;
            };
            let (priority, by) = (w.meta.priority, w.meta.pid);
            let gap = self.config.preempt_priority_gap;
            match self
                .slots
                .victim(by, lane, priority, gap, self.config.min_quantum(), now)
            {
                Victim::Found(id) => self.preempt(id, by),
                Victim::NotYet(at) => {
                    wake.preempt_at = Some(at);
                    break;
                }
                Victim::None => break,
            }
        }
        wake
    }

    /// Drops a withdrawn head or parks an over-quota one; true if the head may be served.
    fn head_ready(&mut self, lane: usize, now: Instant, wake: &mut Wakeups) -> bool {
        let Some(w) = self.queues.peek(lane) else {
            return false;
        };
        if w.reply.is_closed() {
            self.queues.pop(lane);
            return false;
        }
        let (pid, est) = (w.meta.pid, w.request.estimated_tokens);
        let Some((scope, until)) = self.over_quota(pid, est, now) else {
            return true;
        };
        if let Some(w) = self.queues.pop(lane) {
            self.park(scope, until, w, wake);
        }
        false
    }

    fn over_quota(&mut self, pid: Pid, est: u64, now: Instant) -> Option<(QuotaScope, Instant)> {
        let quota = self.overrides.get(&pid).unwrap_or(&self.config.agent_quota);
        if quota.caps_nothing() && self.global_quota.caps_nothing() {
            return None; // nothing to wait for (usage is still charged at release)
        }
        let ledger = self.ledgers.entry(pid).or_insert_with(Ledger::new);
        if let Admission::WaitUntil(t) = ledger.admit(quota, est, now) {
            return Some((QuotaScope::Agent(pid), t));
        }
        if let Admission::WaitUntil(t) = self.global.admit(&self.global_quota, est, now) {
            return Some((QuotaScope::Global, t));
        }
        None
    }

    fn park(&mut self, scope: QuotaScope, until: Instant, w: Waiter, wake: &mut Wakeups) {
        let pid = w.meta.pid;
        debug!(%pid, ?scope, "slice request waits for its quota window");
        self.emit(SchedulerEvent::WaitingQuota { pid, scope, until });
        w.request.progress(SliceProgress::WaitingQuota);
        let parked = self.parked.entry(scope).or_default();
        parked.waiters.push(w);
        if parked.timer.is_none_or(|t| until < t) {
            parked.timer = Some(until);
            wake.quota.push((scope, until));
        }
    }

    /// Returns the waiters parked on `scope` to the queues (they keep their positions).
    pub(crate) fn wake(&mut self, scope: QuotaScope) {
        if self.parked.is_empty() {
            return;
        }
        if let Some(parked) = self.parked.remove(&scope) {
            for w in parked.waiters {
                if !w.reply.is_closed() {
                    self.queues.push(w);
                }
            }
        }
    }

    fn grant(&mut self, w: Waiter, now: Instant) {
        let Waiter {
            request,
            meta,
            key,
            lane,
            queued_at,
            reply,
        } = w;
        let token = self.mint(&request, &meta, now);
        if reply.send(Ok(token.clone())).is_err() {
            return; // withdrawn: nothing was occupied or charged
        }
        self.occupy(token, request, meta, key, lane, queued_at, now);
    }

    /// A new token for `request`, granted now (nothing is occupied or charged yet).
    fn mint(&mut self, request: &SliceRequest, meta: &WaitMeta, now: Instant) -> SliceToken {
        let quantum = match self.policy.kind() {
            PolicyKind::RoundRobin => self.config.rr_quantum_tokens,
            _ => request.estimated_tokens.max(1),
        };
        let id = self.next_token;
        self.next_token += 1;
        let deadline = now
            + request
                .deadline
                .unwrap_or(self.config.default_slice_deadline());
        SliceToken::granted(
            id,
            meta.pid,
            request.provider.clone(),
            meta.priority,
            quantum,
            (now, deadline),
        )
    }

    /// Books a granted token: its slot, its reservation against the quotas, the stats.
    #[allow(clippy::too_many_arguments)]
    fn occupy(
        &mut self,
        token: SliceToken,
        request: SliceRequest,
        meta: WaitMeta,
        key: policy::QueueKey,
        lane: usize,
        queued_at: Instant,
        now: Instant,
    ) {
        self.policy.granted(&meta, key);
        let est = request.estimated_tokens;
        self.ledgers
            .entry(meta.pid)
            .or_insert_with(Ledger::new)
            .reserve(est, now);
        self.global.reserve(est, now);
        let waited = now.saturating_duration_since(queued_at);
        self.recorder.granted(meta.pid, waited);
        debug!(pid = %meta.pid, token = token.id(), ?waited, "slice granted");
        self.emit(SchedulerEvent::Granted {
            pid: meta.pid,
            token: token.id(),
            waited,
        });
        request.progress(SliceProgress::Granted);
        self.slots.occupy(RunningSlice {
            token,
            meta,
            lane,
            estimated: est,
            granted_at: now,
            notify: request.notify,
        });
    }

    fn unreserve(&mut self, pid: Pid, est: u64) {
        if let Some(l) = self.ledgers.get_mut(&pid) {
            l.unreserve(est);
        }
        self.global.unreserve(est);
    }

    fn preempt(&mut self, id: TokenId, by: Pid) {
        let Some(s) = self.slots.free(id) else {
            return;
        };
        s.token.revoke();
        let pid = s.meta.pid;
        self.unreserve(pid, s.estimated);
        self.recorder.preempted(pid);
        self.resume_origin.insert(pid, s.meta.enqueued_us);
        debug!(%pid, token = id, %by, "slice preempted");
        if let Some(r) = &s.notify {
            r.do_send(SlicePreempted { token: id, pid, by });
        }
        self.emit(SchedulerEvent::Preempted { pid, token: id, by });
    }

    /// Frees the token's slot (if it still holds one) and charges the usage.
    pub(crate) fn release(&mut self, token: &SliceToken, usage: Usage, now: Instant) {
        let pid = token.pid();
        if let Some(s) = self.slots.free(token.id()) {
            self.unreserve(pid, s.estimated);
        }
        let quota = self.overrides.get(&pid).unwrap_or(&self.config.agent_quota);
        self.ledgers
            .entry(pid)
            .or_insert_with(Ledger::new)
            .charge(quota, &usage, now);
        self.global.charge(&self.global_quota, &usage, now);
        self.recorder.used(pid, &usage);
        trace!(%pid, token = token.id(), "slice released");
        self.emit(SchedulerEvent::Released {
            pid,
            token: token.id(),
            usage,
        });
        // The agent's own running slices may have been what held its waiters back.
        self.wake(QuotaScope::Agent(pid));
    }

    /// Reclaims the slots of expired slices; true if any was freed.
    pub(crate) fn reclaim(&mut self, now: Instant) -> bool {
        let expired = self.slots.expire(now);
        let any = !expired.is_empty();
        for s in expired {
            let pid = s.meta.pid;
            self.unreserve(pid, s.estimated);
            self.recorder.expired(pid);
            debug!(%pid, token = s.token.id(), "slice expired, slot reclaimed");
            self.emit(SchedulerEvent::Expired {
                pid,
                token: s.token.id(),
            });
        }
        any
    }

    fn take_all_waiters(&mut self) -> Vec<(Option<QuotaScope>, Waiter)> {
        let mut all: Vec<_> = self.queues.drain().into_iter().map(|w| (None, w)).collect();
        for (scope, parked) in self.parked.iter_mut() {
            all.extend(parked.waiters.drain(..).map(|w| (Some(*scope), w)));
        }
        all
    }

    fn put_back(&mut self, scope: Option<QuotaScope>, w: Waiter) {
        match scope {
            None => self.queues.push(w),
            Some(s) => self.parked.entry(s).or_default().waiters.push(w),
        }
    }

    /// Switches the policy and re-keys every waiter under it, in request order.
    pub(crate) fn set_policy(&mut self, kind: PolicyKind) {
        let mut all = self.take_all_waiters();
        all.sort_by_key(|(_, w)| w.meta.order);
        self.policy = policy::build(kind, &self.config);
        for (scope, mut w) in all {
            w.key = self.policy.key(&w.meta);
            self.put_back(scope, w);
        }
        debug!(policy = %kind, "scheduler policy switched");
    }

    /// Sets or clears an agent's quota override; its parked requests are looked at again.
    pub(crate) fn set_quota(
        &mut self,
        pid: Pid,
        quota: Option<Quota>,
    ) -> Result<(), SchedulerError> {
        match quota {
            Some(q) => {
                q.validate("quota")?;
                self.overrides.insert(pid, q);
            }
            None => {
                self.overrides.remove(&pid);
            }
        }
        self.wake(QuotaScope::Agent(pid));
        Ok(())
    }

    /// Replaces the global quota; globally parked requests are looked at again.
    pub(crate) fn set_global_quota(&mut self, quota: Quota) -> Result<(), SchedulerError> {
        quota.validate("global_quota")?;
        self.global_quota = quota;
        self.wake(QuotaScope::Global);
        Ok(())
    }

    /// Cancels the agent's requests, revokes its slices and drops its state.
    pub(crate) fn forget(&mut self, pid: Pid) {
        for (scope, w) in self.take_all_waiters() {
            if w.meta.pid == pid {
                let _ = w.reply.send(Err(SchedulerError::Cancelled(pid)));
            } else {
                self.put_back(scope, w);
            }
        }
        self.parked.retain(|_, p| !p.waiters.is_empty());
        for id in self.slots.held_by(pid) {
            if let Some(s) = self.slots.free(id) {
                s.token.revoke();
                self.global.unreserve(s.estimated);
            }
        }
        self.policy.forget(pid);
        self.ledgers.remove(&pid);
        self.overrides.remove(&pid);
        self.resume_origin.remove(&pid);
        self.recorder.agents.remove(&pid);
    }

    /// Takes every waiting request (queued or parked) out of the scheduler.
    pub(crate) fn drain_waiters(&mut self) -> Vec<Waiter> {
        let all = self
            .take_all_waiters()
            .into_iter()
            .map(|(_, w)| w)
            .collect();
        self.parked.clear();
        all
    }

    /// A snapshot of the statistics, with the wait percentiles still unset, and the recorded
    /// waits they are computed from (sort them outside the lock: [`super::stats::fill_waits`]).
    pub(crate) fn stats(&mut self, now: Instant) -> (SchedulerStats, Vec<u64>) {
        let waits = self.recorder.waits();
        let mut agents = std::collections::BTreeMap::new();
        for (pid, a) in &self.recorder.agents {
            let mut a = a.clone();
            if let Some(l) = self.ledgers.get_mut(pid) {
                let quota = self.overrides.get(pid).unwrap_or(&self.config.agent_quota);
                a.window = l.usage(quota, now);
            }
            agents.insert(*pid, a);
        }
        let stats = SchedulerStats {
            policy: self.policy.kind(),
            global_slots: self.slots.global_cap(),
            running: self.slots.running_len(),
            running_per_provider: self
                .slots
                .per_provider()
                .map(|(n, u)| (n.to_string(), u))
                .collect(),
            queued: self.queues.len(),
            queue_depth_by_priority: self.queues.depth_by_priority(),
            waiting_quota: self.parked.values().map(|p| p.waiters.len()).sum(),
            wait_p50: std::time::Duration::ZERO,
            wait_p90: std::time::Duration::ZERO,
            wait_p99: std::time::Duration::ZERO,
            grants: self.recorder.grants,
            preemptions: self.recorder.preemptions,
            expirations: self.recorder.expirations,
            denials: self.recorder.denials,
            global_window: self.global.usage(&self.global_quota, now),
            agents,
        };
        (stats, waits)
    }
}
