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

/// Counts the bytes written to it (the JSON size of a value without building the string).
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An upper bound of [`reservation`] without tokenizing: every cl100k token stands for at
/// least one byte, so the byte length of each text bounds its token count (same framing as
/// [`prompt_tokens`]). Costs one pass over the message lengths.
pub fn upper_reservation(req: &ChatRequest) -> u64 {
    let mut n: u64 = 3;
    for m in req.wire_iter() {
        n += 4 + m.content.len() as u64;
        for c in &m.tool_calls {
            n += (c.name.len() + c.arguments.len()) as u64;
        }
    }
    for t in &req.tools {
        let mut params = ByteCount(0);
        // Writing into a counter cannot fail; a `Value` always serialises.
        let _ = serde_json::to_writer(&mut params, &t.parameters);
        n += (t.name.len() + t.description.len() + params.0) as u64;
    }
    n + u64::from(req.max_tokens)
}

/// Upper bound of the tokens of embedding inputs (bytes; see [`upper_reservation`]).
pub fn upper_embed(inputs: &[String]) -> u64 {
    inputs.iter().map(|t| t.len() as u64).sum::<u64>().max(1)
}

/// Exact (tiktoken) tokens of embedding inputs.
pub fn embed_tokens(inputs: &[String]) -> u64 {
    inputs.iter().map(|t| count_text(t)).sum::<u64>().max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::model::{Message, ToolCall, ToolSpec};

    /// The byte bound is never below the tiktoken estimate, whatever the text.
    #[test]
    fn upper_reservation_bounds_the_exact_one() {
        let texts = [
            "",
            "Summarise the plot of a short story.",
            "漢字とひらがな 🦀👩‍💻",
            "   \n\n\t  ",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "{\"a\": [1, 2, 3], \"b\": null}",
        ];
        for t in texts {
            let mut req = ChatRequest::new(
                "m",
                vec![
                    Message::system(t),
                    Message::user(t),
                    Message {
                        tool_calls: vec![ToolCall {
                            id: "c".into(),
                            name: "lookup".into(),
                            arguments: t.into(),
                        }],
                        ..Message::assistant(t)
                    },
                ],
            );
            req.tools = vec![ToolSpec {
                name: "lookup".into(),
                description: t.into(),
                parameters: serde_json::json!({"type": "object", "description": t}),
            }];
            req.continuation = Some(t.into());
            req.max_tokens = 17;
            assert!(
                upper_reservation(&req) >= reservation(&req),
                "{t:?}: bound {} < exact {}",
                upper_reservation(&req),
                reservation(&req)
            );
        }
        let inputs = vec!["héllo wörld".to_string(), String::new()];
        assert!(upper_embed(&inputs) >= embed_tokens(&inputs));
    }
}
