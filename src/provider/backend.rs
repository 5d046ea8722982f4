//! The backend abstraction: one protocol client, no policy. Rate limits, retries, breaker and
//! preemption live in the call path (`call.rs`), which drives a backend one attempt at a time.

use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;

use super::config::BackendConfig;
use super::error::ProviderError;
use super::headers::RateInfo;
use super::model::{ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, StreamDelta};

/// Normalised stream of one attempt. Ends after the protocol's terminal event, or with an
/// error (`TruncatedStream`, `StreamStalled`, `ResponseTooLarge`, an in-stream error).
pub(crate) type DeltaStream = BoxStream<'static, Result<StreamDelta, ProviderError>>;

/// Body of a successful attempt.
pub(crate) enum ReplyBody {
    /// A complete JSON response.
    Complete(ChatResponse),
    /// A stream of deltas.
    Stream(DeltaStream),
}

/// A successful attempt: what the headers said, and the body.
pub(crate) struct Reply {
    /// Rate-limit headers of the response.
    pub(crate) rate: RateInfo,
    /// Body.
    pub(crate) body: ReplyBody,
}

/// A failed attempt: the error and what the headers said.
#[derive(Debug, Clone)]
pub(crate) struct Failed {
    /// The typed error.
    pub(crate) error: ProviderError,
    /// Rate-limit headers of the error response (default when there was none).
    pub(crate) rate: RateInfo,
}

impl From<ProviderError> for Failed {
    fn from(error: ProviderError) -> Self {
        Failed {
            error,
            rate: RateInfo::default(),
        }
    }
}

/// What one attempt may take: time and bytes. Everything a server can stretch is bounded.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Until the response headers, and for JSON the whole body.
    pub(crate) request: Duration,
    /// Longest time a stream may go without an event that carries output.
    pub(crate) stall: Duration,
    /// Longest pause a server may impose (`retry-after`, rate-limit resets).
    pub(crate) max_pause: Duration,
    /// Largest complete body, and largest whole stream.
    pub(crate) max_response_bytes: u64,
    /// Largest single SSE event.
    pub(crate) max_event_bytes: u64,
}

impl Limits {
    /// The limits of a configured backend (zero durations and sizes are raised to the least
    /// meaningful value).
    pub(crate) fn of(cfg: &BackendConfig) -> Self {
        Limits {
            request: Duration::from_millis(cfg.request_timeout_ms.max(1)),
            stall: Duration::from_millis(cfg.stall_timeout_ms.max(1)),
            max_pause: Duration::from_millis(cfg.max_pause_ms),
            max_response_bytes: cfg.max_response_bytes.max(1),
            max_event_bytes: cfg.max_event_bytes.max(1),
        }
    }
}

/// One protocol client (OpenAI-compatible, Anthropic, scripted).
pub(crate) trait Backend: Send + Sync + 'static {
    /// Protocol name for logs.
    fn kind(&self) -> &'static str;
    /// One chat attempt; `req.model` is the backend's model name. The request is encoded before
    /// this returns, so the future does not borrow it.
    fn chat(&self, req: &ChatRequest) -> BoxFuture<'static, Result<Reply, Failed>>;
    /// One embeddings attempt.
    fn embed(
        &self,
        req: &EmbedRequest,
    ) -> BoxFuture<'static, Result<(EmbedResponse, RateInfo), Failed>>;
}
