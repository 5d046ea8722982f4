//! `Scheduler`: the cheap-to-clone handle the kernel and agents hold.

use std::fmt;
use std::time::Instant;

use actix::{Actor, Addr, ArbiterHandle};
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;
use tracing::Instrument;

use super::actor::SchedulerActor;
use super::config::{PolicyKind, SchedulerConfig};
use super::core::{Core, Submitted};
use super::error::SchedulerError;
use super::event::SchedulerEvent;
use super::messages::Arm;
use super::quota::{Quota, Usage};
use super::request::SliceRequest;
use super::shared::{Shared, State};
use super::stats::{SchedulerStats, fill_waits};
use super::token::SliceToken;
use crate::pid::Pid;

/// Handle to a running scheduler. Clones share it.
///
/// The scheduling state (queues, slots, quotas, stats) sits behind one lock shared by every
/// handle and the [`SchedulerActor`]. Each operation takes the lock, lets the scheduler decide,
/// and returns: an acquisition that can be granted at once is granted before `acquire` first
/// yields, and a release is applied before it returns, with no message to the actor. The actor
/// drives time (expiry, quota windows, preemption retries); a handle sends it a message only
/// when an operation needs a timer it has not armed yet.
#[derive(Clone)]
pub struct Scheduler {
    shared: Shared,
    addr: Addr<SchedulerActor>,
}

