//! Message passing through the kernel: send, ask, the JSON form, topics.

use std::any::{Any, TypeId, type_name};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::oneshot;
use tracing::warn;

use crate::agent::OverflowPolicy;
use crate::error::IpcError;
use crate::ipc::MessageEnvelope;
use crate::ipc::envelope::{Envelope, ReplyResult};
use crate::kernel::{AgentEntry, Kernel};
use crate::pid::Pid;

/// Checks that `M` is the message type of the agent behind `entry`.
#[inline]
fn check_msg<M: 'static>(to: Pid, entry: &AgentEntry) -> Result<(), IpcError> {
    if entry.codec.msg_type == TypeId::of::<M>() {
        Ok(())
    } else {
        Err(IpcError::WrongMessageType {
            pid: to,
            expected: entry.codec.msg_name,
            got: type_name::<M>(),
        })
    }
}

/// Decodes a JSON body into the message type of the agent behind `entry`.
fn decode_json(
    to: Pid,
    entry: &AgentEntry,
    body: serde_json::Value,
) -> Result<Box<dyn Any + Send>, IpcError> {
    (entry.codec.decode)(body).map_err(|reason| IpcError::BadMessage {
        pid: to,
        expected: entry.codec.msg_name,
        reason,
    })
}

/// Awaits a reply with a timeout.
async fn await_reply(
    to: Pid,
    rx: oneshot::Receiver<ReplyResult>,
    timeout: Duration,
) -> Result<Box<dyn Any + Send>, IpcError> {
    match tokio::time::timeout(timeout, rx).await {
        Err(_) => Err(IpcError::Timeout {
            pid: to,
            after: timeout,
        }),
        Ok(Err(_)) => Err(IpcError::Terminated(to)),
        Ok(Ok(r)) => r,
    }
}

