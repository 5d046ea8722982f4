//! Retries, breaker and fallback; stalled, truncated and malformed responses.

use std::time::Duration;

use serde_json::json;

use super::rate_limits::req;
use super::server::*;
use crate::pid::Pid;
use crate::provider::breaker::BreakerState;
use crate::provider::config::{BackendKind, ProvidersConfig, RouteTarget};
use crate::provider::{ProviderError, Providers};

fn target(backend: &str, model: &str, window: Option<u64>) -> RouteTarget {
    RouteTarget {
        backend: backend.into(),
        model: Some(model.into()),
        context_window: window,
    }
}

async fn storm() -> TestServer {
    serve(|_| async {
        let err = json!({"error": {"message": "upstream exploded", "type": "server_error"}});
        json_response(500, &err, &[])
    })
    .await
}

#[actix_rt::test]
async fn server_error_storm_opens_breaker_and_router_falls_back() {
    let bad = storm().await;
    let good = serve(|hit| async move {
        json_response(
            200,
            &openai_completion(&format!("fallback {}", hit.n), 8),
            &[],
        )
    })
    .await;
    let mut a = backend(BackendKind::OpenaiCompatible, &bad.url);
    a.retry.max_attempts = 2;
    a.breaker.failure_threshold = 3;
    a.breaker.cooldown_ms = 60_000;
    let mut cfg = ProvidersConfig::default();
    cfg.backends.insert("primary".into(), a);
    cfg.backends.insert(
        "secondary".into(),
        backend(BackendKind::OpenaiCompatible, &good.url),
    );
    cfg.routes.insert(
        "smart".into(),
        vec![
            target("primary", "m1", None),
            target("secondary", "m2", None),
        ],
    );
    let p = Providers::start(&cfg).expect("start");
    let pid = Pid::new();
    for i in 0..10 {
        let mut r = req(&format!("q{i}"));
        r.model = "smart".into();
        let resp = p.router.chat(r, &token(pid, 1), None).await;
        assert_eq!(resp.map(|r| r.backend).ok().as_deref(), Some("secondary"));
    }
    // Call 1: two attempts; call 2: the third failure opens the breaker; then no traffic.
    assert_eq!(bad.hits(), 3);
    assert_eq!(good.hits(), 10);
    let stats = p.router.stats();
    let primary = stats
        .iter()
        .find(|s| s.backend == "primary")
        .expect("primary stats");
    assert_eq!(primary.breaker_opened, 1);
    assert!(matches!(primary.breaker, Some(BreakerState::Open(_))));
}

#[actix_rt::test]
async fn fallback_does_not_restart_the_attempt_budget() {
    let a_srv = storm().await;
    let b_srv = storm().await;
    let mut cfg = ProvidersConfig::default();
    for (name, url) in [("a", &a_srv.url), ("b", &b_srv.url)] {
        let mut b = backend(BackendKind::OpenaiCompatible, url);
        b.retry.max_attempts = 2;
        cfg.backends.insert(name.into(), b);
    }
    cfg.routes.insert(
        "g".into(),
        vec![target("a", "m", None), target("b", "m", None)],
    );
    cfg.max_attempts_per_call = Some(3);
    let p = Providers::start(&cfg).expect("start");
    let mut r = req("q");
    r.model = "g".into();
    let resp = p.router.chat(r, &token(Pid::new(), 1), None).await;
    assert!(
        matches!(resp, Err(ProviderError::Server { status: 500, .. })),
        "{resp:?}"
    );
    assert_eq!(
        a_srv.hits() + b_srv.hits(),
        3,
        "one budget of 3 attempts for the whole chain"
    );
    assert_eq!(b_srv.hits(), 1);
}

