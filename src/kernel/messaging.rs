//! Messaging by pid: typed handles from pids, the JSON form, topics.

use std::any::type_name;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tracing::warn;

use crate::agent::Agent;
use crate::error::IpcError;
use crate::ipc::current::Current;
use crate::ipc::endpoint::Endpoint;
use crate::ipc::mailbox::Mailbox;
use crate::ipc::{AgentRef, MessageEnvelope};
use crate::kernel::Kernel;
use crate::pid::Pid;

impl Kernel {
    /// The typed handle of a live agent, from its pid (once; then message it through the
    /// handle). [`IpcError::WrongAgentType`] when the agent is of another type,
    /// [`IpcError::NoSuchAgent`] when no live agent has this pid.
    pub fn agent_ref<A: Agent>(&self, pid: Pid) -> Result<AgentRef<A>, IpcError> {
        let endpoint = self.endpoint(pid)?;
        let actual = endpoint.agent_type();
        endpoint
            .into_any()
            .downcast::<Mailbox<A>>()
            .map(AgentRef::new)
            .map_err(|_| IpcError::WrongAgentType {
                pid,
                expected: type_name::<A>(),
                actual,
            })
    }

    fn endpoint(&self, pid: Pid) -> Result<Arc<dyn Endpoint>, IpcError> {
        if self
            .inner
            .shutting_down
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Err(IpcError::ShuttingDown);
        }
        self.inner
            .registry
            .with(pid, |entry| Ok(entry.endpoint.clone()))
    }

    /// Sends a JSON message to an agent spawned with JSON access: it is decoded into the
    /// agent's `Msg` type before enqueueing, so a bad body is reported to the caller
    /// ([`IpcError::BadMessage`]) and never reaches the agent. An agent without JSON access
    /// answers [`IpcError::NoJsonAccess`].
    pub async fn send_json(&self, to: Pid, body: serde_json::Value) -> Result<(), IpcError> {
        self.endpoint(to)?
            .tell_json(body, Current::pid(), None)
            .await
    }

    /// Sends a JSON message to an agent with a durable mailbox **under the producer's own
    /// delivery id**: a producer that is not sure its earlier send went through (it crashed,
    /// its connection dropped) sends again with the same id, and the message is persisted
    /// and handled once. `Ok(true)`: persisted and queued; `Ok(false)`: a message with this
    /// id was already received (kept for `durability.acked_retention_secs` after it was
    /// handled), nothing was done. An agent without a durable mailbox answers
    /// [`IpcError::Durable`].
    pub async fn send_json_once(
        &self,
        to: Pid,
        delivery_id: &str,
        body: serde_json::Value,
    ) -> Result<bool, IpcError> {
        self.endpoint(to)?
            .tell_json_once(delivery_id.to_string(), body, Current::pid())
            .await
    }

    /// Asks with a JSON body and returns the reply as JSON (agents spawned with JSON access).
    pub async fn ask_json(
        &self,
        to: Pid,
        body: serde_json::Value,
        timeout: Duration,
    ) -> Result<serde_json::Value, IpcError> {
        self.endpoint(to)?.ask_json(body, timeout).await
    }

    /// Delivers a [`MessageEnvelope`]: a send, or an ask whose JSON reply is returned.
    pub async fn deliver(
        &self,
        envelope: MessageEnvelope,
    ) -> Result<Option<serde_json::Value>, IpcError> {
        if envelope.ask {
            let timeout = envelope
                .timeout_ms
                .map(Duration::from_millis)
                .unwrap_or(self.inner.config.kernel.ask_timeout());
            self.ask_json(envelope.to, envelope.body, timeout)
                .await
                .map(Some)
        } else {
            self.send_json(envelope.to, envelope.body)
                .await
                .map(|_| None)
        }
    }

    /// Subscribes an agent to a topic (idempotent).
    pub fn subscribe(&self, pid: Pid, topic: &str) {
        if let Some(interned) = self.inner.topics.subscribe(topic, pid) {
            match self.inner.registry.entry(pid) {
                Ok(entry) => entry.topics.lock().push(interned),
                // Not live (any more): undo, so dead pids never linger in a topic.
                Err(_) => self.inner.topics.unsubscribe(topic, pid),
            }
        }
    }

    /// Unsubscribes an agent from a topic.
    pub fn unsubscribe(&self, pid: Pid, topic: &str) {
        self.inner.topics.unsubscribe(topic, pid);
        if let Ok(entry) = self.inner.registry.entry(pid) {
            entry.topics.lock().retain(|t| &**t != topic);
        }
    }

    /// Publishes a typed message on a topic: each subscriber gets exactly one copy. Returns
    /// how many subscribers it was delivered to; the others (mailbox full, another message
    /// type, terminated) are logged. Sent from inside a handler, the copies carry that agent's
    /// pid as their sender.
    pub async fn publish<M: Clone + Send + 'static>(&self, topic: &str, msg: M) -> usize {
        let from = Current::pid();
        self.publish_with(topic, |endpoint, topic| {
            endpoint.tell_any(Box::new(msg.clone()), type_name::<M>(), from, Some(topic))
        })
        .await
    }

    /// Publishes a JSON message on a topic (decoded per subscriber's message type; subscribers
    /// without JSON access are skipped and logged).
    pub async fn publish_json(&self, topic: &str, body: serde_json::Value) -> usize {
        let from = Current::pid();
        self.publish_with(topic, |endpoint, topic| {
            endpoint.tell_json(body.clone(), from, Some(topic))
        })
        .await
    }

    /// Delivers one copy to each current subscriber of `topic` through `deliver`. Returns how
    /// many took it; the others are logged.
    async fn publish_with(
        &self,
        topic: &str,
        deliver: impl for<'e> Fn(&'e dyn Endpoint, Arc<str>) -> BoxFuture<'e, Result<(), IpcError>>,
    ) -> usize {
        let Some((name, subscribers)) = self.inner.topics.subscribers(topic) else {
            return 0;
        };
        let mut delivered = 0;
        for to in subscribers {
            let r = match self.endpoint(to) {
                Ok(endpoint) => deliver(&*endpoint, name.clone()).await,
                Err(e) => Err(e),
            };
            match r {
                Ok(()) => delivered += 1,
                Err(e) => warn!(topic, %to, error = %e, "publish skipped a subscriber"),
            }
        }
        delivered
    }
}
