//! One logical call as the provider layer carries it: what it asks a backend for, its one
//! token estimate, and its result.

use std::sync::{Arc, OnceLock};

use tokio::sync::mpsc;

use super::error::ProviderError;
use super::estimate::{chat_bound, chat_exact, embed_bound, embed_exact};
use super::model::{ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, StreamDelta};

/// Where streamed deltas go.
pub(crate) type Sink = mpsc::UnboundedSender<StreamDelta>;

/// What a call asks one backend for (`req.model` is that backend's model name).
pub(crate) enum Job {
    Chat {
        req: Arc<ChatRequest>,
        sink: Option<Sink>,
    },
    Embed {
        req: Arc<EmbedRequest>,
    },
}

/// A successful call's result.
pub(crate) enum Done {
    Chat(ChatResponse),
    Embed(EmbedResponse),
}

impl Job {
    /// This job for a chain target that names the model `model` (a copy only if it differs).
    pub(crate) fn for_model(&self, model: &str) -> Job {
        match self {
            Job::Chat { req, sink } => {
                let req = if req.model == model {
                    Arc::clone(req)
                } else {
                    Arc::new(ChatRequest {
                        model: model.to_owned(),
                        ..(**req).clone()
                    })
                };
                Job::Chat {
                    req,
                    sink: sink.clone(),
                }
            }
            Job::Embed { req } => {
                let req = if req.model == model {
                    Arc::clone(req)
                } else {
                    Arc::new(EmbedRequest {
                        model: model.to_owned(),
                        inputs: req.inputs.clone(),
                    })
                };
                Job::Embed { req }
            }
        }
    }

    /// Tells a streaming caller that the text so far is void (the call is retried or falls
    /// back).
    pub(crate) fn reset_stream(&self) {
        if let Job::Chat { sink: Some(s), .. } = self {
            let _ = s.send(StreamDelta::Reset);
        }
    }

    fn bound(&self) -> u64 {
        match self {
            Job::Chat { req, .. } => chat_bound(req),
            Job::Embed { req } => embed_bound(req),
        }
    }

    fn exact(&self) -> Option<u64> {
        match self {
            Job::Chat { req, .. } => chat_exact(req),
            Job::Embed { req } => embed_exact(req),
        }
    }
}

/// The bound is reserved as is while it is at most this fraction of the token room left;
/// closer to the limit the call is tokenized so the reservation is the tiktoken estimate.
const CHEAP_ROOM_FACTOR: u64 = 4;

/// A call's one token estimate (prompt + `max_tokens`): the byte bound, always; the exact
/// tiktoken count, computed at most once and only when asked for.
#[derive(Debug)]
pub(crate) struct Estimate {
    bound: u64,
    exact: OnceLock<u64>,
}

impl Estimate {
    pub(crate) fn of(job: &Job) -> Self {
        Estimate {
            bound: job.bound(),
            exact: OnceLock::new(),
        }
    }

    /// The exact count (once the tokenizer is built; the bound before).
    pub(crate) fn exact(&self, job: &Job) -> u64 {
        if let Some(n) = self.exact.get() {
            return *n;
        }
        match job.exact() {
            Some(n) => *self.exact.get_or_init(|| n),
            None => self.bound,
        }
    }

    /// Tokens to reserve when `room` tokens are left (`None`: no token limit). A token is at
    /// least one byte, so the bound never under-reserves; tokenizing is only worth its CPU
    /// near the limit, where over-reserving could hold other calls back.
    pub(crate) fn charge(&self, job: &Job, room: Option<u64>) -> u64 {
        if let Some(n) = self.exact.get() {
            return *n;
        }
        if room.is_none_or(|r| self.bound.saturating_mul(CHEAP_ROOM_FACTOR) <= r) {
            return self.bound;
        }
        self.exact(job)
    }
}

impl Done {
    /// The tokens it used, as the provider reported them.
    pub(crate) fn tokens(&self) -> u64 {
        match self {
            Done::Chat(r) => r.usage.total(),
            Done::Embed(r) => r.usage.total(),
        }
    }

    pub(crate) fn into_chat(self) -> Result<ChatResponse, ProviderError> {
        match self {
            Done::Chat(r) => Ok(r),
            Done::Embed(_) => Err(mismatch()),
        }
    }

    pub(crate) fn into_embed(self) -> Result<EmbedResponse, ProviderError> {
        match self {
            Done::Embed(r) => Ok(r),
            Done::Chat(_) => Err(mismatch()),
        }
    }
}

fn mismatch() -> ProviderError {
    ProviderError::Unavailable("outcome did not match its call".into())
}
