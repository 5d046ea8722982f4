//! The ReAct N-agent benchmark: `N` stock `ReactAgent`s (agent-os-actors) each run a task of
//! `K` LLM calls — a tool call on each of the first `K - 1` turns (a cheap registered kernel
//! tool, `bench.echo`), the answer on the last — against an in-bench server speaking the
//! OpenAI chat wire with a fixed latency `L` per call and at most `C` calls served at once
//! (more queue at the server, first come first served). The server's bound is `C / L` calls/s;
//! the table reports calls/s through the kernel as a fraction of it, against a baseline in the
//! same run: the same calls (the same conversations, growing by the same tool results) made
//! directly with reqwest from `N` tokio tasks, no kernel.
//!
//! Through the kernel each LLM call is a ReAct step: the conversation assembled from the
//! agent's pages (`ctx.context`), a scheduler slice, the provider's gate and HTTP call, the
//! answer appended to the pages, the tool call run through `ctx.call_tools` (policy, schema
//! check, audit) and its result appended; trajectories are recorded (the default `calls`
//! mode). The scheduler has `C` slots and the backend `C` connections (`REACT_BENCH_SLOTS`
//! overrides both), so the kernel does not cap below the server. Storage: SQLite in a
//! temporary directory. Rounds alternate the sides (direct, kernel, kernel, direct, …).
//!
//! `cargo bench --bench react`; environment: `REACT_BENCH_AGENTS` (N, 64),
//! `REACT_BENCH_CALLS` (K, 10), `REACT_BENCH_LATENCY_MS` (L, 20), `REACT_BENCH_CONCURRENCY`
//! (C, 16), `REACT_BENCH_SLOTS` (default C), `REACT_BENCH_ROUNDS` (per side, 2),
//! `REACT_BENCH_ARBITERS` (2).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use agent_os_actors::{ReactAgent, ReactMsg, Stopped};
use agent_os_kernel::prelude::*;
use agent_os_kernel::provider::{BackendConfig, BackendKind};
use agent_os_kernel::security::policy::AllowBlock;
use agent_os_kernel::tools::{Tool, ToolContext, ToolError};
use agent_os_kernel::{KernelConfig, SecurityPolicy};
use axum::body::Bytes;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const MODEL: &str = "bench-model";
const TASK: &str = "Echo a word nine times with the tool, then answer.";

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|v| *v > 0)
        .unwrap_or(default)
}

#[derive(Clone, Copy)]
struct Params {
    agents: usize,
    calls: usize,
    latency: Duration,
    concurrency: usize,
    slots: usize,
    rounds: usize,
    arbiters: usize,
}

impl Params {
    fn from_env() -> Self {
        let concurrency = env_or("REACT_BENCH_CONCURRENCY", 16);
        Params {
            agents: env_or("REACT_BENCH_AGENTS", 64),
            calls: env_or("REACT_BENCH_CALLS", 10),
            latency: Duration::from_millis(env_or("REACT_BENCH_LATENCY_MS", 20) as u64),
            concurrency,
            slots: env_or("REACT_BENCH_SLOTS", concurrency),
            rounds: env_or("REACT_BENCH_ROUNDS", 2),
            arbiters: env_or("REACT_BENCH_ARBITERS", 2),
        }
    }

    /// The server's bound, calls/s.
    fn bound(&self) -> f64 {
        self.concurrency as f64 / self.latency.as_secs_f64()
    }
}

// ---- the server ----

/// The mock model's state: `C` permits, the fixed latency, what it served.
struct Server {
    permits: Semaphore,
    latency: Duration,
    calls: usize,
    served: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// Tool results since the last user message: the turn of the current task.
fn tool_turns(body: &Value) -> usize {
    let messages = body["messages"].as_array().map_or(&[][..], Vec::as_slice);
    let start = messages
        .iter()
        .rposition(|m| m["role"] == "user")
        .map_or(0, |i| i + 1);
    messages[start..]
        .iter()
        .filter(|m| m["role"] == "tool")
        .count()
}

fn reply(turn: usize, calls: usize) -> Value {
    let (message, finish) = if turn + 1 < calls {
        let args = json!({"text": format!("word {turn}")}).to_string();
        (
            json!({"role": "assistant", "content": null, "tool_calls": [{"id": format!("call_{turn}"),
                "type": "function", "function": {"name": "bench__echo", "arguments": args}}]}),
            "tool_calls",
        )
    } else {
        (
            json!({"role": "assistant", "content": "Echoed it nine times; done."}),
            "stop",
        )
    };
    json!({"id": "r", "object": "chat.completion", "created": 0, "model": MODEL,
           "choices": [{"index": 0, "message": message, "finish_reason": finish}],
           "usage": {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60}})
}

async fn serve(s: Arc<Server>, body: Bytes) -> axum::Json<Value> {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let _permit = s.permits.acquire().await.expect("permits");
    let now = s.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    s.max_in_flight.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(s.latency).await;
    s.in_flight.fetch_sub(1, Ordering::SeqCst);
    s.served.fetch_add(1, Ordering::SeqCst);
    axum::Json(reply(tool_turns(&v), s.calls))
}

/// Starts the server on a runtime thread of its own; returns its base URL.
fn start_server(s: Arc<Server>) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("server runtime");
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let url = format!("http://{}/v1", l.local_addr().expect("addr"));
            let app = axum::Router::new().fallback(move |body: Bytes| serve(s.clone(), body));
            tokio::spawn(async move { axum::serve(l, app).await });
            tx.send(url).expect("send url");
            futures::future::pending::<()>().await;
        });
    });
    rx.recv().expect("server url")
}

