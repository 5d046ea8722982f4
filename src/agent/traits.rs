//! The [`Agent`] trait users implement.

use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::agent::AgentContext;
use crate::error::AgentError;

/// A user agent: its state, its message handler, its lifecycle hooks.
///
/// The kernel runs each agent in its own actix actor ([`crate::Kernel::spawn`]). Messages are
/// handled **one at a time, in mailbox order**, even across `.await`s inside `handle`: the
/// next message is taken only after the previous handler's future completed. A panic inside a
/// handler is caught and becomes an abnormal exit, which the agent's supervisor answers (by
/// default: restart from the factory under the same pid, keeping queued messages).
///
/// `Msg` must deserialize from JSON and `Reply` serialize to it, so the HTTP API and the CLI
/// can message any agent through [`crate::MessageEnvelope`].
///
/// ```
/// use agent_os_kernel::prelude::*;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Default)]
/// struct Counter { total: u64 }
///
/// #[derive(Serialize, Deserialize)]
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
pub trait Agent: Send + 'static {
    /// The messages this agent handles.
    type Msg: DeserializeOwned + Send + 'static;
    /// What it replies (to `ask`; ignored for `send`).
    type Reply: Serialize + Send + 'static;

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

    /// Runs on a graceful stop (kernel `stop`, or `ctx.stop()`), after the current message.
    /// It is not run on `kill`, on a crash, or when a stop deadline expires.
    fn on_stop(&mut self, ctx: &mut AgentContext) -> impl Future<Output = ()> + Send {
        let _ = ctx;
        async {}
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
