//! Library-safe defaults: a kernel without any LLM backend starts and runs agents, `ctx.llm`
//! answers a typed error naming the missing configuration, and building a kernel touches the
//! network (a local Ollama probe) only when asked.

mod common;
mod support;

use std::time::Duration;

use agent_os_kernel::prelude::*;
use agent_os_kernel::provider::{ChatRequest, Message};
use support::*;

struct Asker;

impl Agent for Asker {
    type Msg = String;
    type Reply = String;
    async fn handle(&mut self, q: String, ctx: &mut AgentContext) -> Result<String, AgentError> {
        let r = ctx
            .llm(ChatRequest::new("any-model", vec![Message::user(q)]))
            .await?;
        Ok(r.content)
    }
}

struct Echo;

impl Agent for Echo {
    type Msg = u32;
    type Reply = u32;
    async fn handle(&mut self, n: u32, _: &mut AgentContext) -> Result<u32, AgentError> {
        Ok(n)
    }
}

#[actix_rt::test]
async fn a_kernel_without_a_backend_runs_agents_and_llm_is_a_typed_error() {
    let mut cfg = KernelConfig::default();
    cfg.kernel.arbiters = 2;
    cfg.providers.detect = false;
    let (k, _db) = kernel_with(cfg).await;
    assert!(k.providers().router.backends().is_empty());
    let echo = k.spawn(|| Echo, SpawnOptions::new("echo")).await.unwrap();
    assert_eq!(echo.ask(7).await.unwrap(), 7);

    let asker = k.spawn(|| Asker, SpawnOptions::new("asker")).await.unwrap();
    let err = asker.ask("hello?".into()).await.unwrap_err();
    let IpcError::Handler { error, .. } = &err else {
        panic!("expected the handler's error, got {err:?}");
    };
    assert!(
        matches!(**error, AgentError::Llm(LlmError::NotConfigured)),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains("providers.backends") && text.contains("OPENAI_API_KEY"),
        "the error names the missing configuration: {text}"
    );
    // The agent keeps running.
    assert_eq!(k.status(asker.pid()).unwrap().restarts, 0);
    k.shutdown().await;
}

#[actix_rt::test]
async fn building_a_kernel_probes_a_local_ollama_only_when_asked() {
    // Stand in for a local Ollama on its well-known port and count the connections.
    let listener = std::net::TcpListener::bind(("127.0.0.1", 11434)).unwrap_or_else(|e| {
        panic!("this test needs 127.0.0.1:11434 free to watch for the Ollama probe: {e}")
    });
    listener.set_nonblocking(true).unwrap();
    let accepted = || {
        let mut n = 0;
        while listener.accept().is_ok() {
            n += 1;
        }
        n
    };
    let mut cfg = KernelConfig::default();
    cfg.providers.detect = true;
    let (k, _db) = kernel_with(cfg.clone()).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(accepted(), 0, "no probe unless asked");
    k.shutdown().await;

    let (storage, _db2) = common::test_storage(common::backend_from_env()).await;
    let k = Kernel::builder()
        .config(cfg)
        .storage(storage)
        .probe_ollama(true)
        .build()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(accepted(), 1, "asked: one probe");
    assert!(
        k.providers()
            .router
            .backends()
            .contains(&"ollama".to_string())
    );
    k.shutdown().await;
}
