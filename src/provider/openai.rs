//! `openai_compatible` backend: the chat-completions and embeddings protocol over the shared
//! HTTP exchange (`http.rs`), with preset quirks (`reasoning_content`/`reasoning` fields,
//! `<think>` blocks, `max_completion_tokens`, DeepSeek's assistant `prefix` for
//! continuations). Requests are our own serialised body (`openai_body.rs`); responses are read
//! by one typed parser (`openai_wire.rs`).

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};

use super::backend::{Backend, Failed, Limits, Reply, ReplyBody};
use super::error::ProviderError;
use super::headers::RateInfo;
use super::http::{delta_stream, read_body, send};
use super::model::{ChatRequest, EmbedRequest, EmbedResponse};
use super::openai_body::chat_body;
use super::openai_wire::{ChunkHandler, parse_chat, parse_embeddings};
use super::presets::Preset;

/// An OpenAI-compatible endpoint.
#[derive(Clone, Debug)]
pub(crate) struct OpenAiCompatible {
    name: Arc<str>,
    base: Arc<str>,
    /// `Bearer <key>`, marked sensitive; `None`: the backend sends no `Authorization`.
    auth: Option<HeaderValue>,
    preset: Option<Preset>,
    http: reqwest::Client,
    limits: Limits,
}

impl OpenAiCompatible {
    /// A client for `base_url` (e.g. `https://api.deepseek.com/v1`) sending through `http`.
    /// The key is the one the backend's configuration names (no `OPENAI_*` variable is read
    /// behind its back); a key that cannot be a header value is a `Config` error.
    pub(crate) fn new(
        name: &str,
        base_url: &str,
        api_key: Option<&str>,
        preset: Option<Preset>,
        http: reqwest::Client,
        limits: Limits,
    ) -> Result<Self, ProviderError> {
        let auth = match api_key {
            Some(k) => {
                let mut v = HeaderValue::from_str(&format!("Bearer {k}")).map_err(|_| {
                    ProviderError::Config(format!(
                        "backend `{name}`: the API key contains characters an HTTP header cannot carry"
                    ))
                })?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        Ok(OpenAiCompatible {
            name: name.into(),
            base: base_url.trim_end_matches('/').into(),
            auth,
            preset,
            http,
            limits,
        })
    }

    /// A POST of `body` to `path` with the backend's key.
    fn post(
        &self,
        path: &str,
        body: Result<Vec<u8>, serde_json::Error>,
        idempotency_key: Option<&str>,
    ) -> Result<reqwest::RequestBuilder, ProviderError> {
        let body = body.map_err(|e| ProviderError::Rejected {
            status: 0,
            message: format!("request not encodable: {e}"),
        })?;
        let mut rb = self
            .http
            .post(format!("{}{path}", self.base))
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(auth) = &self.auth {
            rb = rb.header(AUTHORIZATION, auth.clone());
        }
        if let Some(key) = idempotency_key {
            rb = rb.header("Idempotency-Key", key);
        }
        Ok(rb)
    }
}

impl Backend for OpenAiCompatible {
    fn kind(&self) -> &'static str {
        "openai_compatible"
    }

    fn chat(&self, req: &ChatRequest) -> BoxFuture<'static, Result<Reply, Failed>> {
        // Encoded now, so the future does not borrow the request.
        let rb = self.post(
            "/chat/completions",
            serde_json::to_vec(&chat_body(req, self.preset)),
            req.idempotency_key.as_deref(),
        );
        let (name, limits, stream) = (Arc::clone(&self.name), self.limits, req.stream);
        async move {
            let sent = send(rb?, &limits).await?;
            let rate = sent.rate;
            if stream {
                let body = delta_stream(sent.resp, limits, ChunkHandler::default());
                return Ok(Reply {
                    rate,
                    body: ReplyBody::Stream(body),
                });
            }
            let bytes = read_body(sent, limits.max_response_bytes).await?;
            let r = parse_chat(&bytes, &name).map_err(|error| Failed { error, rate })?;
            Ok(Reply {
                rate,
                body: ReplyBody::Complete(r),
            })
        }
        .boxed()
    }

    fn embed(
        &self,
        req: &EmbedRequest,
    ) -> BoxFuture<'static, Result<(EmbedResponse, RateInfo), Failed>> {
        let body = serde_json::json!({"model": req.model, "input": req.inputs});
        let rb = self.post("/embeddings", serde_json::to_vec(&body), None);
        let (name, limits, model) = (Arc::clone(&self.name), self.limits, req.model.clone());
        async move {
            let sent = send(rb?, &limits).await?;
            let rate = sent.rate;
            let bytes = read_body(sent, limits.max_response_bytes).await?;
            let r =
                parse_embeddings(&bytes, &model, &name).map_err(|error| Failed { error, rate })?;
            Ok((r, rate))
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::{Message, Role, ToolCall, ToolSpec};
    use super::*;
    use crate::provider::config::{BackendConfig, BackendKind};
    use serde_json::json;

    fn limits() -> Limits {
        Limits::of(&BackendConfig::new(BackendKind::OpenaiCompatible))
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
        let v = chat_body(&req, Some(Preset::Deepseek));
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
        req.continuation = None;
        req.stream = false;
        let v = chat_body(&req, Some(Preset::Openai));
        assert_eq!(v["max_completion_tokens"], json!(1024));
        assert!(v.get("max_tokens").is_none() && v.get("stream_options").is_none());
        assert!(v["messages"][2].get("prefix").is_none());
    }

    /// The key goes into a sensitive `Authorization` header; no key, no header; a key that
    /// cannot be a header value is a configuration error naming the backend.
    #[test]
    fn endpoint_headers_come_from_the_backend_config_only() {
        let http = reqwest::Client::new();
        let with_key = OpenAiCompatible::new(
            "k",
            "http://x/v1/",
            Some("sk-1"),
            None,
            http.clone(),
            limits(),
        )
        .expect("backend");
        let auth = with_key.auth.as_ref().expect("auth header");
        assert!(auth.is_sensitive());
        assert_eq!(auth.to_str().ok(), Some("Bearer sk-1"));
        assert_eq!(&*with_key.base, "http://x/v1");
        let without = OpenAiCompatible::new("n", "http://x/v1", None, None, http.clone(), limits())
            .expect("backend");
        assert!(without.auth.is_none());
        let bad = OpenAiCompatible::new("bad", "http://x", Some("sk\nx"), None, http, limits());
        assert!(
            matches!(bad, Err(ProviderError::Config(ref m)) if m.contains("`bad`")),
            "{bad:?}"
        );
    }
}
