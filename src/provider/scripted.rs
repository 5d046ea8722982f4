//! The `scripted` backend: offline and deterministic, for demos and tests without a model. It
//! is named as such everywhere it answers (`backend`/`model` fields and the `[scripted]` text
//! prefix of its own texts); it generates nothing — it replays the configured script (replies
//! and tool calls, turn by turn: see [`ScriptEntry`]) or echoes the prompt.

use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};

use super::backend::{Backend, Failed, Reply, ReplyBody};
use super::estimate::{prompt_tokens, text_tokens};
use super::headers::RateInfo;
use super::model::{
    ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, FinishReason, Role, StreamDelta,
    ToolCall, Usage,
};
use super::script::ScriptEntry;

/// Dimensions of the scripted backend's lexical hashing embeddings.
const SCRIPTED_EMBED_DIMS: usize = 64;

/// The offline scripted backend.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scripted {
    /// The first entry whose needle the last user message contains plays its turns.
    pub(crate) script: Vec<ScriptEntry>,
    /// Delay between streamed words (lets preemption be exercised offline).
    pub(crate) chunk_delay: Duration,
}

/// What the script answers to one request.
#[derive(Debug, Default)]
struct ScriptedReply {
    text: String,
    tool_calls: Vec<ToolCall>,
}

impl Scripted {
    /// A backend playing `script`.
    pub(crate) fn new(script: Vec<ScriptEntry>) -> Self {
        Scripted {
            script,
            chunk_delay: Duration::ZERO,
        }
    }

    /// The reply for a request (deterministic: a function of the conversation only).
    fn reply_for(&self, req: &ChatRequest) -> ScriptedReply {
        let user_at = req.messages.iter().rposition(|m| m.role == Role::User);
        let last = user_at
            .and_then(|i| req.messages.get(i))
            .map(|m| m.content.as_str())
            .unwrap_or_default();
        let mut reply = match self
            .script
            .iter()
            .find(|e| last.contains(e.needle.as_str()))
        {
            None => {
                let head: String = last.chars().take(80).collect();
                ScriptedReply {
                    text: format!(
                        "[scripted] no model is configured; this offline backend echoes: {head}"
                    ),
                    tool_calls: Vec::new(),
                }
            }
            Some(entry) => {
                // Turn N answers a conversation with N model turns after the user's message.
                let step = user_at.map_or(0, |i| {
                    req.messages
                        .iter()
                        .skip(i + 1)
                        .filter(|m| m.role == Role::Assistant)
                        .count()
                });
                let turns = entry.all_turns();
                match turns.get(step) {
                    Some(turn) => ScriptedReply {
                        text: turn.reply.clone(),
                        tool_calls: turn
                            .tool_calls
                            .iter()
                            .enumerate()
                            .map(|(i, c)| c.to_call(format!("scripted_{step}_{i}")))
                            .collect(),
                    },
                    None => ScriptedReply {
                        text: format!(
                            "[scripted] the script for `{}` has {} turn(s) and they are played; no more tool calls",
                            entry.needle,
                            turns.len()
                        ),
                        tool_calls: Vec::new(),
                    },
                }
            }
        };
        // A continuation resumes after the prefix already produced.
        if let Some(p) = &req.continuation
            && let Some(rest) = reply.text.strip_prefix(p.as_str())
        {
            reply.text = rest.to_owned();
        }
        reply
    }
}

/// The stream of a reply: its words, then each tool call (its start, then its arguments in
/// two fragments, as a real server splits them), the finish reason and the usage.
fn deltas(reply: ScriptedReply, finish: FinishReason, usage: Usage) -> Vec<StreamDelta> {
    let mut out: Vec<StreamDelta> = reply
        .text
        .split_inclusive(' ')
        .map(|w| StreamDelta::Text(w.to_owned()))
        .collect();
    for (index, call) in reply.tool_calls.into_iter().enumerate() {
        out.push(StreamDelta::ToolCallStart {
            index,
            id: call.id,
            name: call.name,
        });
        let mut cut = call.arguments.len() / 2;
        while !call.arguments.is_char_boundary(cut) {
            cut -= 1;
        }
        let (head, tail) = call.arguments.split_at(cut);
        for fragment in [head, tail].into_iter().filter(|f| !f.is_empty()) {
            out.push(StreamDelta::ToolCallArgs {
                index,
                fragment: fragment.to_owned(),
            });
        }
    }
    out.push(StreamDelta::Finish(finish));
    out.push(StreamDelta::Usage(usage));
    out
}

/// Lexical hashing embedding (FNV-1a of lowercase words into buckets, L2-normalised).
fn lexical_embedding(text: &str) -> Vec<f32> {
    let mut v = vec![0f32; SCRIPTED_EMBED_DIMS];
    for w in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in w.to_lowercase().bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        v[(h % SCRIPTED_EMBED_DIMS as u64) as usize] += 1.0;
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

impl Backend for Scripted {
    fn kind(&self) -> &'static str {
        "scripted"
    }

    fn chat(&self, req: &ChatRequest) -> BoxFuture<'static, Result<Reply, Failed>> {
        let reply = self.reply_for(req);
        let call_tokens = reply.tool_calls.iter().fold(0u64, |n, c| {
            n.saturating_add(text_tokens(&c.name))
                .saturating_add(text_tokens(&c.arguments))
        });
        let usage = Usage {
            prompt_tokens: prompt_tokens(req),
            completion_tokens: text_tokens(&reply.text).saturating_add(call_tokens),
        };
        let finish = if reply.tool_calls.is_empty() {
            FinishReason::Stop
        } else {
            FinishReason::ToolCalls
        };
        let delay = self.chunk_delay;
        let (stream, model) = (req.stream, format!("scripted:{}", req.model));
        async move {
            if !stream {
                let r = ChatResponse {
                    backend: "scripted".into(),
                    model,
                    content: reply.text,
                    tool_calls: reply.tool_calls,
                    finish_reason: Some(finish),
                    usage,
                    ..ChatResponse::default()
                };
                return Ok(Reply {
                    rate: RateInfo::default(),
                    body: ReplyBody::Complete(r),
                });
            }
            let s = futures::stream::iter(deltas(reply, finish, usage))
                .then(move |d| async move {
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    Ok(d)
                })
                .boxed();
            Ok(Reply {
                rate: RateInfo::default(),
                body: ReplyBody::Stream(s),
            })
        }
        .boxed()
    }

    fn embed(
        &self,
        req: &EmbedRequest,
    ) -> BoxFuture<'static, Result<(EmbedResponse, RateInfo), Failed>> {
        let tokens = req
            .inputs
            .iter()
            .fold(0u64, |n, t| n.saturating_add(text_tokens(t)));
        let r = EmbedResponse {
            backend: "scripted".into(),
            model: "scripted:lexical-hash".into(),
            vectors: req.inputs.iter().map(|t| lexical_embedding(t)).collect(),
            usage: Usage {
                prompt_tokens: tokens,
                completion_tokens: 0,
            },
        };
        async move { Ok((r, RateInfo::default())) }.boxed()
    }
}
