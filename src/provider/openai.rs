//! `openai_compatible` backend: the chat-completions protocol through async-openai, with preset
//! quirks (`reasoning_content`/`reasoning` fields, `<think>` blocks, `max_completion_tokens`,
//! DeepSeek's assistant `prefix` for continuations).
//!
//! async-openai builds the requests and parses the responses (`byot`: our own wire types, since
//! the presets' fields differ from OpenAI's); its retries are off — the HTTP path is our
//! [`Transport`], which sends each request once and reports the rate-limit headers and typed
//! errors to the provider actor, which owns retry policy.

use std::sync::Arc;

use async_openai::Client;
use async_openai::config::Config;
use async_openai::error::OpenAIError;
use futures::FutureExt;
use futures::future::BoxFuture;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use secrecy::SecretString;
use serde_json::{Value, json};

use super::backend::{Backend, Failed, Reply, ReplyBody, Timeouts};
use super::error::ProviderError;
use super::headers::RateInfo;
use super::model::{ChatRequest, EmbedRequest, EmbedResponse};
use super::openai_body::ChatBody;
pub use super::openai_parse::{WireChat, parse_body, parse_embeddings, parse_response};
pub use super::openai_stream::ChunkHandler;
use super::openai_stream::delta_stream;
use super::openai_transport::{Exchange, Transport, into_failed};
use super::presets::Preset;

/// async-openai's view of one endpoint: base URL and prebuilt headers. Unlike async-openai's
/// `OpenAIConfig` it reads no `OPENAI_*` variables (a DeepSeek backend must never send an
/// OpenAI key) and sends no `Authorization` header when the backend has no key.
#[derive(Clone, Debug)]
pub struct Endpoint {
    base: String,
    headers: HeaderMap,
    key: SecretString,
}

impl Config for Endpoint {
    fn headers(&self) -> HeaderMap {
        self.headers.clone()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn query(&self) -> Vec<(&str, &str)> {
        Vec::new()
    }

    fn api_base(&self) -> &str {
        &self.base
    }

    fn api_key(&self) -> &SecretString {
        &self.key
    }
}

/// An OpenAI-compatible endpoint.
#[derive(Clone, Debug)]
pub struct OpenAiCompatible {
    name: Arc<str>,
    preset: Option<Preset>,
    client: Arc<Client<Endpoint>>,
}

impl OpenAiCompatible {
    /// A client for `base_url` (e.g. `https://api.deepseek.com/v1`) sending through `http`.
    /// Fails when the key cannot be an HTTP header value.
    pub fn new(
        name: impl Into<String>,
        base_url: impl Into<String>,
        api_key: Option<String>,
        preset: Option<Preset>,
        http: reqwest::Client,
    ) -> Result<Self, ProviderError> {
        let name: String = name.into();
        let mut headers = HeaderMap::new();
        if let Some(k) = &api_key {
            let mut v = HeaderValue::from_str(&format!("Bearer {k}")).map_err(|_| {
                ProviderError::Config(format!(
                    "backend `{name}`: the API key contains characters an HTTP header cannot carry"
                ))
            })?;
            v.set_sensitive(true);
            headers.insert(AUTHORIZATION, v);
        }
        let endpoint = Endpoint {
            base: base_url.into().trim_end_matches('/').to_string(),
            headers,
            key: SecretString::from(api_key.unwrap_or_default()),
        };
        let client = Client::build(http.clone(), endpoint).with_http_service(Transport::new(http));
        Ok(OpenAiCompatible {
            name: name.into(),
            preset,
            client: Arc::new(client),
        })
    }

    /// The wire body of a chat request, serialised straight from the request (no intermediate
    /// JSON tree).
    pub fn body<'a>(&self, req: &'a ChatRequest) -> ChatBody<'a> {
        ChatBody::new(req, self.preset)
    }
}

/// Runs one async-openai call under the attempt's request timeout: its output and the rate-limit
/// headers of its response, or the typed failure (with those headers). `recover` may turn an
/// error async-openai reports into a result (see the chat path).
async fn exchange<T>(
    t: Timeouts,
    call: impl Future<Output = Result<T, OpenAIError>>,
    recover: impl FnOnce(OpenAIError) -> Result<T, OpenAIError>,
) -> Result<(T, RateInfo), Failed> {
    let (r, rate) = Exchange::scope(tokio::time::timeout(t.request, call)).await;
    match r {
        Ok(Ok(v)) => Ok((v, rate)),
        Ok(Err(e)) => recover(e)
            .map(|v| (v, rate))
            .map_err(|e| into_failed(e, rate)),
        Err(_) => Err(Failed {
            error: ProviderError::Transport(format!("no complete response within {:?}", t.request)),
            rate,
        }),
    }
}