// ---- the kernel side ----

/// The cheap tool the model calls: echoes its text.
struct Echo;

impl Tool for Echo {
    fn name(&self) -> &str {
        "bench.echo"
    }
    fn description(&self) -> &str {
        "Echoes its text back."
    }
    fn schema(&self) -> Value {
        json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]})
    }
    fn call(&self, args: Value, _cx: ToolContext) -> BoxFuture<'static, Result<Value, ToolError>> {
        Box::pin(async move { Ok(json!({"echo": args["text"]})) })
    }
}

async fn kernel(p: &Params, url: &str, dir: &std::path::Path) -> Result<Kernel, BoxError> {
    let mut cfg = KernelConfig::default();
    cfg.kernel.arbiters = p.arbiters;
    cfg.storage.url = format!("sqlite://{}", dir.join("bench.db").display());
    cfg.tools.workspace_root = dir.join("ws").display().to_string();
    cfg.log.filter = "warn".into();
    cfg.scheduler.global_slots = p.slots;
    let mut b = BackendConfig::new(BackendKind::OpenaiCompatible);
    b.base_url = Some(url.to_owned());
    b.models = vec![MODEL.into()];
    b.max_concurrency = p.slots;
    cfg.providers.backends.insert("mock".into(), b);
    let k = Kernel::builder().config(cfg).build().await?;
    k.tools().register(Arc::new(Echo));
    Ok(k)
}

/// `N` fresh agents (spawned before the clock starts), each running its task; returns the
/// LLM calls they made.
async fn run_kernel(k: &Kernel, p: &Params, round: usize) -> Result<(usize, Duration), BoxError> {
    let policy = SecurityPolicy {
        tools: AllowBlock::only(["bench.echo"]),
        ..SecurityPolicy::default()
    };
    let mut agents = Vec::with_capacity(p.agents);
    for i in 0..p.agents {
        let react = ReactAgent::new(format!("react-{round}-{i}"), TASK)
            .model(MODEL)
            .max_steps(u32::try_from(p.calls)?)
            .max_tokens(64);
        agents.push(
            k.spawn(react.factory(), react.options().policy(policy.clone()))
                .await?,
        );
    }
    let t = Instant::now();
    let outcomes = futures::future::join_all(
        agents
            .iter()
            .map(|a| a.ask(ReactMsg::Run).timeout(Duration::from_secs(600))),
    )
    .await;
    let took = t.elapsed();
    let mut calls = 0;
    for o in outcomes {
        let o = o?;
        if o.stopped != Stopped::Finished || o.tool_calls.iter().any(|c| c.error.is_some()) {
            return Err(format!("a run did not go as scripted: {o:?}").into());
        }
        calls += o.steps as usize;
    }
    Ok((calls, took))
}

// ---- the direct side ----

/// One agent's conversation made directly: the same requests, growing the same way.
async fn direct_agent(http: &reqwest::Client, url: &str, calls: usize) -> Result<usize, BoxError> {
    let tools = json!([{"type": "function", "function": {"name": "bench__echo",
        "description": Echo.description(), "parameters": Echo.schema()}}]);
    let mut messages = vec![
        json!({"role": "system", "content": agent_os_actors::REACT_SYSTEM_PROMPT}),
        json!({"role": "user", "content": TASK}),
    ];
    for n in 1..=calls {
        let body = json!({"model": MODEL, "messages": messages, "tools": tools, "max_tokens": 64});
        let v: Value = http
            .post(format!("{url}/chat/completions"))
            .json(&body)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let message = v["choices"][0]["message"].clone();
        let call = message["tool_calls"][0].clone();
        messages.push(message);
        if call.is_null() {
            return Ok(n);
        }
        let args: Value =
            serde_json::from_str(call["function"]["arguments"].as_str().unwrap_or("{}"))?;
        messages.push(json!({"role": "tool", "tool_call_id": call["id"],
            "content": json!({"echo": args["text"]}).to_string()}));
    }
    Ok(calls)
}

