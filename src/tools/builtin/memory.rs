//! Memory tools bridging to the pager: `mem.remember {text, importance?}` stores a long-term
//! memory; `mem.recall {query, k?}` finds the closest pages and memories.

use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use crate::security::policy::PermissionLevel;
use crate::tools::tool::{Tool, ToolContext, ToolError};

fn failed(tool: &str, e: impl std::fmt::Display) -> ToolError {
    ToolError::Failed {
        tool: tool.to_string(),
        reason: e.to_string(),
    }
}

/// `mem.remember {text, importance?}` → `{id}`.
pub(crate) struct Remember;

impl Tool for Remember {
    fn name(&self) -> &str {
        "mem.remember"
    }
    fn description(&self) -> &str {
        "Store a fact in long-term memory (found again by mem.recall)."
    }
    fn schema(&self) -> Value {
        json!({"type": "object", "properties": {"text": {"type": "string", "minLength": 1}, "importance": {"type": "number", "minimum": 0, "maximum": 1}}, "required": ["text"], "additionalProperties": false})
    }
    fn level(&self) -> PermissionLevel {
        PermissionLevel::Restricted
    }
    fn call(&self, args: Value, cx: ToolContext) -> BoxFuture<'static, Result<Value, ToolError>> {
        async move {
            let text = args.get("text").and_then(Value::as_str).unwrap_or_default();
            let importance = args
                .get("importance")
                .and_then(Value::as_f64)
                .unwrap_or(0.5) as f32;
            let id = cx
                .kernel
                .pager()
                .remember(cx.pid, text, importance)
                .await
                .map_err(|e| failed("mem.remember", e))?;
            Ok(json!({"id": id}))
        }
        .boxed()
    }
}

/// `mem.recall {query, k?}` → `{results: [{content, similarity, memory}]}`.
pub(crate) struct Recall;

impl Tool for Recall {
    fn name(&self) -> &str {
        "mem.recall"
    }
    fn description(&self) -> &str {
        "Find what the agent knows that is closest to a query: its pages and long-term memories."
    }
    fn schema(&self) -> Value {
        json!({"type": "object", "properties": {"query": {"type": "string", "minLength": 1}, "k": {"type": "integer", "minimum": 1, "maximum": 50}}, "required": ["query"], "additionalProperties": false})
    }
    fn level(&self) -> PermissionLevel {
        PermissionLevel::Restricted
    }
    fn call(&self, args: Value, cx: ToolContext) -> BoxFuture<'static, Result<Value, ToolError>> {
        async move {
            let query = args.get("query").and_then(Value::as_str).unwrap_or_default();
            let k = args.get("k").and_then(Value::as_u64).unwrap_or(5).min(50) as usize;
            let hits = cx
                .kernel
                .pager()
                .recall(cx.pid, query, k)
                .await
                .map_err(|e| failed("mem.recall", e))?;
            let results: Vec<Value> = hits
                .iter()
                .map(|h| json!({"content": h.content, "similarity": h.similarity, "memory": h.memory_id.is_some()}))
                .collect();
            Ok(json!({"results": results}))
        }
        .boxed()
    }
}
