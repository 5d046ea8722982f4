//! The one parser of the chat-completions wire protocol: complete bodies, stream chunks and
//! embeddings, read by serde into typed shapes (every field optional, unknown fields ignored).
//! A body of another shape is `MalformedResponse`; usage numbers of any size are read
//! (saturating at `u64::MAX`) rather than refused.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::error::ProviderError;
use super::http::{EventHandler, error_fields, event_json, malformed};
use super::model::{
    ChatResponse, EmbedResponse, FinishReason, MAX_TOOL_CALLS, StreamDelta, ToolCall, Usage,
};
use super::sse::SseEvent;
use super::think::{ThinkSplitter, split_think};

/// A chat-completions body or stream chunk.
#[derive(Deserialize)]
struct WireChat {
    #[serde(default)]
    error: Option<Value>,
    model: Option<String>,
    choices: Option<Vec<WireChoice>>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireChoice {
    /// A complete body's message.
    message: Option<WireMessage>,
    /// A stream chunk's increment.
    delta: Option<WireMessage>,
    finish_reason: Option<String>,
    /// Moonshot sends the stream's usage inside the final choice.
    usage: Option<WireUsage>,
}

#[derive(Deserialize, Default)]
struct WireMessage {
    content: Option<String>,
    reasoning_content: Option<String>,
    reasoning: Option<String>,
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Deserialize)]
struct WireToolCall {
    index: Option<u64>,
    id: Option<String>,
    function: Option<WireFunction>,
}

#[derive(Deserialize, Default)]
struct WireFunction {
    name: Option<String>,
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default, deserialize_with = "count")]
    prompt_tokens: Option<u64>,
    #[serde(default, deserialize_with = "count")]
    completion_tokens: Option<u64>,
}

/// A token count as a server may write it: any non-negative number (saturating at
/// `u64::MAX`); anything else is no count.
fn count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(v.as_u64().or_else(|| {
        // `as` saturates: 1e30 reads as u64::MAX.
        v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)
    }))
}

impl WireUsage {
    fn usage(&self) -> Usage {
        Usage {
            prompt_tokens: self.prompt_tokens.unwrap_or(0),
            completion_tokens: self.completion_tokens.unwrap_or(0),
        }
    }
}

fn bad(m: &str) -> ProviderError {
    ProviderError::MalformedResponse(m.to_owned())
}

/// The error an `error` member carries, typed by its `type` as a stream would type it.
fn error_of(e: &Value, in_stream: bool) -> ProviderError {
    let (kind, _, message) = error_fields(&serde_json::json!({ "error": e }));
    match kind.as_str() {
        "server_error" | "overloaded_error" | "api_error" if in_stream => ProviderError::Server {
            status: 500,
            message,
        },
        "rate_limit_error" | "rate_limit_exceeded" if in_stream => ProviderError::RateLimited {
            retry_after: None,
            message,
        },
        _ => ProviderError::StreamError { kind, message },
    }
}

/// Parses a complete chat-completions JSON body.
pub(crate) fn parse_chat(bytes: &[u8], backend: &str) -> Result<ChatResponse, ProviderError> {
    let w: WireChat = serde_json::from_slice(bytes).map_err(|e| malformed(&e, bytes))?;
    if let Some(e) = w.error.as_ref().filter(|e| !e.is_null()) {
        return Err(error_of(e, false));
    }
    let choice = w
        .choices
        .and_then(|c| c.into_iter().next())
        .ok_or_else(|| bad("response has no `choices[0]`"))?;
    let msg = choice
        .message
        .ok_or_else(|| bad("choice has no `message`"))?;
    let (content, think) = split_think(msg.content.unwrap_or_default());
    let mut reasoning = msg.reasoning_content.or(msg.reasoning).unwrap_or_default();
    reasoning.push_str(&think);
    let tool_calls = msg
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .take(MAX_TOOL_CALLS)
        .map(|c| {
            let f = c.function.unwrap_or_default();
            ToolCall {
                id: c.id.unwrap_or_default(),
                name: f.name.unwrap_or_default(),
                arguments: f.arguments.unwrap_or_default(),
            }
        })
        .collect();
    Ok(ChatResponse {
        backend: backend.to_owned(),
        model: w.model.unwrap_or_default(),
        content,
        reasoning,
        tool_calls,
        finish_reason: Some(
            choice
                .finish_reason
                .as_deref()
                .map_or(FinishReason::Stop, FinishReason::from_wire),
        ),
        usage: w.usage.as_ref().map(WireUsage::usage).unwrap_or_default(),
    })
}

