//! code_assistant: a ReAct agent fixes a failing test in a small shell project with the
//! kernel's sandboxed tools (`fs.list`, `fs.read`, `fs.write`, `shell.run`), on the embedded
//! defaults (SQLite under `./data/`, no API key, no services).
//!
//! The project is a scratch directory: the agent's workspace (`tools.workspace_root/<pid>`,
//! here under a temporary directory) holds `calc.sh`, whose `add` subtracts, and
//! `test_calc.sh`, which fails. The agent lists and reads the files, runs the test, writes the
//! fix and runs the test again. Every tool call passes its security policy (level `elevated`
//! for the shell, file tools confined to its workspace, no network) and the audit log; the
//! commands run in the bubblewrap sandbox (`bash scripts/setup-bubblewrap.sh`). One call —
//! a listing of the parent directory — is refused by the policy, and the model reads the
//! typed error as that call's result.
//!
//! The model: a real tool-calling model when one is configured or detected (OPENAI_API_KEY,
//! ANTHROPIC_API_KEY, DEEPSEEK_API_KEY, …, or OPENAI_BASE_URL for a local OpenAI-compatible
//! server that supports tool calls; `AOK_CODE_MODEL` names the model). Without one, the
//! offline `scripted` backend plays the model from a fixed script of tool calls — the output
//! says so; the tools, the sandbox, the policy and the audit log are real either way.
//!
//! Run: `cargo run --example code_assistant`

use std::path::Path;
use std::time::Duration;

use agent_os_actors::{ReactAgent, ReactMsg, Stopped};
use agent_os_kernel::prelude::*;
use agent_os_kernel::provider::{BackendConfig, Message, Role, ScriptEntry, ScriptTurn};
use agent_os_kernel::security::policy::{AllowBlock, ResourceLimits};
use agent_os_kernel::{AuditQuery, KernelConfig, PermissionLevel, SecurityPolicy};
use serde_json::{Value, json};

/// The buggy program: `add` subtracts.
const CALC_SH: &str = r#"#!/bin/sh
# calc.sh OP A B: integer arithmetic for the build scripts.
case "$1" in
  add) echo $(( $2 - $3 )) ;;
  mul) echo $(( $2 * $3 )) ;;
  *) echo "usage: calc.sh add|mul A B" >&2; exit 2 ;;
esac
"#;

/// Its test.
const TEST_SH: &str = r#"#!/bin/sh
# Each case is "OP A B EXPECTED".
fail=0
for case in "add 2 3 5" "add 10 -4 6" "mul 6 7 42"; do
  set -- $case
  got=$(sh ./calc.sh "$1" "$2" "$3")
  if [ "$got" = "$4" ]; then echo "ok   $1 $2 $3 = $got"
  else echo "FAIL $1 $2 $3: got $got, expected $4"; fail=1; fi
done
if [ $fail -eq 0 ]; then echo "PASS"; else echo "FAILED"; fi
exit $fail
"#;

/// What the agent is asked to do.
const TASK: &str = "The test test_calc.sh in your workspace fails. Look around first (shared \
helpers may live in the parent directory `..`), read the files, fix the bug in calc.sh with \
fs.write, and run `sh test_calc.sh` with shell.run until it prints PASS. Then answer with one \
sentence naming the bug.";

/// The fixed program (what the scripted model writes).
fn fixed() -> String {
    CALC_SH.replace("$(( $2 - $3 ))", "$(( $2 + $3 ))")
}

/// The offline model: a fixed script of tool calls, one turn per step of the agent.
fn script() -> Vec<ScriptEntry> {
    let run_test = json!({"command": "sh test_calc.sh"});
    vec![
        ScriptEntry::new("test_calc.sh")
            .turn(ScriptTurn::text("[scripted] Listing the project.").call("fs__list", json!({})))
            .turn(
                ScriptTurn::text("[scripted] The task mentions `..`: looking for shared helpers.")
                    .call("fs__list", json!({"path": ".."})),
            )
            .turn(
                ScriptTurn::text("[scripted] `..` is outside my workspace; reading the project.")
                    .call("fs__read", json!({"path": "calc.sh"}))
                    .call("fs__read", json!({"path": "test_calc.sh"})),
            )
            .turn(
                ScriptTurn::text("[scripted] Running the test to see the failure.")
                    .call("shell__run", run_test.clone()),
            )
            .turn(
                ScriptTurn::text("[scripted] `add` computes $2 - $3; it must be $2 + $3.")
                    .call("fs__write", json!({"path": "calc.sh", "content": fixed()})),
            )
            .turn(ScriptTurn::text("[scripted] Running the test again.").call("shell__run", run_test))
            .turn(ScriptTurn::text(
                "[scripted] Fixed: `add` in calc.sh subtracted ($2 - $3) instead of adding; test_calc.sh prints PASS.",
            )),
    ]
}

