//! Messages of the provider actor (its public protocol).

use std::time::Instant;

use actix::Message;
use tokio::sync::{mpsc, oneshot};

use super::breaker::BreakerState;
use super::error::ProviderError;
use super::model::{ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, StreamDelta};
use super::retry::AttemptBudget;
use crate::scheduler::SliceToken;

/// One chat call. `req.model` is the backend's model name (the router resolved it).
#[derive(Debug)]
pub struct Chat {
    /// The request.
    pub req: ChatRequest,
    /// The slice it runs in: refused unless valid; its priority orders the queue; revoking it
    /// stops a stream at the next chunk with the partial output.
    pub token: SliceToken,
    /// Attempts left for the whole logical call (shared with the router's fallback chain).
    pub attempts: AttemptBudget,
    /// Receives stream deltas as they arrive (a `Reset` precedes a retried attempt's deltas).
    pub sink: Option<mpsc::UnboundedSender<StreamDelta>>,
    /// Where the result goes (the caller awaits the paired [`Reply`]).
    pub reply: oneshot::Sender<Result<ChatResponse, ProviderError>>,
}

impl Chat {
    /// A call and the [`Reply`] its result arrives on. Send the call with `do_send`: the actor
    /// answers on the reply, not through actix's response channel (one wake-up fewer).
    pub fn new(
        req: ChatRequest,
        token: SliceToken,
        attempts: AttemptBudget,
        sink: Option<mpsc::UnboundedSender<StreamDelta>>,
    ) -> (Chat, Reply<ChatResponse>) {
        let (reply, rx) = oneshot::channel();
        (
            Chat {
                req,
                token,
                attempts,
                sink,
                reply,
            },
            Reply(rx),
        )
    }
}

impl Message for Chat {
    type Result = ();
}

/// Where the result of a [`Chat`] or [`Embed`] call arrives.
#[derive(Debug)]
pub struct Reply<T>(pub oneshot::Receiver<Result<T, ProviderError>>);

impl<T> Reply<T> {
    /// Waits for the call's result.
    pub async fn result(self) -> Result<T, ProviderError> {
        self.0
            .await
            .unwrap_or_else(|_| Err(ProviderError::Unavailable("call dropped".into())))
    }
}

/// One embeddings call.
#[derive(Debug)]
pub struct Embed {
    /// The request (`model` is the backend's model name).
    pub req: EmbedRequest,
    /// The slice it runs in.
    pub token: SliceToken,
    /// Attempts left for the logical call.
    pub attempts: AttemptBudget,
    /// Where the result goes.
    pub reply: oneshot::Sender<Result<EmbedResponse, ProviderError>>,
}

impl Embed {
    /// A call and the [`Reply`] its result arrives on.
    pub fn new(
        req: EmbedRequest,
        token: SliceToken,
        attempts: AttemptBudget,
    ) -> (Embed, Reply<EmbedResponse>) {
        let (reply, rx) = oneshot::channel();
        (
            Embed {
                req,
                token,
                attempts,
                reply,
            },
            Reply(rx),
        )
    }
}

impl Message for Embed {
    type Result = ();
}

/// Tells the actor to dispatch what its queue can (sent when a call parks in the queue, and
/// when an attempt ends while calls wait).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pump;

impl Message for Pump {
    type Result = ();
}

/// Asks for the actor's counters.
#[derive(Debug, Clone, Copy)]
pub struct GetStats;

impl Message for GetStats {
    type Result = ProviderStats;
}

/// Counters and state of one provider actor.
#[derive(Debug, Clone, Default)]
pub struct ProviderStats {
    /// Backend name.
    pub backend: String,
    /// Requests waiting for budget.
    pub queued: usize,
    /// Requests in flight.
    pub in_flight: usize,
    /// Attempts sent to the backend.
    pub attempts: u64,
    /// Calls answered successfully.
    pub succeeded: u64,
    /// Calls answered with an error.
    pub failed: u64,
    /// Retries scheduled.
    pub retries: u64,
    /// 429 responses received.
    pub rate_limited: u64,
    /// Streams cut by a revoked slice.
    pub preempted: u64,
    /// Times the breaker opened.
    pub breaker_opened: u64,
    /// Breaker state now.
    pub breaker: Option<BreakerState>,
    /// Dispatch paused until (429 + retry-after).
    pub paused_until: Option<Instant>,
}
