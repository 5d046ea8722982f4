//! [`ReplyPort`]: a typed reply slot carried inside a message (ractor's model), so each message
//! of an agent can answer its own type.

use std::fmt;

use tokio::sync::oneshot;

/// Where the handler of one message sends that message's answer.
///
/// A message variant carries it (`Get(ReplyPort<u64>)`); the sender builds the message with
/// [`crate::AgentRef::call`], which resolves to the port's type with the same timeout, crash,
/// kill and stop semantics as [`crate::AgentRef::ask`]. The handler answers with
/// [`ReplyPort::send`], at once or later (it may move the port into a task or another agent's
/// message); a port dropped unanswered gives the caller [`crate::IpcError::NoReply`] — or the
/// crash, interruption or handler error that dropped it.
///
/// ```
/// use agent_os_kernel::prelude::*;
///
/// enum Msg { Double(u32, ReplyPort<u32>) }
///
/// struct Doubler;
///
/// impl Agent for Doubler {
///     type Msg = Msg;
///     type Reply = ();
///     async fn handle(&mut self, msg: Msg, _ctx: &mut AgentContext) -> Result<(), AgentError> {
///         let Msg::Double(n, reply) = msg;
///         reply.send(n * 2);
///         Ok(())
///     }
/// }
///
/// # async fn demo(doubler: AgentRef<Doubler>) -> Result<(), IpcError> {
/// let four: u32 = doubler.call(|reply| Msg::Double(2, reply)).await?;
/// # Ok(()) }
/// ```
pub struct ReplyPort<T> {
    tx: oneshot::Sender<T>,
}

impl<T> ReplyPort<T> {
    pub(crate) fn new() -> (Self, oneshot::Receiver<T>) {
        let (tx, rx) = oneshot::channel();
        (ReplyPort { tx }, rx)
    }

    /// Sends the answer. If the caller has stopped waiting (timed out, dropped its future) the
    /// answer is discarded.
    pub fn send(self, value: T) {
        let _ = self.tx.send(value);
    }

    /// Whether the caller has stopped waiting (the answer would be discarded).
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

impl<T> fmt::Debug for ReplyPort<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyPort")
            .field("type", &std::any::type_name::<T>())
            .field("closed", &self.tx.is_closed())
            .finish()
    }
}
