//! Every message the scheduler actor handles, and the preemption notice it sends.

use actix::Message;
use tokio::sync::oneshot;

use super::config::PolicyKind;
use super::error::SchedulerError;
use super::quota::{Quota, Usage};
use super::request::SliceRequest;
use super::stats::SchedulerStats;
use super::token::{SliceToken, TokenId};
use crate::pid::Pid;

/// Reply channel of an [`Acquire`].
pub type GrantReply = oneshot::Sender<Result<SliceToken, SchedulerError>>;

/// Ask for a slice. The grant (or refusal) arrives on `reply`, possibly much later; dropping the
/// receiving end withdraws the request.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Acquire {
    /// The request.
    pub request: SliceRequest,
    /// Where the token (or the refusal) is sent.
    pub reply: GrantReply,
}

/// Give a slice back with what it actually used. Usage is charged even if the slice had been
/// revoked or had expired.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Release {
    /// The token being returned.
    pub token: SliceToken,
    /// Actual usage.
    pub usage: Usage,
}

/// Switch the policy; waiting requests are re-ordered under the new one.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct SetPolicy(pub PolicyKind);

/// Set (`Some`) or clear (`None`) an agent's quota override.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<(), SchedulerError>")]
pub struct SetQuota {
    /// The agent.
    pub pid: Pid,
    /// The override; `None` returns to the configured agent quota.
    pub quota: Option<Quota>,
}

/// Replace the kernel-wide quota.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<(), SchedulerError>")]
pub struct SetGlobalQuota(pub Quota);

/// Forget an agent (it terminated): its waiting requests fail with `Cancelled`, its running
/// slices are revoked and its per-agent state is dropped.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct Forget(pub Pid);

/// Read the scheduler's statistics.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "SchedulerStats")]
pub struct GetStats;

/// Sent to a request's `notify` recipient when its running slice is revoked. The holder should
/// stop at the next chunk, keep its partial output, release with the usage so far and
/// re-acquire with `resume = true`.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct SlicePreempted {
    /// The revoked token.
    pub token: TokenId,
    /// The holder.
    pub pid: Pid,
    /// The agent the slot went to.
    pub by: Pid,
}
