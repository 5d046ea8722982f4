//! Preemption of a streamed generation and its continuation; usage and cost per agent.

use std::time::Duration;

use super::rate_limits::req;
use super::server::*;
use crate::pid::Pid;
use crate::provider::config::{BackendKind, Price};
use crate::provider::{Providers, StreamDelta, UsageTotals};

const FULL: &str = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen";

/// Streams FULL word by word; when the request ends with an assistant prefix, continues after it.
async fn story_server() -> TestServer {
    serve(|hit| async move {
        let msgs = hit.body["messages"].as_array().cloned().unwrap_or_default();
        let prefix = msgs
            .last()
            .filter(|m| m["role"] == "assistant")
            .and_then(|m| m["content"].as_str())
            .unwrap_or_default()
            .to_owned();
        let rest = FULL.strip_prefix(prefix.as_str()).unwrap_or(FULL);
        let words: Vec<String> = rest.split_inclusive(' ').map(str::to_owned).collect();
        sse_response(
            openai_stream(&words, server_prompt_tokens(&hit.body)),
            Duration::from_millis(30),
            Fault::None,
        )
    })
    .await
}

#[actix_rt::test]
async fn preempted_stream_returns_partial_output_and_resumes_to_the_full_text() {
    let srv = story_server().await;
    let p = Providers::start(&one(
        "story",
        backend(BackendKind::OpenaiCompatible, &srv.url),
    ))
    .expect("start");
    let pid = Pid::new();
    let slice = token(pid, 5);
    let mut r = req("tell me");
    r.stream = true;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let router = p.router.clone();
    let (r2, s2) = (r.clone(), slice.clone());
    let call = tokio::task::spawn_local(async move { router.chat(r2, &s2, Some(tx)).await });
    // Revoke after the fourth text chunk arrived.
    let mut seen = 0;
    while let Some(d) = rx.recv().await {
        if matches!(d, StreamDelta::Text(_)) {
            seen += 1;
        }
        if seen == 4 {
            slice.revoke();
            break;
        }
    }
    let partial = call.await.expect("join").expect("partial output");
    assert!(partial.is_preempted());
    assert!(
        partial.content.starts_with("one two three four"),
        "{:?}",
        partial.content
    );
    assert!(partial.content.len() < FULL.len());
    assert!(
        partial.usage.completion_tokens > 0,
        "a preempted stream is still accounted"
    );

    // Next slice: the continuation call completes it.
    r.continuation = Some(partial.content.clone());
    let next = p
        .router
        .chat(r, &token(pid, 5), None)
        .await
        .expect("continuation");
    let done = partial.continue_with(next);
    assert_eq!(done.content, FULL);
    assert!(!done.is_preempted());
    assert_eq!(srv.hits(), 2);
    let second = srv.log.lock()[1].body.clone();
    let last = second["messages"]
        .as_array()
        .and_then(|m| m.last().cloned())
        .unwrap_or_default();
    assert_eq!(
        last["role"], "assistant",
        "the partial output is sent as the prefix"
    );
}

