//! `AgentContext::llm` end to end: slice → provider actor → HTTP → release with usage.
//! The OpenAI-compatible server here is started inside the test and enforces a request limit.

mod common;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use agent_os_kernel::prelude::*;
use agent_os_kernel::provider::{BackendConfig, BackendKind, ChatRequest, ChatResponse, Message};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use parking_lot::Mutex;
use support::*;

/// Asks the LLM once per message and replies with the response.
struct Caller;

impl Agent for Caller {
    type Msg = String;
    type Reply = ChatResponse;
    async fn handle(
        &mut self,
        prompt: String,
        ctx: &mut AgentContext,
    ) -> Result<ChatResponse, AgentError> {
        Ok(ctx
            .llm(ChatRequest::new("test-model", vec![Message::user(prompt)]))
            .await?)
    }
}

#[actix_rt::test]
async fn an_agent_calls_the_offline_scripted_backend_through_the_scheduler() {
    let mut cfg = KernelConfig::default();
    cfg.providers
        .backends
        .insert("scripted".into(), BackendConfig::new(BackendKind::Scripted));
    let (k, _db) = kernel_with(cfg).await;
    let pid = k
        .spawn(|| Caller, SpawnOptions::new("caller"))
        .await
        .unwrap();
    let r: ChatResponse = pid
        .ask("hello kernel".to_string())
        .timeout(LONG)
        .await
        .unwrap();
    assert_eq!(r.backend, "scripted");
    assert!(r.content.contains("hello kernel"), "{}", r.content);
    let stats = k.scheduler_stats().await.unwrap();
    assert_eq!(stats.grants, 1, "the call ran under one slice");
    let totals = k.providers().ledger.agent_totals(pid.pid());
    assert_eq!(totals.calls, 1);
    assert!(totals.prompt_tokens > 0);
    k.shutdown().await;
}

/// An OpenAI-compatible server that allows `limit` requests per `window` and answers 429
/// beyond that, counting every 429 it sent.
#[derive(Clone)]
struct Enforcer {
    limit: usize,
    window: Duration,
    seen: Arc<Mutex<Vec<Instant>>>,
    rejected: Arc<AtomicUsize>,
    served: Arc<AtomicUsize>,
}

async fn completions(State(s): State<Enforcer>, body: String) -> impl IntoResponse {
    let now = Instant::now();
    let admitted = {
        let mut seen = s.seen.lock();
        seen.retain(|t| now.duration_since(*t) < s.window);
        if seen.len() >= s.limit {
            false
        } else {
            seen.push(now);
            true
        }
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-ratelimit-limit-requests",
        s.limit.to_string().parse().unwrap(),
    );
    if !admitted {
        s.rejected.fetch_add(1, Ordering::SeqCst);
        headers.insert("retry-after", "1".parse().unwrap());
        let body = r#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#;
        return (StatusCode::TOO_MANY_REQUESTS, headers, body.to_string());
    }
    s.served.fetch_add(1, Ordering::SeqCst);
    let prompt_tokens = body.len() / 4;
    let reply = serde_json::json!({
        "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": "test-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 1, "total_tokens": prompt_tokens + 1}
    });
    (StatusCode::OK, headers, reply.to_string())
}

async fn start_enforcer(limit: usize, window: Duration) -> (String, Enforcer) {
    let state = Enforcer {
        limit,
        window,
        seen: Arc::new(Mutex::new(Vec::new())),
        rejected: Arc::new(AtomicUsize::new(0)),
        served: Arc::new(AtomicUsize::new(0)),
    };
    let app = axum::Router::new()
        .route("/v1/chat/completions", post(completions))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/v1"), state)
}

#[actix_rt::test]
async fn fifty_agents_through_the_kernel_never_trip_the_servers_rate_limit() {
    let (url, server) = start_enforcer(20, Duration::from_millis(500)).await;
    let mut cfg = KernelConfig::default();
    let mut backend = BackendConfig::new(BackendKind::OpenaiCompatible);
    backend.base_url = Some(url);
    backend.models = vec!["test-model".into()];
    backend.rpm = Some(20);
    backend.window_ms = 500;
    cfg.providers.backends.insert("enforced".into(), backend);
    cfg.scheduler.global_slots = 16;
    let (k, _db) = kernel_with(cfg).await;

    let mut pids = Vec::new();
    for i in 0..50 {
        pids.push(
            k.spawn(|| Caller, SpawnOptions::new(format!("caller-{i}")))
                .await
                .unwrap(),
        );
    }
    let calls = pids.iter().map(|pid| {
        pid.ask(format!("question from {}", pid.pid()))
            .timeout(Duration::from_secs(60))
    });
    let results = futures::future::join_all(calls).await;
    for r in &results {
        assert_eq!(r.as_ref().unwrap().content, "ok");
    }
    assert_eq!(
        server.rejected.load(Ordering::SeqCst),
        0,
        "the kernel predicted every 429"
    );
    assert_eq!(server.served.load(Ordering::SeqCst), 50);
    let totals = k.providers().ledger.totals();
    assert_eq!(totals.calls, 50);
    let stats = k.scheduler_stats().await.unwrap();
    assert_eq!(stats.grants, 50);
    let per_agent: u64 = pids
        .iter()
        .map(|p| k.providers().ledger.agent_totals(p.pid()).calls)
        .sum();
    assert_eq!(per_agent, 50, "usage adds up per agent");
    k.shutdown().await;
}

