//! Provider benchmark (bench binary, prints a table):
//!
//! 1. Per-call overhead of the provider path (router → provider actor → backend) against a
//!    direct async-openai call to the same local server, in one run (goal ≤ 10 %).
//! 2. Budget use against an enforcing server with RPM = 600 and a TPM limit over a 60 s window
//!    (goal ≥ 97 % of the allowed requests and tokens, 0 × 429).
//!
//! `cargo bench --bench provider`
//! (`PROVIDER_BENCH_WINDOW_SECS` shortens the window for a quick look; results in
//! docs/benchmarks.md are with the default 60 s. `PROVIDER_BENCH_PROFILE_SECS`: see
//! `profile_kernel`.)

mod components;
mod profile;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use agent_os_kernel::Pid;
use agent_os_kernel::provider::backend::{Backend, Timeouts};
use agent_os_kernel::provider::config::{BackendConfig, BackendKind, ProvidersConfig};
use agent_os_kernel::provider::estimate::count_text;
use agent_os_kernel::provider::openai::OpenAiCompatible;
use agent_os_kernel::provider::{ChatRequest, Message, Providers};
use agent_os_kernel::scheduler::{Scheduler, SchedulerConfig, SliceRequest, SliceToken, Usage};
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestSystemMessageArgs, ChatCompletionRequestUserMessageArgs,
    CreateChatCompletionRequest, CreateChatCompletionRequestArgs,
};
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use parking_lot::Mutex;
use serde_json::{Value, json};

const SYSTEM: &str = "You are a concise assistant.";
const USER: &str = "Summarise the plot of a short story about a lighthouse keeper in one line.";
const ANSWER: &str =
    "A lonely keeper saves a ship in a storm and finds that the sea had been his friend all along.";

fn prompt_tokens(body: &Value) -> u64 {
    let mut n = 3;
    for m in body["messages"].as_array().into_iter().flatten() {
        n += 4 + count_text(m["content"].as_str().unwrap_or_default());
    }
    n
}

fn completion(prompt: u64) -> Value {
    let c = count_text(ANSWER);
    json!({"id": "b", "object": "chat.completion", "created": 0, "model": "bench-model",
           "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER},
                        "finish_reason": "stop", "logprobs": null}],
           "usage": {"prompt_tokens": prompt, "completion_tokens": c, "total_tokens": prompt + c}})
}

struct Limiter {
    window: Duration,
    rpm: usize,
    tpm: u64,
    entries: Mutex<Vec<(usize, Instant, u64)>>,
    rejected: AtomicUsize,
    next: AtomicUsize,
}

async fn fast(body: Bytes) -> impl IntoResponse {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    axum::Json(completion(prompt_tokens(&v)))
}

async fn enforced(lim: Arc<Limiter>, body: Bytes) -> axum::response::Response {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let prompt = prompt_tokens(&v);
    let charge = prompt
        + v["max_completion_tokens"]
            .as_u64()
            .or(v["max_tokens"].as_u64())
            .unwrap_or(0);
    let id = lim.next.fetch_add(1, Ordering::SeqCst);
    {
        let now = Instant::now();
        let mut e = lim.entries.lock();
        let used: u64 = e
            .iter()
            .filter(|x| now.duration_since(x.1) < lim.window)
            .map(|x| x.2)
            .sum();
        let live = e
            .iter()
            .filter(|x| now.duration_since(x.1) < lim.window)
            .count();
        if live >= lim.rpm || used + charge > lim.tpm {
            lim.rejected.fetch_add(1, Ordering::SeqCst);
            let err = json!({"error": {"message": "rate limited", "type": "requests", "code": "rate_limit_exceeded"}});
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "1")],
                axum::Json(err),
            )
                .into_response();
        }
        e.push((id, now, charge));
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let body = completion(prompt);
    let total = body["usage"]["total_tokens"].as_u64().unwrap_or(charge);
    if let Some(x) = lim.entries.lock().iter_mut().find(|x| x.0 == id) {
        x.2 = total;
    }
    axum::Json(body).into_response()
}

