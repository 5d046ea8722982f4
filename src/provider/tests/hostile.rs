//! Rule 28: a hostile or broken server. Every case ends in a value or a typed error, within
//! the configured limits: pauses clamped to `max_pause_ms`, bodies to `max_response_bytes`,
//! SSE events to `max_event_bytes`, a stream without output to the stall gap.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::response::Response;
use futures::StreamExt;
use serde_json::json;

use super::rate_limits::req;
use super::server::*;
use crate::pid::Pid;
use crate::provider::config::{BackendConfig, BackendKind, Price};
use crate::provider::{ProviderError, Providers};

/// A test backend with small limits: pauses up to 300 ms, 1 MiB bodies, 64 KiB events.
fn strict(url: &str) -> BackendConfig {
    let mut b = backend(BackendKind::OpenaiCompatible, url);
    b.max_pause_ms = 300;
    b.max_response_bytes = 1 << 20;
    b.max_event_bytes = 64 << 10;
    b.request_timeout_ms = 1000;
    b.stall_timeout_ms = 300;
    b
}

/// A response whose body is `chunks`, as the server streams them.
fn streamed(
    content_type: &str,
    chunks: impl futures::Stream<Item = Vec<u8>> + Send + 'static,
) -> Response {
    Response::builder()
        .status(200)
        .header("content-type", content_type)
        .body(Body::from_stream(
            chunks.map(|c| Ok::<_, Infallible>(Bytes::from(c))),
        ))
        .expect("response")
}

/// Endless chunks of `piece`, `delay` apart.
fn endless(piece: &'static [u8], delay: Duration) -> impl futures::Stream<Item = Vec<u8>> {
    futures::stream::repeat(piece.to_vec()).then(move |p| async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        p
    })
}

#[actix_rt::test]
async fn retry_after_of_any_value_is_clamped_or_ignored() {
    const VALUES: [(&str, &str); 7] = [
        ("retry-after", "1e30"),
        ("retry-after", "-5"),
        ("retry-after", "NaN"),
        ("retry-after", "Fri, 31 Dec 9999 23:59:59 GMT"),
        ("retry-after", "in a while"),
        ("retry-after-ms", "1e300"),
        ("retry-after", "99999999999999999999999999"),
    ];
    let srv = serve(|hit| async move {
        if hit.n % 2 == 0 {
            let (name, value) = VALUES[(hit.n / 2) % VALUES.len()];
            let err = json!({"error": {"type": "requests", "message": "slow down"}});
            return json_response(429, &err, &[(name, value.to_owned())]);
        }
        json_response(200, &openai_completion("ok", 5), &[])
    })
    .await;
    let p = Providers::start(&one("hostile", strict(&srv.url))).expect("start");
    for (name, value) in VALUES {
        let r = tokio::time::timeout(
            Duration::from_secs(10),
            p.router.chat(req("q"), &token(Pid::new(), 1), None),
        )
        .await
        .unwrap_or_else(|_| panic!("{name}: {value} paused the backend past its clamp"));
        assert_eq!(
            r.map(|r| r.content).ok().as_deref(),
            Some("ok"),
            "{name}: {value}"
        );
    }
    let stats = p.router.backend_stats("hostile").expect("stats");
    assert_eq!(stats.rate_limited, VALUES.len() as u64);
}

#[actix_rt::test]
async fn rate_limit_headers_with_huge_or_garbage_values_are_clamped() {
    let srv = serve(|hit| async move {
        let headers = match hit.n {
            0 => vec![
                ("x-ratelimit-remaining-requests", "0".to_owned()),
                ("x-ratelimit-reset-requests", "99999999999h".to_owned()),
                ("x-ratelimit-remaining-tokens", "1".repeat(40)),
                ("x-ratelimit-reset-tokens", "NaNs".to_owned()),
            ],
            1 => vec![
                ("anthropic-ratelimit-requests-remaining", "0".to_owned()),
                (
                    "anthropic-ratelimit-requests-reset",
                    "9999-12-31T23:59:59Z".to_owned(),
                ),
                ("anthropic-ratelimit-tokens-remaining", "-1".to_owned()),
            ],
            _ => vec![("x-ratelimit-remaining-requests", "🦀".to_owned())],
        };
        json_response(200, &openai_completion("ok", 5), &headers)
    })
    .await;
    let p = Providers::start(&one("hdr", strict(&srv.url))).expect("start");
    for i in 0..3 {
        let r = tokio::time::timeout(
            Duration::from_secs(10),
            p.router
                .chat(req(&format!("q{i}")), &token(Pid::new(), 1), None),
        )
        .await
        .expect("a reset far in the future is clamped to max_pause_ms");
        assert!(r.is_ok(), "{r:?}");
    }
}

