//! The HTTP exchange both network backends share: send with a timeout, read a body within a
//! size limit, map error statuses and bodies to typed errors, and turn an SSE body into a delta
//! stream under the stall, event-size and stream-size limits. Nothing a server sends here can
//! panic or make memory grow past the configured limits.

use std::collections::VecDeque;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::Value;
use tokio::time::{Instant, timeout_at};

use super::backend::{DeltaStream, Failed, Limits};
use super::error::ProviderError;
use super::headers::{RateInfo, parse_rate_info};
use super::model::StreamDelta;
use super::sse::{SseEvent, SseParser};

/// The most of an error body that is read (to classify it); the rest is dropped.
const ERROR_BODY_MAX: u64 = 64 << 10;

/// A response with a success status, the rate-limit headers it carried, and the instant its
/// body must be complete by (for a JSON body).
pub(crate) struct Sent {
    pub(crate) resp: reqwest::Response,
    pub(crate) rate: RateInfo,
    pub(crate) deadline: Instant,
}

/// Sends `rb` and waits for the headers within the request timeout; a non-2xx status becomes
/// a typed error (classified from at most 64 KiB of its body, read within the same timeout).
pub(crate) async fn send(rb: reqwest::RequestBuilder, limits: &Limits) -> Result<Sent, Failed> {
    let deadline = Instant::now()
        .checked_add(limits.request)
        .unwrap_or_else(Instant::now);
    let resp = timeout_at(deadline, rb.send())
        .await
        .map_err(|_| ProviderError::Transport(format!("no response within {:?}", limits.request)))?
        .map_err(|e| ProviderError::Transport(e.to_string()))?;
    let rate = parse_rate_info(resp.headers(), limits.max_pause);
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(Sent {
            resp,
            rate,
            deadline,
        });
    }
    let body = read_capped(resp, ERROR_BODY_MAX, deadline)
        .await
        .unwrap_or_default();
    Err(Failed {
        error: classify(status, &String::from_utf8_lossy(&body), rate.retry_after),
        rate,
    })
}

/// Up to `cap` bytes of a body (the rest is not read).
async fn read_capped(mut resp: reqwest::Response, cap: u64, deadline: Instant) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let read = async {
        while let Ok(Some(chunk)) = resp.chunk().await {
            let room = usize::try_from(cap)
                .unwrap_or(usize::MAX)
                .saturating_sub(buf.len());
            buf.extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or_default());
            if chunk.len() >= room {
                break;
            }
        }
    };
    timeout_at(deadline, read).await.ok()?;
    Some(buf)
}

/// Reads a whole success body by `sent.deadline`, refusing one over `max` bytes.
pub(crate) async fn read_body(sent: Sent, max: u64) -> Result<Vec<u8>, Failed> {
    let Sent {
        mut resp,
        rate,
        deadline,
    } = sent;
    let fail = |error| Failed { error, rate };
    let too_large = || ProviderError::ResponseTooLarge {
        what: "response body",
        limit: max,
    };
    if resp.content_length().is_some_and(|n| n > max) {
        return Err(fail(too_large()));
    }
    let read = async {
        let mut buf: Vec<u8> = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| ProviderError::Transport(e.to_string()))?
        {
            if (buf.len() as u64).saturating_add(chunk.len() as u64) > max {
                return Err(too_large());
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf)
    };
    match timeout_at(deadline, read).await {
        Ok(r) => r.map_err(fail),
        Err(_) => Err(fail(ProviderError::Transport(
            "body not complete within the request timeout".into(),
        ))),
    }
}

/// `MalformedResponse` for a body that did not parse, quoting its first 120 bytes.
pub(crate) fn malformed(e: &serde_json::Error, body: &[u8]) -> ProviderError {
    let head = String::from_utf8_lossy(body.get(..body.len().min(120)).unwrap_or_default());
    ProviderError::MalformedResponse(format!("{e} in body starting `{head}`"))
}

/// `(type, code, message)` of an OpenAI (`{"error":{…}}`) or Anthropic
/// (`{"type":"error","error":{…}}`) error body.
pub(crate) fn error_fields(v: &Value) -> (String, String, String) {
    let e = v.get("error").unwrap_or(v);
    let s = |k: &str| {
        e.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let msg = match e {
        Value::String(m) => m.clone(),
        _ => s("message"),
    };
    (s("type"), s("code"), msg)
}

/// Maps an HTTP error status and body to a typed error.
pub(crate) fn classify(status: u16, body: &str, retry_after: Option<Duration>) -> ProviderError {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let (kind, code, mut message) = error_fields(&parsed);
    if message.is_empty() {
        message = body.chars().take(200).collect();
    }
    let lower = message.to_lowercase();
    let quota =
        kind == "insufficient_quota" || code == "insufficient_quota" || kind == "billing_error";
    match status {
        402 => ProviderError::QuotaExhausted { message },
        429 if quota => ProviderError::QuotaExhausted { message },
        429 => ProviderError::RateLimited {
            retry_after,
            message,
        },
        400 | 413
            if code == "context_length_exceeded"
                || lower.contains("context length")
                || lower.contains("context window")
                || lower.contains("prompt is too long")
                || lower.contains("maximum context") =>
        {
            ProviderError::ContextLength { message }
        }
        408 => ProviderError::Transport(format!("408 request timeout: {message}")),
        500..=599 => ProviderError::Server { status, message },
        _ => ProviderError::Rejected { status, message },
    }
}

/// One protocol's reading of its SSE events.
pub(crate) trait EventHandler: Send + 'static {
    /// Handles one event, appending its deltas to `out`; `Ok(true)` once the protocol's
    /// terminal event came (nothing after it is read).
    fn event(&mut self, ev: &SseEvent, out: &mut Vec<StreamDelta>) -> Result<bool, ProviderError>;
    /// The stream has said all it must: the body ending, breaking off or going quiet now is
    /// a normal end.
    fn complete(&self) -> bool;
    /// Flushes what the handler holds back, at the end of the stream.
    fn finish(&mut self, out: &mut Vec<StreamDelta>);
}

