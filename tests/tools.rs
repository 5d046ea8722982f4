//! Tools through an agent's context: the built-ins in the workspace, every refusal of the
//! security suite's file cases (traversal, absolute paths, a symlink to /etc,
//! `/proc/self/root`, writes outside) refused and audited, a blocked tool, schema errors that
//! name the field, code in the sandbox, and an LLM tool-calling round trip (OpenAI shape)
//! through an in-test server.

mod common;
mod support;

use std::sync::{Arc, Mutex};

use agent_os_kernel::prelude::*;
use agent_os_kernel::provider::{BackendConfig, BackendKind, ChatRequest, Message};
use agent_os_kernel::security::policy::AllowBlock;
use agent_os_kernel::tools::ToolError;
use agent_os_kernel::{AuditQuery, KernelConfig, SecurityPolicy};
use axum::routing::post;
use serde_json::{Value, json};
use support::kernel_with;

/// Calls one tool per message, or runs a tool-calling LLM round trip.
struct Hands;

enum Do {
    Tool(String, Value, ReplyPort<Result<Value, ToolError>>),
    Chat(ReplyPort<String>),
    Workspace(ReplyPort<std::path::PathBuf>),
}

impl Agent for Hands {
    type Msg = Do;
    type Reply = ();
    async fn handle(&mut self, msg: Do, ctx: &mut AgentContext) -> Result<(), AgentError> {
        match msg {
            Do::Tool(name, args, reply) => reply.send(ctx.tool(&name, args).await),
            Do::Workspace(reply) => reply.send(ctx.workspace()),
            Do::Chat(reply) => {
                let mut messages = vec![Message::user("write hi to a.txt")];
                let mut req = ChatRequest::new("test-model", messages.clone());
                req.tools = ctx.tool_specs();
                let first = ctx.llm(req).await?;
                let mut turn = Message::assistant(first.content.clone());
                turn.tool_calls = first.tool_calls.clone();
                messages.push(turn);
                messages.extend(ctx.call_tools(&first.tool_calls).await);
                let second = ctx.llm(ChatRequest::new("test-model", messages)).await?;
                reply.send(second.content);
            }
        }
        Ok(())
    }
}

fn config(root: &std::path::Path) -> KernelConfig {
    let mut cfg = KernelConfig::default();
    cfg.kernel.arbiters = 2;
    cfg.tools.workspace_root = root.display().to_string();
    cfg
}

async fn call(h: &AgentRef<Hands>, name: &str, args: Value) -> Result<Value, ToolError> {
    h.call(|r| Do::Tool(name.to_string(), args, r))
        .await
        .unwrap()
}

#[actix_rt::test]
async fn file_tools_stay_in_the_workspace_and_every_escape_is_refused_and_audited() {
    let root = tempfile::tempdir().unwrap();
    let (k, _db) = kernel_with(config(root.path())).await;
    let h = k.spawn(|| Hands, SpawnOptions::new("hands")).await.unwrap();
    let ws = h.call(Do::Workspace).await.unwrap();
    assert_eq!(
        call(
            &h,
            "fs.write",
            json!({"path": "notes/a.txt", "content": "hi"})
        )
        .await
        .unwrap()["bytes"],
        2
    );
    assert_eq!(
        std::fs::read_to_string(ws.join("notes/a.txt")).unwrap(),
        "hi"
    );
    assert_eq!(
        call(&h, "fs.read", json!({"path": "notes/a.txt"}))
            .await
            .unwrap()["content"],
        "hi"
    );
    let list = call(&h, "fs.list", json!({})).await.unwrap();
    assert_eq!(list["entries"][0]["name"], "notes");
    std::os::unix::fs::symlink("/etc", ws.join("etc-link")).unwrap();
    for (tool, path) in [
        ("fs.read", "../../outside"),
        ("fs.read", "/etc/passwd"),
        ("fs.read", "etc-link/passwd"),
        ("fs.read", "/proc/self/root/etc/passwd"),
        ("fs.write", "/tmp/aok-outside.txt"),
        ("fs.write", "../escape.txt"),
    ] {
        let args = if tool == "fs.write" {
            json!({"path": path, "content": "x"})
        } else {
            json!({"path": path})
        };
        let err = call(&h, tool, args).await.unwrap_err();
        assert!(
            matches!(err, ToolError::Denied { .. }),
            "{tool} {path}: {err:?}"
        );
    }
    assert!(!std::path::Path::new("/tmp/aok-outside.txt").exists());
    k.audit().flush().await.unwrap();
    let denied = k
        .audit()
        .query(AuditQuery::new().pid(h.pid()).action("tool.call"))
        .await
        .unwrap()
        .into_iter()
        .filter(|e| !e.record.allowed)
        .count();
    assert_eq!(denied, 6, "each refusal audited");
    assert!(k.audit().verify().await.unwrap().is_ok());
    k.shutdown().await;
}

