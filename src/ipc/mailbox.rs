//! [`Mailbox`]: the sending side of one agent's data lane, shared by every handle to it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix::Recipient;
use tokio::sync::oneshot;

use crate::agent::{Agent, Deliver, OverflowPolicy};
use crate::error::IpcError;
use crate::ipc::codec::JsonCodec;
use crate::ipc::current::{Current, ReplyWait};
use crate::ipc::envelope::{Envelope, ReplyResult};
use crate::ipc::queue::{QueueTx, Refused};
use crate::ipc::reply::ReplyPort;
use crate::pid::Pid;

/// What a handle needs to reach one agent: its bounded channel, its overflow policy and the
/// kernel's shutdown flag. Built once at spawn; handles share it (no registry lookup per
/// message).
pub(crate) struct Mailbox<A: Agent> {
    pub(crate) pid: Pid,
    pub(crate) name: Arc<str>,
    tx: QueueTx<Envelope<A>>,
    overflow: OverflowPolicy,
    closing: Arc<AtomicBool>,
    pub(crate) ask_timeout: Duration,
    pub(crate) json: Option<JsonCodec<A>>,
    pub(crate) bridge: Recipient<Deliver<A::Msg, A::Reply>>,
    pub(crate) durable: Option<DurableLane<A>>,
}

/// Encodes an agent's message for its durable mailbox.
pub(crate) type EncodeMsg<A> = fn(&<A as Agent>::Msg) -> Result<serde_json::Value, String>;

/// A durable mailbox: every message is persisted before the send returns.
pub(crate) struct DurableLane<A: Agent> {
    pub(crate) storage: crate::storage::Storage,
    pub(crate) encode: EncodeMsg<A>,
}

impl<A: Agent> Clone for DurableLane<A> {
    fn clone(&self) -> Self {
        DurableLane {
            storage: self.storage.clone(),
            encode: self.encode,
        }
    }
}

/// The encoder of a durable lane.
pub(crate) fn encode_msg<A: Agent>(msg: &A::Msg) -> Result<serde_json::Value, String>
where
    A::Msg: serde::Serialize,
{
    serde_json::to_value(msg).map_err(|e| e.to_string())
}

/// A request enqueued (or, under backpressure, still waiting for room) and the receiver of its
/// reply.
pub(crate) struct Request<A: Agent> {
    unsent: Option<Envelope<A>>,
    reply: oneshot::Receiver<ReplyResult<A::Reply>>,
}

/// Everything a mailbox is built from.
pub(crate) struct MailboxParts<A: Agent> {
    pub(crate) pid: Pid,
    pub(crate) name: Arc<str>,
    pub(crate) tx: QueueTx<Envelope<A>>,
    pub(crate) overflow: OverflowPolicy,
    pub(crate) closing: Arc<AtomicBool>,
    pub(crate) ask_timeout: Duration,
    pub(crate) json: Option<JsonCodec<A>>,
    pub(crate) bridge: Recipient<Deliver<A::Msg, A::Reply>>,
    pub(crate) durable: Option<DurableLane<A>>,
}

impl<A: Agent> Mailbox<A> {
    pub(crate) fn new(p: MailboxParts<A>) -> Self {
        Mailbox {
            pid: p.pid,
            name: p.name,
            tx: p.tx,
            overflow: p.overflow,
            closing: p.closing,
            ask_timeout: p.ask_timeout,
            json: p.json,
            bridge: p.bridge,
            durable: p.durable,
        }
    }

    /// Messages queued now (not counting the one being handled).
    pub(crate) fn queued(&self) -> usize {
        self.tx.queued()
    }

    /// Whether the agent has terminated for good (its mailbox is closed).
    pub(crate) fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Enqueues without waiting. `Ok(Some(env))`: the mailbox is full under backpressure and
    /// the caller may wait for room with [`Mailbox::wait_room`].
    #[inline]
    pub(crate) fn try_enqueue(&self, env: Envelope<A>) -> Result<Option<Envelope<A>>, IpcError> {
        if self.closing.load(Ordering::Relaxed) {
            return Err(IpcError::ShuttingDown);
        }
        Current::may_send(&self.name).map_err(|denied| IpcError::Denied {
            pid: self.pid,
            denied,
        })?;
        if self.durable.is_some() && env.delivery.is_none() {
            return Err(IpcError::Durable {
                pid: self.pid,
                reason: "a durable mailbox needs an awaited send (tell, ask, send_json); this path cannot wait for the write".into(),
            });
        }
        self.try_push(env)
    }

