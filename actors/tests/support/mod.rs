//! Shared by the stock agents' tests: a kernel on the test backend (`AOK_TEST_BACKEND`) whose
//! one LLM backend is an in-test HTTP server speaking the OpenAI chat wire, scripted by a
//! function of the request body.
#![allow(dead_code)]

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::sync::{Arc, Mutex};

use agent_os_kernel::provider::{BackendConfig, BackendKind};
use agent_os_kernel::{Kernel, KernelConfig};
use axum::routing::post;
use serde_json::{Value, json};

pub(crate) use common::StorageGuard;

/// The request bodies the server received, in order.
pub(crate) type Seen = Arc<Mutex<Vec<Value>>>;

/// Starts an OpenAI-compatible server on 127.0.0.1 whose assistant message for a request is
/// `reply(body)`; returns its base URL (`http://…/v1`) and what it received.
pub(crate) async fn openai_server(
    reply: impl Fn(&Value) -> Value + Send + Sync + 'static,
) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let reply = Arc::new(reply);
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |body: String| {
            let (s, reply) = (s.clone(), reply.clone());
            async move {
                let v: Value = serde_json::from_str(&body).unwrap_or_default();
                s.lock().unwrap().push(v.clone());
                let message = reply(&v);
                let finish = if message.get("tool_calls").is_some() { "tool_calls" } else { "stop" };
                let body = json!({"id": "x", "object": "chat.completion", "created": 0, "model": "test-model",
                    "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}});
                ([("content-type", "application/json")], body.to_string())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/v1"), seen)
}

/// An assistant message with text only.
pub(crate) fn text(content: &str) -> Value {
    json!({"role": "assistant", "content": content})
}

/// An assistant message calling one tool.
pub(crate) fn tool_call(id: &str, name: &str, args: Value) -> Value {
    json!({"role": "assistant", "content": null, "tool_calls": [{"id": id, "type": "function",
        "function": {"name": name, "arguments": args.to_string()}}]})
}

/// The last user message's text in a request body.
pub(crate) fn last_user(body: &Value) -> String {
    body["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|x| x["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// A configuration whose only LLM backend is the server at `base_url` and whose agent
/// workspaces are under `root`.
pub(crate) fn config(base_url: &str, root: &std::path::Path) -> KernelConfig {
    let mut cfg = KernelConfig::default();
    cfg.kernel.arbiters = 2;
    cfg.tools.workspace_root = root.display().to_string();
    let mut backend = BackendConfig::new(BackendKind::OpenaiCompatible);
    backend.base_url = Some(base_url.to_string());
    backend.models = vec!["test-model".into()];
    cfg.providers.backends.insert("local".into(), backend);
    cfg
}

/// A kernel on the test storage backend with `config`.
pub(crate) async fn kernel_with(config: KernelConfig) -> (Kernel, StorageGuard) {
    let (storage, guard) = common::test_storage(common::backend_from_env()).await;
    let k = Kernel::builder()
        .config(config)
        .storage(storage)
        .build()
        .await
        .expect("kernel builds");
    (k, guard)
}

/// Polls `f` until it is true or `ms` milliseconds pass.
pub(crate) async fn eventually(ms: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(ms);
    while !f() {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    true
}