/// A complete chat body: typed, or — when the typed parse could not take it — its text for the
/// JSON-tree parse.
enum ChatBodyIn {
    Typed(WireChat),
    Text(String),
}

impl Backend for OpenAiCompatible {
    fn kind(&self) -> &'static str {
        "openai_compatible"
    }

    fn chat(&self, req: &ChatRequest, t: Timeouts) -> BoxFuture<'static, Result<Reply, Failed>> {
        // Encoded now, so the future does not borrow the request.
        let body = serde_json::value::to_raw_value(&self.body(req));
        let client = Arc::clone(&self.client);
        let name = Arc::clone(&self.name);
        let stream = req.stream;
        async move {
            let body = body.map_err(|e| ProviderError::Rejected {
                status: 0,
                message: format!("request not encodable: {e}"),
            })?;
            let chat = client.chat();
            if stream {
                // The timeout covers the response headers; the stall timeout the chunks.
                let call = chat.create_stream_byot::<_, Value>(body);
                let (events, rate) = exchange(t, call, Err).await?;
                return Ok(Reply {
                    rate,
                    body: ReplyBody::Stream(delta_stream(events, t.stall)),
                });
            }
            // One timeout for headers and body. The common shape is parsed straight into our
            // types; a body the typed parse cannot take goes through the JSON tree (same result).
            let call = async {
                chat.create_byot::<_, WireChat>(body)
                    .await
                    .map(ChatBodyIn::Typed)
            };
            let (body, rate) = exchange(t, call, |e| match e {
                OpenAIError::JSONDeserialize(_, text) => Ok(ChatBodyIn::Text(text)),
                e => Err(e),
            })
            .await?;
            let parsed = match body {
                ChatBodyIn::Typed(w) => w.into_response(&name),
                ChatBodyIn::Text(text) => parse_body(text.as_bytes(), &name),
            };
            let r = parsed.map_err(|error| Failed { error, rate })?;
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
        let client = Arc::clone(&self.client);
        let name = Arc::clone(&self.name);
        async move {
            let body = json!({"model": req.model, "input": req.inputs});
            let embeddings = client.embeddings();
            let call = embeddings.create_byot::<_, Value>(body);
            let (v, rate) = exchange(t, call, Err).await?;
            let resp =
                parse_embeddings(&v, &req.model, &name).map_err(|error| Failed { error, rate })?;
            Ok((resp, rate))
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::{Message, Role, ToolCall, ToolSpec};
    use super::*;

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
        )
        .expect("backend");
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
        )
        .expect("backend");
        req.continuation = None;
        req.stream = false;
        let v = serde_json::to_value(oa.body(&req)).unwrap_or_default();
        assert_eq!(v["max_completion_tokens"], json!(1024));
        assert!(v.get("max_tokens").is_none() && v.get("stream_options").is_none());
        assert!(v["messages"][2].get("prefix").is_none());
    }

    /// The key goes into a sensitive `Authorization` header; no key, no header; a key that
    /// cannot be a header value is a configuration error naming the backend.
    #[test]
    fn endpoint_headers_come_from_the_backend_config_only() {
        let with_key = OpenAiCompatible::new(
            "k",
            "http://x/v1/",
            Some("sk-1".into()),
            None,
            reqwest::Client::new(),
        )
        .expect("backend");
        let h = with_key.client.config().headers();
        let auth = h.get(AUTHORIZATION).expect("auth header");
        assert!(auth.is_sensitive());
        assert_eq!(auth.to_str().ok(), Some("Bearer sk-1"));
        assert_eq!(
            with_key.client.config().url("/chat/completions"),
            "http://x/v1/chat/completions"
        );
        let without = OpenAiCompatible::new("n", "http://x/v1", None, None, reqwest::Client::new())
            .expect("backend");
        assert!(without.client.config().headers().is_empty());
        let bad = OpenAiCompatible::new(
            "bad",
            "http://x",
            Some("sk\nx".into()),
            None,
            reqwest::Client::new(),
        );
        assert!(
            matches!(bad, Err(ProviderError::Config(ref m)) if m.contains("`bad`")),
            "{bad:?}"
        );
    }
}
