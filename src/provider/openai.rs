//! `openai_compatible` backend: the chat-completions protocol (JSON and SSE) over reqwest, with
//! preset quirks (`reasoning_content`/`reasoning` fields, `<think>` blocks, `max_completion_tokens`,
//! DeepSeek's assistant `prefix` for continuations).

use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::backend::{Backend, Failed, Reply, ReplyBody, Timeouts};
use super::error::ProviderError;
use super::headers::RateInfo;
use super::http::{Step, delta_stream, error_fields, event_json, json_body, send};
use super::model::{
    ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, FinishReason, Role, StreamDelta,
    ToolCall, Usage,
};
use super::presets::Preset;
use super::think::{ThinkSplitter, split_think};

/// Tool-call indices at or above this are treated as garbage (they size a vector).
const MAX_TOOL_CALLS: u64 = 1024;

/// An OpenAI-compatible endpoint.
#[derive(Clone, Debug)]
pub struct OpenAiCompatible {
    name: String,
    base_url: String,
    api_key: Option<String>,
    preset: Option<Preset>,
    http: reqwest::Client,
}

impl OpenAiCompatible {
    /// A client for `base_url` (e.g. `https://api.deepseek.com/v1`).
    pub fn new(
        name: impl Into<String>,
        base_url: impl Into<String>,
        api_key: Option<String>,
        preset: Option<Preset>,
        http: reqwest::Client,
    ) -> Self {
        OpenAiCompatible {
            name: name.into(),
            base_url: base_url.into().trim_end_matches('/').to_string(),
            api_key,
            preset,
            http,
        }
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        let rb = self.http.post(format!("{}{}", self.base_url, path));
        match &self.api_key {
            Some(k) => rb.bearer_auth(k),
            None => rb,
        }
    }

    /// The wire body of a chat request.
    pub fn body(&self, req: &ChatRequest) -> Value {
        let info = self.preset.map(Preset::info);
        let msgs = req.wire_messages();
        let last = msgs.len().saturating_sub(1);
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
                let mut v = json!({"role": role, "content": m.content});
                if !m.tool_calls.is_empty() {
                    v["tool_calls"] = m
                        .tool_calls
                        .iter()
                        .map(|c| {
                            json!({"id": c.id, "type": "function",
                                        "function": {"name": c.name, "arguments": c.arguments}})
                        })
                        .collect();
                }
                if let Some(id) = &m.tool_call_id {
                    v["tool_call_id"] = json!(id);
                }
                if i == last && req.continuation.is_some() && self.preset == Some(Preset::Deepseek)
                {
                    v["prefix"] = json!(true);
                }
                v
            })
            .collect();
        let mut body = json!({"model": req.model, "messages": messages, "stream": req.stream});
        let max_key = if info.is_some_and(|i| i.max_completion_tokens) {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        body[max_key] = json!(req.max_tokens);
        if let Some(t) = req.temperature {
            body["temperature"] = json!(t);
        }
        if !req.tools.is_empty() {
            body["tools"] = req
                .tools
                .iter()
                .map(|t| {
                    json!({"type": "function", "function": {"name": t.name,
                    "description": t.description, "parameters": t.parameters}})
                })
                .collect();
        }
        if req.stream && info.is_none_or(|i| i.stream_usage) {
            body["stream_options"] = json!({"include_usage": true});
        }
        body
    }
}

