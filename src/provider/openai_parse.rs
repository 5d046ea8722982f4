//! Parsing of complete chat-completions JSON bodies: a typed fast path for well-formed success
//! bodies and a JSON-tree path for everything else, with the same results.

use serde::Deserialize;
use serde_json::Value;

use super::error::ProviderError;
use super::http::{error_fields, parse_json};
use super::model::{ChatResponse, EmbedResponse, FinishReason, ToolCall, Usage};
use super::think::{split_think, split_think_owned};

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

/// A field that may be absent, `null`, or a value: the JSON-tree parse treats an absent
/// `message`/`function`/`error` differently from a `null` one, and so must the typed one.
#[derive(Default)]
enum Field<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(d).map(|v| v.map_or(Field::Null, Field::Value))
    }
}

/// A chat-completions body in the shape providers send. It deserializes (async-openai's `byot`
/// target) every body of that shape straight into our types; a body it cannot deserialize —
/// an oddly typed field, duplicate keys, … — goes through the JSON tree ([`parse_response`])
/// instead, and [`WireChat::into_response`] gives exactly what that tree parse gives.
#[derive(Deserialize)]
pub struct WireChat {
    #[serde(default)]
    error: Field<Value>,
    model: Option<String>,
    choices: Option<Vec<TypedChoice>>,
    usage: Option<TypedUsage>,
}

#[derive(Deserialize)]
struct TypedChoice {
    #[serde(default)]
    message: Field<TypedMessage>,
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct TypedMessage {
    content: Option<String>,
    reasoning_content: Option<String>,
    reasoning: Option<String>,
    tool_calls: Option<Vec<TypedToolCall>>,
}

#[derive(Deserialize)]
struct TypedToolCall {
    id: Option<String>,
    #[serde(default)]
    function: Field<TypedFunction>,
}

#[derive(Deserialize, Default)]
struct TypedFunction {
    name: Option<String>,
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct TypedUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
}

impl WireChat {
    /// The normalised response (or the typed error the body carries).
    pub fn into_response(self, backend: &str) -> Result<ChatResponse, ProviderError> {
        let bad = |m: &str| ProviderError::MalformedResponse(m.into());
        match self.error {
            Field::Absent => {}
            Field::Null => return Err(error_of(Value::Null)),
            Field::Value(e) => return Err(error_of(e)),
        }
        let choice = self
            .choices
            .and_then(|c| c.into_iter().next())
            .ok_or_else(|| bad("response has no `choices[0]`"))?;
        let msg = match choice.message {
            Field::Absent => return Err(bad("choice has no `message`")),
            Field::Null => TypedMessage::default(),
            Field::Value(m) => m,
        };
        let (content, think) = split_think_owned(msg.content.unwrap_or_default());
        let mut reasoning = msg.reasoning_content.or(msg.reasoning).unwrap_or_default();
        reasoning.push_str(&think);
        let mut tool_calls = Vec::new();
        for c in msg.tool_calls.unwrap_or_default() {
            let f = match c.function {
                Field::Absent => return Err(bad("tool call without `function`")),
                Field::Null => TypedFunction::default(),
                Field::Value(f) => f,
            };
            tool_calls.push(ToolCall {
                id: c.id.unwrap_or_default(),
                name: f.name.unwrap_or_default(),
                arguments: f.arguments.unwrap_or_default(),
            });
        }
        Ok(ChatResponse {
            backend: backend.to_string(),
            model: self.model.unwrap_or_default(),
            content,
            reasoning,
            tool_calls,
            finish_reason: Some(
                choice
                    .finish_reason
                    .as_deref()
                    .map_or(FinishReason::Stop, FinishReason::from_wire),
            ),
            usage: self
                .usage
                .map(|u| Usage {
                    prompt_tokens: u.prompt_tokens.unwrap_or(0),
                    completion_tokens: u.completion_tokens.unwrap_or(0),
                })
                .unwrap_or_default(),
        })
    }
}

/// The error a body's `error` member carries (as [`parse_response`] reads it).
fn error_of(e: Value) -> ProviderError {
    let (kind, _, message) = error_fields(&serde_json::json!({ "error": e }));
    ProviderError::StreamError { kind, message }
}

/// Parses a complete chat-completions JSON body: typed for the common shape, else through a
/// JSON tree and [`parse_response`] (same results either way).
pub fn parse_body(bytes: &[u8], backend: &str) -> Result<ChatResponse, ProviderError> {
    match serde_json::from_slice::<WireChat>(bytes) {
        Ok(w) => w.into_response(backend),
        Err(_) => parse_response(&parse_json(bytes)?, backend),
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
            r#"{"choices":[{"message":null,"finish_reason":"stop"}]}"#,
            r#"{"choices":[{"message":{"content":"x","tool_calls":[{"id":"c1","function":null}]}}]}"#,
            r#"{"error":"plain","choices":[]}"#,
            r#"{"choices":[{"message":{"content":"ok"}},"garbage"]}"#,
            r#"{"choices":{"0":{"message":{"content":"x"}}}}"#,
            r#"{"choices":[{"message":{"content":[{"type":"text","text":"x"}]}}]}"#,
            r#"not json"#,
        ];
        for b in bodies {
            let tree = parse_json(b.as_bytes()).and_then(|v| parse_response(&v, "b"));
            let typed = parse_body(b.as_bytes(), "b");
            assert_eq!(format!("{typed:?}"), format!("{tree:?}"), "body {b}");
        }
    }
}
