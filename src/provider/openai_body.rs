//! The chat-completions request body of the `openai_compatible` backend, serialised straight
//! from a borrowed [`ChatRequest`] (no intermediate JSON tree).

use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

use std::borrow::Cow;

use super::model::{ChatRequest, Message, Role, ToolCall, ToolSpec};
use super::presets::Preset;

/// The chat-completions request body, borrowing from the [`ChatRequest`].
#[derive(Debug, Serialize)]
pub(crate) struct ChatBody<'a> {
    model: &'a str,
    messages: WireMessages<'a>,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "WireTools::is_empty")]
    tools: WireTools<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
}

impl<'a> ChatBody<'a> {
    /// The body for `req` with `preset`'s quirks (`max_completion_tokens`, stream usage,
    /// DeepSeek's assistant `prefix` for continuations).
    pub(crate) fn new(req: &'a ChatRequest, preset: Option<Preset>) -> Self {
        let info = preset.map(Preset::info);
        let msgs: Vec<_> = req.wire_iter().collect();
        let prefix_last = req.continuation.is_some() && preset == Some(Preset::Deepseek);
        let max_completion = info.is_some_and(|i| i.max_completion_tokens);
        ChatBody {
            model: &req.model,
            messages: WireMessages { msgs, prefix_last },
            stream: req.stream,
            max_tokens: (!max_completion).then_some(req.max_tokens),
            max_completion_tokens: max_completion.then_some(req.max_tokens),
            // As a JSON tree built from the f32 would carry it (widened to f64).
            temperature: req.temperature.map(f64::from),
            tools: WireTools(&req.tools),
            stream_options: (req.stream && info.is_none_or(|i| i.stream_usage)).then_some(
                StreamOptions {
                    include_usage: true,
                },
            ),
        }
    }
}

#[derive(Debug, Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Debug)]
struct WireMessages<'a> {
    msgs: Vec<Cow<'a, Message>>,
    /// DeepSeek continuation: the last message carries `prefix: true`.
    prefix_last: bool,
}

impl Serialize for WireMessages<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let last = self.msgs.len().saturating_sub(1);
        let mut seq = s.serialize_seq(Some(self.msgs.len()))?;
        for (i, m) in self.msgs.iter().enumerate() {
            seq.serialize_element(&WireMessage {
                m,
                prefix: i == last && self.prefix_last,
            })?;
        }
        seq.end()
    }
}

struct WireMessage<'a> {
    m: &'a Message,
    prefix: bool,
}

impl Serialize for WireMessage<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let m = self.m;
        let role = match m.role {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        };
        let mut st = s.serialize_map(None)?;
        st.serialize_entry("role", role)?;
        st.serialize_entry("content", &m.content)?;
        if !m.tool_calls.is_empty() {
            st.serialize_entry("tool_calls", &WireToolCalls(&m.tool_calls))?;
        }
        if let Some(id) = &m.tool_call_id {
            st.serialize_entry("tool_call_id", id)?;
        }
        if self.prefix {
            st.serialize_entry("prefix", &true)?;
        }
        st.end()
    }
}

struct WireToolCalls<'a>(&'a [ToolCall]);

impl Serialize for WireToolCalls<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Function<'a> {
            name: &'a str,
            arguments: &'a str,
        }
        #[derive(Serialize)]
        struct Call<'a> {
            id: &'a str,
            #[serde(rename = "type")]
            kind: &'static str,
            function: Function<'a>,
        }
        s.collect_seq(self.0.iter().map(|c| Call {
            id: &c.id,
            kind: "function",
            function: Function {
                name: &c.name,
                arguments: &c.arguments,
            },
        }))
    }
}

#[derive(Debug)]
struct WireTools<'a>(&'a [ToolSpec]);

impl WireTools<'_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for WireTools<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Function<'a> {
            name: &'a str,
            description: &'a str,
            parameters: &'a Value,
        }
        #[derive(Serialize)]
        struct Tool<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            function: Function<'a>,
        }
        s.collect_seq(self.0.iter().map(|t| Tool {
            kind: "function",
            function: Function {
                name: &t.name,
                description: &t.description,
                parameters: &t.parameters,
            },
        }))
    }
}
