//! Where the provider path spends its CPU: single-thread micro-measurements of its steps.

use std::time::Instant;

use agent_os_kernel::provider::estimate::count_text;
use agent_os_kernel::provider::openai::OpenAiCompatible;
use agent_os_kernel::provider::{ChatRequest, Message};

use super::{SYSTEM, USER, completion};

/// Mean µs of `f` over `n` runs.
fn micro(n: u32, mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
}

pub fn components() {
    use agent_os_kernel::provider::estimate::{reservation, upper_reservation};
    use agent_os_kernel::provider::openai::parse_body;
    let mut req = ChatRequest::new(
        "bench-model",
        vec![Message::system(SYSTEM), Message::user(USER)],
    );
    req.max_tokens = 64;
    let backend = OpenAiCompatible::new(
        "b",
        "http://127.0.0.1:1/v1",
        None,
        None,
        reqwest::Client::new(),
    )
    .expect("backend");
    let reply = completion(30).to_string();
    println!("\n## Where the provider path spends its CPU (µs per call, single thread)\n");
    println!("| step | µs |\n|---|---:|");
    let n = 20_000;
    // Fresh texts, built before timing: the user message with a number appended, and twelve
    // made-up words that no earlier call has seen (every piece misses the piece cache).
    let fresh: Vec<String> = (0..n).map(|i| format!("{USER} #{i}")).collect();
    let word = |k: u32| -> String {
        let mut x = k.wrapping_mul(2_654_435_761) | 1 << 31;
        std::iter::from_fn(|| {
            let c = char::from(b'a' + (x % 26) as u8);
            x /= 26;
            (x > 0).then_some(c)
        })
        .collect()
    };
    let unseen: Vec<String> = (0..n)
        .map(|i| {
            (0..12)
                .map(|j| word(i * 12 + j))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let direct = |t: &str| {
        tiktoken_rs::cl100k_base_singleton()
            .encode_ordinary(t)
            .len()
    };
    let each = |texts: &[String], f: &dyn Fn(&str) -> u64| {
        let mut i = 0;
        micro(n, || {
            std::hint::black_box(f(std::hint::black_box(&texts[i])));
            i += 1;
        })
    };
    println!(
        "| tiktoken-rs encode_ordinary, fresh user message (74 chars + ' #i') | {:.2} |",
        each(&fresh, &|t| direct(t) as u64)
    );
    println!(
        "| count_text, same fresh messages (no whole-message memo; its pieces cached) | {:.2} |",
        each(&fresh, &count_text)
    );
    println!(
        "| tiktoken-rs encode_ordinary, 12 unseen made-up words | {:.2} |",
        each(&unseen, &|t| direct(t) as u64)
    );
    println!(
        "| count_text, same unseen words (every piece misses the piece cache) | {:.2} |",
        each(&unseen, &count_text)
    );
    println!(
        "| reservation with a TPM limit, messages memoised | {:.2} |",
        micro(n, || {
            std::hint::black_box(reservation(std::hint::black_box(&req)));
        })
    );
    println!(
        "| byte-bound reservation (reserved while the token room is ≥ 4× the bound) | {:.2} |",
        micro(n, || {
            std::hint::black_box(upper_reservation(std::hint::black_box(&req)));
        })
    );
    println!(
        "| build + serialise request body | {:.2} |",
        micro(n, || {
            std::hint::black_box(serde_json::to_vec(&backend.body(&req)).ok());
        })
    );
    println!(
        "| parse + normalise response | {:.2} |",
        micro(n, || {
            std::hint::black_box(parse_body(std::hint::black_box(reply.as_bytes()), "b").ok());
        })
    );
}