/// A reasonable model for the first detected backend (`AOK_CODE_MODEL` overrides it).
fn model_for(backend: &str) -> String {
    if let Ok(m) = std::env::var("AOK_CODE_MODEL") {
        return m;
    }
    match backend {
        "openai" => "gpt-4o-mini",
        "anthropic" => "claude-3-5-haiku-latest",
        "deepseek" => "deepseek-chat",
        "moonshot" => "moonshot-v1-8k",
        "qwen" => "qwen-turbo",
        "minimax" => "abab6.5s-chat",
        _ => "scripted",
    }
    .to_string()
}

/// One line per string value, long ones cut (`fs.write`'s content is shown as a diff later).
fn short(args: &str) -> String {
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(args) else {
        return args.chars().take(120).collect();
    };
    let parts: Vec<String> = map
        .iter()
        .map(|(k, v)| match v.as_str() {
            Some(s) if s.len() > 40 || s.contains('\n') => format!("{k}: <{} bytes>", s.len()),
            _ => format!("{k}: {v}"),
        })
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// What a tool's result says, as the model read it.
fn outcome(tool: &str, result: &str) -> Vec<String> {
    let Ok(v) = serde_json::from_str::<Value>(result) else {
        return vec![format!("<- {result}")];
    };
    if let Some(e) = v.get("error").and_then(Value::as_str) {
        return vec![format!("<- error: {e}")];
    }
    match tool {
        "fs.list" => {
            let names: Vec<&str> = v["entries"]
                .as_array()
                .map(|a| a.iter().filter_map(|e| e["name"].as_str()).collect())
                .unwrap_or_default();
            vec![format!("<- entries: {}", names.join(", "))]
        }
        "fs.read" => {
            let text = v["content"].as_str().unwrap_or_default();
            vec![format!(
                "<- {} bytes, {} lines",
                text.len(),
                text.lines().count()
            )]
        }
        "fs.write" => vec![format!("<- wrote {} bytes", v["bytes"])],
        "shell.run" => {
            let mut out = vec![format!(
                "<- exit code {} (sandboxed: {})",
                v["exit_code"], v["sandboxed"]
            )];
            for stream in ["stdout", "stderr"] {
                for line in v[stream].as_str().unwrap_or_default().lines() {
                    out.push(format!("   | {line}"));
                }
            }
            out
        }
        _ => vec![format!(
            "<- {}",
            result.chars().take(160).collect::<String>()
        )],
    }
}

/// Prints the conversation the model saw: each turn's text, each tool call with its result.
fn print_transcript(messages: &[Message]) {
    for (i, m) in messages.iter().enumerate() {
        if m.role != Role::Assistant {
            continue;
        }
        if !m.content.trim().is_empty() {
            println!("model: {}", m.content.trim());
        }
        for call in &m.tool_calls {
            let tool = call.name.replace("__", ".");
            println!("  tool call {tool} {}", short(&call.arguments));
            let result = messages[i..]
                .iter()
                .find(|r| r.role == Role::Tool && r.tool_call_id.as_deref() == Some(&call.id));
            match result {
                Some(r) => outcome(&tool, &r.content)
                    .iter()
                    .for_each(|l| println!("    {l}")),
                None => println!("    <- (no result in the context)"),
            }
        }
    }
}

/// The result of the last `shell.run` of the test, as the model read it.
fn last_test_run(messages: &[Message]) -> Option<Value> {
    let call = messages
        .iter()
        .flat_map(|m| &m.tool_calls)
        .rev()
        .find(|c| {
            c.name.replace("__", ".") == "shell.run" && c.arguments.contains("test_calc.sh")
        })?;
    let result = messages
        .iter()
        .find(|m| m.role == Role::Tool && m.tool_call_id.as_deref() == Some(call.id.as_str()))?;
    serde_json::from_str(&result.content).ok()
}

/// The lines of `calc.sh` the agent changed.
fn print_diff(before: &str, after: &str) {
    let (b, a): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
    if b == a {
        println!("calc.sh is unchanged");
        return;
    }
    println!("calc.sh changed:");
    for i in 0..b.len().max(a.len()) {
        match (b.get(i), a.get(i)) {
            (Some(x), Some(y)) if x == y => {}
            (x, y) => {
                x.iter().for_each(|l| println!("  - {l}"));
                y.iter().for_each(|l| println!("  + {l}"));
            }
        }
    }
}

fn write_project(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("calc.sh"), CALC_SH)?;
    std::fs::write(dir.join("test_calc.sh"), TEST_SH)
}

