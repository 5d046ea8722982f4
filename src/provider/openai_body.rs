//! The chat-completions request body of the `openai_compatible` backend, with the presets'
//! quirks: `max_completion_tokens` for OpenAI, stream usage only where the server accepts
//! `stream_options`, DeepSeek's assistant `prefix` for continuations.

use serde_json::{Map, Value, json};

use super::model::{ChatRequest, Role};
use super::presets::Preset;

/// The wire body of `req` for a backend with `preset`.
pub(crate) fn chat_body(req: &ChatRequest, preset: Option<Preset>) -> Value {
    let info = preset.map(Preset::info);
    let msgs: Vec<_> = req.wire_iter().collect();
    let last = msgs.len().saturating_sub(1);
    let prefix_last = req.continuation.is_some() && preset == Some(Preset::Deepseek);
    let messages: Vec<Value> = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let role = match m.role {
                Role::System => "system",
                Role::User => "user",
                Role::Assistant => "assistant",
                Role::Tool => "tool",
            };
            let mut w = Map::new();
            w.insert("role".into(), role.into());
            w.insert("content".into(), m.content.as_str().into());
            if !m.tool_calls.is_empty() {
                let calls = m.tool_calls.iter().map(|c| {
                    json!({"id": c.id, "type": "function",
                           "function": {"name": c.name, "arguments": c.arguments}})
                });
                w.insert("tool_calls".into(), calls.collect());
            }
            if let Some(id) = &m.tool_call_id {
                w.insert("tool_call_id".into(), id.as_str().into());
            }
            if i == last && prefix_last {
                w.insert("prefix".into(), true.into());
            }
            Value::Object(w)
        })
        .collect();
    let mut body = json!({"model": req.model, "messages": messages, "stream": req.stream});
    let max = if info.is_some_and(|i| i.max_completion_tokens) {
        "max_completion_tokens"
    } else {
        "max_tokens"
    };
    body[max] = req.max_tokens.into();
    if let Some(t) = req.temperature {
        body["temperature"] = f64::from(t).into();
    }
    if !req.tools.is_empty() {
        let tools = req.tools.iter().map(|t| {
            json!({"type": "function", "function": {"name": t.name, "description": t.description,
                   "parameters": t.parameters}})
        });
        body["tools"] = tools.collect();
    }
    if req.stream && info.is_none_or(|i| i.stream_usage) {
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}
