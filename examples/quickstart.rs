//! Quickstart: a real multi-agent workflow on the embedded defaults (SQLite under `./data/`,
//! no API key, no services).
//!
//! A coordinator agent fans a set of documents out to three worker agents, which count words;
//! a reducer agent folds their counts together. One worker crashes on its first attempt at one
//! document: its supervisor restarts it under the same pid, the coordinator retries the job,
//! and the result is complete. Then a writer agent asks the LLM for a one-line summary —
//! through the scheduler (slice token) and a provider actor (rate-limit mailbox).
//!
//! The LLM (`examples/common/local_llm.rs`, said plainly in one `LLM:` line): a backend
//! detected from the environment (API keys, `OPENAI_BASE_URL`, `AOK__PROVIDERS__BACKENDS__…`, a
//! local Ollama); else the real local model when `scripts/setup-llm.sh` installed it (this
//! example starts its llama-server on a free local port and stops it at the end); else the
//! offline, deterministic `scripted` backend (it echoes, it does not generate).
//! `AOK_EXAMPLE_MODEL` (or `AOK_QUICKSTART_MODEL`) overrides the model name.
//!
//! Run: `cargo run --example quickstart`

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use agent_os_actors::{Coordinator, FanOut, FnWorker, Reducer};
use agent_os_kernel::prelude::*;
use agent_os_kernel::provider::{ChatRequest, ChatResponse, Message};
use serde_json::{Value, json};

#[path = "common/local_llm.rs"]
mod local_llm;

const DOCUMENTS: &[(&str, &str)] = &[
    (
        "cpu",
        "the llm is the cpu of the agent and the scheduler grants the cpu in slices",
    ),
    (
        "ram",
        "the context window is the ram and the pager moves pages between ram and disk",
    ),
    (
        "disk",
        "the database is the disk and checkpoints on the disk survive a crash",
    ),
    (
        "process",
        "an agent is a process with a pid a mailbox and a supervisor",
    ),
    (
        "devices",
        "tools are the devices and every device call passes the policy and the audit",
    ),
    (
        "ipc",
        "agents talk by messages and every mailbox is bounded so nothing is dropped silently",
    ),
];

/// Set once the simulated fault has fired, so the worker crashes exactly once.
static FAULT_FIRED: AtomicBool = AtomicBool::new(false);

fn count_words(job: &Value, ctx: &AgentContext) -> Result<Value, String> {
    let name = job["name"].as_str().ok_or("job has no name")?;
    let text = job["text"].as_str().ok_or("job has no text")?;
    if name == "process" && !FAULT_FIRED.swap(true, Ordering::SeqCst) {
        panic!("simulated fault in {} while reading `{name}`", ctx.name());
    }
    let mut counts = serde_json::Map::new();
    for word in text.split_whitespace() {
        let n = counts.get(word).and_then(Value::as_u64).unwrap_or(0);
        counts.insert(word.to_string(), json!(n + 1));
    }
    Ok(Value::Object(counts))
}

fn merge(mut acc: Value, item: &Value) -> Value {
    if let (Some(acc), Some(item)) = (acc.as_object_mut(), item.as_object()) {
        for (word, n) in item {
            let total =
                acc.get(word).and_then(Value::as_u64).unwrap_or(0) + n.as_u64().unwrap_or(0);
            acc.insert(word.clone(), json!(total));
        }
    }
    acc
}

/// Writes a one-line summary with the LLM (one `ctx.llm` call = one slice).
struct Writer {
    model: String,
}

impl Agent for Writer {
    type Msg = String;
    type Reply = ChatResponse;

    async fn handle(
        &mut self,
        facts: String,
        ctx: &mut AgentContext,
    ) -> Result<ChatResponse, AgentError> {
        let mut request = ChatRequest::new(
            self.model.clone(),
            vec![
                Message::system("You summarise word statistics in one short sentence."),
                Message::user(format!("Summarise: {facts}")),
            ],
        );
        // Short: one sentence, and a small local model finishes quickly.
        request.max_tokens = 64;
        Ok(ctx.llm(request).await?)
    }
}

