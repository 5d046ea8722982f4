//! The message the scheduler actor handles, and the preemption notice it sends.
//!
//! Acquisitions, releases and the other operations do not travel as messages: a
//! [`super::Scheduler`] handle applies them to the shared core under its lock. The actor only
//! drives time (expiry, quota windows, preemption retries) and is told by [`Arm`] which timers
//! such an operation needs.

use actix::Message;
use tokio::sync::oneshot;

use super::core::Wakeups;
use super::error::SchedulerError;
use super::token::{SliceToken, TokenId};
use crate::pid::Pid;

/// Where the token of a slice request (or its refusal) is sent, possibly much later; dropping
/// the receiving end withdraws the request.
pub(crate) type GrantReply = oneshot::Sender<Result<SliceToken, SchedulerError>>;

/// Arm the timers a state change made outside the actor asks for (a `Scheduler` handle's
/// acquire, release, …). Sent only when [`Wakeups`] is not empty and no armed timer covers it.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub(crate) struct Arm(pub(crate) Wakeups);

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