const STORY: &str =
    "once upon a time a small kernel scheduled many agents and every one of them finished its work";

fn chunk(delta: Value, finish: Option<&str>) -> String {
    let v = serde_json::json!({
        "id": "s", "object": "chat.completion.chunk", "created": 0, "model": "story-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
    });
    format!("data: {v}\n\n")
}

/// Streams the story word by word (15 ms apart); a request ending with an assistant message
/// is a continuation: the stream resumes after that prefix. "short" prompts get one word.
async fn story(body: String) -> axum::response::Response {
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let messages = v["messages"].as_array().cloned().unwrap_or_default();
    let last = messages.last().cloned().unwrap_or(Value::Null);
    let short = messages
        .iter()
        .any(|m| m["content"].as_str().is_some_and(|c| c.contains("short")));
    let full = if short { "ok" } else { STORY };
    let prefix = if last["role"] == "assistant" {
        last["content"].as_str().unwrap_or("").to_string()
    } else {
        String::new()
    };
    let rest = full
        .strip_prefix(prefix.as_str())
        .unwrap_or(full)
        .to_string();
    let pieces: Vec<String> = rest.split_inclusive(' ').map(str::to_string).collect();
    let stream = async_stream(pieces);
    axum::response::Response::builder()
        .header("content-type", "text/event-stream")
        .body(axum::body::Body::from_stream(stream))
        .unwrap()
}

fn async_stream(
    pieces: Vec<String>,
) -> impl futures::Stream<Item = Result<String, std::io::Error>> {
    let n = pieces.len();
    futures::stream::iter(pieces.into_iter().enumerate()).then(move |(i, p)| async move {
        tokio::time::sleep(Duration::from_millis(15)).await;
        let mut out = chunk(serde_json::json!({"content": p}), None);
        if i + 1 == n {
            out.push_str(&chunk(serde_json::json!({}), Some("stop")));
            out.push_str("data: [DONE]\n\n");
        }
        Ok(out)
    })
}

use futures::StreamExt;
use serde_json::Value;

struct Storyteller;

impl Agent for Storyteller {
    type Msg = String;
    type Reply = ChatResponse;
    async fn handle(
        &mut self,
        prompt: String,
        ctx: &mut AgentContext,
    ) -> Result<ChatResponse, AgentError> {
        let mut req = ChatRequest::new("story-model", vec![Message::user(prompt)]);
        req.stream = true;
        Ok(ctx.llm(req).await?)
    }
}

#[actix_rt::test]
async fn a_preempted_llm_stream_resumes_through_the_kernel_to_the_full_output() {
    let app = axum::Router::new().route("/v1/chat/completions", post(story));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let mut cfg = KernelConfig::default();
    let mut backend = BackendConfig::new(BackendKind::OpenaiCompatible);
    backend.base_url = Some(url);
    backend.models = vec!["story-model".into()];
    cfg.providers.backends.insert("story".into(), backend);
    cfg.scheduler.global_slots = 1;
    cfg.scheduler.policy = agent_os_kernel::scheduler::PolicyKind::Priority;
    cfg.scheduler.min_quantum_ms = 0;
    let (k, _db) = kernel_with(cfg).await;
    let mut events = k.events();
    let low = k
        .spawn(|| Storyteller, SpawnOptions::new("low").priority(90))
        .await
        .unwrap();
    let high = k
        .spawn(|| Storyteller, SpawnOptions::new("high").priority(5))
        .await
        .unwrap();

    let long = tokio::spawn(low.ask("tell the story".to_string()).timeout(LONG));
    // Wait until the low agent holds the only slot (its first call also loads the tokenizer).
    wait_for_grants(&k, 1).await;
    tokio::time::sleep(Duration::from_millis(60)).await; // a few words in
    let short: ChatResponse = high
        .ask("a short one".to_string())
        .timeout(LONG)
        .await
        .unwrap();
    assert_eq!(short.content, "ok");
    let story = long.await.unwrap().unwrap();
    assert_eq!(
        story.content, STORY,
        "the preempted generation continued to the full output"
    );

    let mut preempted = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let KernelEvent::SlicePreempted { pid, by, .. } = e {
            preempted.push((pid, by));
        }
    }
    assert_eq!(preempted, vec![(low.pid(), high.pid())]);
    assert_eq!(k.scheduler_stats().await.unwrap().preemptions, 1);
    assert_eq!(
        k.providers().ledger.agent_totals(low.pid()).calls,
        2,
        "partial call + continuation"
    );
    k.shutdown().await;
}
