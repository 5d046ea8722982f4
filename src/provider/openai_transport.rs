//! The HTTP transport under async-openai for the `openai_compatible` backend.
//!
//! async-openai builds each request (URL, auth, JSON body) and parses each response; this tower
//! service, installed with `Client::with_http_service`, sends it through the kernel's shared
//! reqwest client. It adds nothing async-openai would retry (the provider actor owns retries),
//! and it keeps what the rate-limit mailbox needs and async-openai does not surface:
//!
//! - the `x-ratelimit-*` / `retry-after` headers of every response, handed to the calling
//!   attempt through a task-local [`Exchange`];
//! - the status and body of an error response, classified into a typed [`ProviderError`]
//!   (`insufficient_quota`, context length, 429 with its `retry-after`, 5xx, …) and returned as
//!   a boxed [`WireFailure`] that [`into_failed`] unwraps again.

use std::sync::Arc;
use std::time::Instant;

use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use futures::future::BoxFuture;
use parking_lot::Mutex;

use super::backend::Failed;
use super::error::ProviderError;
use super::headers::{RateInfo, parse_rate_info};
use super::http::{classify, malformed};

tokio::task_local! {
    /// The exchange of the attempt being polled (see [`Exchange::scope`]).
    static EXCHANGE: Arc<Exchange>;
}

/// What the transport saw of one attempt's response, for the attempt that sent it.
#[derive(Debug, Default)]
pub struct Exchange {
    rate: Mutex<RateInfo>,
}

impl Exchange {
    /// Runs `fut` (an async-openai call) with a fresh exchange; returns its output and the
    /// rate-limit headers of its response (default when no response arrived).
    pub async fn scope<F: Future>(fut: F) -> (F::Output, RateInfo) {
        let ex = Arc::new(Exchange::default());
        let out = EXCHANGE.scope(Arc::clone(&ex), fut).await;
        let rate = *ex.rate.lock();
        (out, rate)
    }
}

/// A classified error response travelling through async-openai as `OpenAIError::Boxed`.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.error)]
pub struct WireFailure(pub Failed);

/// The tower service: one request, sent once, through the shared reqwest client.
#[derive(Clone, Debug)]
pub struct Transport {
    http: reqwest::Client,
}

impl Transport {
    /// A transport over `http` (connection pool shared by all backends).
    pub fn new(http: reqwest::Client) -> Self {
        Transport { http }
    }
}

impl tower::Service<HttpRequestFactory> for Transport {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = BoxFuture<'static, Result<reqwest::Response, OpenAIError>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), OpenAIError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, factory: HttpRequestFactory) -> Self::Future {
        let http = self.http.clone();
        // Taken here, while the calling attempt's task is being polled.
        let exchange = EXCHANGE.try_with(Arc::clone).ok();
        Box::pin(async move {
            let request = factory.build().await?;
            let resp = http
                .execute(request)
                .await
                .map_err(|e| boxed(ProviderError::Transport(e.to_string()), None))?;
            let rate = parse_rate_info(resp.headers(), Instant::now());
            if let Some(ex) = &exchange {
                *ex.rate.lock() = rate;
            }
            let status = resp.status().as_u16();
            if (200..300).contains(&status) {
                return Ok(resp);
            }
            // An error body that cannot be read still classifies by its status.
            let body = resp.text().await.unwrap_or_default();
            Err(boxed(classify(status, &body, rate.retry_after), Some(rate)))
        })
    }
}

fn boxed(error: ProviderError, rate: Option<RateInfo>) -> OpenAIError {
    OpenAIError::Boxed(Box::new(WireFailure(Failed {
        error,
        rate: rate.unwrap_or_default(),
    })))
}

/// Maps what async-openai returned to a typed failure of the attempt. `rate` is what the
/// transport saw of the response (used when the error is not one of the transport's own).
pub fn into_failed(e: OpenAIError, rate: RateInfo) -> Failed {
    let error = match e {
        OpenAIError::Boxed(b) => match b.downcast::<WireFailure>() {
            Ok(w) => return w.0,
            Err(other) => ProviderError::Transport(other.to_string()),
        },
        // The body of a 2xx response could not be read (connection reset, …).
        OpenAIError::Reqwest(e) => ProviderError::Transport(e.to_string()),
        OpenAIError::JSONDeserialize(e, body) => malformed(&e, body.as_bytes()),
        // The SSE body broke off (connection error, invalid UTF-8, …).
        OpenAIError::StreamError(e) => ProviderError::TruncatedStream(format!("stream error: {e}")),
        // Error responses are classified by the transport before async-openai sees them; this
        // is kept for completeness.
        OpenAIError::ApiError(a) => classify(
            a.status_code.as_u16(),
            &serde_json::json!({"error": a.api_error}).to_string(),
            rate.retry_after,
        ),
        other => ProviderError::Rejected {
            status: 0,
            message: format!("request not sent: {other}"),
        },
    };
    Failed { error, rate }
}