#[actix_rt::test]
async fn context_length_error_falls_back_to_a_larger_window() {
    let small = serve(|_| async {
        let err = json!({"error": {"message": "This model's maximum context length is 8192 tokens",
                                   "type": "invalid_request_error", "code": "context_length_exceeded"}});
        json_response(400, &err, &[])
    })
    .await;
    let also_small =
        serve(|_| async { json_response(200, &openai_completion("wrong", 5), &[]) }).await;
    let large = serve(|hit| async move {
        json_response(
            200,
            &openai_completion(&format!("model {}", hit.body["model"]), 5),
            &[],
        )
    })
    .await;
    let mut cfg = ProvidersConfig::default();
    cfg.backends.insert(
        "s".into(),
        backend(BackendKind::OpenaiCompatible, &small.url),
    );
    cfg.backends.insert(
        "s2".into(),
        backend(BackendKind::OpenaiCompatible, &also_small.url),
    );
    cfg.backends.insert(
        "l".into(),
        backend(BackendKind::OpenaiCompatible, &large.url),
    );
    cfg.routes.insert(
        "long".into(),
        vec![
            target("s", "small-8k", Some(8192)),
            target("s2", "small-4k", Some(4096)),
            target("l", "big-128k", Some(131_072)),
        ],
    );
    let p = Providers::start(&cfg).expect("start");
    let mut r = req("a very long prompt");
    r.model = "long".into();
    let resp = p
        .router
        .chat(r, &token(Pid::new(), 1), None)
        .await
        .expect("fell back");
    assert_eq!(resp.content, "model \"big-128k\"");
    assert_eq!((small.hits(), also_small.hits(), large.hits()), (1, 0, 1));
}

#[actix_rt::test]
async fn stalled_stream_is_retried() {
    let srv = serve(|hit| async move {
        let words: Vec<String> = ["all ", "is ", "well"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let fault = if hit.n == 0 {
            Fault::StallAfter(1)
        } else {
            Fault::None
        };
        sse_response(openai_stream(&words, 9), Duration::ZERO, fault)
    })
    .await;
    let mut b = backend(BackendKind::OpenaiCompatible, &srv.url);
    b.stall_timeout_ms = 200;
    let p = Providers::start(&one("stall", b)).expect("start");
    let mut r = req("q");
    r.stream = true;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let resp = p
        .router
        .chat(r, &token(Pid::new(), 1), Some(tx))
        .await
        .expect("retried");
    assert_eq!(resp.content, "all is well");
    assert_eq!(srv.hits(), 2);
    let mut saw_reset = false;
    while let Ok(d) = rx.try_recv() {
        saw_reset |= d == crate::provider::StreamDelta::Reset;
    }
    assert!(
        saw_reset,
        "the sink is told to discard the stalled attempt's deltas"
    );
}

/// A server that goes quiet after the `finish_reason` chunk (no usage chunk, no `[DONE]`, the
/// connection left open) has finished: the call succeeds once the stall gap passes, without a
/// retry.
#[actix_rt::test]
async fn a_stream_quiet_after_its_finish_reason_is_complete() {
    let srv = serve(|_| async move {
        let words: Vec<String> = ["done ", "here"].iter().map(|s| s.to_string()).collect();
        sse_response(
            openai_stream(&words, 5),
            Duration::ZERO,
            Fault::StallAfter(3),
        )
    })
    .await;
    let mut b = backend(BackendKind::OpenaiCompatible, &srv.url);
    b.stall_timeout_ms = 200;
    let p = Providers::start(&one("quiet", b)).expect("start");
    let mut r = req("q");
    r.stream = true;
    let resp = p
        .router
        .chat(r, &token(Pid::new(), 1), None)
        .await
        .expect("complete after the finish_reason");
    assert_eq!(resp.content, "done here");
    assert_eq!(
        resp.finish_reason,
        Some(crate::provider::FinishReason::Stop)
    );
    assert_eq!(srv.hits(), 1, "not retried");
}

#[actix_rt::test]
async fn malformed_json_and_truncated_sse_are_typed_errors() {
    let srv = serve(|hit| async move {
        match hit.n {
            0 => raw_response(200, "{\"choices\": [ {\"message\": "),
            1 => raw_response(200, "{\"object\": \"chat.completion\"}"),
            _ => {
                let words: Vec<String> = ["cut ", "off"].iter().map(|s| s.to_string()).collect();
                sse_response(
                    openai_stream(&words, 4),
                    Duration::ZERO,
                    Fault::CloseAfter(2),
                )
            }
        }
    })
    .await;
    let mut b = backend(BackendKind::OpenaiCompatible, &srv.url);
    b.retry.max_attempts = 1;
    let p = Providers::start(&one("junk", b)).expect("start");
    let pid = Pid::new();
    let r = p.router.chat(req("a"), &token(pid, 1), None).await;
    assert!(
        matches!(r, Err(ProviderError::MalformedResponse(_))),
        "{r:?}"
    );
    let r = p.router.chat(req("b"), &token(pid, 1), None).await;
    assert!(
        matches!(r, Err(ProviderError::MalformedResponse(_))),
        "{r:?}"
    );
    let mut s = req("c");
    s.stream = true;
    let r = p.router.chat(s, &token(pid, 1), None).await;
    assert!(matches!(r, Err(ProviderError::TruncatedStream(_))), "{r:?}");

    // Anthropic: a stream that ends without `message_stop`, and an in-stream error event.
    let srv = serve(|hit| async move {
        let mut ev = vec![
            event("message_start", &json!({"type": "message_start", "message": {"usage": {"input_tokens": 3, "output_tokens": 1}}})),
            event("content_block_start", &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})),
            event("content_block_delta", &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "half"}})),
        ];
        if hit.n == 1 {
            ev.push(event("error", &json!({"type": "error", "error": {"type": "invalid_request_error", "message": "nope"}})));
        }
        sse_response(ev, Duration::ZERO, Fault::None)
    })
    .await;
    let mut b = backend(BackendKind::Anthropic, &srv.url);
    b.retry.max_attempts = 1;
    let p = Providers::start(&one("ajunk", b)).expect("start");
    let mut s = req("d");
    s.stream = true;
    let r = p.router.chat(s.clone(), &token(pid, 1), None).await;
    assert!(matches!(r, Err(ProviderError::TruncatedStream(_))), "{r:?}");
    let r = p.router.chat(s, &token(pid, 1), None).await;
    assert!(
        matches!(r, Err(ProviderError::StreamError { ref kind, .. }) if kind == "invalid_request_error"),
        "{r:?}"
    );
}

