//! Neural embedding throughput and model load time (issue 12), with the lexical embedder as the
//! baseline in the same run. Needs the model: `bash scripts/setup-minilm.sh`.
//!
//! `cargo bench --bench embed --features neural` prints a markdown table for
//! `docs/benchmarks.md`. Texts are ~100 words each, varied so no two are identical.

use std::time::{Duration, Instant};

use agent_os_kernel::embed::{EmbedderConfig, LexicalEmbedder, MiniLmEmbedder};

const WORDS: &[&str] = &[
    "agent",
    "kernel",
    "page",
    "context",
    "window",
    "scheduler",
    "slice",
    "token",
    "memory",
    "swap",
    "fault",
    "recall",
    "summary",
    "tool",
    "result",
    "message",
    "budget",
    "evict",
    "pinned",
    "prompt",
    "cache",
    "prefix",
    "stable",
    "query",
    "vector",
    "cosine",
    "index",
    "storage",
    "checkpoint",
    "restart",
    "supervisor",
    "mailbox",
    "the",
    "a",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "it",
    "for",
    "on",
    "with",
    "as",
    "was",
    "bicycle",
    "river",
    "mountain",
    "kitchen",
    "invoice",
    "weather",
    "train",
    "library",
    "garden",
    "music",
    "doctor",
    "market",
];

/// `n` texts of about 100 words (a linear congruential walk over the word list).
fn texts(n: usize) -> Vec<String> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    (0..n)
        .map(|_| {
            let mut t = String::new();
            for w in 0..100 {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let word = WORDS[(state >> 33) as usize % WORDS.len()];
                if w > 0 {
                    t.push(' ');
                }
                t.push_str(word);
                if w % 17 == 16 {
                    t.push('.');
                }
            }
            t
        })
        .collect()
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn neural(m: &MiniLmEmbedder, texts: &[&str], batch: usize) -> (usize, Duration) {
    let m = m.clone().with_batch_size(batch);
    // Warm-up (allocator, caches), not timed.
    let warm = &texts[..batch.min(texts.len())];
    m.embed_blocking(warm).expect("warm-up");
    let start = Instant::now();
    let v = m.embed_blocking(texts).expect("embeds");
    assert_eq!(v.len(), texts.len());
    (texts.len(), start.elapsed())
}

fn main() {
    let dir = EmbedderConfig::default().resolved_model_dir();
    let mut loads = Vec::new();
    let mut model = None;
    for _ in 0..3 {
        let start = Instant::now();
        let m = match MiniLmEmbedder::load(&dir) {
            Ok(m) => m,
            Err(e) => panic!("the embed benchmark needs the model: {e}"),
        };
        loads.push(start.elapsed());
        model = Some(m);
    }
    let Some(model) = model else {
        unreachable!("three loads")
    };
    let owned = texts(256);
    let all: Vec<&str> = owned.iter().map(String::as_str).collect();
    let words: usize = owned.iter().map(|t| t.split_whitespace().count()).sum();

    let (n1, d1) = neural(&model, &all[..64], 1);
    let (n32, d32) = neural(&model, &all, 32);

    let lexical = LexicalEmbedder::default();
    let lex_texts: Vec<&str> = all.iter().cycle().take(10_000).copied().collect();
    let start = Instant::now();
    let mut sink = 0.0f32;
    for t in &lex_texts {
        sink += lexical.embed_one(t)[0];
    }
    let dl = start.elapsed();
    std::hint::black_box(sink);

    let mut sorted = loads.clone();
    sorted.sort();
    println!(
        "texts: ~{} words each, model dir {}",
        words / owned.len(),
        dir.display()
    );
    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| all-MiniLM-L6-v2 load (config + tokenizer + 90.9 MB safetensors), first of 3 | {:.0} ms |",
        loads[0].as_secs_f64() * 1e3
    );
    println!(
        "| all-MiniLM-L6-v2 load, median of 3 | {:.0} ms |",
        sorted[1].as_secs_f64() * 1e3
    );
    println!(
        "| neural, batch 1 ({n1} texts) | {:.1} texts/s ({:.1} ms/text) |",
        rate(n1, d1),
        d1.as_secs_f64() * 1e3 / n1 as f64
    );
    println!(
        "| neural, batch 32 ({n32} texts) | {:.1} texts/s ({:.1} ms/text) |",
        rate(n32, d32),
        d32.as_secs_f64() * 1e3 / n32 as f64
    );
    println!(
        "| lexical baseline, 384 dims ({} texts) | {:.0} texts/s ({:.1} µs/text) |",
        lex_texts.len(),
        rate(lex_texts.len(), dl),
        dl.as_secs_f64() * 1e6 / lex_texts.len() as f64
    );
}
