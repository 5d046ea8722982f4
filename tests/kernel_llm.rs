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

/// Asks the LLM for its model once per message and replies with the response.
struct ModelCaller(&'static str);

impl Agent for ModelCaller {
    type Msg = String;
    type Reply = ChatResponse;
    async fn handle(
        &mut self,
        prompt: String,
        ctx: &mut AgentContext,
    ) -> Result<ChatResponse, AgentError> {
        Ok(ctx
            .llm(ChatRequest::new(self.0, vec![Message::user(prompt)]))
            .await?)
    }
}

/// A [`ModelCaller`] of `test-model`.
fn caller() -> ModelCaller {
    ModelCaller("test-model")
}

#[actix_rt::test]
async fn an_agent_calls_the_offline_scripted_backend_through_the_scheduler() {
    let mut cfg = KernelConfig::default();
    cfg.providers
        .backends
        .insert("scripted".into(), BackendConfig::new(BackendKind::Scripted));
    let (k, _db) = kernel_with(cfg).await;
    let pid = k.spawn(caller, SpawnOptions::new("caller")).await.unwrap();
    let r: ChatResponse = pid
        .ask("hello kernel".to_owned())
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
        return (StatusCode::TOO_MANY_REQUESTS, headers, body.to_owned());
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
            k.spawn(caller, SpawnOptions::new(format!("caller-{i}")))
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
        last["content"].as_str().unwrap_or("").to_owned()
    } else {
        String::new()
    };
    let rest = full
        .strip_prefix(prefix.as_str())
        .unwrap_or(full)
        .to_owned();
    let pieces: Vec<String> = rest.split_inclusive(' ').map(str::to_owned).collect();
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

    let long = tokio::spawn(low.ask("tell the story".to_owned()).timeout(LONG));
    // Wait until the low agent holds the only slot (its first call also loads the tokenizer).
    wait_for_grants(&k, 1).await;
    tokio::time::sleep(Duration::from_millis(60)).await; // a few words in
    let short: ChatResponse = high
        .ask("a short one".to_owned())
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

/// An OpenAI-compatible server answering every request with `reply(hit number)`.
async fn serve_with<F, Fut>(reply: F) -> String
where
    F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = axum::response::Response> + Send + 'static,
{
    let hits = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().fallback(move || {
        let (reply, hits) = (reply.clone(), hits.clone());
        async move { reply(hits.fetch_add(1, Ordering::SeqCst)).await }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/v1")
}

fn completion(text: &str) -> axum::response::Response {
    let body = serde_json::json!({"model": "m", "choices": [{"index": 0,
        "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1}});
    (StatusCode::OK, body.to_string()).into_response()
}

fn backend_at(url: &str, model: &str) -> BackendConfig {
    let mut b = BackendConfig::new(BackendKind::OpenaiCompatible);
    b.base_url = Some(url.to_owned());
    b.models = vec![model.to_owned()];
    b
}

/// Rule 10 with the scheduler: a call that falls back runs under the fallback backend's
/// slices, so the fallback server never sees more requests at once than that backend's
/// `per_provider_slots`.
#[actix_rt::test]
async fn a_fallback_runs_under_the_fallback_backends_slots() {
    let failing = serve_with(|_| async {
        let err = serde_json::json!({"error": {"message": "down", "type": "server_error"}});
        (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response()
    })
    .await;
    let (now, max) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (n2, m2) = (now.clone(), max.clone());
    let fallback = serve_with(move |_| {
        let (now, max) = (n2.clone(), m2.clone());
        async move {
            let inside = now.fetch_add(1, Ordering::SeqCst) + 1;
            max.fetch_max(inside, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            now.fetch_sub(1, Ordering::SeqCst);
            completion("from the fallback")
        }
    })
    .await;
    let mut cfg = KernelConfig::default();
    let mut primary = backend_at(&failing, "unused");
    primary.retry.max_attempts = 1;
    primary.breaker.failure_threshold = 1_000;
    cfg.providers.backends.insert("primary".into(), primary);
    cfg.providers
        .backends
        .insert("secondary".into(), backend_at(&fallback, "unused-too"));
    let target = |b: &str| agent_os_kernel::provider::RouteTarget {
        backend: b.into(),
        model: Some("m".into()),
        context_window: None,
    };
    cfg.providers
        .routes
        .insert("smart".into(), vec![target("primary"), target("secondary")]);
    cfg.scheduler.global_slots = 16;
    cfg.scheduler
        .per_provider_slots
        .insert("primary".into(), 16);
    cfg.scheduler
        .per_provider_slots
        .insert("secondary".into(), 2);
    let (k, _db) = kernel_with(cfg).await;
    let mut pids = Vec::new();
    for i in 0..12 {
        let spawned = k.spawn(|| ModelCaller("smart"), SpawnOptions::new(format!("c{i}")));
        pids.push(spawned.await.unwrap());
    }
    let calls = pids.iter().map(|pid| pid.ask("q".to_owned()).timeout(LONG));
    for r in futures::future::join_all(calls).await {
        assert_eq!(r.unwrap().backend, "secondary");
    }
    let most = max.load(Ordering::SeqCst);
    assert!(
        (1..=2).contains(&most),
        "{most} requests at once at the fallback backend (per_provider_slots = 2)"
    );
    k.shutdown().await;
}

/// Rule 27: a call waiting for one backend's RPM budget holds no slice, so calls to another
/// backend go on meanwhile (2 global slots, 3 callers starved by RPM 1), and a wait longer
/// than the slice deadline still completes.
#[actix_rt::test]
async fn a_rate_starved_backend_holds_no_slice_and_outlasts_the_slice_deadline() {
    let slow_url = serve_with(|_| async { completion("slow") }).await;
    let fast_url = serve_with(|_| async { completion("fast") }).await;
    let mut cfg = KernelConfig::default();
    let mut slow = backend_at(&slow_url, "slow-model");
    slow.rpm = Some(1);
    slow.window_ms = 2_000;
    cfg.providers.backends.insert("slow".into(), slow);
    cfg.providers
        .backends
        .insert("fast".into(), backend_at(&fast_url, "fast-model"));
    cfg.scheduler.global_slots = 2;
    cfg.scheduler.default_slice_deadline_ms = 300;
    let (k, _db) = kernel_with(cfg).await;
    let mut starved = Vec::new();
    for i in 0..3 {
        let pid = k
            .spawn(
                || ModelCaller("slow-model"),
                SpawnOptions::new(format!("slow{i}")),
            )
            .await
            .unwrap();
        starved.push(tokio::spawn(pid.ask("q".to_owned()).timeout(LONG)));
    }
    let fast = k
        .spawn(|| ModelCaller("fast-model"), SpawnOptions::new("fast"))
        .await
        .unwrap();
    for _ in 0..3 {
        let r: ChatResponse = fast.ask("q".to_owned()).timeout(LONG).await.unwrap();
        assert_eq!(r.content, "fast");
    }
    // RPM 1 per 2 s: the last starved call cannot have been sent before 4 s have passed.
    assert!(
        starved.iter().any(|h| !h.is_finished()),
        "the fast backend's calls waited for the starved ones"
    );
    for h in starved {
        let r = h.await.unwrap().unwrap();
        assert_eq!(
            r.content, "slow",
            "a wait past the slice deadline completes"
        );
    }
    k.shutdown().await;
}

/// Rule 28 through the kernel: callers of a hostile backend get typed errors, the kernel and
/// the callers of another backend keep working.
#[actix_rt::test]
async fn a_hostile_backend_fails_its_callers_and_the_kernel_keeps_working() {
    let hostile = serve_with(|n| async move {
        let body = match n % 3 {
            0 => "{\"choices\": [".repeat(1 << 16),
            1 => "\u{0}\u{ff}not json".to_owned(),
            _ => String::new(),
        };
        let status = if n % 3 == 2 { 429 } else { 200 };
        axum::response::Response::builder()
            .status(status)
            .header("retry-after", "1e30")
            .body(axum::body::Body::from(body))
            .unwrap()
    })
    .await;
    let good = serve_with(|_| async { completion("fine") }).await;
    let mut cfg = KernelConfig::default();
    let mut bad = backend_at(&hostile, "bad-model");
    bad.max_response_bytes = 64 << 10;
    bad.max_pause_ms = 100;
    bad.retry.max_attempts = 2;
    cfg.providers.backends.insert("bad".into(), bad);
    cfg.providers
        .backends
        .insert("good".into(), backend_at(&good, "good-model"));
    let (k, _db) = kernel_with(cfg).await;
    let victim = k
        .spawn(|| ModelCaller("bad-model"), SpawnOptions::new("victim"))
        .await
        .unwrap();
    let bystander = k
        .spawn(|| ModelCaller("good-model"), SpawnOptions::new("bystander"))
        .await
        .unwrap();
    for _ in 0..3 {
        let r = victim.ask("q".to_owned()).timeout(LONG).await;
        assert!(r.is_err(), "{r:?}");
        let r: ChatResponse = bystander.ask("q".to_owned()).timeout(LONG).await.unwrap();
        assert_eq!(r.content, "fine");
    }
    let later = k
        .spawn(|| ModelCaller("good-model"), SpawnOptions::new("later"))
        .await
        .unwrap();
    let r: ChatResponse = later.ask("q".to_owned()).timeout(LONG).await.unwrap();
    assert_eq!(r.content, "fine");
    k.shutdown().await;
}
