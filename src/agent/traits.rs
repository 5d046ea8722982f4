//! The [`Agent`] trait users implement.

use std::future::Future;

use crate::agent::AgentContext;
use crate::error::AgentError;
use crate::supervisor::ExitReason;

/// A user agent: its state, its message handler, its lifecycle hooks.
///
/// The kernel runs each agent in its own actix actor ([`crate::Kernel::spawn`] returns its
/// typed handle, an [`crate::AgentRef`]). Messages are handled **one at a time, in mailbox
/// order**, even across `.await`s inside `handle`: the next message is taken only after the
/// previous handler's future completed. A panic inside a handler is caught and becomes an
/// abnormal exit, which the agent's supervisor answers (by default: restart from the factory
/// under the same pid, keeping queued messages).
///
/// `Msg` and `Reply` need only be `Send + 'static`. Agents whose types are serde can opt into
/// JSON access at spawn ([`crate::Spawn::json`]), which the JSON envelope, the CLI and the HTTP
/// API use.
///
/// One reply type for every message:
///
/// ```
/// use agent_os_kernel::prelude::*;
///
/// #[derive(Default)]
/// struct Counter { total: u64 }
///
/// enum CounterMsg { Add(u64), Get }
///
/// impl Agent for Counter {
///     type Msg = CounterMsg;
///     type Reply = u64;
///
///     async fn handle(&mut self, msg: CounterMsg, _ctx: &mut AgentContext) -> Result<u64, AgentError> {
///         if let CounterMsg::Add(n) = msg { self.total += n; }
///         Ok(self.total)
///     }
/// }
/// ```
///
/// A reply type per message, with a [`crate::ReplyPort`] in the variant (ask it with
/// [`crate::AgentRef::call`]):
///
/// ```
/// use agent_os_kernel::prelude::*;
///
/// #[derive(Default)]
/// struct Inventory { items: Vec<String> }
///
/// enum InventoryMsg {
///     Add(String),
///     Count(ReplyPort<usize>),
///     List(ReplyPort<Vec<String>>),
/// }
///
/// impl Agent for Inventory {
///     type Msg = InventoryMsg;
///     type Reply = ();
///
///     async fn handle(&mut self, msg: InventoryMsg, _ctx: &mut AgentContext) -> Result<(), AgentError> {
///         match msg {
///             InventoryMsg::Add(item) => self.items.push(item),
///             InventoryMsg::Count(reply) => reply.send(self.items.len()),
///             InventoryMsg::List(reply) => reply.send(self.items.clone()),
///         }
///         Ok(())
///     }
/// }
/// ```
pub trait Agent: Send + 'static {
    /// The messages this agent handles.
    type Msg: Send + 'static;
    /// What it replies to [`crate::AgentRef::ask`] (ignored for `tell`; `()` for an agent that
    /// answers through [`crate::ReplyPort`]s).
    type Reply: Send + 'static;

    /// Handles one message. An `Err` goes back to the asker; it does not crash the agent.
    fn handle(
        &mut self,
        msg: Self::Msg,
        ctx: &mut AgentContext,
    ) -> impl Future<Output = Result<Self::Reply, AgentError>> + Send;

    /// Runs once after each (re)start, before the first message. An `Err` is an abnormal exit
    /// (`StartFailed`), handled by the supervisor like a crash.
    fn on_start(
        &mut self,
        ctx: &mut AgentContext,
    ) -> impl Future<Output = Result<(), AgentError>> + Send {
        let _ = ctx;
        async { Ok(()) }
    }

    /// Runs on each restart by the supervisor, on the freshly built agent, before
    /// [`Agent::on_start`]; `previous` is why the last incarnation ended (a crash, a failed
    /// start, a normal exit of a permanent agent, or a sibling's restart). An `Err` is an
    /// abnormal exit (`StartFailed`), like one from `on_start`.
    fn on_restart(
        &mut self,
        previous: &ExitReason,
        ctx: &mut AgentContext,
    ) -> impl Future<Output = Result<(), AgentError>> + Send {
        let _ = (previous, ctx);
        async { Ok(()) }
    }

    /// Runs on a graceful stop (kernel `stop`, or `ctx.stop()`), after the current message.
    /// It is not run on `kill`, on a crash, or when a stop deadline expires.
    fn on_stop(&mut self, ctx: &mut AgentContext) -> impl Future<Output = ()> + Send {
        let _ = ctx;
        async {}
    }

    /// Called between two messages when the agent's resident context crossed the pager's
    /// pressure threshold (once per upward crossing; eviction starts only at the budget). A
    /// chance to summarise, free or unpin pages. The default does nothing; an error is
    /// logged, a panic is a crash.
    fn on_memory_pressure(
        &mut self,
        pressure: crate::pager::MemoryPressure,
        ctx: &mut AgentContext,
    ) -> impl Future<Output = Result<(), AgentError>> + Send {
        let _ = (pressure, ctx);
        async { Ok(()) }
    }

    /// The agent's state as JSON, taken between messages (see [`crate::Kernel::snapshot`]).
    /// `Ok(None)` (the default) means the agent keeps no state worth saving.
    fn snapshot(&self) -> Result<Option<serde_json::Value>, AgentError> {
        Ok(None)
    }

    /// Restores state produced by [`Agent::snapshot`] into a freshly built agent.
    fn restore(&mut self, state: serde_json::Value) -> Result<(), AgentError> {
        let _ = state;
        Ok(())
    }
}
