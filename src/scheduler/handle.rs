//! `Scheduler`: the cheap-to-clone handle the kernel and agents hold.

use actix::{Actor, Addr, ArbiterHandle};
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;

use super::actor::SchedulerActor;
use super::config::{PolicyKind, SchedulerConfig};
use super::error::SchedulerError;
use super::event::SchedulerEvent;
use super::messages::{Acquire, Forget, GetStats, Release, SetGlobalQuota, SetPolicy, SetQuota};
use super::quota::{Quota, Usage};
use super::request::SliceRequest;
use super::stats::SchedulerStats;
use super::token::SliceToken;
use crate::pid::Pid;

/// Handle to a running [`SchedulerActor`]. Clones share the actor.
#[derive(Clone, Debug)]
pub struct Scheduler {
    addr: Addr<SchedulerActor>,
}

impl Scheduler {
    /// Starts a scheduler actor on the current arbiter (call inside an actix `System`).
    pub fn start(config: SchedulerConfig) -> Result<Self, SchedulerError> {
        Self::start_with_events(config, None)
    }

    /// Starts a scheduler actor that reports every [`SchedulerEvent`] on `events`.
    pub fn start_with_events(
        config: SchedulerConfig,
        events: Option<UnboundedSender<SchedulerEvent>>,
    ) -> Result<Self, SchedulerError> {
        Ok(Scheduler {
            addr: SchedulerActor::new(config, events)?.start(),
        })
    }

    /// Starts a scheduler actor on another arbiter (e.g. a dedicated one, so the scheduler never
    /// shares a thread with agents).
    pub fn start_in_arbiter(
        arbiter: &ArbiterHandle,
        config: SchedulerConfig,
        events: Option<UnboundedSender<SchedulerEvent>>,
    ) -> Result<Self, SchedulerError> {
        let actor = SchedulerActor::new(config, events)?;
        Ok(Scheduler {
            addr: SchedulerActor::start_in_arbiter(arbiter, move |_| actor),
        })
    }

    /// Wraps the address of an already started actor.
    pub fn from_addr(addr: Addr<SchedulerActor>) -> Self {
        Scheduler { addr }
    }

    /// The actor's address.
    pub fn addr(&self) -> &Addr<SchedulerActor> {
        &self.addr
    }

    /// Waits for a slice. Resolves when the policy grants one (or at once with an error if the
    /// request can never be served). Dropping the future withdraws the request.
    #[tracing::instrument(level = "trace", skip_all, fields(pid = %request.pid))]
    pub async fn acquire(&self, request: SliceRequest) -> Result<SliceToken, SchedulerError> {
        let (reply, rx) = oneshot::channel();
        let mut pending = PendingGrant {
            rx: Some(rx),
            addr: self.addr.clone(),
        };
        // The grant arrives on `reply`; actix's own response channel would only add a wake-up.
        // A stopped actor drops the message and with it `reply`, which reads as `Stopped` below.
        self.addr.do_send(Acquire { request, reply });
        let Some(rx) = pending.rx.as_mut() else {
            return Err(SchedulerError::Stopped);
        };
        let outcome = rx.await;
        pending.rx = None;
        outcome.map_err(|_| SchedulerError::Stopped)?
    }

    /// Returns a slice with its actual usage (charged even if the slice was revoked).
    pub async fn release(&self, token: SliceToken, usage: Usage) -> Result<(), SchedulerError> {
        self.addr
            .send(Release { token, usage })
            .await
            .map_err(|_| SchedulerError::Stopped)
    }

    /// [`Scheduler::release`] without waiting for the actor to handle it. The release is queued
    /// in the actor's mailbox before this returns, so every message sent to the scheduler
    /// afterwards — in particular the same agent's next `acquire` — is handled after the usage
    /// was charged (an actix mailbox is one FIFO queue).
    pub fn release_nowait(&self, token: SliceToken, usage: Usage) -> Result<(), SchedulerError> {
        if !self.addr.connected() {
            return Err(SchedulerError::Stopped);
        }
        self.addr.do_send(Release { token, usage });
        Ok(())
    }

    /// Switches the scheduling policy.
    pub async fn set_policy(&self, policy: PolicyKind) -> Result<(), SchedulerError> {
        self.addr
            .send(SetPolicy(policy))
            .await
            .map_err(|_| SchedulerError::Stopped)
    }

    /// Sets (`Some`) or clears (`None`) an agent's quota override (e.g. at spawn).
    pub async fn set_quota(&self, pid: Pid, quota: Option<Quota>) -> Result<(), SchedulerError> {
        self.addr
            .send(SetQuota { pid, quota })
            .await
            .map_err(|_| SchedulerError::Stopped)?
    }

    /// Replaces the kernel-wide quota.
    pub async fn set_global_quota(&self, quota: Quota) -> Result<(), SchedulerError> {
        self.addr
            .send(SetGlobalQuota(quota))
            .await
            .map_err(|_| SchedulerError::Stopped)?
    }

    /// Forgets a terminated agent: cancels its requests and revokes its slices.
    pub async fn forget(&self, pid: Pid) -> Result<(), SchedulerError> {
        self.addr
            .send(Forget(pid))
            .await
            .map_err(|_| SchedulerError::Stopped)
    }

    /// A statistics snapshot.
    pub async fn stats(&self) -> Result<SchedulerStats, SchedulerError> {
        self.addr
            .send(GetStats)
            .await
            .map_err(|_| SchedulerError::Stopped)
    }
}

/// Withdraws an acquisition whose future is dropped: the request is skipped when it reaches the
/// head, and a token granted but never received is released at once (instead of holding its slot
/// until its deadline).
struct PendingGrant {
    rx: Option<oneshot::Receiver<Result<SliceToken, SchedulerError>>>,
    addr: Addr<SchedulerActor>,
}

impl Drop for PendingGrant {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            rx.close();
            if let Ok(Ok(token)) = rx.try_recv() {
                self.addr.do_send(Release {
                    token,
                    usage: Usage::default(),
                });
            }
        }
    }
}
