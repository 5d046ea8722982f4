//! The normalised request/response model shared by every backend.

use serde::{Deserialize, Serialize};

/// Who authored a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// System instructions (Anthropic: hoisted to the top-level `system` field).
    System,
    /// The user.
    User,
    /// The model.
    Assistant,
    /// The result of a tool call (Anthropic: a `tool_result` block in a user turn).
    Tool,
}

/// One tool call requested by the model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Provider-assigned id, echoed back in the tool result.
    pub id: String,
    /// Function name.
    pub name: String,
    /// Arguments as a JSON text (as the model produced it).
    pub arguments: String,
}

/// One message of a conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Author.
    pub role: Role,
    /// Text content (may be empty for an assistant turn that only calls tools).
    pub content: String,
    /// Tool calls made by an assistant turn.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For `Role::Tool`: the id of the call this message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Message {
    /// A message with text content only.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Message {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }
    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }
    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }
    /// A tool result answering `call_id`.
    pub fn tool_result(call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Message {
            role: Role::Tool,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: Some(call_id.into()),
        }
    }
}

/// A tool the model may call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// Function name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// JSON Schema of its arguments.
    pub parameters: serde_json::Value,
}

/// A chat request in the normalised model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// Model name or route group; the router resolves it to (backend, model).
    pub model: String,
    /// The conversation.
    pub messages: Vec<Message>,
    /// Tools offered to the model.
    #[serde(default)]
    pub tools: Vec<ToolSpec>,
    /// Upper bound on generated tokens (required by Anthropic; reserved in the TPM budget).
    pub max_tokens: u32,
    /// Sampling temperature.
    #[serde(default)]
    pub temperature: Option<f32>,
    /// Stream the generation (required for preemption at chunk granularity).
    #[serde(default)]
    pub stream: bool,
    /// Output of a preempted generation to continue from (see [`ChatResponse::continue_with`]).
    #[serde(default)]
    pub continuation: Option<String>,
    /// Sent as the `Idempotency-Key` header. The kernel sets it on calls of durable agents
    /// (`pid/step/call/delivery`, stable when a step runs again after a crash), so a gateway
    /// or provider that honours it bills a call the journal could not record only once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

impl ChatRequest {
    /// A request with default settings (`max_tokens` 1024, not streamed).
    pub fn new(model: impl Into<String>, messages: Vec<Message>) -> Self {
        ChatRequest {
            model: model.into(),
            messages,
            tools: Vec::new(),
            max_tokens: 1024,
            temperature: None,
            stream: false,
            continuation: None,
            idempotency_key: None,
        }
    }

    /// The messages a backend sends: with a continuation, the partial output is appended as
    /// an assistant prefix the model continues from.
    pub fn wire_messages(&self) -> Vec<Message> {
        self.wire_iter().map(std::borrow::Cow::into_owned).collect()
    }

    /// [`ChatRequest::wire_messages`] without copying the conversation (only a continuation
    /// prefix is built).
    pub fn wire_iter(&self) -> impl ExactSizeIterator<Item = std::borrow::Cow<'_, Message>> {
        let prefix = self.continuation.as_ref().filter(|p| !p.is_empty());
        let n = self.messages.len() + usize::from(prefix.is_some());
        (0..n).map(move |i| match self.messages.get(i) {
            Some(m) => std::borrow::Cow::Borrowed(m),
            None => {
                std::borrow::Cow::Owned(Message::assistant(prefix.cloned().unwrap_or_default()))
            }
        })
    }
}

/// Why a generation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FinishReason {
    /// Natural end or a stop sequence.
    Stop,
    /// `max_tokens` reached.
    Length,
    /// The model wants tool results.
    ToolCalls,
    /// The provider's content filter.
    ContentFilter,
    /// The slice token was revoked mid-generation; the output is partial and can be continued.
    Preempted,
    /// Anything else the provider reported.
    Other,
}

impl FinishReason {
    /// Maps OpenAI `finish_reason` and Anthropic `stop_reason` strings.
    pub fn from_wire(s: &str) -> Self {
        match s {
            "stop" | "end_turn" | "stop_sequence" => FinishReason::Stop,
            "length" | "max_tokens" => FinishReason::Length,
            "tool_calls" | "tool_use" | "function_call" => FinishReason::ToolCalls,
            "content_filter" | "refusal" => FinishReason::ContentFilter,
            _ => FinishReason::Other,
        }
    }
}

/// Token usage of one call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Input tokens.
    pub prompt_tokens: u64,
    /// Output tokens.
    pub completion_tokens: u64,
}

impl Usage {
    /// Input plus output (saturating: a server may report anything up to `u64::MAX`).
    pub fn total(&self) -> u64 {
        self.prompt_tokens.saturating_add(self.completion_tokens)
    }
}

