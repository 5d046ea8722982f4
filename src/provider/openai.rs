//! `openai_compatible` backend: the chat-completions protocol (JSON and SSE) over reqwest, with
//! preset quirks (`reasoning_content`/`reasoning` fields, `<think>` blocks, `max_completion_tokens`,
//! DeepSeek's assistant `prefix` for continuations).

use futures::FutureExt;
use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::{Value, json};

use super::backend::{Backend, Failed, Reply, ReplyBody, Timeouts};
use super::error::ProviderError;
use super::headers::RateInfo;
use super::http::{
    Step, body_bytes, delta_stream, error_fields, event_json, json_body, parse_json, send, send_by,
};
use super::model::{
    ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, FinishReason, StreamDelta, ToolCall,
    Usage,
};
use super::openai_body::ChatBody;
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

    /// The wire body of a chat request, serialised straight from the request (no intermediate
    /// JSON tree).
    pub fn body<'a>(&self, req: &'a ChatRequest) -> ChatBody<'a> {
        ChatBody::new(req, self.preset)
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
            // One timer for headers and (JSON) body.
            let deadline = tokio::time::sleep(t.request);
            tokio::pin!(deadline);
            let (resp, rate) = send_by(rb, deadline.as_mut(), t.request).await?;
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
            let r = body_bytes(resp, deadline, t.request)
                .await
                .and_then(|b| parse_body(&b, &name))
                .map_err(|error| Failed { error, rate })?;
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

#[cfg(test)]
mod tests {
    use super::super::model::{Message, Role, ToolSpec};
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

    /// The body names every field the protocol needs, per preset.
    #[test]
    fn body_serialises_the_wire_protocol() {
        let mut req = ChatRequest::new(
            "m",
            vec![
                Message::system("s"),
                Message {
                    role: Role::Assistant,
                    content: String::new(),
                    tool_calls: vec![ToolCall {
                        id: "c".into(),
                        name: "f".into(),
                        arguments: "{}".into(),
                    }],
                    tool_call_id: None,
                },
                Message::tool_result("c", "r"),
            ],
        );
        req.temperature = Some(0.5);
        req.stream = true;
        req.continuation = Some("part".into());
        req.tools = vec![ToolSpec {
            name: "f".into(),
            description: "d".into(),
            parameters: json!({"type": "object"}),
        }];
        let ds = OpenAiCompatible::new(
            "b",
            "http://x",
            None,
            Some(Preset::Deepseek),
            reqwest::Client::new(),
        );
        let v = serde_json::to_value(ds.body(&req)).unwrap_or_default();
        assert_eq!(
            v,
            json!({"model": "m", "stream": true, "max_tokens": 1024, "temperature": 0.5,
                "stream_options": {"include_usage": true},
                "tools": [{"type": "function", "function": {"name": "f", "description": "d",
                           "parameters": {"type": "object"}}}],
                "messages": [
                    {"role": "system", "content": "s"},
                    {"role": "assistant", "content": "", "tool_calls": [{"id": "c",
                        "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                    {"role": "tool", "content": "r", "tool_call_id": "c"},
                    {"role": "assistant", "content": "part", "prefix": true}]})
        );
        let oa = OpenAiCompatible::new(
            "b",
            "http://x",
            None,
            Some(Preset::Openai),
            reqwest::Client::new(),
        );
        req.continuation = None;
        req.stream = false;
        let v = serde_json::to_value(oa.body(&req)).unwrap_or_default();
        assert_eq!(v["max_completion_tokens"], json!(1024));
        assert!(v.get("max_tokens").is_none() && v.get("stream_options").is_none());
        assert!(v["messages"][2].get("prefix").is_none());
    }
}