fn str_of<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn usage_of(v: &Value) -> Option<Usage> {
    let u = v.get("usage").filter(|u| u.is_object())?;
    Some(Usage {
        prompt_tokens: u.get("prompt_tokens").and_then(Value::as_u64).unwrap_or(0),
        completion_tokens: u
            .get("completion_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0),
    })
}

fn reasoning_of(v: &Value) -> Option<&str> {
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

/// Stateful handler of chat-completions SSE events.
#[derive(Debug, Default)]
pub struct ChunkHandler {
    think: ThinkSplitter,
}

impl ChunkHandler {
    /// Handles one event (`[DONE]` is terminal).
    pub fn handle(&mut self, data: &str, v: Option<Value>) -> Result<Step, ProviderError> {
        let mut step = Step::default();
        if data.trim() == "[DONE]" {
            let (vis, rs) = self.think.finish();
            push_text(&mut step.deltas, vis, rs);
            step.done = true;
            return Ok(step);
        }
        let Some(v) = v else { return Ok(step) };
        if v.get("error").is_some() {
            let (kind, _, message) = error_fields(&v);
            return Err(match kind.as_str() {
                "server_error" | "overloaded_error" | "api_error" => ProviderError::Server {
                    status: 500,
                    message,
                },
                "rate_limit_error" | "rate_limit_exceeded" => ProviderError::RateLimited {
                    retry_after: None,
                    message,
                },
                _ => ProviderError::StreamError { kind, message },
            });
        }
        if let Some(choice) = v.get("choices").and_then(|c| c.get(0)) {
            if let Some(d) = choice.get("delta") {
                if let Some(r) = reasoning_of(d).filter(|r| !r.is_empty()) {
                    step.deltas.push(StreamDelta::Reasoning(r.to_string()));
                }
                if let Some(t) = str_of(d, "content").filter(|t| !t.is_empty()) {
                    let (vis, rs) = self.think.push(t);
                    push_text(&mut step.deltas, vis, rs);
                }
                for c in d
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let index = c.get("index").and_then(Value::as_u64).unwrap_or(0);
                    if index >= MAX_TOOL_CALLS {
                        return Err(ProviderError::MalformedResponse(format!(
                            "tool call index {index}"
                        )));
                    }
                    let index = index as usize;
                    let f = c.get("function");
                    let id = str_of(c, "id").unwrap_or_default();
                    let name = f.and_then(|f| str_of(f, "name")).unwrap_or_default();
                    if !id.is_empty() || !name.is_empty() {
                        step.deltas.push(StreamDelta::ToolCallStart {
                            index,
                            id: id.into(),
                            name: name.into(),
                        });
                    }
                    if let Some(a) = f
                        .and_then(|f| str_of(f, "arguments"))
                        .filter(|a| !a.is_empty())
                    {
                        step.deltas.push(StreamDelta::ToolCallArgs {
                            index,
                            fragment: a.into(),
                        });
                    }
                }
            }
            if let Some(fr) = str_of(choice, "finish_reason") {
                let (vis, rs) = self.think.finish();
                push_text(&mut step.deltas, vis, rs);
                step.deltas
                    .push(StreamDelta::Finish(FinishReason::from_wire(fr)));
            }
        }
        // Usage at the top level (`stream_options.include_usage`) or, as Moonshot sends it,
        // inside the final choice.
        let choice_usage = v.get("choices").and_then(|c| c.get(0)).and_then(usage_of);
        if let Some(u) = usage_of(&v).or(choice_usage) {
            step.deltas.push(StreamDelta::Usage(u));
        }
        Ok(step)
    }
}

fn push_text(out: &mut Vec<StreamDelta>, visible: String, reasoning: String) {
    if !reasoning.is_empty() {
        out.push(StreamDelta::Reasoning(reasoning));
    }
    if !visible.is_empty() {
        out.push(StreamDelta::Text(visible));
    }
}

impl Backend for OpenAiCompatible {
    fn kind(&self) -> &'static str {
        "openai_compatible"
    }

    fn chat(&self, req: &ChatRequest, t: Timeouts) -> BoxFuture<'static, Result<Reply, Failed>> {
        let rb = self.post("/chat/completions").json(&self.body(req));
        let name = self.name.clone();
        let stream = req.stream;
        async move {
            let (resp, rate) = send(rb, t.request).await?;
            if stream {
                let mut h = ChunkHandler::default();
                let s = delta_stream(resp, t.stall, move |ev| {
                    let v = if ev.data.trim() == "[DONE]" {
                        None
                    } else {
                        Some(event_json(&ev)?)
                    };
                    h.handle(&ev.data, v)
                });
                return Ok(Reply {
                    rate,
                    body: ReplyBody::Stream(s),
                });
            }
            let v = json_body(resp, t.request)
                .await
                .map_err(|error| Failed { error, rate })?;
            let r = parse_response(&v, &name).map_err(|error| Failed { error, rate })?;
            Ok(Reply {
                rate,
                body: ReplyBody::Complete(r),
            })
        }
        .boxed()
    }

    fn embed(
        &self,
        req: EmbedRequest,
        t: Timeouts,
    ) -> BoxFuture<'static, Result<(EmbedResponse, RateInfo), Failed>> {
        let rb = self
            .post("/embeddings")
            .json(&json!({"model": req.model, "input": req.inputs}));
        let name = self.name.clone();
        async move {
            let (resp, rate) = send(rb, t.request).await?;
            let v = json_body(resp, t.request)
                .await
                .map_err(|error| Failed { error, rate })?;
            let bad = |m: &str| Failed {
                error: ProviderError::MalformedResponse(m.into()),
                rate,
            };
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
                let vec: Option<Vec<f32>> =
                    emb.iter().map(|x| x.as_f64().map(|f| f as f32)).collect();
                let slot = vectors
                    .get_mut(idx)
                    .ok_or_else(|| bad("embedding index out of range"))?;
                *slot = vec.ok_or_else(|| bad("non-numeric embedding"))?;
            }
            let resp = EmbedResponse {
                backend: name,
                model: str_of(&v, "model").unwrap_or(&req.model).to_string(),
                vectors,
                usage: usage_of(&v).unwrap_or_default(),
            };
            Ok((resp, rate))
        }
        .boxed()
    }
}