impl Kernel {
    /// Enqueues an envelope built after the target's entry was found and checked.
    #[inline]
    async fn enqueue(
        &self,
        to: Pid,
        build: impl FnOnce(&AgentEntry) -> Result<Envelope, IpcError>,
    ) -> Result<(), IpcError> {
        if self
            .inner
            .shutting_down
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Err(IpcError::ShuttingDown);
        }
        // Fast path: checked and enqueued under the registry's read guard.
        let waiting = self.inner.registry.with(to, |entry| {
            let env = build(entry)?;
            match entry.mailbox.try_send(env) {
                Ok(()) => Ok(None),
                Err(TrySendError::Closed(_)) => Err(IpcError::Terminated(to)),
                Err(TrySendError::Full(env)) => match entry.overflow {
                    OverflowPolicy::Reject => Err(IpcError::MailboxFull {
                        pid: to,
                        capacity: entry.capacity,
                    }),
                    OverflowPolicy::Backpressure => Ok(Some((entry.mailbox.clone(), env))),
                },
            }
        })?;
        // Backpressure: wait for room outside the guard.
        if let Some((tx, env)) = waiting {
            tx.send(env).await.map_err(|_| IpcError::Terminated(to))?;
        }
        Ok(())
    }

    /// Sends a typed message to an agent (fire and forget). `M` must be the agent's `Msg`
    /// type; otherwise [`IpcError::WrongMessageType`] is returned and nothing is enqueued.
    pub async fn send<M: Send + 'static>(&self, to: Pid, msg: M) -> Result<(), IpcError> {
        self.send_from(None, to, msg).await
    }

    pub(crate) async fn send_from<M: Send + 'static>(
        &self,
        from: Option<Pid>,
        to: Pid,
        msg: M,
    ) -> Result<(), IpcError> {
        self.enqueue(to, |entry| {
            check_msg::<M>(to, entry)?;
            Ok(Envelope {
                payload: Box::new(msg),
                from,
                topic: None,
                reply: None,
            })
        })
        .await
    }

    /// Sends a typed message and waits up to `timeout` for the agent's reply of type `R`
    /// (its `Reply` type). A handler error comes back as [`IpcError::Handler`]; a crash while
    /// handling this message as [`IpcError::Crashed`].
    pub async fn ask<R: Send + 'static, M: Send + 'static>(
        &self,
        to: Pid,
        msg: M,
        timeout: Duration,
    ) -> Result<R, IpcError> {
        self.ask_from(None, to, msg, timeout).await
    }

    pub(crate) async fn ask_from<R: Send + 'static, M: Send + 'static>(
        &self,
        from: Option<Pid>,
        to: Pid,
        msg: M,
        timeout: Duration,
    ) -> Result<R, IpcError> {
        let (tx, rx) = oneshot::channel();
        self.enqueue(to, |entry| {
            check_msg::<M>(to, entry)?;
            if entry.codec.reply_type != TypeId::of::<R>() {
                return Err(IpcError::WrongMessageType {
                    pid: to,
                    expected: entry.codec.reply_name,
                    got: type_name::<R>(),
                });
            }
            Ok(Envelope {
                payload: Box::new(msg),
                from,
                topic: None,
                reply: Some(tx),
            })
        })
        .await?;
        let reply = await_reply(to, rx, timeout).await?;
        reply
            .downcast::<R>()
            .map(|r| *r)
            .map_err(|_| IpcError::WrongMessageType {
                pid: to,
                expected: "another type",
                got: type_name::<R>(),
            })
    }

    /// Sends a JSON message: it is decoded into the agent's `Msg` type before enqueueing, so a
    /// bad body is reported to the caller ([`IpcError::BadMessage`]) and never reaches the
    /// agent.
    pub async fn send_json(&self, to: Pid, body: serde_json::Value) -> Result<(), IpcError> {
        self.enqueue(to, |entry| {
            Ok(Envelope {
                payload: decode_json(to, entry, body)?,
                from: None,
                topic: None,
                reply: None,
            })
        })
        .await
    }

    /// Asks with a JSON body and returns the reply as JSON.
    pub async fn ask_json(
        &self,
        to: Pid,
        body: serde_json::Value,
        timeout: Duration,
    ) -> Result<serde_json::Value, IpcError> {
        let (tx, rx) = oneshot::channel();
        let mut encode = None;
        self.enqueue(to, |entry| {
            let payload = decode_json(to, entry, body)?;
            encode = Some(entry.codec.encode_reply);
            Ok(Envelope {
                payload,
                from: None,
                topic: None,
                reply: Some(tx),
            })
        })
        .await?;
        let reply = await_reply(to, rx, timeout).await?;
        let encode = encode.ok_or(IpcError::Terminated(to))?;
        encode(reply).map_err(|reason| IpcError::ReplyEncoding { pid: to, reason })
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
    /// how many subscribers it was delivered to; the others (mailbox full, wrong message
    /// type, terminated) are logged.
    pub async fn publish<M: Clone + Send + 'static>(&self, topic: &str, msg: M) -> usize {
        self.publish_from(None, topic, msg).await
    }

    pub(crate) async fn publish_from<M: Clone + Send + 'static>(
        &self,
        from: Option<Pid>,
        topic: &str,
        msg: M,
    ) -> usize {
        self.publish_with(topic, |to, entry| {
            check_msg::<M>(to, entry)?;
            Ok((Box::new(msg.clone()), from))
        })
        .await
    }

    /// Publishes a JSON message on a topic (decoded per subscriber's message type).
    pub async fn publish_json(&self, topic: &str, body: serde_json::Value) -> usize {
        self.publish_with(topic, |to, entry| {
            Ok((decode_json(to, entry, body.clone())?, None))
        })
        .await
    }

    /// Delivers one copy to each current subscriber of `topic`; `payload` builds (and checks)
    /// the copy for one subscriber. Returns how many took it; the others are logged.
    async fn publish_with(
        &self,
        topic: &str,
        payload: impl Fn(Pid, &AgentEntry) -> Result<(Box<dyn Any + Send>, Option<Pid>), IpcError>,
    ) -> usize {
        let Some((name, subscribers)) = self.inner.topics.subscribers(topic) else {
            return 0;
        };
        let mut delivered = 0;
        for to in subscribers {
            let name: Arc<str> = name.clone();
            let r = self
                .enqueue(to, |entry| {
                    let (payload, from) = payload(to, entry)?;
                    Ok(Envelope {
                        payload,
                        from,
                        topic: Some(name),
                        reply: None,
                    })
                })
                .await;
            match r {
                Ok(()) => delivered += 1,
                Err(e) => warn!(topic, %to, error = %e, "publish skipped a subscriber"),
            }
        }
        delivered
    }
}
