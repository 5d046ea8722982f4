//! Token estimates: a byte bound (no tokenizing) for every call, and the exact tiktoken
//! (`cl100k_base`) count where a TPM limit or a token quota needs it. Reservations made from
//! either are reconciled with the usage the provider reports.

use super::model::{ChatRequest, EmbedRequest};
use super::tokens;

/// Counts the bytes written to it (the JSON size of a value without building the string).
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 = self.0.saturating_add(buf.len());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn bytes(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Sums the token figures of a request's texts — content and tool-call arguments of every
/// message (plus the continuation prefix), 4 tokens of framing per message, 3 for the reply
/// primer, the tool definitions (`json` for their parameters) — plus `max_tokens`.
fn chat_sum(
    req: &ChatRequest,
    text: impl Fn(&str) -> Option<u64>,
    json: impl Fn(&serde_json::Value) -> Option<u64>,
) -> Option<u64> {
    let mut n: u64 = 3;
    for m in req.wire_iter() {
        n = n.saturating_add(4).saturating_add(text(&m.content)?);
        for c in &m.tool_calls {
            n = n
                .saturating_add(text(&c.name)?)
                .saturating_add(text(&c.arguments)?);
        }
    }
    for t in &req.tools {
        n = n
            .saturating_add(text(&t.name)?)
            .saturating_add(text(&t.description)?)
            .saturating_add(json(&t.parameters)?);
    }
    Some(n.saturating_add(u64::from(req.max_tokens)))
}

/// An upper bound of the tokens a chat call reserves, without tokenizing: every cl100k token
/// stands for at least one byte, so a text's byte length bounds its token count.
pub(crate) fn chat_bound(req: &ChatRequest) -> u64 {
    let json = |v: &serde_json::Value| {
        let mut size = ByteCount(0);
        // Writing into a counter cannot fail; a `Value` always serialises.
        let _ = serde_json::to_writer(&mut size, v);
        Some(bytes(size.0))
    };
    chat_sum(req, |t| Some(bytes(t.len())), json).unwrap_or(u64::MAX)
}

/// The tiktoken estimate of a chat call (prompt + `max_tokens`); `None` while the tokenizer is
/// still being built (the caller then keeps the bound).
pub(crate) fn chat_exact(req: &ChatRequest) -> Option<u64> {
    let text = |t: &str| {
        if t.is_empty() {
            Some(0)
        } else {
            tokens::try_count(t)
        }
    };
    chat_sum(req, text, |v| tokens::try_count(&v.to_string()))
}

/// Upper bound of the tokens of embedding inputs (bytes; see [`chat_bound`]).
pub(crate) fn embed_bound(req: &EmbedRequest) -> u64 {
    req.inputs
        .iter()
        .fold(0u64, |n, t| n.saturating_add(bytes(t.len())))
        .max(1)
}

/// Exact (tiktoken) tokens of embedding inputs; `None` while the tokenizer is being built.
pub(crate) fn embed_exact(req: &EmbedRequest) -> Option<u64> {
    let mut n = 0u64;
    for t in &req.inputs {
        n = n.saturating_add(tokens::try_count(t)?);
    }
    Some(n.max(1))
}

/// Tokens of a text for a usage estimate (a stream that reported no usage, a preempted
/// stream, the scripted backend): a quarter of its bytes, rounded up. Never tokenized, so a
/// long reply costs nothing to estimate in the caller's task.
pub(crate) fn text_tokens(text: &str) -> u64 {
    bytes(text.len().div_ceil(4))
}

/// Prompt tokens of a request for a usage estimate (see [`text_tokens`]).
pub(crate) fn prompt_tokens(req: &ChatRequest) -> u64 {
    let mut n: u64 = 3;
    for m in req.wire_iter() {
        n = n.saturating_add(4).saturating_add(text_tokens(&m.content));
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::model::{Message, ToolCall, ToolSpec};

    /// The byte bound is never below the tiktoken estimate, whatever the text.
    #[test]
    fn upper_reservation_bounds_the_exact_one() {
        let _ = tokens::count("warm");
        tokens::warm_up_in_background();
        while !tokens::ready() {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
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
            let exact = chat_exact(&req);
            assert!(exact.is_some());
            assert!(
                chat_bound(&req) >= exact.unwrap_or(u64::MAX),
                "{t:?}: bound {} < exact {exact:?}",
                chat_bound(&req),
            );
        }
        let inputs = EmbedRequest {
            model: "e".into(),
            inputs: vec!["héllo wörld".into(), String::new()],
        };
        assert!(embed_bound(&inputs) >= embed_exact(&inputs).unwrap_or(u64::MAX));
    }
}
