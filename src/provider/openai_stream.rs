//! The `openai_compatible` stream: chat-completions chunks, as async-openai parses them from
//! the SSE body, mapped to normalised deltas under the attempt's stall timeout.

use std::collections::VecDeque;
use std::time::Duration;

use async_openai::error::OpenAIError;
use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::Value;

use super::backend::DeltaStream;
use super::error::ProviderError;
use super::headers::RateInfo;
use super::http::error_fields;
use super::model::{FinishReason, StreamDelta};
use super::openai_parse::{reasoning_of, str_of, usage_of};
use super::openai_transport::into_failed;
use super::think::ThinkSplitter;

/// Tool-call indices at or above this are treated as garbage (they size a vector).
const MAX_TOOL_CALLS: u64 = 1024;

/// Stateful handler of chat-completions stream events (one parsed `data:` payload each).
#[derive(Debug, Default)]
pub struct ChunkHandler {
    think: ThinkSplitter,
    /// A `finish_reason` was seen: the stream is complete even if the body ends before
    /// `[DONE]` or the trailing usage chunk.
    finished: bool,
}

impl ChunkHandler {
    /// Handles one event, appending its deltas to `out`.
    pub fn handle(&mut self, v: &Value, out: &mut Vec<StreamDelta>) -> Result<(), ProviderError> {
        if v.get("error").is_some() {
            let (kind, _, message) = error_fields(v);
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
                    out.push(StreamDelta::Reasoning(r.to_string()));
                }
                if let Some(t) = str_of(d, "content").filter(|t| !t.is_empty()) {
                    let (vis, rs) = self.think.push(t);
                    push_text(out, vis, rs);
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
                        out.push(StreamDelta::ToolCallStart {
                            index,
                            id: id.into(),
                            name: name.into(),
                        });
                    }
                    if let Some(a) = f
                        .and_then(|f| str_of(f, "arguments"))
                        .filter(|a| !a.is_empty())
                    {
                        out.push(StreamDelta::ToolCallArgs {
                            index,
                            fragment: a.into(),
                        });
                    }
                }
            }
            if let Some(fr) = str_of(choice, "finish_reason") {
                self.finished = true;
                let (vis, rs) = self.think.finish();
                push_text(out, vis, rs);
                out.push(StreamDelta::Finish(FinishReason::from_wire(fr)));
            }
        }
        // Usage at the top level (`stream_options.include_usage`) or, as Moonshot sends it,
        // inside the final choice.
        let choice_usage = v.get("choices").and_then(|c| c.get(0)).and_then(usage_of);
        if let Some(u) = usage_of(v).or(choice_usage) {
            out.push(StreamDelta::Usage(u));
        }
        Ok(())
    }
}

impl ChunkHandler {
    /// The body ended: flushes a pending `<think>` split; a stream that never gave a
    /// `finish_reason` was cut off.
    pub fn end(&mut self, out: &mut Vec<StreamDelta>) -> Result<(), ProviderError> {
        let (vis, rs) = self.think.finish();
        push_text(out, vis, rs);
        if self.finished {
            Ok(())
        } else {
            Err(ProviderError::TruncatedStream(
                "body ended before a `finish_reason`".into(),
            ))
        }
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

struct State {
    events: BoxStream<'static, Result<Value, OpenAIError>>,
    handler: ChunkHandler,
    pending: VecDeque<Result<StreamDelta, ProviderError>>,
    buf: Vec<StreamDelta>,
    stall: Duration,
    ended: bool,
}

impl State {
    fn fail(&mut self, e: ProviderError) {
        self.pending.push_back(Err(e));
        self.ended = true;
    }

    fn flush(&mut self) {
        self.pending.extend(self.buf.drain(..).map(Ok));
    }

    /// The body is over: the last deltas, or `TruncatedStream` if it never finished.
    fn end(&mut self) {
        let end = self.handler.end(&mut self.buf);
        self.flush();
        self.ended = true;
        if let Err(e) = end {
            self.fail(e);
        }
    }
}

/// Turns async-openai's event stream into a delta stream. A gap longer than `stall` is a
/// `StreamStalled` (after a `finish_reason`, the end of the stream); a body that ends before any `finish_reason`, or breaks off, is a
/// `TruncatedStream`; an event that is not JSON is a `MalformedResponse`; an in-stream
/// `{"error": …}` is typed by its `type`.
pub fn delta_stream(
    events: BoxStream<'static, Result<Value, OpenAIError>>,
    stall: Duration,
) -> DeltaStream {
    let st = State {
        events,
        handler: ChunkHandler::default(),
        pending: VecDeque::new(),
        buf: Vec::new(),
        stall,
        ended: false,
    };
    futures::stream::unfold(st, |mut st| async move {
        loop {
            if let Some(item) = st.pending.pop_front() {
                return Some((item, st));
            }
            if st.ended {
                return None;
            }
            match tokio::time::timeout(st.stall, st.events.next()).await {
                // A server that went quiet after the `finish_reason` (no usage chunk, no
                // `[DONE]`, connection left open) has said all it will: the stream is complete.
                Err(_) if st.handler.finished => st.end(),
                Err(_) => st.fail(ProviderError::StreamStalled(st.stall)),
                Ok(None) => st.end(),
                Ok(Some(Err(e))) => st.fail(into_failed(e, RateInfo::default()).error),
                Ok(Some(Ok(v))) => {
                    let r = st.handler.handle(&v, &mut st.buf);
                    st.flush();
                    if let Err(e) = r {
                        st.fail(e);
                    }
                }
            }
        }
    })
    .boxed()
}
