//! HTTP plumbing: mapping error statuses and bodies to typed errors (both network backends),
//! and, for the native Anthropic backend, sending with a timeout and turning an SSE body into a
//! delta stream (the OpenAI-compatible backend gets both from async-openai).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::Value;

use super::backend::{DeltaStream, Failed};
use super::error::ProviderError;
use super::headers::{RateInfo, parse_rate_info};
use super::model::StreamDelta;
use super::sse::{SseEvent, SseParser};

/// Sends `rb`, waits for headers within `timeout`; non-2xx statuses become typed errors (the
/// error body gets a `timeout` of its own).
pub async fn send(
    rb: reqwest::RequestBuilder,
    timeout: Duration,
) -> Result<(reqwest::Response, RateInfo), Failed> {
    let resp = tokio::time::timeout(timeout, rb.send())
        .await
        .map_err(|_| ProviderError::Transport(format!("no response within {timeout:?}")))?
        .map_err(|e| ProviderError::Transport(e.to_string()))?;
    let rate = parse_rate_info(resp.headers(), Instant::now());
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        return Ok((resp, rate));
    }
    let body = tokio::time::timeout(timeout, resp.text())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    Err(Failed {
        error: classify(status, &body, rate.retry_after),
        rate,
    })
}

/// Parses a JSON body (`MalformedResponse` naming the start of the body if it is not JSON).
pub fn parse_json(bytes: &[u8]) -> Result<Value, ProviderError> {
    serde_json::from_slice(bytes).map_err(|e| malformed(&e, bytes))
}

/// `MalformedResponse` for a body that did not parse, quoting its first 120 bytes.
pub fn malformed(e: &serde_json::Error, body: &[u8]) -> ProviderError {
    let head = String::from_utf8_lossy(&body[..body.len().min(120)]);
    ProviderError::MalformedResponse(format!("{e} in body starting `{head}`"))
}

/// Reads a JSON body within `timeout`.
pub async fn json_body(resp: reqwest::Response, timeout: Duration) -> Result<Value, ProviderError> {
    let bytes = tokio::time::timeout(timeout, resp.bytes())
        .await
        .map_err(|_| ProviderError::Transport(format!("body not complete within {timeout:?}")))?
        .map_err(|e| ProviderError::Transport(e.to_string()))?;
    parse_json(&bytes)
}

/// `(type, code, message)` of an OpenAI (`{"error":{…}}`) or Anthropic
/// (`{"type":"error","error":{…}}`) error body.
pub fn error_fields(v: &Value) -> (String, String, String) {
    let e = v.get("error").unwrap_or(v);
    let s = |k: &str| {
        e.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let msg = match e {
        Value::String(m) => m.clone(),
        _ => s("message"),
    };
    (s("type"), s("code"), msg)
}

/// Maps an HTTP error status and body to a typed error.
pub fn classify(status: u16, body: &str, retry_after: Option<Duration>) -> ProviderError {
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

/// Result of handling one SSE event.
#[derive(Debug, Default)]
pub struct Step {
    /// Deltas the event produced.
    pub deltas: Vec<StreamDelta>,
    /// The protocol's terminal event was seen.
    pub done: bool,
}

struct State<H> {
    body: BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    parser: SseParser,
    pending: VecDeque<Result<StreamDelta, ProviderError>>,
    handler: H,
    stall: Duration,
    done: bool,
    ended: bool,
}

/// Turns an SSE response into a delta stream. `handler` maps each event; a body that ends
/// before `handler` reported the terminal event is a `TruncatedStream`, a gap longer than
/// `stall` a `StreamStalled`, a connection error mid-body a `TruncatedStream`.
pub fn delta_stream<H>(resp: reqwest::Response, stall: Duration, handler: H) -> DeltaStream
where
    H: FnMut(SseEvent) -> Result<Step, ProviderError> + Send + 'static,
{
    let st = State {
        body: resp.bytes_stream().boxed(),
        parser: SseParser::new(),
        pending: VecDeque::new(),
        handler,
        stall,
        done: false,
        ended: false,
    };
    futures::stream::unfold(st, |mut st| async move {
        loop {
            if let Some(item) = st.pending.pop_front() {
                return Some((item, st));
            }
            if st.done || st.ended {
                return None;
            }
            match tokio::time::timeout(st.stall, st.body.next()).await {
                Err(_) => {
                    st.ended = true;
                    return Some((Err(ProviderError::StreamStalled(st.stall)), st));
                }
                Ok(None) => {
                    st.ended = true;
                    let why = if st.parser.has_partial() {
                        "body ended mid-event"
                    } else {
                        "body ended before the terminal event"
                    };
                    return Some((Err(ProviderError::TruncatedStream(why.into())), st));
                }
                Ok(Some(Err(e))) => {
                    st.ended = true;
                    return Some((
                        Err(ProviderError::TruncatedStream(format!(
                            "connection error: {e}"
                        ))),
                        st,
                    ));
                }
                Ok(Some(Ok(bytes))) => {
                    for ev in st.parser.push(&bytes) {
                        match (st.handler)(ev) {
                            Ok(step) => {
                                st.pending.extend(step.deltas.into_iter().map(Ok));
                                if step.done {
                                    st.done = true;
                                    break;
                                }
                            }
                            Err(e) => {
                                st.pending.push_back(Err(e));
                                st.ended = true;
                                break;
                            }
                        }
                    }
                }
            }
        }
    })
    .boxed()
}

/// Parses an SSE `data` payload as JSON.
pub fn event_json(ev: &SseEvent) -> Result<Value, ProviderError> {
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
