//! In-test HTTP server (axum) and wire-format builders for both protocols.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use parking_lot::Mutex;
use serde_json::{Value, json};

use crate::pid::Pid;
use crate::provider::config::{BackendConfig, BackendKind, ProvidersConfig};
use crate::provider::tokens::count as count_text;
use crate::scheduler::SliceToken;

/// One request the server received.
#[derive(Clone, Debug)]
pub(super) struct Hit {
    pub(super) n: usize,
    pub(super) at: Instant,
    pub(super) path: String,
    pub(super) headers: HeaderMap,
    pub(super) body: Value,
}

type HandlerFn = dyn Fn(Hit) -> BoxFuture<'static, Response> + Send + Sync;

/// A running server.
pub(super) struct TestServer {
    pub(super) url: String,
    pub(super) hits: Arc<AtomicUsize>,
    pub(super) log: Arc<Mutex<Vec<Hit>>>,
}

impl TestServer {
    pub(super) fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Starts a server answering every path with `f`.
pub(super) async fn serve<F, Fut>(f: F) -> TestServer
where
    F: Fn(Hit) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let hits = Arc::new(AtomicUsize::new(0));
    let log = Arc::new(Mutex::new(Vec::new()));
    let handler: Arc<HandlerFn> = Arc::new(move |h| f(h).boxed());
    let (h2, l2) = (hits.clone(), log.clone());
    let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let (handler, hits, log) = (handler.clone(), h2.clone(), l2.clone());
        async move {
            let n = hits.fetch_add(1, Ordering::SeqCst);
            let hit = Hit {
                n,
                at: Instant::now(),
                path: uri.path().to_owned(),
                headers,
                body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            };
            log.lock().push(hit.clone());
            handler(hit).await
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind test server");
    let addr = listener.local_addr().expect("test server address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    TestServer {
        url: format!("http://{addr}/v1"),
        hits,
        log,
    }
}

pub(super) fn json_response(status: u16, v: &Value, headers: &[(&str, String)]) -> Response {
    let mut b = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    for (k, val) in headers {
        b = b.header(*k, val.as_str());
    }
    b.body(Body::from(v.to_string())).expect("response")
}

pub(super) fn raw_response(status: u16, body: &'static str) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("response")
}

/// How an SSE body misbehaves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Fault {
    None,
    /// Stop sending after N events but keep the connection open.
    StallAfter(usize),
    /// Close the connection after N events.
    CloseAfter(usize),
}

/// An SSE response of pre-framed events with `delay` between them.
pub(super) fn sse_response(events: Vec<String>, delay: Duration, fault: Fault) -> Response {
    let n = events.len();
    let s = futures::stream::iter(events.into_iter().enumerate()).then(move |(i, e)| async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if let Fault::StallAfter(k) = fault
            && i >= k
        {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        Ok::<_, Infallible>(Bytes::from(e))
    });
    let cut = match fault {
        Fault::CloseAfter(k) => k,
        _ => n,
    };
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(s.take(cut)))
        .expect("response")
}

pub(super) fn data(v: &Value) -> String {
    format!("data: {v}\n\n")
}

pub(super) fn event(name: &str, v: &Value) -> String {
    format!("event: {name}\ndata: {v}\n\n")
}

/// Prompt tokens as the test server counts them (same framing as the client's estimate).
pub(super) fn server_prompt_tokens(body: &Value) -> u64 {
    let mut n = 3;
    for m in body["messages"].as_array().into_iter().flatten() {
        let content = match &m["content"] {
            Value::String(s) => s.clone(),
            Value::Array(blocks) => blocks
                .iter()
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join(""),
            _ => String::new(),
        };
        n += 4 + count_text(&content);
    }
    n
}

/// The last user text of an OpenAI-style body.
pub(super) fn last_user(body: &Value) -> String {
    body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .rev()
        .find(|m| m["role"] == "user")
        .and_then(|m| m["content"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// An OpenAI chat-completion JSON body.
pub(super) fn openai_completion(content: &str, prompt: u64) -> Value {
    json!({"id": "c1", "object": "chat.completion", "model": "test-model",
           "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop"}],
           "usage": {"prompt_tokens": prompt, "completion_tokens": count_text(content),
                     "total_tokens": prompt + count_text(content)}})
}

/// OpenAI SSE events streaming `words`, finishing with usage and `[DONE]`.
pub(super) fn openai_stream(words: &[String], prompt: u64) -> Vec<String> {
    let mut ev: Vec<String> = words
        .iter()
        .map(|w| {
            data(
                &json!({"choices": [{"index": 0, "delta": {"content": w}, "finish_reason": null}]}),
            )
        })
        .collect();
    let text: String = words.concat();
    ev.push(data(
        &json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
    ));
    ev.push(data(&json!({"choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": count_text(&text)}})));
    ev.push("data: [DONE]\n\n".to_owned());
    ev
}

/// A slice token valid for a minute.
pub(super) fn token(pid: Pid, priority: u8) -> SliceToken {
    SliceToken::new(
        1,
        pid,
        None,
        priority,
        100_000,
        Instant::now() + Duration::from_secs(60),
    )
}

/// A backend config with test-sized timings.
pub(super) fn backend(kind: BackendKind, url: &str) -> BackendConfig {
    let mut b = BackendConfig::new(kind);
    b.base_url = Some(url.to_owned());
    b.api_key_env = Some("AGENT_OS_TEST_NO_KEY".into());
    b.models = vec!["test-model".into()];
    b.window_ms = 1000;
    b.request_timeout_ms = 5000;
    b.stall_timeout_ms = 2000;
    b.retry.base_delay_ms = 10;
    b.retry.max_delay_ms = 50;
    b
}

/// A config with one backend named `name`.
pub(super) fn one(name: &str, b: BackendConfig) -> ProvidersConfig {
    let mut cfg = ProvidersConfig::default();
    cfg.backends.insert(name.to_owned(), b);
    cfg
}
