//! The in-memory envelope that carries one message to one agent.

use std::sync::Arc;

use tokio::sync::oneshot;

use crate::agent::Agent;
use crate::error::IpcError;
use crate::pid::Pid;

/// A reply on its way back to an asker: the agent's `Reply`, or why there is none.
pub(crate) type ReplyResult<R> = Result<R, IpcError>;

/// Where to send the reply of an `ask` (or the outcome of a `call`).
pub(crate) type ReplyTx<R> = oneshot::Sender<ReplyResult<R>>;

/// One message in an agent's data mailbox, typed by the agent: a typed handle enqueues it
/// without any check, and the dynamic paths (topics, JSON) build it after checking the type
/// or decoding.
pub(crate) struct Envelope<A: Agent> {
    pub(crate) msg: A::Msg,
    pub(crate) from: Option<Pid>,
    pub(crate) topic: Option<Arc<str>>,
    pub(crate) reply: Option<ReplyTx<A::Reply>>,
    /// Set for a message persisted in a durable mailbox.
    pub(crate) delivery: Option<Box<DeliveryTag>>,
}

/// A durable message's row and delivery id.
#[derive(Debug, Clone)]
pub(crate) struct DeliveryTag {
    pub(crate) row: i64,
    pub(crate) id: String,
    /// Handed over again after a restart (its step may have run before).
    pub(crate) redelivered: bool,
}

impl<A: Agent> Envelope<A> {
    /// A message without a reply slot.
    pub(crate) fn tell(msg: A::Msg, from: Option<Pid>) -> Self {
        Envelope {
            msg,
            from,
            topic: None,
            reply: None,
            delivery: None,
        }
    }
}