/// Reads chat-completions stream chunks. The stream is complete once a chunk carried a
/// `finish_reason`; `[DONE]` ends it.
#[derive(Debug, Default)]
pub(crate) struct ChunkHandler {
    think: ThinkSplitter,
    finished: bool,
}

fn push_text(out: &mut Vec<StreamDelta>, (visible, reasoning): (String, String)) {
    if !reasoning.is_empty() {
        out.push(StreamDelta::Reasoning(reasoning));
    }
    if !visible.is_empty() {
        out.push(StreamDelta::Text(visible));
    }
}

impl EventHandler for ChunkHandler {
    fn event(&mut self, ev: &SseEvent, out: &mut Vec<StreamDelta>) -> Result<bool, ProviderError> {
        if ev.data.trim() == "[DONE]" {
            return Ok(true);
        }
        let c: WireChat = event_json(ev)?;
        if let Some(e) = c.error.as_ref().filter(|e| !e.is_null()) {
            return Err(error_of(e, true));
        }
        let choice = c.choices.and_then(|c| c.into_iter().next());
        let mut usage = c.usage;
        if let Some(choice) = choice {
            if let Some(d) = choice.delta {
                if let Some(r) = d
                    .reasoning_content
                    .or(d.reasoning)
                    .filter(|r| !r.is_empty())
                {
                    out.push(StreamDelta::Reasoning(r));
                }
                if let Some(t) = d.content.filter(|t| !t.is_empty()) {
                    push_text(out, self.think.push(&t));
                }
                for call in d.tool_calls.unwrap_or_default() {
                    let index = call
                        .index
                        .and_then(|i| usize::try_from(i).ok())
                        .unwrap_or(0);
                    if index >= MAX_TOOL_CALLS {
                        return Err(bad("tool call index out of range"));
                    }
                    let f = call.function.unwrap_or_default();
                    let (id, name) = (call.id.unwrap_or_default(), f.name.unwrap_or_default());
                    if !id.is_empty() || !name.is_empty() {
                        out.push(StreamDelta::ToolCallStart { index, id, name });
                    }
                    if let Some(fragment) = f.arguments.filter(|a| !a.is_empty()) {
                        out.push(StreamDelta::ToolCallArgs { index, fragment });
                    }
                }
            }
            if let Some(fr) = choice.finish_reason {
                self.finished = true;
                push_text(out, self.think.finish());
                out.push(StreamDelta::Finish(FinishReason::from_wire(&fr)));
            }
            usage = usage.or(choice.usage);
        }
        if let Some(u) = usage {
            out.push(StreamDelta::Usage(u.usage()));
        }
        Ok(false)
    }

    fn complete(&self) -> bool {
        self.finished
    }

    fn finish(&mut self, out: &mut Vec<StreamDelta>) {
        push_text(out, self.think.finish());
    }
}