impl fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scheduler")
            .field("connected", &self.addr.connected())
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// Starts a scheduler (its timer actor on the current arbiter; call inside an actix
    /// `System`).
    pub fn start(config: SchedulerConfig) -> Result<Self, SchedulerError> {
        Self::start_with_events(config, None)
    }

    /// Starts a scheduler that reports every [`SchedulerEvent`] on `events`.
    pub fn start_with_events(
        config: SchedulerConfig,
        events: Option<UnboundedSender<SchedulerEvent>>,
    ) -> Result<Self, SchedulerError> {
        let shared = State::shared(Core::new(config, events)?);
        let addr = SchedulerActor::new(shared.clone()).start();
        Ok(Scheduler { shared, addr })
    }

    /// Starts a scheduler whose timer actor runs on another arbiter (e.g. a dedicated one).
    /// Acquisitions and releases do not run on that arbiter: they are applied by the caller.
    pub fn start_in_arbiter(
        arbiter: &ArbiterHandle,
        config: SchedulerConfig,
        events: Option<UnboundedSender<SchedulerEvent>>,
    ) -> Result<Self, SchedulerError> {
        let shared = State::shared(Core::new(config, events)?);
        let actor = SchedulerActor::new(shared.clone());
        let addr = SchedulerActor::start_in_arbiter(arbiter, move |_| actor);
        Ok(Scheduler { shared, addr })
    }

    /// Applies `op` to the core under the lock, lets the scheduler grant what it can, and sends
    /// the actor the timers that asks for (only if some are needed and not armed yet).
    fn apply<R>(&self, op: impl FnOnce(&mut Core, Instant) -> R) -> Result<R, SchedulerError> {
        let (out, wake) = {
            let mut st = self.shared.lock();
            if st.is_stopped() {
                return Err(SchedulerError::Stopped);
            }
            let now = Instant::now();
            let out = op(&mut st.core, now);
            let wake = st.core.dispatch(now);
            (out, st.claim(wake))
        };
        if !wake.is_empty() {
            self.addr.do_send(Arm(wake));
        }
        Ok(out)
    }

    /// Waits for a slice. Resolves when the policy grants one (or at once with an error if the
    /// request can never be served, or [`SchedulerError::Stopped`] once the scheduler has
    /// stopped). With a free slot, nothing queued ahead and the quotas in reach, the slice is
    /// granted inside this call, without a reply channel and without waiting for any other
    /// task. Dropping the future withdraws the request.
    ///
    /// Every acquisition spends one unit of the task's cooperative budget (as any tokio receive
    /// does), so a loop that only acquires and releases still yields to other tasks now and
    /// then.
    pub async fn acquire(&self, request: SliceRequest) -> Result<SliceToken, SchedulerError> {
        let pid = request.pid;
        let rx = match self.apply(|core, now| core.submit(request, now))? {
            Submitted::Granted(token) => {
                // The yield point comes with the slice in hand (as it did when every grant
                // travelled through a channel), so that callers on one thread that only
                // acquire and release still queue up behind each other and the policy decides.
                let mut granted = GrantedSlice {
                    token,
                    handed: false,
                    scheduler: self,
                };
                tokio::task::coop::consume_budget().await;
                granted.handed = true;
                return Ok(granted.token.clone());
            }
            Submitted::Denied(error) => return Err(error),
            Submitted::Queued(rx) => rx,
        };
        // Granted under the lock just now (by the dispatch that followed the submit), or later.
        let mut pending = PendingGrant {
            rx,
            received: false,
            scheduler: self,
        };
        let outcome = (&mut pending.rx)
            .instrument(tracing::trace_span!("slice_wait", %pid))
            .await;
        pending.received = true;
        outcome.map_err(|_| SchedulerError::Stopped)?
    }

    /// Returns a slice with its actual usage (charged even if the slice was revoked). The same
    /// as [`Scheduler::release_nowait`]: the release is applied before this returns.
    #[allow(
        clippy::unused_async,
        reason = "an operation on the scheduler actor: async so callers do not rely on it running in their process"
    )]
    pub async fn release(&self, token: SliceToken, usage: Usage) -> Result<(), SchedulerError> {
        self.release_nowait(token, usage)
    }

    /// Returns a slice with its actual usage, without awaiting anything: the slot is freed, the
    /// usage charged and the next waiter granted before this returns, so everything done with
    /// the scheduler afterwards — in particular the same agent's next `acquire`, from any
    /// thread — sees it.
    pub fn release_nowait(&self, token: SliceToken, usage: Usage) -> Result<(), SchedulerError> {
        self.apply(|core, now| core.release(&token, usage, now))
    }

    /// Switches the scheduling policy.
    #[allow(
        clippy::unused_async,
        reason = "an operation on the scheduler actor: async so callers do not rely on it running in their process"
    )]
    pub async fn set_policy(&self, policy: PolicyKind) -> Result<(), SchedulerError> {
        self.apply(|core, _| core.set_policy(policy))
    }

    /// Sets (`Some`) or clears (`None`) an agent's quota override (e.g. at spawn).
    #[allow(
        clippy::unused_async,
        reason = "an operation on the scheduler actor: async so callers do not rely on it running in their process"
    )]
    pub async fn set_quota(&self, pid: Pid, quota: Option<Quota>) -> Result<(), SchedulerError> {
        self.apply(|core, _| core.set_quota(pid, quota))?
    }

    /// Replaces the kernel-wide quota.
    #[allow(
        clippy::unused_async,
        reason = "an operation on the scheduler actor: async so callers do not rely on it running in their process"
    )]
    pub async fn set_global_quota(&self, quota: Quota) -> Result<(), SchedulerError> {
        self.apply(|core, _| core.set_global_quota(quota))?
    }

    /// Forgets a terminated agent: cancels its requests and revokes its slices.
    #[allow(
        clippy::unused_async,
        reason = "an operation on the scheduler actor: async so callers do not rely on it running in their process"
    )]
    pub async fn forget(&self, pid: Pid) -> Result<(), SchedulerError> {
        self.apply(|core, _| core.forget(pid))
    }

    /// A statistics snapshot.
    #[allow(
        clippy::unused_async,
        reason = "an operation on the scheduler actor: async so callers do not rely on it running in their process"
    )]
    pub async fn stats(&self) -> Result<SchedulerStats, SchedulerError> {
        let (mut stats, waits) = {
            let mut st = self.shared.lock();
            if st.is_stopped() {
                return Err(SchedulerError::Stopped);
            }
            st.core.stats(Instant::now())
        };
        fill_waits(&mut stats, waits);
        Ok(stats)
    }
}

/// Releases a slice granted at once whose acquisition future is dropped at its yield point,
/// before the caller got the token.
struct GrantedSlice<'a> {
    token: SliceToken,
    handed: bool,
    scheduler: &'a Scheduler,
}

impl Drop for GrantedSlice<'_> {
    fn drop(&mut self) {
        if !self.handed {
            // A stopped scheduler has nothing left to free.
            let _ = self
                .scheduler
                .release_nowait(self.token.clone(), Usage::default());
        }
    }
}

/// Withdraws a queued acquisition whose future is dropped: the request is skipped when it
/// reaches the head, and a token granted but never received is released at once (instead of
/// holding its slot until its deadline).
struct PendingGrant<'a> {
    rx: oneshot::Receiver<Result<SliceToken, SchedulerError>>,
    received: bool,
    scheduler: &'a Scheduler,
}

impl Drop for PendingGrant<'_> {
    fn drop(&mut self) {
        if self.received {
            return;
        }
        self.rx.close();
        if let Ok(Ok(token)) = self.rx.try_recv() {
            // A stopped scheduler has nothing left to free.
            let _ = self.scheduler.release_nowait(token, Usage::default());
        }
    }
}
