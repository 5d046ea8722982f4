//! `Scheduler`: the cheap-to-clone handle the kernel and agents hold.

use actix::{Actor, Addr};
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
use crate::agent::Pid;

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
        self.addr
            .send(Acquire { request, reply })
            .await
            .map_err(|_| SchedulerError::Stopped)?;
        rx.await.map_err(|_| SchedulerError::Stopped)?
    }

    /// Returns a slice with its actual usage (charged even if the slice was revoked).
    pub async fn release(&self, token: SliceToken, usage: Usage) -> Result<(), SchedulerError> {
        self.addr
            .send(Release { token, usage })
            .await
            .map_err(|_| SchedulerError::Stopped)
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
