//! Token estimates (tiktoken `cl100k_base`) used to reserve TPM budget before a call; the
//! reservation is reconciled with the usage the provider reports.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::OnceLock;

use parking_lot::Mutex;

use super::model::ChatRequest;

/// Entries of the token-count memo before it is cleared.
const MEMO_CAP: usize = 16_384;

struct Memo {
    hasher: std::collections::hash_map::RandomState,
    counts: Mutex<HashMap<u64, u64>>,
}

fn memo() -> &'static Memo {
    static MEMO: OnceLock<Memo> = OnceLock::new();
    MEMO.get_or_init(|| Memo {
        hasher: Default::default(),
        counts: Mutex::new(HashMap::new()),
    })
}

/// Tokens of a message text, memoised by a 64-bit hash of the text: an agent's history is
/// re-sent with every call, so only the new messages are tokenized. (A hash collision can only
/// skew an estimate, which usage reconciliation corrects.)
pub fn count_message(text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    let m = memo();
    let key = m.hasher.hash_one(text);
    if let Some(n) = m.counts.lock().get(&key) {
        return *n;
    }
    let n = count_text(text);
    let mut counts = m.counts.lock();
    if counts.len() >= MEMO_CAP {
        counts.clear();
    }
    counts.insert(key, n);
    n
}

/// Tokens of a text: exactly tiktoken-rs's `cl100k_base` count, through a faster
/// pre-tokenizer and a per-thread cache of piece counts (see `tokens.rs`).
pub fn count_text(text: &str) -> u64 {
    super::tokens::count(text)
}

/// Estimated prompt tokens of a request: content and tool-call arguments of every message
/// (plus the continuation prefix), 4 tokens of framing per message, 3 for the reply primer,
/// and the tool definitions as JSON.
pub fn prompt_tokens(req: &ChatRequest) -> u64 {
    let mut n = 3;
    for m in req.wire_iter() {
        n += 4 + count_message(&m.content);
        for c in &m.tool_calls {
            n += count_text(&c.name) + count_text(&c.arguments);
        }
    }
    for t in &req.tools {
        n += count_text(&t.name)
            + count_text(&t.description)
            + count_text(&t.parameters.to_string());
    }
    n
}

/// Reservation for a request: prompt estimate plus the full `max_tokens`.
pub fn reservation(req: &ChatRequest) -> u64 {
    prompt_tokens(req) + u64::from(req.max_tokens)
}

/// A cheap reservation (about four bytes per token) for backends without a TPM limit, where
/// the estimate only feeds the server-header floor and tokenizing would be wasted work.
pub fn rough_reservation(req: &ChatRequest) -> u64 {
    let bytes: usize = req
        .messages
        .iter()
        .map(|m| m.content.len() + 16)
        .sum::<usize>()
        + req.continuation.as_ref().map_or(0, String::len);
    (bytes as u64).div_ceil(4) + u64::from(req.max_tokens)
}
