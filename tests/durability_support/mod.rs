//! The agent and helpers the durability tests share: a `Ledger` that records jobs (one page,
//! an optional LLM call and a journaled side effect each), test hooks, an in-test
//! OpenAI-compatible server, kernels on a given storage.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use agent_os_kernel::KernelConfig;
use agent_os_kernel::prelude::*;
use agent_os_kernel::provider::{BackendConfig, BackendKind, ChatRequest, Message};
use agent_os_kernel::storage::Storage;
use axum::routing::post;
use sea_orm::{ConnectionTrait, Statement};
use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub(crate) struct Ledger {
    pub(crate) done: Vec<u64>,
    pub(crate) total: u64,
    #[serde(skip)]
    pub(crate) hooks: Hooks,
}

/// Test hooks shared with the factory (not part of the state).
#[derive(Default, Clone)]
pub(crate) struct Hooks {
    /// Panic once, after the LLM and the side effect, on this job.
    pub(crate) crash_on: Arc<std::sync::Mutex<Option<u64>>>,
    pub(crate) effects: Arc<AtomicUsize>,
    pub(crate) llm: Arc<AtomicBool>,
}

#[derive(Serialize, Deserialize)]
pub(crate) enum Job {
    Do(u64),
    Get,
    Loop,
    Fail,
    Poison,
}

impl Agent for Ledger {
    type Msg = Job;
    type Reply = Vec<u64>;

    async fn handle(&mut self, msg: Job, ctx: &mut AgentContext) -> Result<Vec<u64>, AgentError> {
        match msg {
            Job::Do(n) => {
                if self.done.contains(&n) {
                    return Ok(self.done.clone());
                }
                ctx.add_message(&Message::user(format!("job {n} for the ledger")))
                    .await?;
                if self.hooks.llm.load(Ordering::SeqCst) {
                    let answer = ctx
                        .llm(ChatRequest::new(
                            "test-model",
                            vec![Message::user(format!("job {n}"))],
                        ))
                        .await?;
                    assert_eq!(answer.content, "done");
                }
                let effects = self.hooks.effects.clone();
                let key: String = ctx
                    .journaled("effect", |key| async move {
                        effects.fetch_add(1, Ordering::SeqCst);
                        Ok(key)
                    })
                    .await?;
                assert!(key.contains(&ctx.pid().to_string()));
                let crash = {
                    let mut c = self.hooks.crash_on.lock().unwrap();
                    if *c == Some(n) {
                        *c = None;
                        true
                    } else {
                        false
                    }
                };
                if crash {
                    panic!("crash on job {n}");
                }
                self.done.push(n);
                self.total += n;
                Ok(self.done.clone())
            }
            Job::Get => Ok(self.done.clone()),
            Job::Poison => panic!("poison"),
            Job::Loop => {
                self.total += 1;
                ctx.myself::<Ledger>()?.tell(Job::Loop).await?;
                Ok(Vec::new())
            }
            Job::Fail => loop {
                let r = ctx
                    .llm(ChatRequest::new("test-model", vec![Message::user("fail")]))
                    .await;
                if let Err(LlmError::Runaway(limit)) = r {
                    return Err(AgentError::Failed(limit.to_string()));
                }
            },
        }
    }

    fn snapshot(&self) -> Result<Option<serde_json::Value>, AgentError> {
        AgentContext::to_state(self).map(Some)
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), AgentError> {
        let hooks = std::mem::take(&mut self.hooks);
        *self = serde_json::from_value(state).map_err(AgentError::other)?;
        self.hooks = hooks;
        Ok(())
    }
}

/// An OpenAI-compatible server that answers "done" (or 400 to "fail") and counts requests.
pub(crate) async fn server() -> (String, Arc<AtomicUsize>) {
    let served = Arc::new(AtomicUsize::new(0));
    let s = served.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |body: String| {
            let s = s.clone();
            async move {
                s.fetch_add(1, Ordering::SeqCst);
                if body.contains("\"fail\"") {
                    return (
                        axum::http::StatusCode::BAD_REQUEST,
                        [("content-type", "application/json")],
                        r#"{"error":{"message":"bad request","type":"invalid_request_error"}}"#.to_string(),
                    );
                }
                let reply = serde_json::json!({
                    "id": "x", "object": "chat.completion", "created": 0, "model": "test-model",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": "done"}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11}
                });
                (axum::http::StatusCode::OK, [("content-type", "application/json")], reply.to_string())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/v1"), served)
}

pub(crate) fn config(url: Option<String>) -> KernelConfig {
    let mut cfg = KernelConfig::default();
    cfg.kernel.arbiters = 2;
    cfg.supervisor.backoff_min_ms = 1;
    cfg.supervisor.backoff_max_ms = 5;
    if let Some(url) = url {
        let mut backend = BackendConfig::new(BackendKind::OpenaiCompatible);
        backend.base_url = Some(url);
        backend.models = vec!["test-model".into()];
        cfg.providers.backends.insert("local".into(), backend);
    }
    cfg
}

pub(crate) async fn kernel_on(storage: &Storage, cfg: KernelConfig, hooks: &Hooks) -> Kernel {
    let hooks = hooks.clone();
    Kernel::builder()
        .config(cfg)
        .storage(storage.clone())
        .agent_type("ledger", move || Ledger {
            hooks: hooks.clone(),
            ..Ledger::default()
        })
        .build()
        .await
        .expect("kernel builds")
}

pub(crate) async fn count(storage: &Storage, sql: &str) -> i64 {
    let row = storage
        .connection()
        .query_one_raw(Statement::from_string(
            storage.connection().get_database_backend(),
            sql.to_string(),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "n").unwrap()
}

pub(crate) const LONG: Duration = Duration::from_secs(20);

/// Asks until the ledger's done list is `want` (or 20 s pass).
pub(crate) async fn reaches(ledger: &AgentRef<Ledger>, want: &[u64]) -> bool {
    let deadline = tokio::time::Instant::now() + LONG;
    while tokio::time::Instant::now() < deadline {
        if ledger.ask(Job::Get).await.is_ok_and(|d| d == want) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}
