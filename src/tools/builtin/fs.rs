//! File tools in the agent's workspace: `fs.read`, `fs.write`, `fs.list`. Every path passes the
//! policy's check (canonicalised; the workspace, readable extra directories, blocked ones,
//! read-only).

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

fn path_arg(args: &Value) -> &str {
    args.get("path").and_then(Value::as_str).unwrap_or(".")
}

fn denied(d: crate::security::policy::Denied) -> ToolError {
    ToolError::Denied {
        reason: d.to_string(),
    }
}

/// `fs.read {path}` → `{content}` (UTF-8 text, at most the policy's output cap).
pub(crate) struct Read;

impl Tool for Read {
    fn name(&self) -> &str {
        "fs.read"
    }
    fn description(&self) -> &str {
        "Read a UTF-8 text file from the workspace."
    }
    fn schema(&self) -> Value {
        json!({"type": "object", "properties": {"path": {"type": "string", "minLength": 1}}, "required": ["path"], "additionalProperties": false})
    }
    fn level(&self) -> PermissionLevel {
        PermissionLevel::Restricted
    }
    fn call(&self, args: Value, cx: ToolContext) -> BoxFuture<'static, Result<Value, ToolError>> {
        async move {
            let path = cx
                .policy
                .check_path(&cx.workspace, path_arg(&args), false)
                .map_err(denied)?;
            let bytes = tokio::fs::read(&path)
                .await
                .map_err(|e| failed("fs.read", e))?;
            let cap = usize::try_from(cx.policy.limits.output_bytes).unwrap_or(usize::MAX);
            let cut = bytes.len().saturating_sub(cap);
            let text = String::from_utf8_lossy(&bytes[..bytes.len() - cut]).into_owned();
            Ok(json!({"content": text, "truncated_bytes": cut}))
        }
        .boxed()
    }
}

/// `fs.write {path, content, append?}` → `{bytes}`.
pub(crate) struct Write;

impl Tool for Write {
    fn name(&self) -> &str {
        "fs.write"
    }
    fn description(&self) -> &str {
        "Write (or append) text to a file in the workspace, creating folders as needed."
    }
    fn schema(&self) -> Value {
        json!({"type": "object", "properties": {"path": {"type": "string", "minLength": 1}, "content": {"type": "string"}, "append": {"type": "boolean"}}, "required": ["path", "content"], "additionalProperties": false})
    }
    fn call(&self, args: Value, cx: ToolContext) -> BoxFuture<'static, Result<Value, ToolError>> {
        async move {
            let path = cx
                .policy
                .check_path(&cx.workspace, path_arg(&args), true)
                .map_err(denied)?;
            let content = args
                .get("content")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let max = cx.policy.limits.file_size_bytes;
            if max > 0 && content.len() as u64 > max {
                return Err(failed(
                    "fs.write",
                    format!(
                        "{} bytes is over the file-size limit of {max}",
                        content.len()
                    ),
                ));
            }
            if let Some(dir) = path.parent() {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| failed("fs.write", e))?;
            }
            let append = args.get("append").and_then(Value::as_bool).unwrap_or(false);
            if append {
                use tokio::io::AsyncWriteExt;
                let mut f = tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .await
                    .map_err(|e| failed("fs.write", e))?;
                f.write_all(content.as_bytes())
                    .await
                    .map_err(|e| failed("fs.write", e))?;
            } else {
                tokio::fs::write(&path, content)
                    .await
                    .map_err(|e| failed("fs.write", e))?;
            }
            crate::security::sandbox::hand_over(&cx.workspace, &path);
            Ok(json!({"bytes": content.len()}))
        }
        .boxed()
    }
}

/// `fs.list {path?}` → `{entries: [{name, dir, size}]}`.
pub(crate) struct List;

impl Tool for List {
    fn name(&self) -> &str {
        "fs.list"
    }
    fn description(&self) -> &str {
        "List a directory of the workspace."
    }
    fn schema(&self) -> Value {
        json!({"type": "object", "properties": {"path": {"type": "string"}}, "additionalProperties": false})
    }
    fn level(&self) -> PermissionLevel {
        PermissionLevel::Restricted
    }
    fn call(&self, args: Value, cx: ToolContext) -> BoxFuture<'static, Result<Value, ToolError>> {
        async move {
            let path = cx
                .policy
                .check_path(&cx.workspace, path_arg(&args), false)
                .map_err(denied)?;
            let mut dir = tokio::fs::read_dir(&path)
                .await
                .map_err(|e| failed("fs.list", e))?;
            let mut entries = Vec::new();
            while let Some(e) = dir.next_entry().await.map_err(|e| failed("fs.list", e))? {
                let meta = e.metadata().await.ok();
                entries.push(json!({
                    "name": e.file_name().to_string_lossy(),
                    "dir": meta.as_ref().is_some_and(std::fs::Metadata::is_dir),
                    "size": meta.as_ref().map_or(0, std::fs::Metadata::len),
                }));
                if entries.len() >= 10_000 {
                    break;
                }
            }
            entries.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
            Ok(json!({"entries": entries}))
        }
        .boxed()
    }
}