#[actix_rt::test]
async fn blocked_tools_bad_arguments_and_levels_are_typed_refusals() {
    let root = tempfile::tempdir().unwrap();
    let (k, _db) = kernel_with(config(root.path())).await;
    let policy = SecurityPolicy {
        tools: AllowBlock::all().blocking(["fs.write"]),
        ..SecurityPolicy::default()
    };
    let h = k
        .spawn(|| Hands, SpawnOptions::new("hands").policy(policy))
        .await
        .unwrap();
    let err = call(&h, "fs.write", json!({"path": "a", "content": "x"}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ToolError::Denied { reason } if reason.contains("blocked")),
        "{err:?}"
    );
    let err = call(&h, "shell.run", json!({"command": "true"}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ToolError::Denied { reason } if reason.contains("elevated")),
        "{err:?}"
    );
    let err = call(&h, "fs.read", json!({"path": 5})).await.unwrap_err();
    assert_eq!(
        err,
        ToolError::InvalidArguments {
            tool: "fs.read".into(),
            reason: "$.path: expected string, got integer".into()
        }
    );
    let err = call(&h, "nope", json!({})).await.unwrap_err();
    assert!(matches!(err, ToolError::NoSuchTool { .. }));

    // Tool calls per window.
    let policy = SecurityPolicy {
        tool_rate: agent_os_kernel::security::policy::CallRate {
            calls: 2,
            window_ms: 60_000,
        },
        ..SecurityPolicy::default()
    };
    let limited = k
        .spawn(|| Hands, SpawnOptions::new("limited").policy(policy))
        .await
        .unwrap();
    call(&limited, "fs.list", json!({})).await.ok();
    call(&limited, "fs.list", json!({})).await.ok();
    let err = call(&limited, "fs.list", json!({})).await.unwrap_err();
    assert!(
        matches!(&err, ToolError::Denied { reason } if reason.contains("tool-call rate")),
        "{err:?}"
    );
    k.shutdown().await;
}

#[actix_rt::test]
async fn python_runs_in_the_sandbox_in_the_workspace() {
    let root = tempfile::tempdir().unwrap();
    let (k, _db) = kernel_with(config(root.path())).await;
    let h = k.spawn(|| Hands, SpawnOptions::new("coder")).await.unwrap();
    let out = call(
        &h,
        "code.python",
        json!({"code": "import os; open('made.txt','w').write('ok'); print(os.getcwd())"}),
    )
    .await
    .unwrap();
    assert_eq!(out["exit_code"], 0, "{out}");
    assert_eq!(out["stdout"], "/workspace\n");
    let ws = h.call(Do::Workspace).await.unwrap();
    assert_eq!(std::fs::read_to_string(ws.join("made.txt")).unwrap(), "ok");

    // What the file tools wrote, in a directory they created, the sandboxed code can change
    // (a root kernel hands it to the workspace's sandbox uid).
    call(
        &h,
        "fs.write",
        json!({"path": "notes/todo.txt", "content": "one\n"}),
    )
    .await
    .unwrap();
    let out = call(
        &h,
        "code.python",
        json!({"code": "open('notes/todo.txt','a').write('two\\n'); open('notes/new.txt','w')"}),
    )
    .await
    .unwrap();
    assert_eq!(out["exit_code"], 0, "{out}");
    let read = call(&h, "fs.read", json!({"path": "notes/todo.txt"}))
        .await
        .unwrap();
    assert_eq!(read["content"], "one\ntwo\n", "{read}");
    k.shutdown().await;
}