#[actix::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scratch = tempfile::tempdir()?;
    // Defaults, then AOK__… variables (e.g. AOK__STORAGE__URL), then this example's choices.
    let mut cfg = KernelConfig::load(None)?;
    cfg.tools.workspace_root = scratch.path().join("workspaces").display().to_string();
    let detected = cfg.providers.resolved(false);
    let offline = detected.backends.is_empty();
    if offline {
        cfg.providers
            .backends
            .insert("scripted".into(), BackendConfig::scripted(script()));
    }
    let kernel = Kernel::builder().config(cfg).build().await?;
    println!("kernel up, storage at {}", kernel.config().storage.url);
    let backends = kernel.providers().router.backends();
    if offline {
        println!(
            "LLM: the offline scripted backend plays the model from a fixed script of tool calls; \
             set OPENAI_API_KEY (or OPENAI_BASE_URL for a tool-calling local server) for a real model"
        );
    } else {
        println!(
            "LLM: {} (a real model drives the tools)",
            backends.join(", ")
        );
    }
    let model = model_for(backends.first().map_or("", String::as_str));

    // Shell needs level `elevated`; the tools are only the file ones and the shell; no network.
    let policy = SecurityPolicy {
        level: PermissionLevel::Elevated,
        tools: AllowBlock::only(["fs.list", "fs.read", "fs.write", "shell.run"]),
        limits: ResourceLimits {
            wall_ms: 20_000,
            ..ResourceLimits::default()
        },
        ..SecurityPolicy::default()
    };
    let assistant = ReactAgent::new("code-assistant", TASK)
        .model(model)
        .max_steps(12);
    let opts = assistant.options().policy(policy);
    let agent = kernel.spawn(assistant.factory(), opts).await?;
    let pid = agent.pid();
    let workspace = Path::new(&kernel.config().tools.workspace_root).join(pid.to_string());
    write_project(&workspace)?;
    println!("project in the agent's workspace {}", workspace.display());
    println!("task: {TASK}\n");

    let run = agent
        .ask(ReactMsg::Run)
        .timeout(Duration::from_secs(600))
        .await?;
    let context = kernel.pager().context(pid, None).await?;
    print_transcript(&context.messages);

    println!();
    print_diff(
        CALC_SH,
        &std::fs::read_to_string(workspace.join("calc.sh")).unwrap_or_default(),
    );
    let refused: Vec<_> = run
        .tool_calls
        .iter()
        .filter(|c| {
            c.error
                .as_deref()
                .is_some_and(|e| e.contains("denied by policy"))
        })
        .collect();
    for c in &refused {
        // `ToolError::Denied`, handed to the model as this call's result.
        let read = json!({ "error": c.error.as_deref().unwrap_or_default() });
        println!(
            "refused by policy: {} {} (ToolError::Denied; the model read {read})",
            c.name.replace("__", "."),
            short(&c.arguments),
        );
    }
    kernel.audit().flush().await?;
    let rows = kernel
        .audit()
        .query(AuditQuery::new().pid(pid).action("tool.call"))
        .await?;
    let denied = rows.iter().filter(|r| !r.record.allowed).count();
    println!(
        "audit log: {} tool.call rows for {pid}, {denied} denied; chain verified: {}",
        rows.len(),
        kernel.audit().verify().await?.is_ok()
    );
    let passed = last_test_run(&context.messages).is_some_and(|v| {
        v["exit_code"] == 0
            && v["sandboxed"] == true
            && v["stdout"].as_str().is_some_and(|s| s.contains("PASS"))
    });
    println!(
        "\noutcome: {:?} after {} LLM step(s) and {} tool call(s); answer: {}",
        run.stopped,
        run.steps,
        run.tool_calls.len(),
        run.answer.trim()
    );
    if passed {
        println!("code_assistant: the last sandboxed `sh test_calc.sh` printed PASS (exit code 0)");
    } else {
        println!("code_assistant: the test does not pass yet (see the transcript above)");
    }
    if run.stopped == Stopped::StepLimit {
        println!("(the agent reached its step limit)");
    }
    kernel.shutdown().await;
    Ok(())
}