/// Starts both servers on their own runtime thread; returns their base URLs.
fn start_servers(lim: Arc<Limiter>) -> (String, String) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("server runtime");
        rt.block_on(async move {
            let a = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let b = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let urls = (
                format!("http://{}/v1", a.local_addr().expect("addr")),
                format!("http://{}/v1", b.local_addr().expect("addr")),
            );
            let fast_app = axum::Router::new().fallback(fast);
            let enforced_app =
                axum::Router::new().fallback(move |body: Bytes| enforced(lim.clone(), body));
            tokio::spawn(async move { axum::serve(a, fast_app).await });
            tokio::spawn(async move { axum::serve(b, enforced_app).await });
            tx.send(urls).expect("send urls");
            futures::future::pending::<()>().await;
        });
    });
    rx.recv().expect("server urls")
}

fn backend(url: &str) -> BackendConfig {
    let mut b = BackendConfig::new(BackendKind::OpenaiCompatible);
    b.base_url = Some(url.to_string());
    b.models = vec!["bench-model".into()];
    b.max_concurrency = 64;
    b
}

/// A scheduler with room for every caller: the kernel path pays its acquire + release (the
/// release not awaited, as `AgentContext::llm` does it).
fn scheduler() -> Scheduler {
    let c = SchedulerConfig {
        global_slots: 1024,
        preemption: false,
        ..SchedulerConfig::default()
    };
    Scheduler::start(c).expect("scheduler")
}

/// A real slice from the scheduler.
async fn grant(s: &Scheduler, pid: Pid, ttl: Duration) -> SliceToken {
    s.acquire(SliceRequest::new(pid).priority(10).deadline(ttl))
        .await
        .expect("slice")
}

/// The overhead benchmark's request: the system prompt and a fresh user message (number `n`).
fn fresh_request(n: usize) -> ChatRequest {
    let mut r = ChatRequest::new(
        "bench-model",
        vec![
            Message::system(SYSTEM),
            Message::user(format!("{USER} #{n}")),
        ],
    );
    r.max_tokens = 64;
    r
}

/// The same request for the direct async-openai client (its own typed request).
fn direct_request(n: usize) -> CreateChatCompletionRequest {
    CreateChatCompletionRequestArgs::default()
        .model("bench-model")
        .max_completion_tokens(64u32)
        .messages([
            ChatCompletionRequestSystemMessageArgs::default()
                .content(SYSTEM)
                .build()
                .expect("msg")
                .into(),
            ChatCompletionRequestUserMessageArgs::default()
                .content(format!("{USER} #{n}"))
                .build()
                .expect("msg")
                .into(),
        ])
        .build()
        .expect("request")
}