#[actix_rt::test]
async fn usage_and_cost_per_agent_add_up() {
    let srv = serve(|hit| async move {
        let text = format!("answer number {}", hit.n);
        json_response(
            200,
            &openai_completion(&text, server_prompt_tokens(&hit.body)),
            &[],
        )
    })
    .await;
    let mut cfg = one("paid", backend(BackendKind::OpenaiCompatible, &srv.url));
    cfg.prices.insert(
        "test-model".into(),
        Price {
            input_per_mtok: 2.5,
            output_per_mtok: 10.0,
        },
    );
    let p = Providers::start(&cfg).expect("start");
    let agents: Vec<Pid> = (0..3).map(|_| Pid::new()).collect();
    let mut reported = UsageTotals::default();
    for (i, pid) in agents.iter().enumerate() {
        for j in 0..=i {
            let r = p
                .router
                .chat(req(&format!("agent {i} call {j}")), &token(*pid, 1), None)
                .await
                .expect("call");
            reported.calls += 1;
            reported.prompt_tokens += r.usage.prompt_tokens;
            reported.completion_tokens += r.usage.completion_tokens;
        }
    }
    let per_agent: Vec<UsageTotals> = agents.iter().map(|a| p.ledger.agent_totals(*a)).collect();
    assert_eq!(
        per_agent.iter().map(|t| t.calls).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let sum = |f: fn(&UsageTotals) -> u64| per_agent.iter().map(f).sum::<u64>();
    let total = p.ledger.totals();
    assert_eq!(sum(|t| t.calls), total.calls);
    assert_eq!(sum(|t| t.prompt_tokens), reported.prompt_tokens);
    assert_eq!(sum(|t| t.completion_tokens), reported.completion_tokens);
    assert_eq!(sum(|t| t.cost_nano_usd), total.cost_nano_usd);
    // 2.5 USD/Mtok = 2500 nano-USD per token; 10 USD/Mtok = 10000.
    assert_eq!(
        total.cost_nano_usd,
        reported.prompt_tokens * 2500 + reported.completion_tokens * 10_000
    );
    assert_eq!(p.ledger.backend_totals("paid"), total);
    for (a, t) in agents.iter().zip(&per_agent) {
        assert_eq!(
            t.cost_nano_usd,
            t.prompt_tokens * 2500 + t.completion_tokens * 10_000,
            "agent {a}"
        );
    }
}

#[actix_rt::test]
async fn anthropic_preempted_stream_resumes_through_a_prefill() {
    use serde_json::json;
    let srv = serve(|hit| async move {
        let msgs = hit.body["messages"].as_array().cloned().unwrap_or_default();
        let prefill = msgs
            .last()
            .filter(|m| m["role"] == "assistant")
            .and_then(|m| m["content"][0]["text"].as_str())
            .unwrap_or_default().to_owned();
        if prefill.ends_with(char::is_whitespace) {
            let err = json!({"type": "error", "error": {"type": "invalid_request_error",
                "message": "final assistant content cannot end with trailing whitespace"}});
            return json_response(400, &err, &[]);
        }
        let rest = FULL.strip_prefix(prefill.as_str()).unwrap_or(FULL);
        let mut ev = vec![
            event("message_start", &json!({"type": "message_start", "message": {"usage": {"input_tokens": 9, "output_tokens": 1}}})),
            event("content_block_start", &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})),
        ];
        for w in rest.split_inclusive(' ') {
            ev.push(event("content_block_delta", &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}})));
        }
        ev.push(event("message_delta", &json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 16}})));
        ev.push(event("message_stop", &json!({"type": "message_stop"})));
        sse_response(ev, Duration::from_millis(30), Fault::None)
    })
    .await;
    let p =
        Providers::start(&one("claude", backend(BackendKind::Anthropic, &srv.url))).expect("start");
    let pid = Pid::new();
    let slice = token(pid, 5);
    let mut r = req("tell me");
    r.stream = true;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (router, r2, s2) = (p.router.clone(), r.clone(), slice.clone());
    let call = tokio::task::spawn_local(async move { router.chat(r2, &s2, Some(tx)).await });
    let mut seen = 0;
    while let Some(d) = rx.recv().await {
        seen += usize::from(matches!(d, StreamDelta::Text(_)));
        if seen == 3 {
            slice.revoke();
            break;
        }
    }
    let partial = call.await.expect("join").expect("partial output");
    assert!(partial.is_preempted());
    assert!(partial.content.ends_with(' '), "{:?}", partial.content);
    r.continuation = Some(partial.content.clone());
    let next = p
        .router
        .chat(r, &token(pid, 5), None)
        .await
        .expect("continuation");
    assert_eq!(partial.continue_with(next).content, FULL);
}