#[actix_rt::test]
async fn oversized_and_endless_bodies_are_typed_errors() {
    let srv = serve(|hit| async move {
        match last_user(&hit.body).as_str() {
            // 2 MiB with a content-length, 2 MiB chunked, then a body that never ends.
            "sized" => Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(Body::from("x".repeat(2 << 20)))
                .expect("response"),
            "chunked" => streamed(
                "application/json",
                futures::stream::iter(vec![vec![b' '; 64 << 10]; 32]),
            ),
            _ => streamed(
                "application/json",
                endless(b"{\"choices\": [", Duration::from_millis(20)),
            ),
        }
    })
    .await;
    let mut b = strict(&srv.url);
    b.retry.max_attempts = 1;
    let p = Providers::start(&one("big", b)).expect("start");
    for text in ["sized", "chunked"] {
        let r = p.router.chat(req(text), &token(Pid::new(), 1), None).await;
        assert!(
            matches!(
                r,
                Err(ProviderError::ResponseTooLarge {
                    what: "response body",
                    limit: 1_048_576
                })
            ),
            "{text}: {r:?}"
        );
    }
    let r = p
        .router
        .chat(req("endless"), &token(Pid::new(), 1), None)
        .await;
    assert!(matches!(r, Err(ProviderError::Transport(_))), "{r:?}");
}

fn chunk(text: &str) -> Vec<u8> {
    data(&json!({"choices": [{"index": 0, "delta": {"content": text}}]})).into_bytes()
}

fn finish() -> Vec<u8> {
    data(&json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})).into_bytes()
}

#[actix_rt::test]
async fn hostile_streams_are_typed_errors_or_values() {
    let srv = serve(|hit| async move {
        let sse = "text/event-stream";
        match last_user(&hit.body).as_str() {
            "garbage" => {
                let mut parts = vec![
                    b"garbage without a colon\n\xff\xfe\x00 not utf-8\n: comment\n\n".to_vec(),
                    chunk("all "),
                    b"\r\n\r\nretry: 10\nid: 7\n\n".to_vec(),
                    b"data: {\"choices\":[{\"delta\":{\"content\":\"good \xff\"}}]}\n\n".to_vec(),
                ];
                parts.push(finish());
                parts.push(b"data: [DONE]\n\n".to_vec());
                streamed(sse, futures::stream::iter(parts))
            }
            "huge event" => {
                // One event of 50 MB, sent lazily in 64 KiB pieces.
                let head = b"data: {\"choices\":[{\"delta\":{\"content\":\"".to_vec();
                let body = futures::stream::iter(
                    std::iter::once(head).chain(std::iter::repeat_n(vec![b'a'; 64 << 10], 800)),
                );
                streamed(sse, body)
            }
            "not json" => streamed(
                sse,
                futures::stream::iter(vec![b"data: {nope}\n\n".to_vec()]),
            ),
            "endless output" => {
                let words = futures::stream::repeat(()).map(|()| chunk("more "));
                streamed(sse, words)
            }
            _ => streamed(sse, endless(b": ping\n\n", Duration::from_millis(20))),
        }
    })
    .await;
    let mut b = strict(&srv.url);
    b.retry.max_attempts = 1;
    b.max_response_bytes = 4 << 20;
    let p = Providers::start(&one("sse", b)).expect("start");
    let slice = token(Pid::new(), 1);
    let ask = |text: &str| {
        let mut r = req(text);
        r.stream = true;
        p.router.chat(r, &slice, None)
    };
    let r = ask("garbage")
        .await
        .expect("garbage between events is skipped");
    assert_eq!(r.content, "all good \u{fffd}");
    let r = ask("not json").await;
    assert!(
        matches!(r, Err(ProviderError::MalformedResponse(_))),
        "{r:?}"
    );
    let r = ask("huge event").await;
    assert!(
        matches!(
            r,
            Err(ProviderError::ResponseTooLarge {
                what: "stream event",
                ..
            })
        ),
        "{r:?}"
    );
    let r = ask("endless output").await;
    assert!(
        matches!(
            r,
            Err(ProviderError::ResponseTooLarge { what: "stream", .. })
        ),
        "{r:?}"
    );
    let r = ask("pings forever").await;
    assert!(matches!(r, Err(ProviderError::StreamStalled(_))), "{r:?}");
}

#[actix_rt::test]
async fn usage_up_to_u64_max_saturates_the_ledger() {
    let srv = serve(|_| async {
        let body = json!({"model": "test-model", "choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": u64::MAX, "completion_tokens": u64::MAX}});
        json_response(200, &body, &[])
    })
    .await;
    let mut cfg = one("greedy", strict(&srv.url));
    cfg.prices.insert(
        "test-model".into(),
        Price {
            input_per_mtok: 1e300,
            output_per_mtok: f64::NAN,
        },
    );
    let p = Providers::start(&cfg).expect("start");
    let pid = Pid::new();
    for _ in 0..2 {
        let r = p
            .router
            .chat(req("q"), &token(pid, 1), None)
            .await
            .expect("huge usage is a value");
        assert_eq!(r.usage.total(), u64::MAX);
    }
    let t = p.ledger.agent_totals(pid);
    assert_eq!(t.calls, 2);
    assert_eq!(
        (t.prompt_tokens, t.completion_tokens, t.cost_nano_usd),
        (u64::MAX, u64::MAX, u64::MAX)
    );
}