    /// Enqueues a message that is ready to go (persisted if the mailbox is durable).
    #[inline]
    fn try_push(&self, env: Envelope<A>) -> Result<Option<Envelope<A>>, IpcError> {
        match self.tx.try_send(env) {
            Ok(()) => Ok(None),
            Err(Refused::Closed(_)) => Err(IpcError::NoSuchAgent(self.pid)),
            Err(Refused::Full(env)) => match self.overflow {
                OverflowPolicy::Reject => Err(self.full()),
                OverflowPolicy::Backpressure => Ok(Some(env)),
            },
        }
    }

    /// The error for a full mailbox.
    pub(crate) fn full(&self) -> IpcError {
        IpcError::MailboxFull {
            pid: self.pid,
            capacity: self.tx.capacity(),
        }
    }

    /// Waits for room (backpressure) and enqueues.
    pub(crate) async fn wait_room(&self, env: Envelope<A>) -> Result<(), IpcError> {
        self.tx
            .send(env)
            .await
            .map_err(|_| IpcError::NoSuchAgent(self.pid))
    }

    /// Enqueues, waiting for room under backpressure (and, for a durable mailbox, for the
    /// message to be persisted first).
    #[inline]
    pub(crate) async fn enqueue(&self, env: Envelope<A>) -> Result<(), IpcError> {
        if self.durable.is_some() {
            return self.enqueue_durable(env, None).await.map(|_| ());
        }
        match self.try_enqueue(env)? {
            None => Ok(()),
            Some(env) => self.wait_room(env).await,
        }
    }

    /// Persists a message in the durable mailbox, then enqueues it. `Ok(false)`: a message
    /// with this delivery id was already persisted (a duplicate send), nothing was done. A
    /// message refused after it was persisted (full mailbox, agent gone) is deleted again.
    pub(crate) async fn enqueue_durable(
        &self,
        mut env: Envelope<A>,
        delivery_id: Option<String>,
    ) -> Result<bool, IpcError> {
        let pid = self.pid;
        let Some(lane) = &self.durable else {
            return Err(IpcError::Durable {
                pid,
                reason: "the agent has no durable mailbox".into(),
            });
        };
        if self.closing.load(Ordering::Relaxed) {
            return Err(IpcError::ShuttingDown);
        }
        if self.tx.is_closed() {
            return Err(IpcError::NoSuchAgent(pid));
        }
        Current::may_send(&self.name).map_err(|denied| IpcError::Denied { pid, denied })?;
        let failed = |reason: String| IpcError::Durable { pid, reason };
        let payload = (lane.encode)(&env.msg).map_err(failed)?;
        let id = delivery_id.unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        let sender = env
            .from
            .map_or_else(|| "external".to_string(), |p| p.to_string());
        let stored = crate::storage::durable::mailbox::persist(
            &lane.storage,
            &pid.to_string(),
            &id,
            &sender,
            &payload,
        )
        .await
        .map_err(|e| failed(e.to_string()))?;
        let Some(row) = stored else {
            return Ok(false);
        };
        env.delivery = Some(Box::new(crate::ipc::envelope::DeliveryTag {
            row,
            id,
            redelivered: false,
        }));
        let pushed = match self.try_push(env) {
            Ok(None) => Ok(()),
            Ok(Some(env)) => self.wait_room(env).await,
            Err(e) => Err(e),
        };
        if let Err(e) = pushed {
            if let Err(del) = crate::storage::durable::mailbox::remove(&lane.storage, row).await {
                tracing::error!(%pid, error = %del, "a refused durable message could not be deleted; it will be redelivered");
            }
            return Err(e);
        }
        Ok(true)
    }

