//! `anthropic` backend: the Messages API natively over reqwest — top-level `system`, required
//! `max_tokens`, `tool_use`/`tool_result` blocks, `thinking` blocks, the SSE event sequence
//! (`message_start`, `content_block_*`, `message_delta`, `message_stop`, `ping`, `error`).

use std::collections::HashMap;

use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::backend::{Backend, Failed, Limits, Reply, ReplyBody};
use super::error::ProviderError;
use super::headers::RateInfo;
use super::http::{
    EventHandler, delta_stream, error_fields, event_json, malformed, read_body, send,
};
use super::model::{
    ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, FinishReason, MAX_TOOL_CALLS, Role,
    StreamDelta, ToolCall, Usage,
};
use super::sse::SseEvent;

/// Default `anthropic-version`.
const ANTHROPIC_VERSION: &str = "2023-06-01";

/// An Anthropic Messages API endpoint.
#[derive(Clone, Debug)]
pub(crate) struct Anthropic {
    name: String,
    base_url: String,
    api_key: Option<String>,
    version: String,
    http: reqwest::Client,
    limits: Limits,
}

impl Anthropic {
    /// A client for `base_url` (e.g. `https://api.anthropic.com/v1`).
    pub(crate) fn new(
        name: &str,
        base_url: &str,
        api_key: Option<String>,
        version: Option<String>,
        http: reqwest::Client,
        limits: Limits,
    ) -> Self {
        Anthropic {
            name: name.to_owned(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key,
            version: version.unwrap_or_else(|| ANTHROPIC_VERSION.to_owned()),
            http,
            limits,
        }
    }

    /// The wire body of a chat request. System messages are hoisted into `system`; tool
    /// results become `tool_result` blocks of a user turn; consecutive same-role turns merge.
    fn body(req: &ChatRequest) -> Value {
        let mut system = Vec::new();
        let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
        let msgs = req.wire_messages();
        let last = msgs.len().saturating_sub(1);
        for (i, m) in msgs.iter().enumerate() {
            let (role, blocks) = match m.role {
                Role::System => {
                    system.push(m.content.clone());
                    continue;
                }
                Role::User => ("user", vec![json!({"type": "text", "text": m.content})]),
                Role::Tool => (
                    "user",
                    vec![json!({"type": "tool_result",
                        "tool_use_id": m.tool_call_id.clone().unwrap_or_default(),
                        "content": m.content})],
                ),
                Role::Assistant => {
                    let mut b = Vec::new();
                    // A prefill (continuation) may not end with whitespace.
                    let text = if i == last && req.continuation.is_some() {
                        m.content.trim_end()
                    } else {
                        m.content.as_str()
                    };
                    if !text.is_empty() {
                        b.push(json!({"type": "text", "text": text}));
                    }
                    for c in &m.tool_calls {
                        let input: Value =
                            serde_json::from_str(&c.arguments).unwrap_or_else(|_| json!({}));
                        b.push(
                            json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input}),
                        );
                    }
                    ("assistant", b)
                }
            };
            match turns.last_mut() {
                Some((r, b)) if *r == role => b.extend(blocks),
                _ => turns.push((role, blocks)),
            }
        }
        let messages: Vec<Value> = turns
            .into_iter()
            .map(|(role, content)| json!({"role": role, "content": content}))
            .collect();
        let mut body = json!({"model": req.model, "max_tokens": req.max_tokens,
                              "messages": messages, "stream": req.stream});
        if !system.is_empty() {
            body["system"] = json!(system.join("\n\n"));
        }
        if let Some(t) = req.temperature {
            body["temperature"] = json!(t);
        }
        if !req.tools.is_empty() {
            body["tools"] = req
                .tools
                .iter()
                .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
                .collect();
        }
        body
    }
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or_default()
}

