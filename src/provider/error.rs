//! Typed errors of the provider layer.

use std::time::Duration;

use crate::scheduler::SchedulerError;

/// Everything a provider call can fail with. Whatever a server sends becomes a value or one of
/// these, never a panic.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The slice token was expired or revoked when the call was to be sent.
    #[error("slice token is not valid (expired or revoked)")]
    InvalidToken,
    /// No slice could be had for an attempt (the scheduler refused or stopped).
    #[error("no slice for the attempt: {0}")]
    Slice(#[source] SchedulerError),
    /// The backend's circuit breaker is open.
    #[error("circuit breaker of backend `{backend}` is open")]
    BreakerOpen {
        /// Backend name.
        backend: String,
    },
    /// HTTP 429 (or an in-stream `rate_limit_error`); the backend pauses for `retry_after`.
    #[error("rate limited (retry after {retry_after:?}): {message}")]
    RateLimited {
        /// From `retry-after-ms` / `retry-after`, clamped to the backend's `max_pause_ms`.
        retry_after: Option<Duration>,
        /// Provider message.
        message: String,
    },
    /// `insufficient_quota` / billing: never retried.
    #[error("quota exhausted: {message}")]
    QuotaExhausted {
        /// Provider message.
        message: String,
    },
    /// The prompt does not fit the model's context window.
    #[error("context length exceeded: {message}")]
    ContextLength {
        /// Provider message.
        message: String,
    },
    /// A 5xx, 529 or in-stream `overloaded_error`/`api_error`: transient.
    #[error("server error {status}: {message}")]
    Server {
        /// HTTP status (529 for Anthropic overload).
        status: u16,
        /// Provider message.
        message: String,
    },
    /// A 4xx other than 429 and context length (bad request, auth, not found): permanent.
    #[error("request rejected with {status}: {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// Provider message.
        message: String,
    },
    /// Connect failure, reset, or timeout waiting for the response: transient.
    #[error("transport error: {0}")]
    Transport(String),
    /// No stream event carried output within the configured stall gap: transient.
    #[error("stream stalled: no output for {0:?}")]
    StreamStalled(Duration),
    /// The body was not the JSON the protocol promises.
    #[error("malformed response: {0}")]
    MalformedResponse(String),
    /// A response body, one stream event or a whole stream went over its configured limit.
    #[error("{what} exceeds the limit of {limit} bytes")]
    ResponseTooLarge {
        /// `"response body"`, `"stream event"` or `"stream"`.
        what: &'static str,
        /// The limit in force (`max_response_bytes` or `max_event_bytes`).
        limit: u64,
    },
    /// The SSE stream ended before the protocol's terminal event: transient.
    #[error("truncated stream: {0}")]
    TruncatedStream(String),
    /// An in-stream error event that is not transient.
    #[error("stream error `{kind}`: {message}")]
    StreamError {
        /// Provider error type.
        kind: String,
        /// Provider message.
        message: String,
    },
    /// The backend kind has no such endpoint (e.g. Anthropic embeddings).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// No route or backend for the model.
    #[error("no route for model `{0}`")]
    NoRoute(String),
    /// Invalid configuration.
    #[error("configuration error: {0}")]
    Config(String),
    /// An invalid value at a configuration key (e.g. a `scripted` backend's script entry).
    #[error("invalid value for config key `{key}`: {reason}")]
    InvalidConfig {
        /// The dotted key path (`providers.backends.scripted.script[0].turns[1]`).
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The call's attempt budget (shared across the fallback chain) is used up.
    #[error("attempt budget of the call is exhausted")]
    AttemptsExhausted,
    /// The provider actor is gone.
    #[error("provider actor unavailable: {0}")]
    Unavailable(String),
}

impl ProviderError {
    /// Transient: worth another attempt (after backoff) on the same backend.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ProviderError::RateLimited { .. }
                | ProviderError::Server { .. }
                | ProviderError::Transport(_)
                | ProviderError::StreamStalled(_)
                | ProviderError::TruncatedStream(_)
        )
    }

    /// Counts as a failure of the backend for its circuit breaker.
    pub fn counts_for_breaker(&self) -> bool {
        matches!(
            self,
            ProviderError::Server { .. }
                | ProviderError::Transport(_)
                | ProviderError::StreamStalled(_)
                | ProviderError::TruncatedStream(_)
                | ProviderError::MalformedResponse(_)
                | ProviderError::ResponseTooLarge { .. }
        )
    }

    /// The router may try the next backend of the chain after this error.
    pub fn allows_fallback(&self) -> bool {
        self.is_transient()
            || matches!(
                self,
                ProviderError::BreakerOpen { .. }
                    | ProviderError::QuotaExhausted { .. }
                    | ProviderError::ContextLength { .. }
                    | ProviderError::MalformedResponse(_)
                    | ProviderError::ResponseTooLarge { .. }
                    | ProviderError::Unavailable(_)
            )
    }
}
