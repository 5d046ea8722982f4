//! [`Endpoint`]: an agent's mailbox seen without its type, for the dynamic paths — turning a
//! pid into a typed handle, topics, and JSON.

use std::any::{Any, type_name};
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;

use crate::agent::Agent;
use crate::error::IpcError;
use crate::ipc::codec::JsonCodec;
use crate::ipc::envelope::Envelope;
use crate::ipc::mailbox::Mailbox;
use crate::pid::Pid;

/// An agent's mailbox behind `dyn`: the registry keeps one per live agent.
pub(crate) trait Endpoint: Send + Sync + 'static {
    /// The typed mailbox, for a downcast to `Mailbox<A>`.
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
    /// The agent's Rust type name.
    fn agent_type(&self) -> &'static str;
    /// The agent's message type name.
    fn msg_type(&self) -> &'static str;
    /// Messages queued now.
    fn queued(&self) -> usize;
    /// Whether the agent was spawned with JSON access.
    fn accepts_json(&self) -> bool;
    /// Enqueues a message of a type only known at run time (a topic's), refusing a type that
    /// is not the agent's message type.
    fn tell_any(
        &self,
        msg: Box<dyn Any + Send>,
        sent_type: &'static str,
        from: Option<Pid>,
        topic: Option<Arc<str>>,
    ) -> BoxFuture<'_, Result<(), IpcError>>;
    /// Decodes and enqueues a JSON message.
    fn tell_json(
        &self,
        body: serde_json::Value,
        from: Option<Pid>,
        topic: Option<Arc<str>>,
    ) -> BoxFuture<'_, Result<(), IpcError>>;
    /// Decodes a JSON message and persists it in the durable mailbox under the caller's
    /// delivery id; `Ok(false)` for a delivery id already seen.
    fn tell_json_once(
        &self,
        delivery_id: String,
        body: serde_json::Value,
        from: Option<Pid>,
    ) -> BoxFuture<'_, Result<bool, IpcError>>;
    /// Decodes a JSON message, asks, and encodes the reply.
    fn ask_json(
        &self,
        body: serde_json::Value,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<serde_json::Value, IpcError>>;
}

impl<A: Agent> Mailbox<A> {
    /// The JSON codec, present only for agents spawned with `.json()`.
    fn codec(&self) -> Result<JsonCodec<A>, IpcError> {
        self.json.ok_or_else(|| IpcError::NoJsonAccess {
            pid: self.pid,
            name: self.name.to_string(),
        })
    }

    fn decode(&self, body: serde_json::Value) -> Result<A::Msg, IpcError> {
        (self.codec()?.decode)(body).map_err(|reason| IpcError::BadMessage {
            pid: self.pid,
            expected: type_name::<A::Msg>(),
            reason,
        })
    }

    /// Enqueues at once when there is room; boxes a future only to wait under backpressure.
    fn deliver(&self, env: Envelope<A>) -> BoxFuture<'_, Result<(), IpcError>> {
        if self.durable.is_some() {
            return self.enqueue(env).boxed();
        }
        match self.try_enqueue(env) {
            Err(e) => futures::future::ready(Err(e)).boxed(),
            Ok(None) => futures::future::ready(Ok(())).boxed(),
            Ok(Some(env)) => self.wait_room(env).boxed(),
        }
    }
}

impl<A: Agent> Endpoint for Mailbox<A> {
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }

    fn agent_type(&self) -> &'static str {
        type_name::<A>()
    }

    fn msg_type(&self) -> &'static str {
        type_name::<A::Msg>()
    }

    fn queued(&self) -> usize {
        Mailbox::queued(self)
    }

    fn accepts_json(&self) -> bool {
        self.json.is_some()
    }

    fn tell_any(
        &self,
        msg: Box<dyn Any + Send>,
        sent_type: &'static str,
        from: Option<Pid>,
        topic: Option<Arc<str>>,
    ) -> BoxFuture<'_, Result<(), IpcError>> {
        match msg.downcast::<A::Msg>() {
            Ok(msg) => self.deliver(Envelope {
                msg: *msg,
                from,
                topic,
                reply: None,
                delivery: None,
            }),
            Err(_) => futures::future::ready(Err(IpcError::WrongMessageType {
                pid: self.pid,
                expected: type_name::<A::Msg>(),
                got: sent_type,
            }))
            .boxed(),
        }
    }

    fn tell_json(
        &self,
        body: serde_json::Value,
        from: Option<Pid>,
        topic: Option<Arc<str>>,
    ) -> BoxFuture<'_, Result<(), IpcError>> {
        match self.decode(body) {
            Ok(msg) => self.deliver(Envelope {
                msg,
                from,
                topic,
                reply: None,
                delivery: None,
            }),
            Err(e) => futures::future::ready(Err(e)).boxed(),
        }
    }

    fn tell_json_once(
        &self,
        delivery_id: String,
        body: serde_json::Value,
        from: Option<Pid>,
    ) -> BoxFuture<'_, Result<bool, IpcError>> {
        match self.decode(body) {
            Ok(msg) => self
                .enqueue_durable(Envelope::tell(msg, from), Some(delivery_id))
                .boxed(),
            Err(e) => futures::future::ready(Err(e)).boxed(),
        }
    }

    fn ask_json(
        &self,
        body: serde_json::Value,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<serde_json::Value, IpcError>> {
        async move {
            let codec = self.codec()?;
            let msg = self.decode(body)?;
            let reply = self.ask(msg, timeout).await?;
            (codec.encode)(reply).map_err(|reason| IpcError::ReplyEncoding {
                pid: self.pid,
                reason,
            })
        }
        .boxed()
    }
}