#[actix_rt::test]
async fn an_llm_tool_calling_round_trip_in_the_openai_shape() {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |body: String| {
            let s = s.clone();
            async move {
                let v: Value = serde_json::from_str(&body).unwrap_or_default();
                s.lock().unwrap().push(v.clone());
                let answered = v["messages"].as_array().is_some_and(|m| m.iter().any(|x| x["role"] == "tool"));
                let message = if answered {
                    json!({"role": "assistant", "content": "done: wrote a.txt"})
                } else {
                    json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "fs__write", "arguments": "{\"path\":\"a.txt\",\"content\":\"hi\"}"}}]})
                };
                let reply = json!({"id": "x", "object": "chat.completion", "created": 0, "model": "test-model",
                    "choices": [{"index": 0, "message": message, "finish_reason": if answered { "stop" } else { "tool_calls" }}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}});
                ([("content-type", "application/json")], reply.to_string())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let root = tempfile::tempdir().unwrap();
    let mut cfg = config(root.path());
    let mut backend = BackendConfig::new(BackendKind::OpenaiCompatible);
    backend.base_url = Some(format!("http://{addr}/v1"));
    backend.models = vec!["test-model".into()];
    cfg.providers.backends.insert("local".into(), backend);
    let (k, _db) = kernel_with(cfg).await;
    let h = k
        .spawn(|| Hands, SpawnOptions::new("caller"))
        .await
        .unwrap();
    assert_eq!(h.call(Do::Chat).await.unwrap(), "done: wrote a.txt");
    let ws = h.call(Do::Workspace).await.unwrap();
    assert_eq!(std::fs::read_to_string(ws.join("a.txt")).unwrap(), "hi");
    let seen = seen.lock().unwrap().clone();
    let names: Vec<&str> = seen[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["function"]["name"].as_str())
        .collect();
    assert!(
        names.contains(&"fs__write") && names.contains(&"code__python"),
        "{names:?}"
    );
    let tool_msg = seen[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .unwrap();
    assert_eq!(tool_msg["tool_call_id"], "call_1");
    k.shutdown().await;
}

#[actix_rt::test]
async fn an_llm_tool_calling_round_trip_in_the_anthropic_shape() {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/v1/messages",
        post(move |body: String| {
            let s = s.clone();
            async move {
                let v: Value = serde_json::from_str(&body).unwrap_or_default();
                s.lock().unwrap().push(v.clone());
                let answered = body.contains("\"tool_result\"");
                let content = if answered {
                    json!([{"type": "text", "text": "done: wrote a.txt"}])
                } else {
                    json!([{"type": "tool_use", "id": "toolu_1", "name": "fs__write", "input": {"path": "a.txt", "content": "hi"}}])
                };
                let reply = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "test-model",
                    "content": content, "stop_reason": if answered { "end_turn" } else { "tool_use" },
                    "usage": {"input_tokens": 10, "output_tokens": 5}});
                ([("content-type", "application/json")], reply.to_string())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let root = tempfile::tempdir().unwrap();
    let mut cfg = config(root.path());
    let mut backend = BackendConfig::new(BackendKind::Anthropic);
    backend.base_url = Some(format!("http://{addr}/v1"));
    backend.models = vec!["test-model".into()];
    cfg.providers.backends.insert("claude".into(), backend);
    let (k, _db) = kernel_with(cfg).await;
    let h = k
        .spawn(|| Hands, SpawnOptions::new("caller"))
        .await
        .unwrap();
    assert_eq!(h.call(Do::Chat).await.unwrap(), "done: wrote a.txt");
    let ws = h.call(Do::Workspace).await.unwrap();
    assert_eq!(std::fs::read_to_string(ws.join("a.txt")).unwrap(), "hi");
    let seen = seen.lock().unwrap().clone();
    let names: Vec<&str> = seen[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&"fs__write"), "{names:?}");
    assert!(
        seen[0]["tools"][0].get("input_schema").is_some(),
        "Anthropic's tool shape"
    );
    k.shutdown().await;
}

