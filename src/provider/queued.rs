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

/// Where a call's result goes (its caller awaits the receiving end).
pub(super) type Delivery = oneshot::Sender<Result<Done, ProviderError>>;

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
    reply: Delivery,
}

/// The bound is reserved as is while it is at most this fraction of the token room left;
/// closer to the limit the call is tokenized so the reservation is the tiktoken estimate.
const CHEAP_ROOM_FACTOR: u64 = 4;

impl Queued {
    pub(super) fn new(
        token: SliceToken,
        attempts: AttemptBudget,
        upper: u64,
        job: Job,
        reply: Delivery,
    ) -> Self {
        Queued {
            priority: token.priority(),
            seq: 0,
            token,
            attempts,
            tries: 1,
            upper,
            exact: None,
            job,
            reply,
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

    /// True once nobody waits for the result any more (the caller's future was dropped).
    pub(super) fn abandoned(&self) -> bool {
        self.reply.is_closed()
    }

    /// Hands the result to the caller (who may have gone away; nothing to do then).
    pub(super) fn answer(self, result: Result<Done, ProviderError>) {
        let _ = self.reply.send(result);
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
