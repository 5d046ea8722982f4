//! The rate-limit mailbox: an enforcing server never says 429, 429 + retry-after pauses the
//! backend, `insufficient_quota` is not retried, headers correct the budget, priority order,
//! invalid tokens are refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::json;

use super::server::*;
use crate::pid::Pid;
use crate::provider::config::BackendKind;
use crate::provider::{ChatRequest, Message, ProviderError, Providers};
use crate::scheduler::SliceToken;

/// Sliding-window RPM/TPM enforcement as a real provider does it: a request is charged
/// prompt + max_tokens on arrival, settled to its actual usage when it completes.
pub(super) struct Limiter {
    window: Duration,
    rpm: usize,
    tpm: u64,
    entries: Mutex<Vec<(usize, Instant, u64)>>,
    pub(super) rejected: AtomicUsize,
}

impl Limiter {
    pub(super) fn new(window: Duration, rpm: usize, tpm: u64) -> Self {
        Limiter {
            window,
            rpm,
            tpm,
            entries: Mutex::new(Vec::new()),
            rejected: AtomicUsize::new(0),
        }
    }
    /// Admits or rejects; returns (remaining requests, ms until the oldest entry expires).
    pub(super) fn admit(&self, id: usize, tokens: u64) -> Option<(usize, u128)> {
        let now = Instant::now();
        let mut e = self.entries.lock();
        e.retain(|(_, at, _)| now.duration_since(*at) < self.window);
        let used: u64 = e.iter().map(|x| x.2).sum();
        if e.len() >= self.rpm || used + tokens > self.tpm {
            self.rejected.fetch_add(1, Ordering::SeqCst);
            return None;
        }
        e.push((id, now, tokens));
        let oldest = e.iter().map(|x| x.1).min().unwrap_or(now);
        Some((
            self.rpm - e.len(),
            (oldest + self.window).duration_since(now).as_millis(),
        ))
    }
    pub(super) fn settle(&self, id: usize, tokens: u64) {
        if let Some(x) = self.entries.lock().iter_mut().find(|x| x.0 == id) {
            x.2 = tokens;
        }
    }
}

pub(super) fn req(text: &str) -> ChatRequest {
    let mut r = ChatRequest::new(
        "test-model",
        vec![Message::system("be brief"), Message::user(text)],
    );
    r.max_tokens = 40;
    r
}

#[actix_rt::test]
async fn enforcing_server_sees_zero_429_under_50_concurrent_callers() {
    let lim = Arc::new(Limiter::new(Duration::from_millis(1000), 40, 2000));
    let l = lim.clone();
    let srv = serve(move |hit| {
        let l = l.clone();
        async move {
            let prompt = server_prompt_tokens(&hit.body);
            let max = hit.body["max_tokens"].as_u64().unwrap_or(0);
            let Some((left, reset_ms)) = l.admit(hit.n, prompt + max) else {
                let err = json!({"error": {"type": "requests", "code": "rate_limit_exceeded", "message": "slow down"}});
                return json_response(429, &err, &[("retry-after", "1".into())]);
            };
            tokio::time::sleep(Duration::from_millis(20)).await;
            let body = openai_completion("fine, thanks", prompt);
            let total = prompt + body["usage"]["completion_tokens"].as_u64().unwrap_or(0);
            l.settle(hit.n, total);
            let h = [
                ("x-ratelimit-limit-requests", "40".to_owned()),
                ("x-ratelimit-remaining-requests", left.to_string()),
                ("x-ratelimit-reset-requests", format!("{reset_ms}ms")),
            ];
            json_response(200, &body, &h)
        }
    })
    .await;
    let mut b = backend(BackendKind::OpenaiCompatible, &srv.url);
    b.rpm = Some(40);
    b.tpm = Some(2000);
    let p = Providers::start(&one("enforced", b)).expect("start");
    let calls = (0..50).map(|i| {
        let router = p.router.clone();
        async move {
            let pid = Pid::new();
            let mut ok = 0;
            for j in 0..2 {
                let r = router
                    .chat(
                        req(&format!("agent {i} asks question {j}")),
                        &token(pid, (i % 5) as u8),
                        None,
                    )
                    .await;
                ok += usize::from(r.is_ok());
            }
            ok
        }
    });
    let ok: usize = futures::future::join_all(calls).await.into_iter().sum();
    assert_eq!(
        lim.rejected.load(Ordering::SeqCst),
        0,
        "the server had to say 429"
    );
    assert_eq!(ok, 100);
    assert_eq!(srv.hits(), 100);
    let stats = p.router.stats();
    assert_eq!(stats[0].rate_limited, 0);
    assert_eq!(stats[0].succeeded, 100);
}

