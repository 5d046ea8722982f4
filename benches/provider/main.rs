//! Provider benchmark (bench binary, prints a table), on the public API only:
//!
//! 1. Per-call latency of the kernel path (router → gate → a scheduler slice per attempt →
//!    backend → release) against a direct async-openai call to the same local server, in one
//!    run; goal: the kernel path adds at most 10 µs to the median call at concurrency 1 and 16.
//! 2. Budget use against an enforcing server with RPM = 600 and a TPM limit over a 60 s window
//!    (goal ≥ 97 % of the allowed requests and tokens, 0 × 429).
//!
//! `cargo bench --bench provider`
//! (`PROVIDER_BENCH_WINDOW_SECS` shortens the window for a quick look; results in
//! docs/benchmarks.md are with the default 60 s.)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use agent_os_kernel::Pid;
use agent_os_kernel::provider::{
    BackendConfig, BackendKind, ChatRequest, Message, ProviderError, Providers, ProvidersConfig,
    SliceSource,
};
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

/// Tokens of a text as the server counts them (cl100k, as the providers do).
fn count_text(text: &str) -> u64 {
    tiktoken_rs::cl100k_base_singleton()
        .encode_ordinary(text)
        .len() as u64
}

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
    b.base_url = Some(url.to_owned());
    b.models = vec!["bench-model".into()];
    b.max_concurrency = 64;
    b
}

/// A scheduler with room for every caller.
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

/// What `AgentContext::llm` does for slices: one per attempt from the scheduler, named for the
/// backend, taken once the gate admitted the attempt and released (not awaited) when it ends.
struct Slices {
    sched: Scheduler,
    pid: Pid,
}

impl SliceSource for Slices {
    fn priority(&self) -> u8 {
        10
    }

    async fn acquire(&self, backend: &str, tokens: u64) -> Result<SliceToken, ProviderError> {
        let req = SliceRequest::new(self.pid)
            .priority(10)
            .provider(backend)
            .estimated_tokens(tokens);
        self.sched.acquire(req).await.map_err(ProviderError::Slice)
    }