#[actix_rt::test]
async fn connection_errors_and_529_are_retried_then_fall_back() {
    // A port nobody listens on: connect errors are transient.
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let dead_url = format!("http://{}/v1", dead.local_addr().expect("addr"));
    drop(dead);
    let overloaded = serve(|hit| async move {
        if hit.n == 0 {
            let err = json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}});
            return json_response(529, &err, &[]);
        }
        let body = json!({"id": "m", "type": "message", "role": "assistant", "model": "claude",
            "content": [{"type": "text", "text": "recovered"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 5, "output_tokens": 1}});
        json_response(200, &body, &[])
    })
    .await;
    let mut cfg = ProvidersConfig::default();
    cfg.backends.insert(
        "dead".into(),
        backend(BackendKind::OpenaiCompatible, &dead_url),
    );
    cfg.backends.insert(
        "claude".into(),
        backend(BackendKind::Anthropic, &overloaded.url),
    );
    cfg.routes.insert(
        "g".into(),
        vec![target("dead", "m", None), target("claude", "claude", None)],
    );
    let p = Providers::start(&cfg).expect("start");
    let mut r = req("q");
    r.model = "g".into();
    let resp = p
        .router
        .chat(r, &token(Pid::new(), 1), None)
        .await
        .expect("fell back and retried");
    assert_eq!(resp.content, "recovered");
    assert_eq!(overloaded.hits(), 2, "529 retried once");
    let stats = p.router.stats();
    let dead_stats = stats.iter().find(|s| s.backend == "dead").expect("stats");
    assert_eq!(
        dead_stats.attempts, 3,
        "connect errors retried up to max_attempts"
    );
}
