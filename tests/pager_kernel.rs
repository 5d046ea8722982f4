//! The pager through the kernel: an agent's own syscalls, memory-pressure notices (once per
//! crossing, to the agent and as events), compaction through a real HTTP backend (it shrinks,
//! a summary that does not is refused, it never loops), `llm_paged`, and the kernel API after
//! a kernel restart.

mod common;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use agent_os_kernel::pager::{MemoryPressure, NewPage, PageKind};
use agent_os_kernel::prelude::*;
use agent_os_kernel::provider::{BackendConfig, BackendKind, ChatRequest, Message};
use agent_os_kernel::storage::Storage;
use support::*;

/// Appends what it is told to its context; counts pressure notices.
struct Notes {
    pressure: Arc<AtomicUsize>,
}

enum Cmd {
    Note(String),
    Context,
    Chat(String),
}

impl Agent for Notes {
    type Msg = Cmd;
    type Reply = (usize, u64);
    async fn handle(
        &mut self,
        msg: Cmd,
        ctx: &mut AgentContext,
    ) -> Result<(usize, u64), AgentError> {
        match msg {
            Cmd::Note(text) => {
                ctx.add_message(&Message::user(text)).await?;
                Ok((0, 0))
            }
            Cmd::Context => {
                let c = ctx.context(None).await?;
                Ok((c.messages.len(), c.tokens))
            }
            Cmd::Chat(text) => {
                let req = ChatRequest::new(
                    "test-model",
                    vec![Message::system("be brief"), Message::user(text)],
                );
                let answer = ctx.llm_paged(req, None).await?;
                Ok((answer.content.len(), 0))
            }
        }
    }