/// A completed (or preempted) generation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// Backend that served it.
    pub backend: String,
    /// Model that served it.
    pub model: String,
    /// Visible text.
    pub content: String,
    /// Reasoning text (`reasoning_content`, `<think>` blocks, Anthropic `thinking`).
    pub reasoning: String,
    /// Tool calls.
    pub tool_calls: Vec<ToolCall>,
    /// Why it ended (`None` only while being assembled).
    pub finish_reason: Option<FinishReason>,
    /// Usage as reported by the provider (estimated when a preempted stream reported none).
    pub usage: Usage,
}

impl ChatResponse {
    /// True when the generation was cut by a revoked slice.
    pub fn is_preempted(&self) -> bool {
        self.finish_reason == Some(FinishReason::Preempted)
    }

    /// Merges the response of a continuation call into this partial one: text is
    /// concatenated, usage added, the continuation's finish reason wins.
    pub fn continue_with(mut self, next: ChatResponse) -> ChatResponse {
        self.content.push_str(&next.content);
        self.reasoning.push_str(&next.reasoning);
        self.tool_calls.extend(next.tool_calls);
        self.finish_reason = next.finish_reason;
        self.usage.prompt_tokens = self
            .usage
            .prompt_tokens
            .saturating_add(next.usage.prompt_tokens);
        self.usage.completion_tokens = self
            .usage
            .completion_tokens
            .saturating_add(next.usage.completion_tokens);
        self.backend = next.backend;
        self.model = next.model;
        self
    }
}

/// One streamed increment, normalised across protocols.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum StreamDelta {
    /// Visible text.
    Text(String),
    /// Reasoning text.
    Reasoning(String),
    /// Start of a tool call at `index`.
    ToolCallStart {
        /// Position of the call in the response.
        index: usize,
        /// Call id.
        id: String,
        /// Function name.
        name: String,
    },
    /// A fragment of a tool call's JSON arguments.
    ToolCallArgs {
        /// Position of the call in the response.
        index: usize,
        /// Fragment.
        fragment: String,
    },
    /// Usage (may arrive in several parts; later values replace earlier non-zero ones).
    Usage(Usage),
    /// The provider's finish reason.
    Finish(FinishReason),
    /// The attempt failed and is retried: discard what was received since the last reset.
    Reset,
}

/// Tool-call indices at or above this are ignored (an index sizes a vector).
pub(crate) const MAX_TOOL_CALLS: usize = 1024;

/// Accumulates stream deltas into a [`ChatResponse`].
#[derive(Debug, Default)]
pub(crate) struct ResponseBuilder {
    resp: ChatResponse,
}

impl ResponseBuilder {
    /// Applies one delta.
    pub(crate) fn apply(&mut self, delta: &StreamDelta) {
        let r = &mut self.resp;
        match delta {
            StreamDelta::Text(t) => r.content.push_str(t),
            StreamDelta::Reasoning(t) => r.reasoning.push_str(t),
            StreamDelta::ToolCallStart { index, .. } | StreamDelta::ToolCallArgs { index, .. }
                if *index >= MAX_TOOL_CALLS => {}
            StreamDelta::ToolCallStart { index, id, name } => {
                while r.tool_calls.len() <= *index {
                    r.tool_calls.push(ToolCall {
                        id: String::new(),
                        name: String::new(),
                        arguments: String::new(),
                    });
                }
                if let Some(c) = r.tool_calls.get_mut(*index) {
                    if !id.is_empty() {
                        c.id.clone_from(id);
                    }
                    if !name.is_empty() {
                        c.name.clone_from(name);
                    }
                }
            }
            StreamDelta::ToolCallArgs { index, fragment } => {
                if let Some(c) = r.tool_calls.get_mut(*index) {
                    c.arguments.push_str(fragment);
                }
            }
            StreamDelta::Usage(u) => {
                if u.prompt_tokens > 0 {
                    r.usage.prompt_tokens = u.prompt_tokens;
                }
                if u.completion_tokens > 0 {
                    r.usage.completion_tokens = u.completion_tokens;
                }
            }
            StreamDelta::Finish(f) => r.finish_reason = Some(*f),
            StreamDelta::Reset => self.resp = ChatResponse::default(),
        }
    }

    /// The response so far.
    pub(crate) fn finish(self) -> ChatResponse {
        self.resp
    }
}

/// An embeddings request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmbedRequest {
    /// Embedding model (or route).
    pub model: String,
    /// Texts to embed.
    pub inputs: Vec<String>,
}

/// Embeddings, one vector per input, in input order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EmbedResponse {
    /// Backend that served it.
    pub backend: String,
    /// Model that served it.
    pub model: String,
    /// Vectors.
    pub vectors: Vec<Vec<f32>>,
    /// Usage (prompt tokens only).
    pub usage: Usage,
}
