//! Both wire protocols map tool calls, reasoning text and usage, in JSON and SSE; Anthropic
//! requests have the shape its API requires; embeddings where a backend has them.

use std::time::Duration;

use serde_json::{Value, json};

use super::server::*;
use crate::pid::Pid;
use crate::provider::config::BackendKind;
use crate::provider::{
    ChatRequest, EmbedRequest, FinishReason, Message, ProviderError, Providers, ToolCall, ToolSpec,
};

fn tool_request(stream: bool) -> ChatRequest {
    let mut r = ChatRequest::new(
        "test-model",
        vec![
            Message::system("You are a weather bot."),
            Message::user("Weather in Paris?"),
            Message {
                tool_calls: vec![ToolCall {
                    id: "call_0".into(),
                    name: "lookup".into(),
                    arguments: "{\"q\":\"paris\"}".into(),
                }],
                ..Message::assistant("")
            },
            Message::tool_result("call_0", "sunny"),
            Message::user("And in Rome?"),
        ],
    );
    r.tools = vec![ToolSpec {
        name: "get_weather".into(),
        description: "Weather for a city".into(),
        parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}}),
    }];
    r.stream = stream;
    r
}

fn openai_server_reply(hit: Hit) -> axum::response::Response {
    let stream = hit.body["stream"].as_bool().unwrap_or(false);
    if !stream {
        let body = json!({"id": "x", "model": "deepseek-reasoner", "choices": [{"index": 0,
            "message": {"role": "assistant", "content": "<think>inline plan</think>Calling the tool.",
                        "reasoning_content": "User wants Rome. ",
                        "tool_calls": [{"id": "call_1", "type": "function",
                                        "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}}]},
            "finish_reason": "tool_calls"}], "usage": {"prompt_tokens": 50, "completion_tokens": 20}});
        return json_response(200, &body, &[]);
    }
    let chunks = [
        json!({"choices": [{"index": 0, "delta": {"role": "assistant", "reasoning_content": "User wants "}}]}),
        json!({"choices": [{"index": 0, "delta": {"reasoning_content": "Rome. "}}]}),
        json!({"choices": [{"index": 0, "delta": {"content": "<thi"}}]}),
        json!({"choices": [{"index": 0, "delta": {"content": "nk>inline plan</think>Calling"}}]}),
        json!({"choices": [{"index": 0, "delta": {"content": " the tool."}}]}),
        json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                 "function": {"name": "get_weather", "arguments": ""}}]}}]}),
        json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}}]}),
        json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "\"Rome\"}"}}]}}]}),
        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
        json!({"choices": [], "usage": {"prompt_tokens": 50, "completion_tokens": 20}}),
    ];
    let mut ev: Vec<String> = chunks.iter().map(data).collect();
    ev.push("data: [DONE]\n\n".into());
    sse_response(ev, Duration::ZERO, Fault::None)
}

fn anthropic_server_reply(hit: Hit) -> axum::response::Response {
    let b = &hit.body;
    // Shape checks a real Messages API enforces.
    let shape_ok = hit.headers.get("anthropic-version").is_some()
        && b["max_tokens"].is_u64()
        && b["system"] == "You are a weather bot."
        && b["messages"]
            .as_array()
            .is_some_and(|m| m.iter().all(|m| m["role"] != "system"))
        && b["messages"][1]["content"][0]["type"] == "tool_use"
        && b["messages"][1]["content"][0]["input"]["q"] == "paris"
        && b["messages"][2]["content"][0]["type"] == "tool_result"
        && b["messages"][2]["content"][0]["tool_use_id"] == "call_0"
        && b["messages"][2]["content"][1]["text"] == "And in Rome?"
        && b["tools"][0]["input_schema"]["type"] == "object";
    if !shape_ok {
        let err = json!({"type": "error", "error": {"type": "invalid_request_error", "message": format!("bad shape: {b}")}});
        return json_response(400, &err, &[]);
    }
    if !b["stream"].as_bool().unwrap_or(false) {
        let body = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test",
            "content": [{"type": "thinking", "thinking": "User wants Rome. inline plan", "signature": "s"},
                        {"type": "text", "text": "Calling the tool."},
                        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Rome"}}],
            "stop_reason": "tool_use", "usage": {"input_tokens": 50, "output_tokens": 20}});
        return json_response(200, &body, &[]);
    }
    let ev = vec![
        event(
            "message_start",
            &json!({"type": "message_start", "message": {"id": "msg_1", "model": "claude-test",
            "content": [], "usage": {"input_tokens": 50, "output_tokens": 1}}}),
        ),
        event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
        ),
        event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "User wants Rome. "}}),
        ),
        event("ping", &json!({"type": "ping"})),
        event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "inline plan"}}),
        ),
        event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "s"}}),
        ),
        event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": 0}),
        ),
        event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
        ),
        event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Calling the tool."}}),
        ),
        event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": 1}),
        ),
        event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {}}}),
        ),
        event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{\"city\":"}}),
        ),
        event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "\"Rome\"}"}}),
        ),
        event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": 2}),
        ),
        event(
            "message_delta",
            &json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 20}}),
        ),
        event("message_stop", &json!({"type": "message_stop"})),
    ];
    sse_response(ev, Duration::ZERO, Fault::None)
}

