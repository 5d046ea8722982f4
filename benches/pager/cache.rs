//! Part 1: prompt-cache friendliness against a server that accounts cached prefix tokens.

use super::*;

const CACHE_MIN_TOKENS: usize = 1024;
/// …and cache hits are counted in blocks of this many tokens.
const CACHE_BLOCK: usize = 128;
/// Requests whose prompts the server remembers.
const CACHE_RECENT: usize = 8;

/// The test server's prompt-cache accounting.
#[derive(Default)]
struct PromptCache {
    recent: Vec<Vec<u32>>,
    memo: HashMap<String, Arc<Vec<u32>>>,
}

impl PromptCache {
    /// The prompt's tokens: each message serialised in order as
    /// `<|im_start|>{role}[ tool_call_id]\n{content}[tool_calls as JSON]<|im_end|>\n`.
    fn prompt(&mut self, body: &Value) -> Vec<u32> {
        let bpe = tiktoken_rs::cl100k_base_singleton();
        let mut out = Vec::new();
        for m in body["messages"].as_array().into_iter().flatten() {
            let mut s = format!("<|im_start|>{}", m["role"].as_str().unwrap_or_default());
            if let Some(id) = m["tool_call_id"].as_str() {
                s.push(' ');
                s.push_str(id);
            }
            s.push('\n');
            s.push_str(m["content"].as_str().unwrap_or_default());
            if let Some(calls) = m.get("tool_calls") {
                s.push_str(&calls.to_string());
            }
            s.push_str("<|im_end|>\n");
            let toks = self
                .memo
                .entry(s)
                .or_insert_with_key(|k| Arc::new(bpe.encode_ordinary(k)))
                .clone();
            out.extend_from_slice(&toks);
        }
        out
    }

    /// (prompt tokens, cached tokens as OpenAI counts them, cached tokens in 128-blocks
    /// without the 1024-token minimum).
    fn account(&mut self, body: &Value) -> (usize, usize, usize) {
        let p = self.prompt(body);
        let lcp = self
            .recent
            .iter()
            .map(|r| r.iter().zip(&p).take_while(|(a, b)| a == b).count())
            .max()
            .unwrap_or(0);
        let blocks = lcp / CACHE_BLOCK * CACHE_BLOCK;
        let openai = if p.len() >= CACHE_MIN_TOKENS && blocks >= CACHE_MIN_TOKENS {
            blocks
        } else {
            0
        };
        let n = p.len();
        self.recent.push(p);
        if self.recent.len() > CACHE_RECENT {
            self.recent.remove(0);
        }
        (n, openai, blocks)
    }
}

fn chat(cache: &Mutex<PromptCache>, body: &Bytes) -> axum::Json<Value> {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let (prompt, cached, blocks) = cache.lock().account(&v);
    axum::Json(json!({
        "id": "b", "object": "chat.completion", "created": 0, "model": "bench-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                     "finish_reason": "stop", "logprobs": null}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": 1, "total_tokens": prompt + 1,
                  "prompt_tokens_details": {"cached_tokens": cached},
                  "x_cached_blocks_no_minimum": blocks}
    }))
}

/// Starts one server (its own cache) on a runtime thread; returns its chat-completions URL.
fn start_server() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let url = format!(
                "http://{}/v1/chat/completions",
                l.local_addr().expect("addr")
            );
            let cache = Arc::new(Mutex::new(PromptCache::default()));
            let app =
                axum::Router::new().fallback(move |b: Bytes| std::future::ready(chat(&cache, &b)));
            tx.send(url).expect("send url");
            let _ = axum::serve(l, app).await;
        });
    });
    rx.recv().expect("server url")
}

/// One message in OpenAI's wire format.
fn wire(m: &Message) -> Value {
    let role = match m.role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    };
    let mut v = json!({"role": role, "content": m.content});
    if !m.tool_calls.is_empty() {
        v["tool_calls"] = m
            .tool_calls
            .iter()
            .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
            .collect();
    }
    if let Some(id) = &m.tool_call_id {
        v["tool_call_id"] = json!(id);
    }
    v
}

/// Totals of one arm of part 1.
#[derive(Default)]
struct CacheTotals {
    requests: u64,
    prompt: u64,
    cached: u64,
    blocks: u64,
}

async fn send(http: &reqwest::Client, url: &str, messages: &[Message], t: &mut CacheTotals) {
    let body = json!({"model": "bench-model",
                      "messages": messages.iter().map(wire).collect::<Vec<_>>()});
    let r: Value = http
        .post(url)
        .json(&body)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("response");
    let u = &r["usage"];
    t.requests += 1;
    t.prompt += u["prompt_tokens"].as_u64().unwrap_or(0);
    t.cached += u["prompt_tokens_details"]["cached_tokens"]
        .as_u64()
        .unwrap_or(0);
    t.blocks += u["x_cached_blocks_no_minimum"].as_u64().unwrap_or(0);
}

/// One step of the conversation: messages appended, then (`true`) a request.
enum Step {
    Add(Message),
    Call,
}

