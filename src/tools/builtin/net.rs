//! `http.fetch {url}`: a GET limited by the network policy (level elevated, the network
//! enabled, the host allowed), without following redirects, within the wall-time limit, its
//! body capped at the output limit.

use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use serde_json::{Value, json};

use crate::security::policy::PermissionLevel;
use crate::tools::tool::{Tool, ToolContext, ToolError};

/// `http.fetch {url}` → `{status, content_type, body, truncated_bytes}`.
pub(crate) struct Fetch;

fn failed(e: impl std::fmt::Display) -> ToolError {
    ToolError::Failed {
        tool: "http.fetch".into(),
        reason: e.to_string(),
    }
}

impl Tool for Fetch {
    fn name(&self) -> &str {
        "http.fetch"
    }
    fn description(&self) -> &str {
        "Fetch a URL over HTTP(S) with GET (hosts allowed by the agent's network policy only)."
    }
    fn schema(&self) -> Value {
        json!({"type": "object", "properties": {"url": {"type": "string", "minLength": 1}}, "required": ["url"], "additionalProperties": false})
    }
    fn level(&self) -> PermissionLevel {
        PermissionLevel::Elevated
    }
    fn call(&self, args: Value, cx: ToolContext) -> BoxFuture<'static, Result<Value, ToolError>> {
        async move {
            let raw = args.get("url").and_then(Value::as_str).unwrap_or_default();
            let url = reqwest::Url::parse(raw).map_err(|e| ToolError::InvalidArguments {
                tool: "http.fetch".into(),
                reason: format!("$.url: {e}"),
            })?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(ToolError::InvalidArguments {
                    tool: "http.fetch".into(),
                    reason: format!("$.url: scheme `{}` (use http or https)", url.scheme()),
                });
            }
            let host = url.host_str().unwrap_or_default().to_string();
            cx.policy.check_host(&host).map_err(|d| ToolError::Denied {
                reason: d.to_string(),
            })?;
            let wall = match cx.policy.limits.wall_ms {
                0 => Duration::from_secs(60),
                ms => Duration::from_millis(ms),
            };
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(wall)
                .build()
                .map_err(failed)?;
            let resp = client.get(url).send().await.map_err(failed)?;
            let status = resp.status().as_u16();
            let content_type = resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let cap = usize::try_from(cx.policy.limits.output_bytes).unwrap_or(usize::MAX);
            let (mut body, mut cut) = (Vec::new(), 0u64);
            let mut stream = resp.bytes_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(failed)?;
                let room = cap.saturating_sub(body.len());
                let keep = chunk.len().min(room);
                body.extend_from_slice(&chunk[..keep]);
                cut = cut.saturating_add((chunk.len() - keep) as u64);
                if keep < chunk.len() && cut > (1 << 26) {
                    break;
                }
            }
            Ok(json!({
                "status": status,
                "content_type": content_type,
                "body": String::from_utf8_lossy(&body),
                "truncated_bytes": cut,
            }))
        }
        .boxed()
    }
}
