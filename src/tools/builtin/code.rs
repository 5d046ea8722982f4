//! Code tools run in the sandbox: `code.python {code, stdin?}` (level standard) and
//! `shell.run {command}` (level elevated). The network is shared only when the policy
//! enables it; limits come from the policy. Without bubblewrap they refuse, unless the policy
//! allows unsandboxed runs (admin).

use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use crate::security::policy::PermissionLevel;
use crate::security::sandbox::{RunSpec, Sandbox, run_unsandboxed};
use crate::tools::tool::{Tool, ToolContext, ToolError};

async fn run(
    tool: &'static str,
    program: &str,
    args: Vec<String>,
    stdin: Option<String>,
    cx: ToolContext,
) -> Result<Value, ToolError> {
    let failed = |reason: String| ToolError::Failed {
        tool: tool.to_string(),
        reason,
    };
    // Without bubblewrap only an admin agent whose policy allows it runs unsandboxed.
    let sandbox = match Sandbox::detect() {
        Ok(s) => Some(s),
        Err(_) if cx.policy.allow_unsandboxed && cx.policy.level >= PermissionLevel::Admin => None,
        Err(e) => {
            return Err(ToolError::Denied {
                reason: e.to_string(),
            });
        }
    };
    tokio::fs::create_dir_all(&cx.workspace)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let mut spec = RunSpec::new(program, &cx.workspace).args(args);
    spec.limits = cx.policy.limits;
    spec.network = cx.policy.network.enabled && cx.policy.level >= PermissionLevel::Elevated;
    spec.stdin = stdin.map(String::into_bytes);
    spec.env
        .push(("AOK_IDEMPOTENCY_KEY".into(), cx.idempotency_key.clone()));
    let out = match &sandbox {
        Some(sandbox) => sandbox.run(&spec).await,
        None => run_unsandboxed(&spec).await,
    }
    .map_err(|e| failed(e.to_string()))?;
    Ok(json!({
        "sandboxed": sandbox.is_some(),
        "exit_code": out.code,
        "signal": out.signal,
        "timed_out": out.timed_out,
        "stdout": out.stdout.text(),
        "stderr": out.stderr.text(),
        "stdout_truncated_bytes": out.stdout.truncated,
        "stderr_truncated_bytes": out.stderr.truncated,
    }))
}

/// `code.python {code, stdin?}`.
pub(crate) struct Python;

impl Tool for Python {
    fn name(&self) -> &str {
        "code.python"
    }
    fn description(&self) -> &str {
        "Run Python 3 code in a sandbox with the workspace as its working directory; returns exit code, stdout and stderr."
    }
    fn schema(&self) -> Value {
        json!({"type": "object", "properties": {"code": {"type": "string", "minLength": 1}, "stdin": {"type": "string"}}, "required": ["code"], "additionalProperties": false})
    }
    fn call(&self, args: Value, cx: ToolContext) -> BoxFuture<'static, Result<Value, ToolError>> {
        let code = args
            .get("code")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let stdin = args
            .get("stdin")
            .and_then(Value::as_str)
            .map(str::to_string);
        run("code.python", "python3", vec!["-c".into(), code], stdin, cx).boxed()
    }
}

/// `shell.run {command}`.
pub(crate) struct Shell;

impl Tool for Shell {
    fn name(&self) -> &str {
        "shell.run"
    }
    fn description(&self) -> &str {
        "Run a shell command (sh -c) in a sandbox with the workspace as its working directory."
    }
    fn schema(&self) -> Value {
        json!({"type": "object", "properties": {"command": {"type": "string", "minLength": 1}}, "required": ["command"], "additionalProperties": false})
    }
    fn level(&self) -> PermissionLevel {
        PermissionLevel::Elevated
    }
    fn call(&self, args: Value, cx: ToolContext) -> BoxFuture<'static, Result<Value, ToolError>> {
        let command = args
            .get("command")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        run("shell.run", "sh", vec!["-c".into(), command], None, cx).boxed()
    }
}