/// A direct async-openai client for `url` (its own reqwest client and config).
fn direct_client(url: &str) -> async_openai::Client<OpenAIConfig> {
    async_openai::Client::with_config(OpenAIConfig::new().with_api_base(url).with_api_key("bench"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

async fn overhead(url: &str) -> Vec<Row> {
    // Limits far above the load: the whole budget path (tiktoken estimate, RPM/TPM accounting,
    // reconciliation) runs on every call without ever making it wait.
    let mut b = backend(url);
    b.rpm = Some(100_000_000);
    b.tpm = Some(u64::MAX / 4);
    let mut cfg = ProvidersConfig::default();
    cfg.backends.insert("local".into(), b);
    let p = Providers::start(&cfg).expect("providers");
    let direct = direct_client(url);
    // Every call carries a fresh user message (as in an agent loop), so nothing is served from
    // a cache that a real workload would miss; the system prompt repeats, as it does for real.
    let our_request = fresh_request;
    let pid = Pid::new();
    // The actor path alone: the offline scripted backend (no HTTP; it tokenizes its own reply
    // for usage), sequential calls.
    let mut sc = ProvidersConfig::default();
    let mut sb = BackendConfig::new(BackendKind::Scripted);
    sb.models = vec!["bench-model".into()];
    sc.backends.insert("scripted".into(), sb);
    let sp = Providers::start(&sc).expect("scripted providers");
    let sched = scheduler();
    let n = 5000;
    let t = Instant::now();
    for i in 0..n {
        let slice = grant(&sched, pid, Duration::from_secs(600)).await;
        sp.router
            .chat(our_request(i), &slice, None)
            .await
            .expect("scripted call");
        let _ = sched.release_nowait(slice, Usage::default());
    }
    println!(
        "| provider path on the offline scripted backend (no HTTP), sequential | {:.2} |",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let alone = OpenAiCompatible::new(
        "alone",
        url,
        Some("bench".into()),
        None,
        reqwest::Client::new(),
    )
    .expect("backend");
    let timeouts = Timeouts {
        request: Duration::from_secs(30),
        stall: Duration::from_secs(30),
    };
    let alone = Arc::new(alone);
    let mut rows = Vec::new();
    for conc in [1usize, 16] {
        let calls = if conc == 1 { 2000 } else { 8000 };
        let per = calls / conc;
        let (mut d, mut o, mut b) = (Vec::new(), Vec::new(), Vec::new());
        let (mut vs_direct, mut vs_alone) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            // Each round runs the three paths in a rotated order, so that none always goes
            // first (or last) after the machine changed pace.
            let mut us = [0.0f64; 3];
            for k in 0..3 {
                let col = (round + k) % 3;
                us[col] = match col {
                    0 => {
                        callers(conc, calls, || {
                            let c = direct.clone();
                            async move {
                                for _ in 0..per {
                                    let n = next();
                                    c.chat()
                                        .create(direct_request(n))
                                        .await
                                        .expect("direct call");
                                }
                            }
                        })
                        .await
                    }
                    1 => {
                        callers(conc, calls, || {
                            let router = p.router.clone();
                            let sched = sched.clone();
                            async move {
                                for _ in 0..per {
                                    let slice = grant(&sched, pid, Duration::from_secs(600)).await;
                                    router
                                        .chat(our_request(next()), &slice, None)
                                        .await
                                        .expect("provider call");
                                    let _ = sched.release_nowait(slice, Usage::default());
                                }
                            }
                        })
                        .await
                    }
                    // The openai_compatible backend alone (async-openai over our transport),
                    // without scheduler, provider actor, budget or ledger.
                    _ => {
                        callers(conc, calls, || {
                            let backend = Arc::clone(&alone);
                            async move {
                                for _ in 0..per {
                                    backend
                                        .chat(&our_request(next()), timeouts)
                                        .await
                                        .expect("backend call");
                                }
                            }
                        })
                        .await
                    }
                };
            }
            let [direct_us, ours_us, alone_us] = us;
            if round > 0 {
                // round 0 warms connections and caches
                d.push(direct_us);
                o.push(ours_us);
                b.push(alone_us);
                // Paired within the round: the machine's pace drifts between rounds, not
                // within the second or so that one round takes.
                vs_direct.push(ours_us / direct_us - 1.0);
                vs_alone.push(ours_us / alone_us - 1.0);
            }
        }
        rows.push(Row {
            label: format!("concurrency {conc}"),
            direct: median(d),
            alone: median(b),
            ours: median(o),
            vs_direct: median(vs_direct),
            vs_alone: median(vs_alone),
        });
    }
    rows
}

/// Rounds per load; the first only warms connections and caches.
const ROUNDS: usize = 12;

/// One line of the overhead table: µs per call of each path (medians over the rounds) and the
/// provider path's overhead, the median of its per-round ratios to the other two paths.
struct Row {
    label: String,
    direct: f64,
    alone: f64,
    ours: f64,
    vs_direct: f64,
    vs_alone: f64,
}

/// A fresh request number (every call carries a fresh user message).
fn next() -> usize {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    SEQ.fetch_add(1, Ordering::Relaxed)
}

/// Runs `conc` callers made by `caller`, each its own task on this thread (as agents are their
/// own tasks), and returns the µs per call of `calls` calls in all.
async fn callers<F, Fut>(conc: usize, calls: usize, mut caller: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let t = Instant::now();
    let tasks: Vec<_> = (0..conc)
        .map(|_| tokio::task::spawn_local(caller()))
        .collect();
    for task in tasks {
        task.await.expect("caller task");
    }
    t.elapsed().as_secs_f64() * 1e6 / calls as f64
}

async fn budget(url: &str, lim: &Limiter, window: Duration) -> (usize, u64, usize, usize, u64) {
    let mut b = backend(url);
    b.rpm = Some(lim.rpm as u64);
    b.tpm = Some(lim.tpm);
    b.window_ms = window.as_millis() as u64;
    let mut cfg = ProvidersConfig::default();
    cfg.backends.insert("enforced".into(), b);
    let p = Providers::start(&cfg).expect("providers");
    let mut req = ChatRequest::new(
        "bench-model",
        vec![Message::system(SYSTEM), Message::user(USER)],
    );
    req.max_tokens = 200;
    let start = Instant::now();
    // Run one full window plus 15 % to cross the window boundary (where a leaky limiter 429s).
    let stop = start + window + window.mul_f64(0.15);
    let ok = Arc::new(AtomicUsize::new(0));
    let sched = scheduler();
    futures::future::join_all((0..64).map(|_| {
        let (router, req, ok) = (p.router.clone(), req.clone(), ok.clone());
        let sched = sched.clone();
        async move {
            let pid = Pid::new();
            while Instant::now() < stop {
                let left = stop.saturating_duration_since(Instant::now());
                let slice = grant(&sched, pid, left).await;
                let result = router.chat(req.clone(), &slice, None).await;
                let _ = sched.release_nowait(slice, Usage::default());
                match result {
                    Ok(_) => {
                        ok.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                }
            }
        }
    }))
    .await;
    let e = lim.entries.lock();
    let first = e.iter().map(|x| x.1).min().unwrap_or(start);
    let in_window: Vec<_> = e
        .iter()
        .filter(|x| x.1.duration_since(first) < window)
        .collect();
    let tokens: u64 = in_window.iter().map(|x| x.2).sum();
    (
        in_window.len(),
        tokens,
        lim.rejected.load(Ordering::SeqCst),
        ok.load(Ordering::SeqCst),
        e.len() as u64,
    )
}

fn main() {
    let window = Duration::from_secs(
        std::env::var("PROVIDER_BENCH_WINDOW_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60),
    );
    // Tokens one request really uses, as the server counts them; TPM is set so that RPM and
    // TPM bind at the same point (600 requests), making both budgets matter.
    let per_request = 3 + 4 + count_text(SYSTEM) + 4 + count_text(USER) + count_text(ANSWER);
    let lim = Arc::new(Limiter {
        window,
        rpm: 600,
        tpm: 600 * per_request,
        entries: Mutex::new(Vec::new()),
        rejected: AtomicUsize::new(0),
        next: AtomicUsize::new(0),
    });
    let (fast_url, enforced_url) = start_servers(lim.clone());
    if let Some(secs) = std::env::var("PROVIDER_BENCH_PROFILE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        actix::System::new().block_on(profile::profile_kernel(&fast_url, secs));
        return;
    }
    components::components();
    let sys = actix::System::new();
    sys.block_on(async move {
        let rows = overhead(&fast_url).await;
        println!(
            "\n## Per-call overhead (local OpenAI-compatible server, JSON, {} rounds after a warm-up round, order rotated, each caller its own task; µs: median per path; overhead: median of the per-round ratios)\n",
            ROUNDS - 1
        );
        println!(
            "| load | direct async-openai (µs/call) | backend alone (µs/call) | provider path (µs/call) | overhead vs direct | kernel layers vs backend alone |"
        );
        println!("|---|---:|---:|---:|---:|---:|");
        for r in rows {
            println!(
                "| {} | {:.1} | {:.1} | {:.1} | {:+.1} % | {:+.1} % |",
                r.label,
                r.direct,
                r.alone,
                r.ours,
                r.vs_direct * 100.0,
                r.vs_alone * 100.0
            );
        }
        println!(
            "\n## Budget use (RPM = 600, TPM = {}, window {} s, 64 callers, run {:.0} s)\n",
            lim.tpm,
            window.as_secs(),
            window.as_secs_f64() * 1.15
        );
        let (reqs, toks, rejected, ok, total) = budget(&enforced_url, &lim, window).await;
        println!("| metric | value |\n|---|---:|");
        println!(
            "| requests admitted in the first window | {reqs} / 600 ({:.1} %) |",
            reqs as f64 / 6.0
        );
        println!(
            "| tokens admitted in the first window | {toks} / {} ({:.1} %) |",
            lim.tpm,
            toks as f64 / lim.tpm as f64 * 100.0
        );
        println!("| 429 responses (whole run, incl. window boundary) | {rejected} |");
        println!("| successful calls (whole run) | {ok} of {total} sent |");
    });
}