/// Usage as the Messages API reports it: input (with cache reads and writes) and output
/// tokens, any non-negative number read (saturating at `u64::MAX`).
fn usage_of(u: Option<&Value>) -> Usage {
    let n = |k: &str| {
        let v = u.and_then(|u| u.get(k));
        v.and_then(Value::as_u64)
            .or_else(|| {
                v.and_then(Value::as_f64)
                    .filter(|f| *f >= 0.0)
                    .map(|f| f as u64)
            })
            .unwrap_or(0)
    };
    Usage {
        prompt_tokens: n("input_tokens")
            .saturating_add(n("cache_read_input_tokens"))
            .saturating_add(n("cache_creation_input_tokens")),
        completion_tokens: n("output_tokens"),
    }
}

fn error_of(v: &Value) -> ProviderError {
    let (kind, _, message) = error_fields(v);
    match kind.as_str() {
        "overloaded_error" => ProviderError::Server {
            status: 529,
            message,
        },
        "api_error" => ProviderError::Server {
            status: 500,
            message,
        },
        "rate_limit_error" => ProviderError::RateLimited {
            retry_after: None,
            message,
        },
        _ => ProviderError::StreamError { kind, message },
    }
}

/// Parses a complete Messages API response body.
pub(crate) fn parse_response(bytes: &[u8], backend: &str) -> Result<ChatResponse, ProviderError> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| malformed(&e, bytes))?;
    let v = &v;
    if s(v, "type") == "error" {
        return Err(error_of(v));
    }
    let blocks = v
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| ProviderError::MalformedResponse("message has no `content` array".into()))?;
    let mut r = ChatResponse {
        backend: backend.to_owned(),
        model: s(v, "model").to_owned(),
        finish_reason: Some(FinishReason::from_wire(s(v, "stop_reason"))),
        usage: usage_of(v.get("usage")),
        ..ChatResponse::default()
    };
    for b in blocks {
        match s(b, "type") {
            "text" => r.content.push_str(s(b, "text")),
            "thinking" => r.reasoning.push_str(s(b, "thinking")),
            "tool_use" if r.tool_calls.len() < MAX_TOOL_CALLS => r.tool_calls.push(ToolCall {
                id: s(b, "id").to_owned(),
                name: s(b, "name").to_owned(),
                arguments: b
                    .get("input")
                    .map_or_else(|| "{}".to_owned(), Value::to_string),
            }),
            _ => {}
        }
    }
    Ok(r)
}

/// Bytes of trailing whitespace the API forbids in an assistant prefill, trimmed from a
/// continuation's prefix. The model's continuation then starts with that whitespace, which is
/// dropped again so that `partial + continuation` has it once.
fn prefill_trim(req: &ChatRequest) -> usize {
    req.continuation
        .as_deref()
        .map_or(0, |p| p.len() - p.trim_end().len())
}

/// Drops up to `*budget` bytes of leading whitespace from `t`, consuming the budget (it is
/// spent by the first text, whatever it holds).
fn strip_leading<'a>(t: &'a str, budget: &mut usize) -> &'a str {
    if *budget == 0 || t.is_empty() {
        return t;
    }
    let ws = t.len() - t.trim_start().len();
    let cut = t
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(t.len()))
        .take_while(|i| *i <= ws.min(*budget))
        .last()
        .unwrap_or(0);
    *budget = 0;
    &t[cut..]
}

/// Reads Messages API SSE events; `message_stop` is terminal (and the stream complete only
/// then), `error` fails the stream.
#[derive(Debug, Default)]
pub(crate) struct Events {
    tool_index: HashMap<u64, usize>,
    /// Leading whitespace to drop from the first text (see [`prefill_trim`]).
    strip: usize,
    stopped: bool,
}

