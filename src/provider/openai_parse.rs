//! Parsing of complete chat-completions JSON bodies: a typed fast path for well-formed success
//! bodies and a JSON-tree path for everything else, with the same results.

use serde::Deserialize;
use serde_json::Value;

use super::error::ProviderError;
use super::http::{error_fields, parse_json};
use super::model::{ChatResponse, EmbedResponse, FinishReason, ToolCall, Usage};
use super::think::split_think;

pub(super) fn str_of<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

pub(super) fn usage_of(v: &Value) -> Option<Usage> {
    let u = v.get("usage").filter(|u| u.is_object())?;
    Some(Usage {
        prompt_tokens: u.get("prompt_tokens").and_then(Value::as_u64).unwrap_or(0),
        completion_tokens: u
            .get("completion_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0),
    })
}

pub(super) fn reasoning_of(v: &Value) -> Option<&str> {
    str_of(v, "reasoning_content").or_else(|| str_of(v, "reasoning"))
}

/// Parses a complete chat-completions JSON response.
pub fn parse_response(v: &Value, backend: &str) -> Result<ChatResponse, ProviderError> {
    if v.get("error").is_some() {
        let (kind, _, message) = error_fields(v);
        return Err(ProviderError::StreamError { kind, message });
    }
    let choice = v
        .get("choices")
        .and_then(|c| c.get(0))
        .ok_or_else(|| ProviderError::MalformedResponse("response has no `choices[0]`".into()))?;
    let msg = choice
        .get("message")
        .ok_or_else(|| ProviderError::MalformedResponse("choice has no `message`".into()))?;
    let (content, think) = split_think(str_of(msg, "content").unwrap_or_default());
    let mut reasoning = reasoning_of(msg).unwrap_or_default().to_string();
    reasoning.push_str(&think);
    let mut tool_calls = Vec::new();
    for c in msg
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let f = c.get("function").ok_or_else(|| {
            ProviderError::MalformedResponse("tool call without `function`".into())
        })?;
        tool_calls.push(ToolCall {
            id: str_of(c, "id").unwrap_or_default().to_string(),
            name: str_of(f, "name").unwrap_or_default().to_string(),
            arguments: str_of(f, "arguments").unwrap_or_default().to_string(),
        });
    }
    Ok(ChatResponse {
        backend: backend.to_string(),
        model: str_of(v, "model").unwrap_or_default().to_string(),
        content,
        reasoning,
        tool_calls,
        finish_reason: Some(
            str_of(choice, "finish_reason").map_or(FinishReason::Stop, FinishReason::from_wire),
        ),
        usage: usage_of(v).unwrap_or_default(),
    })
}

/// Present when the key is, whatever its value (`null` included).
#[derive(Default)]
struct Present(bool);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| Present(true))
    }
}

#[derive(Deserialize)]
struct TypedResponse {
    #[serde(default)]
    error: Present,
    model: Option<String>,
    choices: Option<Vec<TypedChoice>>,
    usage: Option<TypedUsage>,
}

