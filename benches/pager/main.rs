//! Pager benchmark (bench binary, prints one table per part), on the public API only:
//!
//! 1. Prompt-cache friendliness: a 300-turn conversation with tool results sent to a local
//!    OpenAI-compatible server that accounts cached prompt tokens (longest common token prefix
//!    with the last 8 requests, in 128-token blocks) — the pager's `context()` against a plain
//!    sliding window of the same budget; goal ≥ 85 % and ≥ 2× the sliding window.
//! 2. `context()` latency with a 128 k-token window (256 resident pages of 512 tokens), against
//!    cloning the same 256 strings into messages by hand; goal p50/p95 ≤ 200 µs.
//! 3. Fault latency (`read()` of a swapped page) on SQLite and PostgreSQL, against a plain
//!    `SELECT content FROM page_blobs WHERE hash = ?`; goal p50 ≤ 1 ms.
//! 4. Fault rate of the weighted policy against LRU on one synthetic agent trace.
//!
//! `cargo bench --bench pager` (PostgreSQL from `AOK_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`; the PostgreSQL rows say so when skipped).

mod cache;
mod latency;
mod policy;

use cache::pct;
use cache::{part_cache, print_cache};
use latency::{part_context, part_faults};
use policy::part_policy;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agent_os_kernel::KernelConfig;
use agent_os_kernel::Pid;
use agent_os_kernel::embed::LexicalEmbedder;
use agent_os_kernel::pager::{
    LruPolicy, NewPage, PageId, PageKind, Pager, PagerConfig, ReplacementPolicy, WeightedPolicy,
};
use agent_os_kernel::provider::{Message, Role, ToolCall};
use agent_os_kernel::storage::{Backend, Storage};
use axum::body::Bytes;
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{ConnectionTrait, Statement, Value as DbValue};
use serde_json::{Value, json};

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

// ---------- deterministic content ----------

/// Common English words that are one cl100k token each with a leading space (checked at
/// start), so `n` of them make exactly `n` tokens.
const WORDS: &[&str] = &[
    "the", "agent", "file", "search", "result", "value", "system", "task", "error", "user", "data",
    "list", "page", "time", "code", "test", "build", "model", "query", "table", "line", "name",
    "type", "state", "check", "open", "close", "read", "write", "run", "step", "plan", "next",
    "first", "last", "new", "old", "small", "large", "fast", "slow", "good", "bad", "key", "path",
    "node", "tree", "graph", "point", "set", "map", "field", "row", "column", "report", "number",
    "count", "total", "price", "order", "city", "river", "house", "water", "light", "paper",
    "music", "story", "world", "market", "green", "blue", "red", "black", "white", "north",
    "south", "east", "west", "day", "week", "month", "year", "project", "issue", "change",
    "update", "version", "server", "client", "request", "response", "message", "event", "process",
    "thread", "memory", "disk", "cache", "window", "budget", "limit", "score", "rate",
];

/// The single-token words of [`WORDS`].
fn vocabulary() -> Vec<&'static str> {
    let bpe = tiktoken_rs::cl100k_base_singleton();
    WORDS
        .iter()
        .copied()
        .filter(|w| bpe.encode_ordinary(&format!(" {w}")).len() == 1)
        .collect()
}

/// Tokens of a text (cl100k, as the pager and the test server count them).
fn tokens(text: &str) -> u64 {
    tiktoken_rs::cl100k_base_singleton()
        .encode_ordinary(text)
        .len() as u64
}

/// `n` seeded words (≈ `n` tokens; exactly `n` for words of the vocabulary, plus a numbered
/// marker so no two texts are alike).
fn text(rng: &mut StdRng, vocab: &[&str], n: usize, marker: &str) -> String {
    let mut s = String::with_capacity(n * 7 + marker.len());
    s.push_str(marker);
    for _ in 0..n {
        s.push(' ');
        s.push_str(vocab[rng.random_range(0..vocab.len())]);
    }
    s
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn lexical() -> Arc<LexicalEmbedder> {
    Arc::new(LexicalEmbedder::new(384))
}

/// A migrated SQLite storage in a temporary directory (kept alive by the returned guard).
async fn sqlite() -> (Storage, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("pager.db").display());
    let storage = Storage::connect(&url).await.expect("sqlite storage");
    (storage, dir)
}

// ---------- part 1: prompt-cache friendliness ----------

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let quick = std::env::args().any(|a| a == "--quick");
    let vocab = vocabulary();
    assert!(vocab.len() >= 50, "vocabulary of single-token words");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut reports = vec![part_cache(&vocab, KernelConfig::default().pager.low_water).await];
        if !quick {
            for lw in [0.5, 0.8] {
                reports.push(part_cache(&vocab, lw).await);
            }
        }
        print_cache(&reports);
        part_context(&vocab, if quick { 200 } else { 2000 }).await;
        part_faults(&vocab, if quick { 50 } else { 300 }).await;
        part_policy(&vocab).await;
    });
}
