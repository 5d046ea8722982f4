//! `agent-os mcp probe`: connects the kernel to one MCP server exactly as an `[mcp.servers]`
//! entry would, lists its tools and (with `--call-all`) calls each of them from an agent
//! through the policy, with arguments made from the tool's schema. The diagnosis an operator
//! runs before configuring a server, and the client the MCP conformance suite drives.

use std::process::ExitCode;

use agent_os_kernel::prelude::*;
use agent_os_kernel::tools::ToolError;
use agent_os_kernel::tools::mcp::{ElicitationMode, McpServerConfig};
use agent_os_kernel::{KernelConfig, ReplyPort};
use clap::{Args, ValueEnum};
use serde_json::{Map, Value, json};

/// `agent-os mcp probe` arguments.
#[derive(Args, Debug)]
pub(crate) struct ProbeArgs {
    /// The server: its streamable-HTTP URL (`http://127.0.0.1:3001/mcp`), or with `--stdio`
    /// the program to start followed by its arguments.
    #[arg(required = true, num_args = 1.., allow_hyphen_values = true)]
    target: Vec<String>,
    /// TARGET is a command speaking MCP over stdio, not a URL.
    #[arg(long)]
    stdio: bool,
    /// Call every tool the server lists, with arguments made from its schema (defaults,
    /// else the first enum value, else a zero value of the type).
    #[arg(long)]
    call_all: bool,
    /// What to answer when the server asks for input.
    #[arg(long, value_enum, default_value_t = Elicitation::Decline)]
    elicitation: Elicitation,
    /// Milliseconds a call may go unanswered before the connection counts as dead.
    #[arg(long, default_value_t = 30_000)]
    timeout_ms: u64,
}

/// `--elicitation`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum Elicitation {
    /// Decline every request.
    Decline,
    /// Accept forms whose required fields all have defaults, with the defaults.
    AcceptDefaults,
}

const SERVER: &str = "probe";

/// Calls tools from inside an agent, so each call passes the policy like any agent's.
struct Prober;

struct ToolCall(String, Value, ReplyPort<Result<Value, ToolError>>);

impl Agent for Prober {
    type Msg = ToolCall;
    type Reply = ();
    async fn handle(&mut self, msg: ToolCall, ctx: &mut AgentContext) -> Result<(), AgentError> {
        let ToolCall(name, args, reply) = msg;
        reply.send(ctx.tool(&name, args).await);
        Ok(())
    }
}

/// Runs the probe; exit 0 when the server initialised and every call was answered, 1 when
/// a call failed, 2 when the server could not be reached.
pub(crate) fn probe(args: ProbeArgs) -> ExitCode {
    actix::System::new().block_on(run(args))
}

async fn run(args: ProbeArgs) -> ExitCode {
    let mut server = McpServerConfig {
        timeout_ms: args.timeout_ms,
        elicitation: match args.elicitation {
            Elicitation::Decline => ElicitationMode::Decline,
            Elicitation::AcceptDefaults => ElicitationMode::AcceptDefaults,
        },
        ..McpServerConfig::default()
    };
    let mut target = args.target.into_iter();
    if args.stdio {
        server.command = target.next().unwrap_or_default();
        server.args = target.collect();
    } else {
        server.url = target.next();
    }
    let mut cfg = KernelConfig::default();
    cfg.storage.url = "sqlite::memory:".into();
    cfg.mcp.servers.insert(SERVER.into(), server);
    let kernel = match Kernel::builder().config(cfg).build().await {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: the kernel did not start: {e}");
            return ExitCode::from(2);
        }
    };
    let code = probe_with(&kernel, args.call_all).await;
    kernel.shutdown().await;
    code
}

async fn probe_with(kernel: &Kernel, call_all: bool) -> ExitCode {
    let prefix = format!("{SERVER}.");
    let tools: Vec<_> = kernel
        .tools()
        .names()
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .filter_map(|n| kernel.tools().get(&n))
        .collect();
    let status = kernel
        .tools()
        .mcp_servers()
        .into_iter()
        .find(|s| s.name == SERVER);
    if let Some(error) = status.and_then(|s| s.error) {
        eprintln!("error: {error}");
        return ExitCode::from(2);
    }
    println!("{} tool(s)", tools.len());
    for tool in &tools {
        println!("  {}  {}", &tool.name()[prefix.len()..], tool.description());
    }
    if !call_all {
        return ExitCode::SUCCESS;
    }
    let prober = match kernel
        .spawn(|| Prober, SpawnOptions::new("mcp-probe"))
        .await
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut failed = 0_usize;
    for tool in &tools {
        let name = tool.name().to_string();
        let arguments = example_of(&tool.schema());
        let answer = prober
            .call(|reply| ToolCall(name.clone(), arguments.clone(), reply))
            .await;
        let line = match answer {
            Ok(Ok(result)) => json!({ "tool": name, "arguments": arguments, "result": result }),
            Ok(Err(e)) => {
                failed += 1;
                json!({ "tool": name, "arguments": arguments, "error": e.to_string() })
            }
            Err(e) => {
                failed += 1;
                json!({ "tool": name, "arguments": arguments, "error": e.to_string() })
            }
        };
        println!("{line}");
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// A value that satisfies `schema` (the subset tools publish): its default, else its first
/// enum value, else a zero value of its type; objects get their required properties and
/// those with defaults.
fn example_of(schema: &Value) -> Value {
    if let Some(default) = schema.get("default") {
        return default.clone();
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    let kind = match schema.get("type") {
        Some(Value::Array(kinds)) => kinds.first().and_then(Value::as_str).unwrap_or("null"),
        Some(Value::String(kind)) => kind.as_str(),
        _ if schema.get("properties").is_some() => "object",
        _ => "null",
    };
    match kind {
        "object" => {
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut object = Map::new();
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (name, property) in properties {
                    if required.contains(&name.as_str()) || property.get("default").is_some() {
                        object.insert(name.clone(), example_of(property));
                    }
                }
            }
            Value::Object(object)
        }
        "array" => json!([]),
        "string" => json!(""),
        "integer" | "number" => json!(0),
        "boolean" => json!(false),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_follow_the_schema() {
        let schema = json!({
            "type": "object",
            "properties": {
                "a": { "type": "number" },
                "b": { "type": "integer", "default": 7 },
                "mode": { "type": "string", "enum": ["fast", "slow"] },
                "skip": { "type": "string" }
            },
            "required": ["a", "mode"]
        });
        assert_eq!(
            example_of(&schema),
            json!({ "a": 0, "b": 7, "mode": "fast" })
        );
    }
}