/// The seeded 300-turn conversation: per turn a user message (60–150 tokens) and a call; every
/// 3rd turn the model answers with a tool call (plus a short text), the tool result (300–600
/// tokens) follows and a second call is made; then the assistant's answer (50–100 tokens).
fn conversation(vocab: &[&str]) -> (Message, Vec<Step>) {
    let mut rng = StdRng::seed_from_u64(12);
    let system = Message::system(text(
        &mut rng,
        vocab,
        800,
        "You are a careful research agent. Tools: search, read_file, run_tests. Rules:",
    ));
    let mut steps = Vec::new();
    for turn in 0..300 {
        let n = rng.random_range(60..=150);
        steps.push(Step::Add(Message::user(text(
            &mut rng,
            vocab,
            n,
            &format!("[turn {turn}]"),
        ))));
        steps.push(Step::Call);
        if turn % 3 == 2 {
            let id = format!("call_{turn}");
            let mut call = Message::assistant("Let me look that up.");
            call.tool_calls = vec![ToolCall {
                id: id.clone(),
                name: "search".into(),
                arguments: format!("{{\"query\":\"turn {turn}\"}}"),
            }];
            steps.push(Step::Add(call));
            let n = rng.random_range(300..=600);
            steps.push(Step::Add(Message::tool_result(
                id,
                text(&mut rng, vocab, n, &format!("[result {turn}]")),
            )));
            steps.push(Step::Call);
        }
        let n = rng.random_range(50..=100);
        steps.push(Step::Add(Message::assistant(text(
            &mut rng,
            vocab,
            n,
            &format!("[answer {turn}]"),
        ))));
    }
    (system, steps)
}

/// The sliding window: the system prompt and the most recent messages that fit `budget`
/// tokens (content tokens, as the pager counts), never starting on a tool result.
fn sliding(system: &Message, history: &[(Message, u64)], budget: u64) -> Vec<Message> {
    let mut left = budget.saturating_sub(tokens(&system.content));
    let mut start = history.len();
    while start > 0 && history[start - 1].1 <= left {
        left -= history[start - 1].1;
        start -= 1;
    }
    while start < history.len() && history[start].0.role == Role::Tool {
        start += 1;
    }
    let mut out = vec![system.clone()];
    out.extend(history[start..].iter().map(|(m, _)| m.clone()));
    out
}

pub(crate) struct CacheReport {
    budget: u64,
    low_water: f64,
    ours: CacheTotals,
    window: CacheTotals,
    batches: u64,
    evictions: u64,
    stability: f64,
    conversation_tokens: u64,
}

pub(crate) async fn part_cache(vocab: &[&str], low_water: f64) -> CacheReport {
    let mut cfg: PagerConfig = KernelConfig::default().pager;
    cfg.window_tokens = 16_384;
    cfg.low_water = low_water;
    let budget = cfg.default_budget();
    let (storage, _dir) = sqlite().await;
    let pager = Pager::new(cfg.clone(), storage, lexical());
    let pid = Pid::new();
    let (system, steps) = conversation(vocab);
    let http = reqwest::Client::new();
    let (ours_url, window_url) = (start_server(), start_server());
    pager.append(pid, &system).await.expect("system prompt");
    let mut history: Vec<(Message, u64)> = Vec::new();
    let (mut ours, mut window) = (CacheTotals::default(), CacheTotals::default());
    let mut conversation_tokens = tokens(&system.content);
    for step in &steps {
        match step {
            Step::Add(m) => {
                pager.append(pid, m).await.expect("append");
                let t = tokens(&m.content);
                conversation_tokens += t;
                history.push((m.clone(), t));
            }
            Step::Call => {
                let ctx = pager.context(pid, None).await.expect("context");
                send(&http, &ours_url, &ctx.messages, &mut ours).await;
                let msgs = sliding(&system, &history, budget);
                send(&http, &window_url, &msgs, &mut window).await;
            }
        }
    }
    let s = pager.stats(pid).await.expect("stats");
    CacheReport {
        budget,
        low_water,
        ours,
        window,
        batches: s.eviction_batches,
        evictions: s.evictions,
        stability: s.mean_prefix_stability,
        conversation_tokens,
    }
}

pub(crate) fn pct(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64 * 100.0
    }
}

pub(crate) fn print_cache(reports: &[CacheReport]) {
    let r0 = &reports[0];
    println!(
        "\n## 1. Prompt-cache friendliness (300 turns, {} requests per arm, conversation {} tokens; window 16 384, budget {} tokens; server: longest common cl100k token prefix with the last {CACHE_RECENT} prompts, rounded down to {CACHE_BLOCK}-token blocks, nothing cached below {CACHE_MIN_TOKENS} tokens — OpenAI's rule; requests sent with reqwest)\n",
        r0.ours.requests, r0.conversation_tokens, r0.budget
    );
    println!(
        "| arm | low_water | prompt tokens | cached (OpenAI rule) | share cached | share, 128-blocks without the 1024 minimum | eviction batches / pages | mean prefix stability (pager stats) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let mut window_printed = false;
    for r in reports {
        println!(
            "| pager `context()` | {:.2} | {} | {} | **{:.1} %** | {:.1} % | {} / {} | {:.3} |",
            r.low_water,
            r.ours.prompt,
            r.ours.cached,
            pct(r.ours.cached, r.ours.prompt),
            pct(r.ours.blocks, r.ours.prompt),
            r.batches,
            r.evictions,
            r.stability
        );
        if !window_printed {
            let w = &r.window;
            println!(
                "| sliding window (baseline) | – | {} | {} | **{:.1} %** | {:.1} % | every request | – |",
                w.prompt,
                w.cached,
                pct(w.cached, w.prompt),
                pct(w.blocks, w.prompt)
            );
            window_printed = true;
        }
    }
    let ours = pct(r0.ours.cached, r0.ours.prompt);
    let base = pct(r0.window.cached, r0.window.prompt);
    let base_blocks = pct(r0.window.blocks, r0.window.prompt);
    println!(
        "\nGoal (default low_water {:.2}): ≥ 85 % and ≥ 2× the sliding window — {:.1} % vs {:.1} % (vs {:.1} % counting blocks below 1024 tokens): {}",
        r0.low_water,
        ours,
        base,
        base_blocks,
        if ours >= 85.0 && ours >= 2.0 * base_blocks.max(base) {
            "met"
        } else {
            "NOT met"
        }
    );
}

// ---------- part 2: context() latency ----------
