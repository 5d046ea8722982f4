//! MCP: a real server from the npm registry (`@modelcontextprotocol/server-filesystem`, over
//! stdio, installed by `scripts/setup-mcp.sh`) whose tools an agent lists and calls through
//! its policy; killing the server mid-run is survived (the next call starts it again).

mod common;
mod support;

use std::path::PathBuf;

use agent_os_kernel::prelude::*;
use agent_os_kernel::security::policy::AllowBlock;
use agent_os_kernel::tools::ToolError;
use agent_os_kernel::tools::mcp::McpServerConfig;
use agent_os_kernel::{KernelConfig, SecurityPolicy};
use serde_json::{Value, json};
use support::kernel_with;

fn server_entry() -> PathBuf {
    let dir = std::env::var("AOK_MCP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/agent-os/mcp")
        });
    let entry = dir.join("node_modules/@modelcontextprotocol/server-filesystem/dist/index.js");
    assert!(
        entry.is_file(),
        "{} is missing: run scripts/setup-mcp.sh",
        entry.display()
    );
    entry
}

struct Caller;

enum Call {
    Tool(String, Value, ReplyPort<Result<Value, ToolError>>),
}

impl Agent for Caller {
    type Msg = Call;
    type Reply = ();
    async fn handle(&mut self, msg: Call, ctx: &mut AgentContext) -> Result<(), AgentError> {
        let Call::Tool(name, args, reply) = msg;
        reply.send(ctx.tool(&name, args).await);
        Ok(())
    }
}

async fn call(c: &AgentRef<Caller>, name: &str, args: Value) -> Result<Value, ToolError> {
    c.call(|r| Call::Tool(name.to_string(), args, r))
        .await
        .unwrap()
}

#[actix_rt::test]
async fn an_agent_calls_a_real_mcp_server_through_its_policy_and_survives_its_death() {
    let shared = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(shared.path()).unwrap();
    let mut cfg = KernelConfig::default();
    cfg.kernel.arbiters = 2;
    cfg.mcp.servers.insert(
        "files".into(),
        McpServerConfig {
            command: "node".into(),
            args: vec![
                server_entry().display().to_string(),
                root.display().to_string(),
            ],
            ..McpServerConfig::default()
        },
    );
    let (k, _db) = kernel_with(cfg).await;
    let names = k.tools().names();
    assert!(names.contains(&"files.write_file".to_string()), "{names:?}");
    assert!(
        names.contains(&"files.read_text_file".to_string()),
        "{names:?}"
    );

    let agent = k
        .spawn(|| Caller, SpawnOptions::new("mcp-user"))
        .await
        .unwrap();
    let file = root.join("hello.txt").display().to_string();
    let wrote = call(
        &agent,
        "files.write_file",
        json!({"path": file, "content": "hi from an agent"}),
    )
    .await
    .unwrap();
    assert_eq!(wrote["is_error"], false, "{wrote}");
    let read = call(&agent, "files.read_text_file", json!({"path": file}))
        .await
        .unwrap();
    assert_eq!(read["text"], "hi from an agent", "{read}");
    // The schema the server published is checked before the call.
    let err = call(&agent, "files.read_text_file", json!({}))
        .await
        .unwrap_err();
    assert!(matches!(err, ToolError::InvalidArguments { .. }), "{err:?}");

    // Kill the server mid-run: the next call starts it again.
    let marker = root.display().to_string();
    let killed = std::process::Command::new("pkill")
        .args(["-KILL", "-f", &marker])
        .status()
        .unwrap();
    assert!(killed.success(), "the server process was found and killed");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let again = call(&agent, "files.read_text_file", json!({"path": file}))
        .await
        .unwrap();
    assert_eq!(again["text"], "hi from an agent", "{again}");

    // A per-agent allow list of servers is the policy's tool patterns.
    let policy = SecurityPolicy {
        tools: AllowBlock::all().blocking(["files.*"]),
        ..SecurityPolicy::default()
    };
    let barred = k
        .spawn(|| Caller, SpawnOptions::new("barred").policy(policy))
        .await
        .unwrap();
    let err = call(&barred, "files.read_text_file", json!({"path": file}))
        .await
        .unwrap_err();
    assert!(matches!(err, ToolError::Denied { .. }), "{err:?}");
    k.shutdown().await;
}

fn everything_entry() -> PathBuf {
    let entry = server_entry()
        .ancestors()
        .nth(3)
        .map(|m| m.join("server-everything/dist/index.js"))
        .unwrap_or_default();
    assert!(
        entry.is_file(),
        "{} is missing: run scripts/setup-mcp.sh",
        entry.display()
    );
    entry
}

/// Starts server-everything over streamable HTTP on `port`; returns once it listens.
async fn start_everything(port: u16) -> tokio::process::Child {
    let child = tokio::process::Command::new("node")
        .arg(everything_entry())
        .arg("streamableHttp")
        .env("PORT", port.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts");
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return child;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("server-everything did not listen on {port}");
}

#[actix_rt::test]
async fn an_agent_calls_a_streamable_http_mcp_server_and_survives_its_restart() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut server = start_everything(port).await;
    let mut cfg = KernelConfig::default();
    cfg.kernel.arbiters = 2;
    cfg.mcp.servers.insert(
        "everything".into(),
        McpServerConfig {
            url: Some(format!("http://127.0.0.1:{port}/mcp")),
            timeout_ms: 3000,
            ..McpServerConfig::default()
        },
    );
    let (k, _db) = kernel_with(cfg).await;
    let names = k.tools().names();
    assert!(names.contains(&"everything.echo".to_string()), "{names:?}");
    let agent = k
        .spawn(|| Caller, SpawnOptions::new("http-user"))
        .await
        .unwrap();
    let echoed = call(&agent, "everything.echo", json!({"message": "over http"}))
        .await
        .unwrap();
    assert!(
        echoed["text"]
            .as_str()
            .unwrap_or_default()
            .contains("over http"),
        "{echoed}"
    );

    // The server goes away and comes back: the next call reconnects.
    server.kill().await.unwrap();
    let _ = server.wait().await;
    let _server = start_everything(port).await;
    let again = call(&agent, "everything.echo", json!({"message": "again"}))
        .await
        .unwrap();
    assert!(
        again["text"].as_str().unwrap_or_default().contains("again"),
        "{again}"
    );
    k.shutdown().await;
}