#[derive(Deserialize)]
struct WireEmbeddings {
    data: Option<Vec<WireEmbedding>>,
    model: Option<String>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireEmbedding {
    index: Option<u64>,
    embedding: Option<Vec<f32>>,
}

/// Parses an embeddings response (`data[].embedding`, placed by `data[].index`).
pub(crate) fn parse_embeddings(
    bytes: &[u8],
    model: &str,
    backend: &str,
) -> Result<EmbedResponse, ProviderError> {
    let w: WireEmbeddings = serde_json::from_slice(bytes).map_err(|e| malformed(&e, bytes))?;
    let data = w.data.ok_or_else(|| bad("no `data` array"))?;
    let mut vectors = vec![Vec::new(); data.len()];
    for (pos, item) in data.into_iter().enumerate() {
        let idx = item
            .index
            .map_or(Some(pos), |i| usize::try_from(i).ok())
            .ok_or_else(|| bad("embedding index out of range"))?;
        let slot = vectors
            .get_mut(idx)
            .ok_or_else(|| bad("embedding index out of range"))?;
        *slot = item
            .embedding
            .ok_or_else(|| bad("item without `embedding`"))?;
    }
    Ok(EmbedResponse {
        backend: backend.to_owned(),
        model: w.model.unwrap_or_else(|| model.to_owned()),
        vectors,
        usage: w.usage.as_ref().map(WireUsage::usage).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bodies_of_every_shape_are_a_value_or_a_typed_error() {
        let ok = parse_chat(
            br#"{"model":"m","choices":[{"message":{"content":"<think>hm</think>hi","tool_calls":[{"id":"c1","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":4}}"#,
            "b",
        );
        let ok = ok.expect("a well-formed body");
        assert_eq!((ok.content.as_str(), ok.reasoning.as_str()), ("hi", "hm"));
        assert_eq!(ok.finish_reason, Some(FinishReason::Length));
        assert_eq!(ok.tool_calls.len(), 1);
        let malformed_bodies: [&[u8]; 6] = [
            br#"{"choices":[]}"#,
            br#"{"choices":[{"finish_reason":"stop"}]}"#,
            br#"{"choices":{"0":{}}}"#,
            br#"{"choices":[{"message":{"content":[{"type":"text"}]}}]}"#,
            b"not json",
            b"\xff\xfe",
        ];
        for b in malformed_bodies {
            let r = parse_chat(b, "b");
            assert!(
                matches!(r, Err(ProviderError::MalformedResponse(_))),
                "{r:?}"
            );
        }
        let err = parse_chat(br#"{"error":{"message":"bad","type":"server_error"}}"#, "b");
        assert!(
            matches!(err, Err(ProviderError::StreamError { .. })),
            "{err:?}"
        );
        let huge = parse_chat(
            br#"{"choices":[{"message":{"content":"x"}}],"usage":{"prompt_tokens":18446744073709551615,"completion_tokens":1e30}}"#,
            "b",
        )
        .expect("huge usage is a value");
        assert_eq!(huge.usage.prompt_tokens, u64::MAX);
        assert_eq!(huge.usage.completion_tokens, u64::MAX);
        assert_eq!(huge.usage.total(), u64::MAX);
    }

    proptest! {
        /// Any usage numbers a body carries are read without panic or overflow.
        #[test]
        fn usage_numbers_of_any_size(p in any::<u64>(), c in any::<u64>(), f in any::<f64>()) {
            let body = format!(
                r#"{{"choices":[{{"message":{{"content":"x"}}}}],"usage":{{"prompt_tokens":{p},"completion_tokens":{c},"total_tokens":{f}}}}}"#
            );
            let r = parse_chat(body.as_bytes(), "b");
            prop_assert!(r.is_ok());
            if let Ok(r) = r {
                prop_assert_eq!(r.usage.prompt_tokens, p);
                prop_assert_eq!(r.usage.total(), p.saturating_add(c));
            }
        }

        /// Arbitrary bytes: a value or a typed error, never a panic.
        #[test]
        fn arbitrary_bytes(b in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_chat(&b, "b");
            let _ = parse_embeddings(&b, "m", "b");
            let mut h = ChunkHandler::default();
            let ev = SseEvent { event: None, data: String::from_utf8_lossy(&b).into_owned() };
            let _ = h.event(&ev, &mut Vec::new());
        }
    }
}