    fn release(&self, slice: SliceToken, used: Option<(&str, &agent_os_kernel::provider::Usage)>) {
        let usage = used.map_or_else(Usage::default, |(_, u)| Usage {
            input_tokens: u.prompt_tokens,
            output_tokens: u.completion_tokens,
            cost_usd: 0.0,
        });
        let _ = self.sched.release_nowait(slice, usage);
    }
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

/// Rounds per load; the first only warms connections and caches.
const ROUNDS: usize = 12;

/// One line of the table: µs per call of each path (wall time of a round ÷ its calls, median
/// over the rounds), the median of the per-round differences (what the kernel path adds per
/// call), and the median call latency of each path (over every call).
struct Row {
    label: String,
    direct: f64,
    ours: f64,
    added: f64,
    direct_p50: f64,
    ours_p50: f64,
}

async fn overhead(url: &str) -> Vec<Row> {
    // Limits far above the load: the whole budget path (RPM/TPM accounting, reconciliation)
    // runs on every call without ever making it wait.
    let mut b = backend(url);
    b.rpm = Some(100_000_000);
    b.tpm = Some(u64::MAX / 4);
    let mut cfg = ProvidersConfig::default();
    cfg.backends.insert("local".into(), b);
    let p = Providers::start(&cfg).expect("providers");
    let direct = direct_client(url);
    let sched = scheduler();
    // The kernel path alone: the offline scripted backend (no HTTP), sequential calls.
    let mut sc = ProvidersConfig::default();
    let mut sb = BackendConfig::new(BackendKind::Scripted);
    sb.models = vec!["bench-model".into()];
    sc.backends.insert("scripted".into(), sb);
    let sp = Providers::start(&sc).expect("scripted providers");
    let slices = Slices {
        sched: sched.clone(),
        pid: Pid::new(),
    };
    let n = 5000;
    let t = Instant::now();
    for i in 0..n {
        sp.router
            .chat(fresh_request(i), &slices, None)
            .await
            .expect("scripted call");
    }
    println!(
        "| kernel path on the offline scripted backend (no HTTP), sequential | {:.2} µs/call |",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
    let mut rows = Vec::new();
    for conc in [1usize, 16] {
        let calls = if conc == 1 { 2000 } else { 8000 };
        let per = calls / conc;
        let (mut d_all, mut o_all) = (Vec::new(), Vec::new());
        let (mut d_per, mut o_per, mut added) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            // Each round runs both paths in a rotated order, so that neither always goes first.
            let mut lat: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
            let mut per_call = [0.0f64; 2];
            for k in 0..2 {
                let col = (round + k) % 2;
                let started = Instant::now();
                lat[col] = if col == 0 {
                    callers(conc, || {
                        let c = direct.clone();
                        async move {
                            let mut v = Vec::with_capacity(per);
                            for _ in 0..per {
                                let t = Instant::now();
                                c.chat()
                                    .create(direct_request(next()))
                                    .await
                                    .expect("direct call");
                                v.push(t.elapsed().as_secs_f64() * 1e6);
                            }
                            v
                        }
                    })
                    .await
                } else {
                    callers(conc, || {
                        let router = p.router.clone();
                        let slices = Slices {
                            sched: sched.clone(),
                            pid: Pid::new(),
                        };
                        async move {
                            let mut v = Vec::with_capacity(per);
                            for _ in 0..per {
                                let t = Instant::now();
                                router
                                    .chat(fresh_request(next()), &slices, None)
                                    .await
                                    .expect("kernel call");
                                v.push(t.elapsed().as_secs_f64() * 1e6);
                            }
                            v
                        }
                    })
                    .await
                };
                per_call[col] = started.elapsed().as_secs_f64() * 1e6 / calls as f64;
            }
            let [d, o] = lat;
            if round > 0 {
                // round 0 warms connections and caches
                added.push(per_call[1] - per_call[0]);
                d_per.push(per_call[0]);
                o_per.push(per_call[1]);
                d_all.extend(d);
                o_all.extend(o);
            }
        }
        rows.push(Row {
            label: format!("concurrency {conc}"),
            direct: median(d_per),
            ours: median(o_per),
            added: median(added),
            direct_p50: median(d_all),
            ours_p50: median(o_all),
        });
    }
    rows
}

/// A fresh request number (every call carries a fresh user message).
fn next() -> usize {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    SEQ.fetch_add(1, Ordering::Relaxed)
}

/// Runs `conc` callers made by `caller`, each its own task on this thread (as agents are their
/// own tasks), and returns every call's latency in µs.
async fn callers<F, Fut>(conc: usize, mut caller: F) -> Vec<f64>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Vec<f64>> + 'static,
{
    let tasks: Vec<_> = (0..conc)
        .map(|_| tokio::task::spawn_local(caller()))
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("caller task"));
    }
    all
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
    let sys = actix::System::new();
    sys.block_on(async move {
        let rows = overhead(&fast_url).await;
        println!(
            "\n## Per-call cost (local OpenAI-compatible server, JSON, {} rounds after a warm-up round, order rotated, each caller its own task; µs/call: wall time of a round ÷ its calls, median over the rounds; added: median of the per-round differences; latency: median over every call)\n",
            ROUNDS - 1
        );
        println!(
            "| load | direct async-openai (µs/call) | kernel path (µs/call) | added by the kernel path (µs/call, p50) | latency direct (µs, p50) | latency kernel path (µs, p50) |"
        );
        println!("|---|---:|---:|---:|---:|---:|");
        for r in rows {
            println!(
                "| {} | {:.1} | {:.1} | {:+.1} | {:.1} | {:.1} |",
                r.label, r.direct, r.ours, r.added, r.direct_p50, r.ours_p50
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