    fn timed_out(&self, after: Duration) -> IpcError {
        IpcError::Timeout {
            pid: self.pid,
            after,
        }
    }

    /// Builds a request from `from` and enqueues it now if there is room, so requests keep the
    /// order they were made in; under backpressure it waits in [`Mailbox::reply`].
    pub(crate) fn request(&self, msg: A::Msg, from: Option<Pid>) -> Result<Request<A>, IpcError> {
        let (tx, reply) = oneshot::channel();
        let env = Envelope {
            msg,
            from,
            topic: None,
            reply: Some(tx),
            delivery: None,
        };
        let unsent = if self.durable.is_some() {
            // Persisted and enqueued when the request is awaited.
            if self.closing.load(Ordering::Relaxed) {
                return Err(IpcError::ShuttingDown);
            }
            Some(env)
        } else {
            self.try_enqueue(env)?
        };
        Ok(Request { unsent, reply })
    }

    /// Waits for room if the request still needs it, then for the handler's reply, all within
    /// `timeout`.
    pub(crate) async fn reply(
        &self,
        request: Request<A>,
        timeout: Duration,
    ) -> Result<A::Reply, IpcError> {
        let exchange = async {
            if let Some(env) = request.unsent {
                self.enqueue(env).await?;
            }
            request
                .reply
                .await
                .unwrap_or_else(|_| Err(IpcError::Terminated(self.pid)))
        };
        self.within(timeout, exchange).await
    }

    /// Sends `msg` and waits for the handler's reply, all within `timeout`.
    pub(crate) async fn ask(&self, msg: A::Msg, timeout: Duration) -> Result<A::Reply, IpcError> {
        let waiting = Current::waiting_for_reply();
        let request = self.request(msg, waiting.as_ref().map(ReplyWait::pid))?;
        self.reply(request, timeout).await
    }

    /// Runs `fut` for at most `timeout`.
    async fn within<T>(
        &self,
        timeout: Duration,
        fut: impl Future<Output = Result<T, IpcError>>,
    ) -> Result<T, IpcError> {
        tokio::time::timeout(timeout, fut)
            .await
            .unwrap_or_else(|_| Err(self.timed_out(timeout)))
    }

    /// Sends a message carrying a reply port and waits for the port's answer, or for the
    /// crash, interruption or error that ended the handler without one, all within `timeout`.
    pub(crate) async fn call<T: Send + 'static>(
        &self,
        msg: A::Msg,
        port: oneshot::Receiver<T>,
        timeout: Duration,
    ) -> Result<T, IpcError> {
        let waiting = Current::waiting_for_reply();
        let request = self.request(msg, waiting.as_ref().map(ReplyWait::pid))?;
        let exchange = async {
            if let Some(env) = request.unsent {
                self.enqueue(env).await?;
            }
            await_port(self.pid, port, request.reply).await
        };
        self.within(timeout, exchange).await
    }

    /// A reply port and the message `make` builds around it.
    pub(crate) fn with_port<T>(
        make: impl FnOnce(ReplyPort<T>) -> A::Msg,
    ) -> (A::Msg, oneshot::Receiver<T>) {
        let (port, rx) = ReplyPort::new();
        (make(port), rx)
    }
}

/// The port's answer; else the handler's failure; else `NoReply` once both are settled (the
/// handler returned and the port was dropped unanswered). A handler that passed its port on
/// is waited for until the port is answered or dropped.
async fn await_port<T, R>(
    pid: Pid,
    mut port: oneshot::Receiver<T>,
    mut outcome: oneshot::Receiver<Result<R, IpcError>>,
) -> Result<T, IpcError> {
    let (mut port_open, mut handler_running) = (true, true);
    while port_open || handler_running {
        tokio::select! {
            biased;
            answer = &mut port, if port_open => match answer {
                Ok(v) => return Ok(v),
                Err(_) => port_open = false,
            },
            done = &mut outcome, if handler_running => match done {
                Ok(Err(e)) => return Err(e),
                Ok(Ok(_)) => handler_running = false,
                Err(_) => return Err(IpcError::Terminated(pid)),
            },
        }
    }
    Err(IpcError::NoReply(pid))
}