    async fn on_memory_pressure(
        &mut self,
        pressure: MemoryPressure,
        _ctx: &mut AgentContext,
    ) -> Result<(), AgentError> {
        assert!(pressure.resident_tokens * 10 >= pressure.budget_tokens * 7);
        self.pressure.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn words(tag: &str, n: usize) -> String {
    (0..n).map(|i| format!("{tag}{i} ")).collect()
}

#[actix_rt::test]
async fn pressure_is_told_once_per_crossing_to_the_agent_and_as_an_event() {
    let (k, _db) = kernel().await;
    let mut events = k.events();
    let pressure = Arc::new(AtomicUsize::new(0));
    let p2 = pressure.clone();
    let agent = k
        .spawn(
            move || Notes {
                pressure: p2.clone(),
            },
            SpawnOptions::new("notes").context_budget(1000),
        )
        .await
        .unwrap();
    // ~80 tokens per note: 70 % of 1000 is crossed around the 9th note, the budget around
    // the 13th; eviction goes down to 60 %, below the threshold, which re-arms the notice.
    for i in 0..40 {
        agent
            .ask(Cmd::Note(words(&format!("n{i}x"), 40)))
            .await
            .unwrap();
    }
    let (_, tokens) = agent.ask(Cmd::Context).await.unwrap();
    assert!(tokens <= 1000);
    let stats = k.pager().stats(agent.pid()).await.unwrap();
    assert!(stats.eviction_batches >= 2, "{stats:?}");
    // One notice per crossing: as many as eviction batches (each re-arms), give or take the
    // crossing still pending.
    let told = stats.pressure_notices;
    assert!(
        told >= stats.eviction_batches && told <= stats.eviction_batches + 1,
        "{stats:?}"
    );
    assert!(
        eventually(LONG, || pressure.load(Ordering::SeqCst) as u64 == told).await,
        "the agent was told {} times, the pager counted {told}",
        pressure.load(Ordering::SeqCst)
    );
    let mut seen = 0;
    while let Ok(Ok(ev)) =
        tokio::time::timeout(std::time::Duration::from_millis(50), events.recv()).await
    {
        if matches!(ev, KernelEvent::MemoryPressure(p) if p.pid == agent.pid()) {
            seen += 1;
        }
    }
    assert_eq!(seen, told);
    k.shutdown().await;
}

/// An OpenAI-compatible server whose every answer is `answer`; counts requests.
async fn server(answer: &'static str) -> (String, Arc<AtomicUsize>) {
    use axum::routing::post;
    let served = Arc::new(AtomicUsize::new(0));
    let s = served.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |_body: String| {
            let s = s.clone();
            async move {
                s.fetch_add(1, Ordering::SeqCst);
                let reply = serde_json::json!({
                    "id": "x", "object": "chat.completion", "created": 0, "model": "test-model",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}
                });
                ([("content-type", "application/json")], reply.to_string())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/v1"), served)
}

fn summarising(url: String) -> KernelConfig {
    let mut cfg = KernelConfig::default();
    cfg.kernel.arbiters = 2;
    let mut backend = BackendConfig::new(BackendKind::OpenaiCompatible);
    backend.base_url = Some(url);
    backend.models = vec!["test-model".into()];
    cfg.providers.backends.insert("local".into(), backend);
    cfg.pager.summarize = true;
    cfg.pager.summary_model = "test-model".into();
    cfg.pager.summary_max_tokens = 64;
    cfg
}

#[actix_rt::test]
async fn compaction_shrinks_and_never_loops() {
    let (url, served) = server("Summary: the user listed numbered notes.").await;
    let (k, _db) = kernel_with(summarising(url)).await;
    let agent = k
        .spawn(
            || Notes {
                pressure: Arc::new(AtomicUsize::new(0)),
            },
            SpawnOptions::new("compacting").context_budget(1000),
        )
        .await
        .unwrap();
    for i in 0..30 {
        agent
            .ask(Cmd::Note(words(&format!("c{i}x"), 40)))
            .await
            .unwrap();
        let stats = k.pager().stats(agent.pid()).await.unwrap();
        assert!(stats.resident_tokens <= 1000, "{stats:?}");
    }
    let stats = k.pager().stats(agent.pid()).await.unwrap();
    assert!(stats.summaries >= 1, "{stats:?}");
    // One summary request per eviction batch: no loop.
    assert_eq!(served.load(Ordering::SeqCst) as u64, stats.eviction_batches);
    let pages = k.pager().pages(agent.pid()).await.unwrap();
    let summaries: Vec<_> = pages
        .iter()
        .filter(|p| p.kind == PageKind::Summary)
        .collect();
    assert!(!summaries.is_empty());
    // After compaction the resident set is below the low-water mark (60 % of 1000).
    let ctx = agent.ask(Cmd::Context).await.unwrap();
    assert!(ctx.1 <= 1000);
    k.shutdown().await;
}

#[actix_rt::test]
async fn a_summary_that_does_not_shrink_is_refused() {
    // The server answers with a "summary" longer than summary_max_tokens.
    let long: &'static str = Box::leak(words("verbose", 200).into_boxed_str());
    let (url, served) = server(long).await;
    let (k, _db) = kernel_with(summarising(url)).await;
    let agent = k
        .spawn(
            || Notes {
                pressure: Arc::new(AtomicUsize::new(0)),
            },
            SpawnOptions::new("refusing").context_budget(1000),
        )
        .await
        .unwrap();
    for i in 0..30 {
        agent
            .ask(Cmd::Note(words(&format!("r{i}x"), 40)))
            .await
            .unwrap();
    }
    let stats = k.pager().stats(agent.pid()).await.unwrap();
    assert_eq!(stats.summaries, 0);
    assert!(stats.summaries_refused >= 1, "{stats:?}");
    assert_eq!(
        served.load(Ordering::SeqCst) as u64,
        stats.summaries_refused,
        "one attempt per batch, never retried in a loop"
    );
    assert!(stats.resident_tokens <= 1000);
    k.shutdown().await;
}

#[actix_rt::test]
async fn llm_paged_takes_its_messages_from_the_pager() {
    let (url, served) = server("the answer").await;
    let mut cfg = summarising(url);
    cfg.pager.summarize = false;
    let (k, _db) = kernel_with(cfg).await;
    let agent = k
        .spawn(
            || Notes {
                pressure: Arc::new(AtomicUsize::new(0)),
            },
            SpawnOptions::new("paged"),
        )
        .await
        .unwrap();
    agent.ask(Cmd::Chat("first question".into())).await.unwrap();
    agent
        .ask(Cmd::Chat("second question".into()))
        .await
        .unwrap();
    assert_eq!(served.load(Ordering::SeqCst), 2);
    let pages = k.pager().pages(agent.pid()).await.unwrap();
    // The system prompt once (pinned), two user turns and two answers, all in the pager.
    assert_eq!(pages.len(), 5, "{pages:#?}");
    assert_eq!(pages.iter().filter(|p| p.pinned).count(), 1);
    k.shutdown().await;
}

#[actix_rt::test]
async fn the_kernel_api_finds_pages_after_a_kernel_restart() {
    let (storage, guard) = common::test_storage(common::backend_from_env()).await;
    let pid = Pid::new();
    let text = "remember this exact text ✓".to_string();
    let id = {
        let k = Kernel::builder()
            .config(KernelConfig::default())
            .storage(storage)
            .build()
            .await
            .unwrap();
        k.pager().set_budget(pid, 200).await.unwrap();
        let id = k
            .pager()
            .allocate(
                pid,
                NewPage::new(PageKind::Message, text.clone()).importance(0.0),
            )
            .await
            .unwrap()[0];
        for i in 0..10 {
            k.pager()
                .allocate(
                    pid,
                    NewPage::new(PageKind::Message, words(&format!("k{i}x"), 40)),
                )
                .await
                .unwrap();
        }
        assert!(!k.pager().pages(pid).await.unwrap()[0].resident);
        k.shutdown().await;
        id
    };
    let storage = Storage::connect(&guard.url()).await.unwrap();
    let k = Kernel::builder()
        .config(KernelConfig::default())
        .storage(storage)
        .build()
        .await
        .unwrap();
    let page = k.pager().read(pid, id).await.unwrap();
    assert_eq!(&*page.content, text.as_str());
    assert_eq!(k.pager().stats(pid).await.unwrap().faults, 1);
    k.shutdown().await;
}

/// A policy of the user's own: evicts the largest entries first.
#[derive(Debug)]
struct LargestFirst;

impl agent_os_kernel::pager::ReplacementPolicy for LargestFirst {
    fn name(&self) -> &str {
        "largest_first"
    }
    fn eviction_order(&self, c: &[agent_os_kernel::pager::Candidate]) -> Vec<usize> {
        let mut order: Vec<usize> = (0..c.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(c[i].tokens));
        order
    }
}

#[actix_rt::test]
async fn a_replacement_policy_of_ones_own_plugs_into_the_kernel() {
    let (storage, _g) = common::test_storage(common::backend_from_env()).await;
    let mut cfg = KernelConfig::default();
    cfg.pager.low_water = 0.9;
    let k = Kernel::builder()
        .config(cfg)
        .storage(storage)
        .replacement_policy(Arc::new(LargestFirst))
        .build()
        .await
        .unwrap();
    assert_eq!(k.pager().policy().name(), "largest_first");
    let pid = Pid::new();
    k.pager().set_budget(pid, 300).await.unwrap();
    let big = k
        .pager()
        .allocate(pid, NewPage::new(PageKind::Message, words("big", 60)))
        .await
        .unwrap();
    for i in 0..6 {
        k.pager()
            .allocate(
                pid,
                NewPage::new(PageKind::Message, words(&format!("s{i}x"), 10)),
            )
            .await
            .unwrap();
    }
    let pages = k.pager().pages(pid).await.unwrap();
    assert!(!pages.iter().find(|p| p.id == big[0]).unwrap().resident);
    assert!(
        pages.iter().filter(|p| p.id != big[0]).all(|p| p.resident),
        "{pages:#?}"
    );
    k.shutdown().await;
}