#[actix_rt::test]
async fn memory_tools_bridge_to_the_pager() {
    let root = tempfile::tempdir().unwrap();
    let (k, _db) = kernel_with(config(root.path())).await;
    let h = k
        .spawn(|| Hands, SpawnOptions::new("rememberer"))
        .await
        .unwrap();
    let stored = call(
        &h,
        "mem.remember",
        json!({"text": "the launch code is ocelot", "importance": 0.9}),
    )
    .await
    .unwrap();
    assert!(stored["id"].as_str().is_some_and(|id| !id.is_empty()));
    let found = call(
        &h,
        "mem.recall",
        json!({"query": "what is the launch code", "k": 3}),
    )
    .await
    .unwrap();
    let first = &found["results"][0];
    assert_eq!(first["content"], "the launch code is ocelot", "{found}");
    assert_eq!(first["memory"], true);
    k.shutdown().await;
}

#[actix_rt::test]
async fn http_fetch_follows_the_network_policy() {
    let app = axum::Router::new().route(
        "/hello",
        axum::routing::get(|| async { "hello from the host" }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let url = format!("http://{addr}/hello");
    let root = tempfile::tempdir().unwrap();
    let (k, _db) = kernel_with(config(root.path())).await;
    let policy = |enabled: bool, hosts: &[&str]| SecurityPolicy {
        level: agent_os_kernel::PermissionLevel::Elevated,
        network: agent_os_kernel::security::policy::NetworkPolicy {
            enabled,
            allowed_hosts: hosts.iter().map(|h| h.to_string()).collect(),
        },
        ..SecurityPolicy::default()
    };
    let standard = k
        .spawn(|| Hands, SpawnOptions::new("standard"))
        .await
        .unwrap();
    let err = call(&standard, "http.fetch", json!({"url": url}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ToolError::Denied { reason } if reason.contains("elevated")),
        "{err:?}"
    );
    let offline = k
        .spawn(
            || Hands,
            SpawnOptions::new("offline").policy(policy(false, &[])),
        )
        .await
        .unwrap();
    let err = call(&offline, "http.fetch", json!({"url": url}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ToolError::Denied { reason } if reason.contains("network is off")),
        "{err:?}"
    );
    let elsewhere = k
        .spawn(
            || Hands,
            SpawnOptions::new("elsewhere").policy(policy(true, &["example.com"])),
        )
        .await
        .unwrap();
    let err = call(&elsewhere, "http.fetch", json!({"url": url}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ToolError::Denied { reason } if reason.contains("allowed_hosts")),
        "{err:?}"
    );
    let allowed = k
        .spawn(
            || Hands,
            SpawnOptions::new("allowed").policy(policy(true, &["127.0.0.1"])),
        )
        .await
        .unwrap();
    let got = call(&allowed, "http.fetch", json!({"url": url}))
        .await
        .unwrap();
    assert_eq!(got["status"], 200);
    assert_eq!(got["body"], "hello from the host");
    let err = call(&allowed, "http.fetch", json!({"url": "file:///etc/passwd"}))
        .await
        .unwrap_err();
    assert!(matches!(err, ToolError::InvalidArguments { .. }), "{err:?}");
    k.shutdown().await;
}