#[actix::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // One concise line per panic instead of the default hook's multi-line report.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("  ! panic: {}", info.payload_as_str().unwrap_or("?"))
    }));
    let mut llm = local_llm::LlmSetup::detect().await?;
    let kernel = Kernel::builder().config(llm.config.clone()).build().await?;
    println!("kernel up, storage at {}", kernel.config().storage.url);

    // Narrate crashes and restarts as they happen.
    let mut events = kernel.events();
    actix::spawn(async move {
        while let Ok(event) = events.recv().await {
            match event {
                KernelEvent::Crashed { pid, reason } => {
                    println!("  x agent {pid} crashed: {reason}")
                }
                KernelEvent::Restarted { pid, restarts } => {
                    println!("  ~ supervisor restarted agent {pid} (restart #{restarts}, same pid)")
                }
                _ => {}
            }
        }
    });

    let workers_sup = kernel
        .supervisor(SupervisorSpec::new("workers").strategy(Strategy::OneForOne))
        .await?;
    let worker = FnWorker::new(count_words);
    let mut workers = Vec::new();
    for i in 0..3 {
        let opts = SpawnOptions::new(format!("worker-{i}")).supervisor(workers_sup);
        workers.push(kernel.spawn(worker.factory(), opts).await?);
    }
    let reducer = kernel
        .spawn(
            Reducer::factory(json!({}), merge),
            SpawnOptions::new("reducer"),
        )
        .await?;
    let coordinator = kernel
        .spawn(
            Coordinator::default,
            SpawnOptions::new("coordinator").priority(10),
        )
        .await?;
    println!("spawned 3 workers, a reducer and a coordinator");

    let jobs = DOCUMENTS
        .iter()
        .map(|(name, text)| json!({ "name": name, "text": text }))
        .collect();
    let run = FanOut {
        jobs,
        workers: workers.clone(),
        reducer,
        attempts: 3,
        timeout_ms: 5_000,
    };
    let report = coordinator
        .ask(run)
        .timeout(Duration::from_secs(30))
        .await?;

    let counts = report.result["value"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let total: u64 = counts.values().filter_map(Value::as_u64).sum();
    let mut top: Vec<(String, u64)> = counts
        .iter()
        .map(|(w, n)| (w.clone(), n.as_u64().unwrap_or(0)))
        .collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    println!(
        "\n{} of {} documents counted, {} retried after a crash, {} failed",
        report.completed,
        DOCUMENTS.len(),
        report.retries,
        report.failed.len()
    );
    println!("{total} words, {} distinct; top 5:", counts.len());
    for (word, n) in top.iter().take(5) {
        println!("  {word:<10} {n}");
    }
    for worker in &workers {
        let st = kernel.status(worker.pid())?;
        println!(
            "{} ({}): {} jobs handled, {} restarts",
            st.name,
            worker.pid(),
            st.handled,
            st.restarts
        );
    }

    // The LLM step.
    println!("\n{}", llm.line);
    let model = llm.model.clone();
    let writer = kernel
        .spawn(
            move || Writer {
                model: model.clone(),
            },
            SpawnOptions::new("writer"),
        )
        .await?;
    let facts = top
        .iter()
        .take(5)
        .map(|(w, n)| format!("{w}={n}"))
        .collect::<Vec<_>>()
        .join(", ");
    match writer.ask(facts).timeout(Duration::from_secs(120)).await {
        Ok(summary) => {
            println!(
                "summary via {} ({}): {}",
                summary.backend, summary.model, summary.content
            );
            let used = kernel.providers().ledger.agent_totals(writer.pid());
            let stats = kernel.scheduler_stats().await?;
            println!(
                "writer used {} prompt + {} completion tokens in {} call(s); scheduler granted {} slice(s)",
                used.prompt_tokens, used.completion_tokens, used.calls, stats.grants
            );
        }
        Err(e) => println!("the LLM step failed: {e}"),
    }
    kernel.shutdown().await;
    llm.stop();
    Ok(())
}