impl EventHandler for Events {
    fn event(&mut self, ev: &SseEvent, out: &mut Vec<StreamDelta>) -> Result<bool, ProviderError> {
        let v: Value = event_json(ev)?;
        let v = &v;
        let event = ev.event.as_deref().unwrap_or_default();
        let kind = if event.is_empty() {
            s(v, "type")
        } else {
            event
        };
        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
        match kind {
            "message_start" => {
                let u = usage_of(v.get("message").and_then(|m| m.get("usage")));
                out.push(StreamDelta::Usage(u));
            }
            "content_block_start" => {
                let b = v.get("content_block").unwrap_or(&Value::Null);
                match s(b, "type") {
                    "tool_use" if self.tool_index.len() < MAX_TOOL_CALLS => {
                        let n = self.tool_index.len();
                        let i = *self.tool_index.entry(index).or_insert(n);
                        out.push(StreamDelta::ToolCallStart {
                            index: i,
                            id: s(b, "id").into(),
                            name: s(b, "name").into(),
                        });
                    }
                    "text" if !s(b, "text").is_empty() => {
                        out.push(StreamDelta::Text(s(b, "text").into()))
                    }
                    _ => {}
                }
            }
            "content_block_delta" => {
                let d = v.get("delta").unwrap_or(&Value::Null);
                match s(d, "type") {
                    "text_delta" => {
                        let t = strip_leading(s(d, "text"), &mut self.strip);
                        out.push(StreamDelta::Text(t.into()));
                    }
                    "thinking_delta" => out.push(StreamDelta::Reasoning(s(d, "thinking").into())),
                    "input_json_delta" => {
                        let i = self.tool_index.get(&index).copied().ok_or_else(|| {
                            ProviderError::MalformedResponse(
                                "input_json_delta for a block that is not tool_use".into(),
                            )
                        })?;
                        out.push(StreamDelta::ToolCallArgs {
                            index: i,
                            fragment: s(d, "partial_json").into(),
                        });
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(r) = v
                    .get("delta")
                    .and_then(|d| d.get("stop_reason"))
                    .and_then(Value::as_str)
                {
                    out.push(StreamDelta::Finish(FinishReason::from_wire(r)));
                }
                if v.get("usage").is_some() {
                    out.push(StreamDelta::Usage(usage_of(v.get("usage"))));
                }
            }
            "message_stop" => {
                self.stopped = true;
                return Ok(true);
            }
            "error" => return Err(error_of(v)),
            _ => {} // ping, content_block_stop, unknown future events
        }
        Ok(false)
    }

    fn complete(&self) -> bool {
        self.stopped
    }

    fn finish(&mut self, _: &mut Vec<StreamDelta>) {}
}

impl Backend for Anthropic {
    fn kind(&self) -> &'static str {
        "anthropic"
    }

    fn chat(&self, req: &ChatRequest) -> BoxFuture<'static, Result<Reply, Failed>> {
        let mut rb = self
            .http
            .post(format!("{}/messages", self.base_url))
            .header("anthropic-version", &self.version)
            .json(&Self::body(req));
        if let Some(k) = &self.api_key {
            rb = rb.header("x-api-key", k);
        }
        if let Some(key) = &req.idempotency_key {
            rb = rb.header("Idempotency-Key", key);
        }
        let (name, limits) = (self.name.clone(), self.limits);
        let strip = prefill_trim(req);
        let stream = req.stream;
        async move {
            let sent = send(rb, &limits).await?;
            let rate = sent.rate;
            if stream {
                let events = Events {
                    strip,
                    ..Events::default()
                };
                return Ok(Reply {
                    rate,
                    body: ReplyBody::Stream(delta_stream(sent.resp, limits, events)),
                });
            }
            let bytes = read_body(sent, limits.max_response_bytes).await?;
            let mut r = parse_response(&bytes, &name).map_err(|error| Failed { error, rate })?;
            let mut strip = strip;
            r.content = strip_leading(&r.content, &mut strip).to_owned();
            Ok(Reply {
                rate,
                body: ReplyBody::Complete(r),
            })
        }
        .boxed()
    }

    fn embed(
        &self,
        _: &EmbedRequest,
    ) -> BoxFuture<'static, Result<(EmbedResponse, RateInfo), Failed>> {
        let unsupported = ProviderError::Unsupported(
            "the Anthropic API has no embeddings endpoint; route embeddings to an openai_compatible backend".into(),
        );
        futures::future::ready(Err(unsupported.into())).boxed()
    }
}
