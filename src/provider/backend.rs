//! The backend abstraction: one protocol client, no policy. Rate limits, retries, breaker and
//! preemption live in the provider actor, which drives a backend one attempt at a time.

use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;

use super::error::ProviderError;
use super::headers::RateInfo;
use super::model::{ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, StreamDelta};

/// Normalised stream of one attempt. Ends after the protocol's terminal event, or with an
/// error (`TruncatedStream`, `StreamStalled`, an in-stream error).
pub type DeltaStream = BoxStream<'static, Result<StreamDelta, ProviderError>>;

/// Body of a successful attempt.
pub enum ReplyBody {
    /// A complete JSON response.
    Complete(ChatResponse),
    /// A stream of deltas.
    Stream(DeltaStream),
}

impl std::fmt::Debug for ReplyBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplyBody::Complete(r) => f.debug_tuple("Complete").field(r).finish(),
            ReplyBody::Stream(_) => f.write_str("Stream(..)"),
        }
    }
}

/// A successful attempt: what the headers said, and the body.
#[derive(Debug)]
pub struct Reply {
    /// Rate-limit headers of the response.
    pub rate: RateInfo,
    /// Body.
    pub body: ReplyBody,
}

/// A failed attempt: the error and what the headers said.
#[derive(Debug, Clone)]
pub struct Failed {
    /// The typed error.
    pub error: ProviderError,
    /// Rate-limit headers of the error response (default when there was none).
    pub rate: RateInfo,
}

impl From<ProviderError> for Failed {
    fn from(error: ProviderError) -> Self {
        Failed {
            error,
            rate: RateInfo::default(),
        }
    }
}

/// Timeouts an attempt runs under.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// Until response headers (and the whole body for JSON).
    pub request: Duration,
    /// Longest gap between stream chunks.
    pub stall: Duration,
}

/// One protocol client (OpenAI-compatible, Anthropic, scripted).
pub trait Backend: Send + Sync + 'static {
    /// Protocol name for logs.
    fn kind(&self) -> &'static str;
    /// One chat attempt; `req.model` is the backend's model name. The request is encoded before
    /// this returns, so the future does not borrow it.
    fn chat(
        &self,
        req: &ChatRequest,
        timeouts: Timeouts,
    ) -> BoxFuture<'static, Result<Reply, Failed>>;
    /// One embeddings attempt.
    fn embed(
        &self,
        req: EmbedRequest,
        timeouts: Timeouts,
    ) -> BoxFuture<'static, Result<(EmbedResponse, RateInfo), Failed>>;
}
