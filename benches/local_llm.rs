//! The real local model through the kernel: tokens/s of an agent's `ctx.llm` against the same
//! llama-server called directly with reqwest, in the same run (goal ≥ 95 %).
//!
//! The server is the one `scripts/setup-llm.sh` caches (llama.cpp's `llama-server`,
//! SmolLM2-135M-Instruct Q4_1), started here on a free port with 4 parallel sequences. Both
//! sides send the same greedy requests (temperature 0, `max_tokens` 128, one prompt per call
//! index) and count the completion tokens the server reports. Two phases: `N` calls one after
//! another, then `C` callers making `K` calls each at once (through the kernel: `C` agents).
//! Each phase runs in rounds whose order alternates (direct, kernel, kernel, direct, …), so
//! the server's prompt cache and any drift favour neither side.
//!
//! `cargo bench --bench local_llm` (`LOCAL_LLM_BENCH_QUICK=1` for a quarter of the calls).

#[path = "../tests/e2e_support/mod.rs"]
mod e2e_support;

use std::time::{Duration, Instant};

use agent_os_kernel::prelude::*;
use agent_os_kernel::provider::{ChatRequest, ChatResponse, Message};
use e2e_support::{LocalModel, MODEL, local_config};
use serde_json::{Value, json};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const SYSTEM: &str = "You are a helpful assistant.";
const MAX_TOKENS: u32 = 128;
/// Parallel callers in the concurrent phase (the server runs 4 sequences at once).
const C: usize = 4;
const ROUNDS: usize = 2;

fn prompt(i: usize) -> String {
    format!("Write a few sentences about the number {i}.")
}

/// Makes the call it is given and replies with the response.
struct Caller;

impl Agent for Caller {
    type Msg = ChatRequest;
    type Reply = ChatResponse;
    async fn handle(
        &mut self,
        req: ChatRequest,
        ctx: &mut AgentContext,
    ) -> Result<ChatResponse, AgentError> {
        Ok(ctx.llm(req).await?)
    }
}

fn request(i: usize) -> ChatRequest {
    let mut r = ChatRequest::new(
        MODEL,
        vec![Message::system(SYSTEM), Message::user(prompt(i))],
    );
    r.max_tokens = MAX_TOKENS;
    r.temperature = Some(0.0);
    r
}

/// The same request as the kernel's OpenAI-compatible backend sends, made directly.
async fn direct(http: &reqwest::Client, url: &str, i: usize) -> Result<u64, BoxError> {
    let body = json!({
        "model": MODEL,
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt(i)}],
        "max_tokens": MAX_TOKENS,
        "temperature": 0.0,
    });
    let v: Value = http
        .post(format!("{url}/chat/completions"))
        .json(&body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    v["usage"]["completion_tokens"]
        .as_u64()
        .ok_or_else(|| format!("no usage in {v}").into())
}

/// Completion tokens and wall time of one side of a phase.
#[derive(Default, Clone, Copy)]
struct Tally {
    tokens: u64,
    calls: usize,
    secs: f64,
}

impl Tally {
    fn add(&mut self, tokens: u64, calls: usize, took: Duration) {
        self.tokens += tokens;
        self.calls += calls;
        self.secs += took.as_secs_f64();
    }
    fn rate(&self) -> f64 {
        self.tokens as f64 / self.secs.max(1e-9)
    }
}

/// `calls` calls indexed from `first`, spread over `callers` at once; returns the tokens.
async fn run_direct(
    http: &reqwest::Client,
    url: &str,
    first: usize,
    calls: usize,
    callers: usize,
) -> Result<u64, BoxError> {
    let per = calls / callers;
    let lanes = (0..callers).map(|c| async move {
        let mut n = 0;
        for j in 0..per {
            n += direct(http, url, first + c * per + j).await?;
        }
        Ok::<u64, BoxError>(n)
    });
    let mut total = 0;
    for r in futures::future::join_all(lanes).await {
        total += r?;
    }
    Ok(total)
}

async fn run_kernel(
    agents: &[AgentRef<Caller>],
    first: usize,
    calls: usize,
) -> Result<u64, BoxError> {
    let per = calls / agents.len();
    let lanes = agents.iter().enumerate().map(|(c, a)| async move {
        let mut n = 0;
        for j in 0..per {
            let r: ChatResponse = a
                .ask(request(first + c * per + j))
                .timeout(Duration::from_secs(300))
                .await?;
            n += r.usage.completion_tokens;
        }
        Ok::<u64, BoxError>(n)
    });
    let mut total = 0;
    for r in futures::future::join_all(lanes).await {
        total += r?;
    }
    Ok(total)
}

async fn bench(model: &LocalModel) -> Result<(), BoxError> {
    let quick = std::env::var_os("LOCAL_LLM_BENCH_QUICK").is_some();
    let (n, k) = if quick { (4, 2) } else { (16, 8) };
    let dir = tempfile::tempdir()?;
    let mut cfg = local_config(&model.base_url, &[]);
    cfg.storage.url = format!("sqlite://{}", dir.path().join("bench.db").display());
    cfg.log.filter = "warn".into();
    let kernel = Kernel::builder().config(cfg).build().await?;
    let mut agents = Vec::new();
    for i in 0..C {
        agents.push(
            kernel
                .spawn(|| Caller, SpawnOptions::new(format!("caller-{i}")))
                .await?,
        );
    }
    let http = reqwest::Client::new();
    let url = model.base_url.as_str();

    // Warm-up: the model's weights paged in, the tokenizer tables, connections.
    run_direct(&http, url, 10_000, C, C).await?;
    run_kernel(&agents, 10_000, C).await?;

    let mut rows = Vec::new();
    for (phase, calls, callers) in [("sequential", n, 1), ("concurrent", C * k, C)] {
        let (mut d, mut kn) = (Tally::default(), Tally::default());
        for round in 0..ROUNDS {
            let first = round * 1_000;
            let sides: [bool; 2] = if round % 2 == 0 {
                [false, true]
            } else {
                [true, false]
            };
            for through_kernel in sides {
                let t = Instant::now();
                if through_kernel {
                    let tokens = run_kernel(&agents[..callers], first, calls).await?;
                    kn.add(tokens, calls, t.elapsed());
                } else {
                    let tokens = run_direct(&http, url, first, calls, callers).await?;
                    d.add(tokens, calls, t.elapsed());
                }
            }
        }
        rows.push((phase, callers, d, kn));
    }
    kernel.shutdown().await;

    println!(
        "\nlocal model: SmolLM2-135M-Instruct Q4_1 on llama-server (4 parallel sequences), max_tokens {MAX_TOKENS}, temperature 0, {ROUNDS} rounds per side\n"
    );
    println!(
        "| phase | callers | calls per side | direct tokens/s | kernel tokens/s | kernel / direct |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (phase, callers, d, kn) in rows {
        println!(
            "| {phase} | {callers} | {} ({} tokens) | {:.1} | {:.1} ({} tokens) | {:.1} % |",
            d.calls,
            d.tokens,
            d.rate(),
            kn.rate(),
            kn.tokens,
            100.0 * kn.rate() / d.rate()
        );
    }
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let model = LocalModel::start()?;
    let result = actix::System::new().block_on(bench(&model));
    model.stop();
    result
}
