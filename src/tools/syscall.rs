//! The tool syscalls on an agent's context: call a tool through the policy, the schema check,
//! the journal and the audit log; hand tool specs to `ctx.llm`; dispatch a model's tool calls.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use crate::agent::AgentContext;
use crate::digest::sha256_hex;
use crate::provider::{Message, ToolCall, ToolSpec};
use crate::security::audit::AuditRecord;
use crate::tools::registry::ToolRegistry;
use crate::tools::schema::validate;
use crate::tools::tool::{ToolContext, ToolError};

impl AgentContext {
    /// This agent's workspace directory (`tools.workspace_root/<pid>`).
    pub fn workspace(&self) -> PathBuf {
        PathBuf::from(&self.kernel().config().tools.workspace_root).join(self.pid().to_string())
    }

    /// Calls a tool: the policy (level, allow/block list) first, then the arguments against
    /// the tool's schema, then the call — journaled for a durable agent (a replayed step gets
    /// the same result without running it again) and audited (`tool.call`, digests of the
    /// arguments and the result). A failure is a [`ToolError`] the agent can act on.
    #[tracing::instrument(name = "syscall.tool", skip_all, fields(pid = %self.pid(), tool = name))]
    pub async fn tool(&self, name: &str, args: Value) -> Result<Value, ToolError> {
        let started = std::time::Instant::now();
        let args_digest = sha256_hex(args.to_string().as_bytes());
        let result = self.tool_call(name, args, args_digest.clone()).await;
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.trace_with(|t| {
            t.tool_calls.push(crate::trajectory::ToolCallTrace {
                tool: name.to_string(),
                args_digest,
                ok: result.is_ok(),
                error: result.as_ref().err().map(ToString::to_string),
                latency_ms,
            });
        });
        result
    }

    /// [`AgentContext::tool`] without its trajectory entry.
    async fn tool_call(
        &self,
        name: &str,
        args: Value,
        args_digest: String,
    ) -> Result<Value, ToolError> {
        let kernel = self.kernel();
        let pid = self.pid();
        let audit = kernel.audit();
        let Some(tool) = kernel.tools().get(name) else {
            return Err(ToolError::NoSuchTool {
                name: name.to_string(),
            });
        };
        let name = tool.name().to_string();
        if let Err(denied) = self.policy().check_tool(&name, tool.level()) {
            crate::security::report_denial(pid, &denied, kernel.events_bus(), audit);
            return Err(ToolError::Denied {
                reason: denied.to_string(),
            });
        }
        if let Err(reason) = self.take_tool_slot() {
            let denied = crate::security::policy::Denied {
                action: "tool.call",
                target: name.clone(),
                reason,
            };
            crate::security::report_denial(pid, &denied, kernel.events_bus(), audit);
            return Err(ToolError::Denied {
                reason: denied.to_string(),
            });
        }
        if let Err(reason) = validate(&tool.schema(), &args) {
            return Err(ToolError::InvalidArguments { tool: name, reason });
        }
        let workspace = self.workspace();
        let policy = Arc::new(self.policy().clone());
        let kernel_for_tool = kernel.clone();
        let outcome: Result<Result<Value, ToolError>, crate::AgentError> = self
            .journaled(&format!("tool:{name}"), |key| {
                let cx = ToolContext {
                    pid,
                    workspace,
                    policy,
                    idempotency_key: key,
                    kernel: kernel_for_tool,
                };
                async move { Ok(tool.call(args, cx).await) }
            })
            .await;
        let result = outcome.unwrap_or_else(|e| {
            Err(ToolError::Failed {
                tool: name.clone(),
                reason: e.to_string(),
            })
        });
        let mut record = AuditRecord::new("tool.call")
            .pid(pid)
            .target(name)
            .allowed(true)
            .args_digest(args_digest);
        record = match &result {
            Ok(v) => {
                let record = record.result_digest(sha256_hex(v.to_string().as_bytes()));
                match process_outcome(v) {
                    Some(note) => record.reason(note),
                    None => record,
                }
            }
            Err(ToolError::Denied { reason }) => record.denied(reason.clone()),
            Err(e) => record.reason(e.to_string()),
        };
        audit.record(record);
        result
    }

    /// The tools this agent's policy lets it call, as a model sees them (give them to
    /// `ChatRequest::tools`; names have `.` written `__`).
    pub fn tool_specs(&self) -> Vec<ToolSpec> {
        let tools = self.kernel().tools();
        tools
            .names()
            .iter()
            .filter_map(|n| tools.get(n))
            .filter(|t| self.policy().check_tool(t.name(), t.level()).is_ok())
            .map(|t| ToolRegistry::spec(&*t))
            .collect()
    }

    /// Runs a model's tool calls, in order, and returns the tool-result messages to append to
    /// the conversation (a failure becomes a result the model can read).
    pub async fn call_tools(&self, calls: &[ToolCall]) -> Vec<Message> {
        let mut out = Vec::with_capacity(calls.len());
        for call in calls {
            let content = match serde_json::from_str::<Value>(&call.arguments) {
                Err(e) => serde_json::json!({"error": format!("arguments are not JSON: {e}")}),
                Ok(args) => match self.tool(&call.name, args).await {
                    Ok(v) => v,
                    Err(e) => serde_json::json!({"error": e.to_string()}),
                },
            };
            out.push(Message::tool_result(call.id.clone(), content.to_string()));
        }
        out
    }
}

/// What a tool that ran a process reports as its end (`exit_code`, `signal`, `timed_out`),
/// when it did not end well: the audit row says how a sandboxed run was stopped.
fn process_outcome(result: &Value) -> Option<String> {
    if result.get("timed_out").and_then(Value::as_bool) == Some(true) {
        return Some("killed at its wall time".into());
    }
    if let Some(signal) = result.get("signal").and_then(Value::as_i64) {
        return Some(format!("killed by signal {signal}"));
    }
    match result.get("exit_code").and_then(Value::as_i64) {
        Some(0) | None => None,
        Some(code) => Some(format!("exit code {code}")),
    }
}