struct State<H> {
    body: BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    parser: SseParser,
    handler: H,
    pending: VecDeque<Result<StreamDelta, ProviderError>>,
    events: Vec<SseEvent>,
    out: Vec<StreamDelta>,
    limits: Limits,
    bytes: u64,
    /// The last instant an event carried output (the stall gap runs from here).
    progress: Instant,
    ended: bool,
}

impl<H: EventHandler> State<H> {
    /// Ends the stream: flushes the handler, then fails with `error` unless the stream was
    /// complete (`None`: a normal end of a complete stream, else a truncation).
    fn end(&mut self, error: Option<ProviderError>) {
        self.ended = true;
        self.handler.finish(&mut self.out);
        self.pending.extend(self.out.drain(..).map(Ok));
        if self.handler.complete() {
            return;
        }
        let why = if self.parser.has_partial() {
            "body ended mid-event"
        } else {
            "body ended before the terminal event"
        };
        let error = error.unwrap_or_else(|| ProviderError::TruncatedStream(why.into()));
        self.pending.push_back(Err(error));
    }

    fn fail(&mut self, error: ProviderError) {
        self.ended = true;
        self.pending.push_back(Err(error));
    }

    /// Feeds one chunk of the body through the parser and the handler.
    fn chunk(&mut self, bytes: &[u8]) {
        self.bytes = self.bytes.saturating_add(bytes.len() as u64);
        if self.bytes > self.limits.max_response_bytes {
            return self.fail(ProviderError::ResponseTooLarge {
                what: "stream",
                limit: self.limits.max_response_bytes,
            });
        }
        if let Err(e) = self.parser.push(bytes, &mut self.events) {
            return self.fail(e);
        }
        for ev in std::mem::take(&mut self.events) {
            let r = self.handler.event(&ev, &mut self.out);
            if !self.out.is_empty() {
                self.progress = Instant::now();
            }
            self.pending.extend(self.out.drain(..).map(Ok));
            match r {
                Ok(false) => {}
                Ok(true) => return self.end(None),
                Err(e) => return self.fail(e),
            }
        }
    }
}

/// Turns an SSE response into a delta stream. A body that ends (or breaks off) before the
/// handler says the stream is complete is a `TruncatedStream`; no event with output for the
/// stall gap is a `StreamStalled` (keep-alive comments and pings are not output) unless the
/// stream was complete; an event or a stream over its size limit is `ResponseTooLarge`.
pub(crate) fn delta_stream<H: EventHandler>(
    resp: reqwest::Response,
    limits: Limits,
    handler: H,
) -> DeltaStream {
    let st = State {
        body: resp.bytes_stream().boxed(),
        parser: SseParser::new(usize::try_from(limits.max_event_bytes).unwrap_or(usize::MAX)),
        handler,
        pending: VecDeque::new(),
        events: Vec::new(),
        out: Vec::new(),
        limits,
        bytes: 0,
        progress: Instant::now(),
        ended: false,
    };
    futures::stream::unfold(st, |mut st| async move {
        loop {
            if let Some(item) = st.pending.pop_front() {
                return Some((item, st));
            }
            if st.ended {
                return None;
            }
            let stall_at = st
                .progress
                .checked_add(st.limits.stall)
                .unwrap_or(st.progress);
            match timeout_at(stall_at, st.body.next()).await {
                Err(_) => {
                    let stalled = ProviderError::StreamStalled(st.limits.stall);
                    st.end(Some(stalled));
                }
                Ok(None) => st.end(None),
                Ok(Some(Err(e))) => {
                    let broke = ProviderError::TruncatedStream(format!("connection error: {e}"));
                    st.end(Some(broke));
                }
                Ok(Some(Ok(bytes))) => st.chunk(&bytes),
            }
        }
    })
    .boxed()
}

/// Parses an SSE `data` payload as JSON of type `T`.
pub(crate) fn event_json<T: serde::de::DeserializeOwned>(
    ev: &SseEvent,
) -> Result<T, ProviderError> {
    serde_json::from_str(&ev.data).map_err(|e| {
        let head: String = ev.data.chars().take(120).collect();
        ProviderError::MalformedResponse(format!("{e} in stream event `{head}`"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_bodies_map_to_typed_errors() {
        let quota = r#"{"error":{"message":"quota","type":"insufficient_quota","code":"insufficient_quota"}}"#;
        assert!(matches!(
            classify(429, quota, None),
            ProviderError::QuotaExhausted { .. }
        ));
        let limited = classify(
            429,
            r#"{"error":{"message":"slow","type":"requests"}}"#,
            Some(Duration::from_secs(2)),
        );
        assert!(
            matches!(limited, ProviderError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(2))
        );
        assert!(matches!(
            classify(402, "Insufficient Balance", None),
            ProviderError::QuotaExhausted { .. }
        ));
        let ctx = r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}"#;
        assert!(matches!(
            classify(400, ctx, None),
            ProviderError::ContextLength { .. }
        ));
        let overloaded =
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        assert!(matches!(
            classify(529, overloaded, None),
            ProviderError::Server { status: 529, .. }
        ));
        assert!(classify(503, "<html>bad gateway</html>", None).is_transient());
        assert!(matches!(
            classify(401, "{}", None),
            ProviderError::Rejected { status: 401, .. }
        ));
        assert!(!classify(401, "{}", None).is_transient());
    }
}
