//! The `scripted` backend: offline and deterministic, for demos and tests without a model. It
//! is named as such everywhere it answers (`backend`/`model` fields and the `[scripted]` text
//! prefix); it generates nothing — it replays configured replies or echoes the prompt.

use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};

use super::backend::{Backend, Failed, Reply, ReplyBody};
use super::estimate::{prompt_tokens, text_tokens};
use super::headers::RateInfo;
use super::model::{
    ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, FinishReason, Role, StreamDelta, Usage,
};

/// Dimensions of the scripted backend's lexical hashing embeddings.
const SCRIPTED_EMBED_DIMS: usize = 64;

/// The offline scripted backend.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scripted {
    /// `(needle, reply)`: the first needle contained in the last user message selects the reply.
    pub(crate) script: Vec<(String, String)>,
    /// Delay between streamed words (lets preemption be exercised offline).
    pub(crate) chunk_delay: Duration,
}

impl Scripted {
    /// The reply text for a request (deterministic).
    fn reply_for(&self, req: &ChatRequest) -> String {
        let last = req
            .messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.content.as_str())
            .unwrap_or_default();
        let full = self
            .script
            .iter()
            .find(|(needle, _)| last.contains(needle.as_str()))
            .map(|(_, reply)| reply.clone())
            .unwrap_or_else(|| {
                let head: String = last.chars().take(80).collect();
                format!("[scripted] no model is configured; this offline backend echoes: {head}")
            });
        // A continuation resumes after the prefix already produced.
        match &req.continuation {
            Some(p) if full.starts_with(p.as_str()) => full[p.len()..].to_owned(),
            _ => full,
        }
    }
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
        let text = self.reply_for(req);
        let usage = Usage {
            prompt_tokens: prompt_tokens(req),
            completion_tokens: text_tokens(&text),
        };
        let delay = self.chunk_delay;
        let (stream, model) = (req.stream, format!("scripted:{}", req.model));
        async move {
            if !stream {
                let r = ChatResponse {
                    backend: "scripted".into(),
                    model,
                    content: text,
                    finish_reason: Some(FinishReason::Stop),
                    usage,
                    ..ChatResponse::default()
                };
                return Ok(Reply {
                    rate: RateInfo::default(),
                    body: ReplyBody::Complete(r),
                });
            }
            let mut deltas: Vec<StreamDelta> = text
                .split_inclusive(' ')
                .map(|w| StreamDelta::Text(w.to_owned()))
                .collect();
            deltas.push(StreamDelta::Finish(FinishReason::Stop));
            deltas.push(StreamDelta::Usage(usage));
            let s = futures::stream::iter(deltas)
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