#[derive(Deserialize)]
struct TypedChoice {
    message: Option<TypedMessage>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct TypedMessage {
    content: Option<String>,
    reasoning_content: Option<String>,
    reasoning: Option<String>,
    tool_calls: Option<Vec<TypedToolCall>>,
}

#[derive(Deserialize)]
struct TypedToolCall {
    id: Option<String>,
    function: Option<TypedFunction>,
}

#[derive(Deserialize)]
struct TypedFunction {
    name: Option<String>,
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct TypedUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
}

/// The common case of [`parse_body`] without a JSON tree: a well-formed success body. `None`
/// for anything else (an error body, a missing or oddly typed field, duplicate keys, …), which
/// [`parse_response`] then handles exactly as it always did.
fn parse_typed(bytes: &[u8], backend: &str) -> Option<ChatResponse> {
    let v: TypedResponse = serde_json::from_slice(bytes).ok()?;
    if v.error.0 {
        return None;
    }
    let choice = v.choices?.into_iter().next()?;
    let msg = choice.message?;
    let (content, think) = split_think(msg.content.as_deref().unwrap_or_default());
    let mut reasoning = msg.reasoning_content.or(msg.reasoning).unwrap_or_default();
    reasoning.push_str(&think);
    let mut tool_calls = Vec::new();
    for c in msg.tool_calls.unwrap_or_default() {
        let f = c.function?;
        tool_calls.push(ToolCall {
            id: c.id.unwrap_or_default(),
            name: f.name.unwrap_or_default(),
            arguments: f.arguments.unwrap_or_default(),
        });
    }
    Some(ChatResponse {
        backend: backend.to_string(),
        model: v.model.unwrap_or_default(),
        content,
        reasoning,
        tool_calls,
        finish_reason: Some(
            choice
                .finish_reason
                .as_deref()
                .map_or(FinishReason::Stop, FinishReason::from_wire),
        ),
        usage: v
            .usage
            .map(|u| Usage {
                prompt_tokens: u.prompt_tokens.unwrap_or(0),
                completion_tokens: u.completion_tokens.unwrap_or(0),
            })
            .unwrap_or_default(),
    })
}

/// Parses a complete chat-completions JSON body: typed for the common case, else through a
/// JSON tree and [`parse_response`] (same results either way).
pub fn parse_body(bytes: &[u8], backend: &str) -> Result<ChatResponse, ProviderError> {
    match parse_typed(bytes, backend) {
        Some(r) => Ok(r),
        None => parse_response(&parse_json(bytes)?, backend),
    }
}

/// Parses an embeddings response (`data[].embedding`, placed by `data[].index`).
pub fn parse_embeddings(
    v: &Value,
    model: &str,
    backend: &str,
) -> Result<EmbedResponse, ProviderError> {
    let bad = |m: &str| ProviderError::MalformedResponse(m.into());
    let data = v
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no `data` array"))?;
    let mut vectors = vec![Vec::new(); data.len()];
    for (pos, item) in data.iter().enumerate() {
        let idx = item
            .get("index")
            .and_then(Value::as_u64)
            .map_or(pos, |i| i as usize);
        let emb = item
            .get("embedding")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("item without `embedding`"))?;
        let vec: Option<Vec<f32>> = emb.iter().map(|x| x.as_f64().map(|f| f as f32)).collect();
        let slot = vectors
            .get_mut(idx)
            .ok_or_else(|| bad("embedding index out of range"))?;
        *slot = vec.ok_or_else(|| bad("non-numeric embedding"))?;
    }
    Ok(EmbedResponse {
        backend: backend.to_string(),
        model: str_of(v, "model").unwrap_or(model).to_string(),
        vectors,
        usage: usage_of(v).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed parse gives exactly what the JSON-tree parse gives, and odd bodies fall back.
    #[test]
    fn typed_parse_matches_the_json_tree_parse() {
        let bodies = [
            r#"{"model":"m","choices":[{"message":{"role":"assistant","content":"<think>hm</think>hi"},"finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":4}}"#,
            r#"{"model":null,"choices":[{"message":{"content":null,"reasoning_content":null,"reasoning":"r","tool_calls":[{"id":"c1","function":{"name":"f","arguments":"{}"}}]},"finish_reason":null}],"usage":null}"#,
            r#"{"choices":[{"message":{"content":"x","tool_calls":[{"id":"c1","function":null}]}}]}"#,
            r#"{"choices":[{"message":"x"}],"usage":{"prompt_tokens":1.5}}"#,
            r#"{"error":null,"choices":[{"message":{"content":"x"}}]}"#,
            r#"{"error":{"message":"bad","type":"server_error"}}"#,
            r#"{"choices":[]}"#,
            r#"{"choices":[{"finish_reason":"stop"}]}"#,
            r#"{"model":"a","model":"b","choices":[{"message":{"content":"x"}}]}"#,
            r#"not json"#,
        ];
        for b in bodies {
            let tree = parse_json(b.as_bytes()).and_then(|v| parse_response(&v, "b"));
            let typed = parse_body(b.as_bytes(), "b");
            assert_eq!(format!("{typed:?}"), format!("{tree:?}"), "body {b}");
        }
    }
}
