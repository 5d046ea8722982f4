//! The in-memory envelope that carries one message to one agent.

use std::any::Any;
use std::sync::Arc;

use tokio::sync::oneshot;

use crate::error::IpcError;
use crate::pid::Pid;

/// A reply on its way back to an asker: the agent's `Reply` boxed, or an error.
pub(crate) type ReplyResult = Result<Box<dyn Any + Send>, IpcError>;

/// Where to send the reply of an `ask`.
pub(crate) type ReplyTx = oneshot::Sender<ReplyResult>;

/// One message in a mailbox. The payload is always exactly the receiving agent's `Msg` type:
/// senders check the type (or decode JSON) before enqueueing, so a mismatch is reported to
/// the sender synchronously.
pub(crate) struct Envelope {
    pub(crate) payload: Box<dyn Any + Send>,
    pub(crate) from: Option<Pid>,
    pub(crate) topic: Option<Arc<str>>,
    pub(crate) reply: Option<ReplyTx>,
}