#[actix_rt::test]
async fn both_protocols_map_tool_calls_reasoning_and_usage() {
    let oa = serve(|hit| async move { openai_server_reply(hit) }).await;
    let an = serve(|hit| async move { anthropic_server_reply(hit) }).await;
    for (kind, url) in [
        (BackendKind::OpenaiCompatible, &oa.url),
        (BackendKind::Anthropic, &an.url),
    ] {
        let p = Providers::start(&one("b", backend(kind, url))).expect("start");
        for stream in [false, true] {
            let r = p
                .router
                .chat(tool_request(stream), &token(Pid::new(), 1), None)
                .await;
            let r = r.unwrap_or_else(|e| panic!("{kind:?} stream={stream}: {e}"));
            assert_eq!(r.content, "Calling the tool.", "{kind:?} stream={stream}");
            assert_eq!(
                r.reasoning, "User wants Rome. inline plan",
                "{kind:?} stream={stream}"
            );
            assert_eq!(r.tool_calls.len(), 1);
            assert_eq!(r.tool_calls[0].id, "call_1");
            assert_eq!(r.tool_calls[0].name, "get_weather");
            let args: Value = serde_json::from_str(&r.tool_calls[0].arguments).unwrap_or_default();
            assert_eq!(args, json!({"city": "Rome"}));
            assert_eq!(r.finish_reason, Some(FinishReason::ToolCalls));
            assert_eq!((r.usage.prompt_tokens, r.usage.completion_tokens), (50, 20));
        }
    }
    // The OpenAI wire request carried the tool call and the tool result.
    let first = oa.log.lock()[0].body.clone();
    assert_eq!(
        first["messages"][2]["tool_calls"][0]["function"]["name"],
        "lookup"
    );
    assert_eq!(first["messages"][3]["role"], "tool");
    assert_eq!(first["messages"][3]["tool_call_id"], "call_0");
    assert_eq!(first["tools"][0]["function"]["name"], "get_weather");
}

#[actix_rt::test]
async fn embeddings_where_the_backend_has_them() {
    let srv = serve(|hit| async move {
        let inputs = hit.body["input"].as_array().cloned().unwrap_or_default();
        // Answer out of order: the client must place vectors by `index`.
        let data: Vec<Value> = inputs
            .iter()
            .enumerate()
            .rev()
            .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": [t.as_str().map_or(0, str::len) as f64, 0.5]}))
            .collect();
        json_response(200, &json!({"object": "list", "model": "emb", "data": data, "usage": {"prompt_tokens": 7, "total_tokens": 7}}), &[])
    })
    .await;
    let p = Providers::start(&one("e", backend(BackendKind::OpenaiCompatible, &srv.url)))
        .expect("start");
    let req = EmbedRequest {
        model: "test-model".into(),
        inputs: vec!["a".into(), "abc".into()],
    };
    let r = p
        .router
        .embed(req.clone(), &token(Pid::new(), 1))
        .await
        .expect("embeddings");
    assert_eq!(r.vectors, vec![vec![1.0, 0.5], vec![3.0, 0.5]]);
    assert_eq!(r.usage.prompt_tokens, 7);
    assert_eq!(srv.log.lock()[0].path, "/v1/embeddings");

    let a = Providers::start(&one("a", backend(BackendKind::Anthropic, &srv.url))).expect("start");
    let r = a.router.embed(req.clone(), &token(Pid::new(), 1)).await;
    assert!(matches!(r, Err(ProviderError::Unsupported(_))), "{r:?}");

    let s = Providers::start(&one("s", backend(BackendKind::Scripted, &srv.url))).expect("start");
    let r = s
        .router
        .embed(req, &token(Pid::new(), 1))
        .await
        .expect("scripted embeddings");
    assert_eq!(r.model, "scripted:lexical-hash");
    assert_eq!(r.vectors.len(), 2);
    assert_eq!(srv.hits(), 1, "anthropic and scripted made no HTTP call");
}