async fn run_direct(
    http: &reqwest::Client,
    url: &str,
    p: &Params,
) -> Result<(usize, Duration), BoxError> {
    let started = Instant::now();
    let tasks: Vec<_> = (0..p.agents)
        .map(|_| {
            let (http, url, calls) = (http.clone(), url.to_owned(), p.calls);
            tokio::spawn(async move { direct_agent(&http, &url, calls).await })
        })
        .collect();
    let mut calls = 0;
    for task in tasks {
        calls += task.await??;
    }
    Ok((calls, started.elapsed()))
}

// ---- the run ----

#[derive(Default, Clone, Copy)]
struct Tally {
    calls: usize,
    secs: f64,
    runs: usize,
}

impl Tally {
    fn add(&mut self, calls: usize, took: Duration) {
        self.calls += calls;
        self.secs += took.as_secs_f64();
        self.runs += 1;
    }
    fn rate(&self) -> f64 {
        self.calls as f64 / self.secs.max(1e-9)
    }
}

async fn bench(p: Params) -> Result<(), BoxError> {
    let server = Arc::new(Server {
        permits: Semaphore::new(p.concurrency),
        latency: p.latency,
        calls: p.calls,
        served: AtomicUsize::new(0),
        in_flight: AtomicUsize::new(0),
        max_in_flight: AtomicUsize::new(0),
    });
    let url = start_server(server.clone());
    let dir = tempfile::tempdir()?;
    let k = kernel(&p, &url, dir.path()).await?;
    let http = reqwest::Client::new();
    let expected = p.agents * p.calls;

    // Warm-up: connections, the database, the tokenizer tables.
    run_direct(&http, &url, &p).await?;
    run_kernel(&k, &p, usize::MAX).await?;

    let (mut direct, mut kern) = (Tally::default(), Tally::default());
    let (mut direct_peak, mut kernel_peak) = (0, 0);
    for round in 0..p.rounds {
        let sides: [bool; 2] = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for through_kernel in sides {
            server.max_in_flight.store(0, Ordering::SeqCst);
            let before = server.served.load(Ordering::SeqCst);
            let (calls, took) = if through_kernel {
                run_kernel(&k, &p, round).await?
            } else {
                run_direct(&http, &url, &p).await?
            };
            let served = server.served.load(Ordering::SeqCst) - before;
            if calls != expected || served != expected {
                return Err(
                    format!("expected {expected} calls, made {calls}, served {served}").into(),
                );
            }
            let peak = server.max_in_flight.load(Ordering::SeqCst);
            if through_kernel {
                kern.add(calls, took);
                kernel_peak = kernel_peak.max(peak);
            } else {
                direct.add(calls, took);
                direct_peak = direct_peak.max(peak);
            }
        }
    }
    let stats = k.scheduler_stats().await?;
    k.shutdown().await;

    let bound = p.bound();
    println!(
        "\nReAct: {} agents × {} LLM calls ({} tool calls + the answer), server latency {} ms, \
         at most {} served at once (bound {bound:.0} calls/s); kernel: {} scheduler slots, \
         {} arbiters, SQLite; {} rounds per side\n",
        p.agents,
        p.calls,
        p.calls - 1,
        p.latency.as_millis(),
        p.concurrency,
        p.slots,
        p.arbiters,
        p.rounds
    );
    println!("| side | calls | wall (s) | calls/s | of bound C/L | peak in flight at the server |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (side, t, peak) in [
        ("direct (reqwest, N tokio tasks)", direct, direct_peak),
        ("kernel (N ReactAgents)", kern, kernel_peak),
    ] {
        println!(
            "| {side} | {} | {:.3} | {:.1} | {:.1} % | {peak} |",
            t.calls,
            t.secs,
            t.rate(),
            100.0 * t.rate() / bound
        );
    }
    println!(
        "\nkernel / direct: {:.1} %; scheduler: {} grants, slice wait p50 {:?}, p99 {:?}",
        100.0 * kern.rate() / direct.rate(),
        stats.grants,
        stats.wait_p50,
        stats.wait_p99,
    );
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let p = Params::from_env();
    actix::System::new().block_on(bench(p))
}