#[actix_rt::test]
async fn retry_after_pauses_every_queued_request() {
    let t429: Arc<Mutex<Option<Instant>>> = Arc::default();
    let t = t429.clone();
    let srv = serve(move |hit| {
        let t = t.clone();
        async move {
            if hit.n == 2 {
                *t.lock() = Some(hit.at);
                let err = json!({"error": {"type": "tokens", "code": "rate_limit_exceeded", "message": "wait"}});
                return json_response(429, &err, &[("retry-after", "1".into())]);
            }
            json_response(200, &openai_completion("ok", 10), &[])
        }
    })
    .await;
    let mut b = backend(BackendKind::OpenaiCompatible, &srv.url);
    b.max_concurrency = 1;
    let p = Providers::start(&one("paused", b)).expect("start");
    let pid = Pid::new();
    let calls = (0..8).map(|i| {
        let router = p.router.clone();
        async move {
            router
                .chat(req(&format!("q{i}")), &token(pid, 10), None)
                .await
        }
    });
    let results = futures::future::join_all(calls).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(srv.hits(), 9, "8 calls + one retry of the 429");
    let at = t429.lock().expect("a 429 was sent");
    let after: Vec<Duration> = srv
        .log
        .lock()
        .iter()
        .filter(|h| h.n > 2)
        .map(|h| h.at.duration_since(at))
        .collect();
    assert_eq!(after.len(), 6);
    for d in after {
        assert!(
            d >= Duration::from_millis(990),
            "request arrived {d:?} after the 429"
        );
    }
}

#[actix_rt::test]
async fn insufficient_quota_fails_fast() {
    let srv = serve(|_| async {
        let err = json!({"error": {"message": "You exceeded your current quota", "type": "insufficient_quota",
                                   "param": null, "code": "insufficient_quota"}});
        json_response(429, &err, &[])
    })
    .await;
    let p = Providers::start(&one(
        "broke",
        backend(BackendKind::OpenaiCompatible, &srv.url),
    ))
    .expect("start");
    let r = p.router.chat(req("hi"), &token(Pid::new(), 1), None).await;
    assert!(
        matches!(r, Err(ProviderError::QuotaExhausted { .. })),
        "{r:?}"
    );
    assert_eq!(srv.hits(), 1, "insufficient_quota must not be retried");
}