#[actix_rt::test]
async fn scripted_backend_is_offline_deterministic_and_accounted() {
    let p = Providers::start(&one(
        "offline",
        backend(BackendKind::Scripted, "http://127.0.0.1:9/v1"),
    ))
    .expect("start");
    let pid = Pid::new();
    let ask = || ChatRequest::new("test-model", vec![Message::user("What is an actor?")]);
    let a = p
        .router
        .chat(ask(), &token(pid, 1), None)
        .await
        .expect("scripted");
    let mut streamed = ask();
    streamed.stream = true;
    let b = p
        .router
        .chat(streamed, &token(pid, 1), None)
        .await
        .expect("scripted stream");
    assert_eq!(a.content, b.content);
    assert!(a.content.starts_with("[scripted]"), "{}", a.content);
    assert_eq!(
        (a.backend.as_str(), a.model.as_str()),
        ("offline", "scripted:test-model")
    );
    assert_eq!(p.ledger.agent_totals(pid).calls, 2);
}

/// The `openai_compatible` requests go through async-openai and our transport: the key from
/// the backend config (and only it) in `Authorization`, a JSON body, one HTTP request per
/// attempt (async-openai's own retries are off: a 503 with `max_attempts = 1` is one hit).
#[actix_rt::test]
async fn openai_requests_carry_the_backend_key_and_are_sent_once() {
    let srv = serve(|hit| async move {
        if hit.body["messages"][0]["content"] == "fail" {
            return json_response(503, &json!({"error": {"message": "busy"}}), &[]);
        }
        json_response(200, &openai_completion("ok", 3), &[])
    })
    .await;
    let mut keyed = backend(BackendKind::OpenaiCompatible, &srv.url);
    keyed.models = vec!["m-keyed".into()];
    let mut keyless = backend(BackendKind::OpenaiCompatible, &srv.url);
    keyless.models = vec!["m-keyless".into()];
    keyless.retry.max_attempts = 1;
    let mut cfg = one("keyed", keyed);
    cfg.backends.insert("keyless".into(), keyless);
    let http = reqwest::Client::new();
    let p = Providers::start_with(&cfg, |name, bc| {
        let key = (name == "keyed").then_some("sk-test-123");
        let url = bc.base_url.clone().unwrap_or_default();
        let limits = crate::provider::backend::Limits::of(bc);
        let b = crate::provider::openai::OpenAiCompatible::new(
            name,
            &url,
            key,
            None,
            http.clone(),
            limits,
        )?;
        Ok(std::sync::Arc::new(b) as std::sync::Arc<dyn crate::provider::backend::Backend>)
    })
    .expect("start");
    let pid = Pid::new();
    let ask = |m: &str, model: &str| ChatRequest::new(model, vec![Message::user(m)]);
    let r = p
        .router
        .chat(ask("hi", "m-keyed"), &token(pid, 1), None)
        .await
        .expect("keyed call");
    assert_eq!(r.content, "ok");
    let failed = p
        .router
        .chat(ask("fail", "m-keyless"), &token(pid, 1), None)
        .await;
    assert!(
        matches!(failed, Err(ProviderError::Server { status: 503, .. })),
        "{failed:?}"
    );
    let log = srv.log.lock();
    assert_eq!(log.len(), 2, "one request per attempt, no hidden retries");
    let auth = |h: &Hit| {
        h.headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(auth(&log[0]).as_deref(), Some("Bearer sk-test-123"));
    assert_eq!(auth(&log[1]), None, "a backend without a key sends none");
    assert_eq!(log[0].path, "/v1/chat/completions");
    assert_eq!(
        log[0]
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
}
