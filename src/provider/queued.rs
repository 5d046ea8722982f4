//! One logical call as the rate-limit queue holds it: its slice, its place in line, its token
//! reservation and where its result goes.

use std::cmp::Ordering;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::error::ProviderError;
use super::estimate::{embed_tokens, reservation};
use super::model::{ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, StreamDelta};
use super::retry::AttemptBudget;
use crate::scheduler::SliceToken;

/// What a call asks the backend for. Shared with its attempts (a retry re-sends it).
pub(super) enum Job {
    Chat {
        req: Arc<ChatRequest>,
        sink: Option<mpsc::UnboundedSender<StreamDelta>>,
    },
    Embed {
        req: EmbedRequest,
    },
}

/// A successful call's result.
pub(super) enum Done {
    Chat(ChatResponse),
    Embed(EmbedResponse),
}

impl Done {
    pub(super) fn into_chat(self) -> Result<ChatResponse, ProviderError> {
        match self {
            Done::Chat(r) => Ok(r),
            Done::Embed(_) => Err(mismatch()),
        }
    }

    pub(super) fn into_embed(self) -> Result<EmbedResponse, ProviderError> {
        match self {
            Done::Embed(r) => Ok(r),
            Done::Chat(_) => Err(mismatch()),
        }
    }
}

fn mismatch() -> ProviderError {
    ProviderError::Unavailable("outcome did not match its call".into())
}

/// Where a parked call's result goes (its caller awaits the receiving end).
type Delivery = oneshot::Sender<Result<Done, ProviderError>>;

/// The receiving end of a [`Delivery`].
pub(super) type Pending = oneshot::Receiver<Result<Done, ProviderError>>;

/// A call between its arrival and its result.
pub(super) struct Queued {
    pub(super) priority: u8,
    /// Arrival order (0 until the call first enters the gate; a retry keeps its place).
    pub(super) seq: u64,
    pub(super) token: SliceToken,
    pub(super) attempts: AttemptBudget,
    /// Attempts made on this backend so far, the running one included.
    pub(super) tries: u32,
    /// Byte-based upper bound of the call's tokens (cheap, computed on arrival).
    upper: u64,
    /// The tiktoken estimate, computed only when the budget is tight (see [`Queued::charge`]).
    exact: Option<u64>,
    pub(super) job: Job,
    /// `None` while the caller's own task drives the call (the result is simply returned);
    /// created when the call first parks, as from then on another task may answer it.
    reply: Option<Delivery>,
}

/// The bound is reserved as is while it is at most this fraction of the token room left;
/// closer to the limit the call is tokenized so the reservation is the tiktoken estimate.
const CHEAP_ROOM_FACTOR: u64 = 4;

impl Queued {
    /// A call about to enter the gate. It has no channel until it parks (see
    /// [`Queued::park`]): until then its caller's task drives it and gets the result back.
    pub(super) fn new(token: SliceToken, attempts: AttemptBudget, upper: u64, job: Job) -> Self {
        Queued {
            priority: token.priority(),
            seq: 0,
            token,
            attempts,
            tries: 1,
            upper,
            exact: None,
            job,
            reply: None,
        }
    }

    /// Tokens to reserve for this call when `room` tokens are left (`None`: no token limit).
    /// A token is at least one byte, so the byte bound never under-reserves; tokenizing is
    /// only worth its CPU near the limit, where over-reserving could hold other calls back.
    pub(super) fn charge(&mut self, room: Option<u64>) -> u64 {
        if let Some(n) = self.exact {
            return n;
        }
        if room.is_none_or(|r| self.upper.saturating_mul(CHEAP_ROOM_FACTOR) <= r) {
            return self.upper;
        }
        let n = match &self.job {
            Job::Chat { req, .. } => reservation(req),
            Job::Embed { req } => embed_tokens(&req.inputs),
        };
        self.exact = Some(n);
        n
    }

    /// Gives the call a delivery channel as it parks (another task will answer it) and returns
    /// the receiving end for the caller, unless it already had one.
    pub(super) fn park(&mut self) -> Option<Pending> {
        if self.reply.is_some() {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        self.reply = Some(tx);
        Some(rx)
    }

    /// True once nobody waits for the result any more (the caller's future was dropped).
    pub(super) fn abandoned(&self) -> bool {
        self.reply.as_ref().is_some_and(|r| r.is_closed())
    }

    /// Hands the result to the caller through the call's channel (the caller may have gone
    /// away; nothing to do then). A call without a channel is driven by its caller's own task:
    /// the result comes back to be returned.
    #[must_use = "a call without a channel returns its result"]
    pub(super) fn answer(
        self,
        result: Result<Done, ProviderError>,
    ) -> Option<Result<Done, ProviderError>> {
        match self.reply {
            Some(tx) => {
                let _ = tx.send(result);
                None
            }
            None => Some(result),
        }
    }

    /// Tells a streaming caller that the text so far is void (the call is being retried).
    pub(super) fn reset_stream(&self) {
        if let Job::Chat { sink: Some(s), .. } = &self.job {
            let _ = s.send(StreamDelta::Reset);
        }
    }
}

impl PartialEq for Queued {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Queued {
    /// Max-heap order: lower priority number first, then earlier arrival.
    fn cmp(&self, o: &Self) -> Ordering {
        o.priority.cmp(&self.priority).then(o.seq.cmp(&self.seq))
    }
}