#[actix_rt::test]
async fn ratelimit_headers_correct_the_budget_in_both_families() {
    // OpenAI family: remaining 0, reset as a Go duration.
    let srv = serve(|hit| async move {
        let h = if hit.n == 0 {
            vec![
                ("x-ratelimit-remaining-requests", "0".to_owned()),
                ("x-ratelimit-reset-requests", "0m0.6s".to_owned()),
            ]
        } else {
            vec![]
        };
        json_response(200, &openai_completion("ok", 5), &h)
    })
    .await;
    let p = Providers::start(&one(
        "hdr",
        backend(BackendKind::OpenaiCompatible, &srv.url),
    ))
    .expect("start");
    let pid = Pid::new();
    for i in 0..2 {
        assert!(
            p.router
                .chat(req(&format!("q{i}")), &token(pid, 1), None)
                .await
                .is_ok()
        );
    }
    let log = srv.log.lock().clone();
    assert!(log[1].at.duration_since(log[0].at) >= Duration::from_millis(600));

    // Anthropic family: remaining 0, reset as an RFC 3339 instant.
    let srv = serve(|hit| async move {
        let reset = (chrono::Utc::now() + chrono::Duration::milliseconds(800)).to_rfc3339();
        let h = if hit.n == 0 {
            vec![
                ("anthropic-ratelimit-requests-remaining", "0".to_owned()),
                ("anthropic-ratelimit-requests-reset", reset),
            ]
        } else {
            vec![]
        };
        let body = json!({"id": "m", "type": "message", "role": "assistant", "model": "claude",
            "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 5, "output_tokens": 1}});
        json_response(200, &body, &h)
    })
    .await;
    let p =
        Providers::start(&one("ahdr", backend(BackendKind::Anthropic, &srv.url))).expect("start");
    for i in 0..2 {
        assert!(
            p.router
                .chat(req(&format!("q{i}")), &token(pid, 1), None)
                .await
                .is_ok()
        );
    }
    let log = srv.log.lock().clone();
    assert!(log[1].at.duration_since(log[0].at) >= Duration::from_millis(700));
}

#[actix_rt::test]
async fn queue_is_served_in_slice_priority_order() {
    let srv = serve(|hit| async move {
        if hit.n == 0 {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        json_response(200, &openai_completion("ok", 5), &[])
    })
    .await;
    let mut b = backend(BackendKind::OpenaiCompatible, &srv.url);
    b.max_concurrency = 1;
    let p = Providers::start(&one("prio", b)).expect("start");
    let pid = Pid::new();
    let r0 = p.router.clone();
    let blocker = async move { r0.chat(req("blocker"), &token(pid, 50), None).await };
    let mut calls = vec![futures::FutureExt::boxed_local(blocker)];
    for prio in [50u8, 10, 90, 0, 30] {
        let r = p.router.clone();
        calls.push(futures::FutureExt::boxed_local(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            r.chat(req(&format!("p{prio}")), &token(pid, prio), None)
                .await
        }));
    }
    let results = futures::future::join_all(calls).await;
    assert!(results.iter().all(Result::is_ok));
    let order: Vec<String> = srv
        .log
        .lock()
        .iter()
        .skip(1)
        .map(|h| last_user(&h.body))
        .collect();
    assert_eq!(order, ["p0", "p10", "p30", "p50", "p90"]);
}

#[actix_rt::test]
async fn invalid_tokens_are_refused_before_any_request() {
    let srv = serve(|_| async { json_response(200, &openai_completion("ok", 5), &[]) }).await;
    let p = Providers::start(&one("t", backend(BackendKind::OpenaiCompatible, &srv.url)))
        .expect("start");
    let expired = SliceToken::new(2, Pid::new(), None, 1, 10, Instant::now());
    let r = p.router.chat(req("x"), &expired, None).await;
    assert!(matches!(r, Err(ProviderError::InvalidToken)), "{r:?}");
    let revoked = token(Pid::new(), 1);
    revoked.revoke();
    let r = p.router.chat(req("x"), &revoked, None).await;
    assert!(matches!(r, Err(ProviderError::InvalidToken)), "{r:?}");
    assert_eq!(srv.hits(), 0);
}

#[actix_rt::test]
async fn a_call_revoked_while_queued_is_never_sent() {
    let srv = serve(|_| async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        json_response(200, &openai_completion("ok", 5), &[])
    })
    .await;
    let mut b = backend(BackendKind::OpenaiCompatible, &srv.url);
    b.max_concurrency = 1;
    let p = Providers::start(&one("q", b)).expect("start");
    let (r0, r1) = (p.router.clone(), p.router.clone());
    let first = tokio::task::spawn_local(async move {
        r0.chat(req("first"), &token(Pid::new(), 1), None).await
    });
    let queued_slice = token(Pid::new(), 1);
    let s2 = queued_slice.clone();
    let second = tokio::task::spawn_local(async move { r1.chat(req("second"), &s2, None).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    queued_slice.revoke();
    assert!(first.await.is_ok_and(|r| r.is_ok()));
    let r = second.await.expect("join");
    assert!(matches!(r, Err(ProviderError::InvalidToken)), "{r:?}");
    assert_eq!(srv.hits(), 1);
}
