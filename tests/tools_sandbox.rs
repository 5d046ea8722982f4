//! The sandbox's refusals as an agent meets them — through `ctx.tool` (`code.python`,
//! `shell.run`) — each one stopped and each one in the audit log with how it ended: a
//! connection to a port listening on the host's 127.0.0.1, a fork bomb, a memory bomb, a
//! command past its wall time with its grandchildren.

mod common;
mod support;

use agent_os_kernel::prelude::*;
use agent_os_kernel::security::policy::ResourceLimits;
use agent_os_kernel::tools::ToolError;
use agent_os_kernel::{AuditQuery, KernelConfig, PermissionLevel, SecurityPolicy};
use serde_json::{Value, json};
use support::kernel_with;

struct Hands;

struct Use(String, Value, ReplyPort<Result<Value, ToolError>>);

impl Agent for Hands {
    type Msg = Use;
    type Reply = ();
    async fn handle(&mut self, msg: Use, ctx: &mut AgentContext) -> Result<(), AgentError> {
        let Use(name, args, reply) = msg;
        reply.send(ctx.tool(&name, args).await);
        Ok(())
    }
}

async fn call(h: &AgentRef<Hands>, name: &str, args: Value) -> Value {
    h.call(|r| Use(name.to_string(), args, r))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[actix_rt::test]
async fn sandbox_refusals_reached_through_tools_are_stopped_and_audited() {
    let root = tempfile::tempdir().unwrap();
    let mut cfg = KernelConfig::default();
    cfg.kernel.arbiters = 2;
    cfg.tools.workspace_root = root.path().display().to_string();
    let (k, _db) = kernel_with(cfg).await;
    let policy = SecurityPolicy {
        level: PermissionLevel::Elevated,
        limits: ResourceLimits {
            memory_bytes: 256 << 20,
            processes: 32,
            wall_ms: 1500,
            ..ResourceLimits::default()
        },
        ..SecurityPolicy::default()
    };
    let h = k
        .spawn(|| Hands, SpawnOptions::new("probe").policy(policy))
        .await
        .unwrap();

    // A port listening on the host's loopback is out of reach (no network namespace shared).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let net = call(
        &h,
        "code.python",
        json!({"code": format!("import socket; socket.create_connection(('127.0.0.1', {port}), timeout=1)")}),
    )
    .await;
    assert_ne!(net["exit_code"], 0, "{net}");
    assert!(net["stderr"].as_str().unwrap().contains("Error"), "{net}");

    let fork_bomb = call(
        &h,
        "code.python",
        json!({"code": "import os, time\nwhile True:\n  try:\n    os.fork() == 0 and time.sleep(60)\n  except OSError:\n    time.sleep(60)"}),
    )
    .await;
    assert_eq!(fork_bomb["timed_out"], true, "{fork_bomb}");

    let memory_bomb = call(&h, "code.python", json!({"code": "x = bytearray(2 << 30)"})).await;
    assert!(
        memory_bomb["stderr"]
            .as_str()
            .unwrap()
            .contains("MemoryError"),
        "{memory_bomb}"
    );

    let marker = format!("aok-tool-grandchild-{}", std::process::id());
    let sleeper = call(
        &h,
        "shell.run",
        json!({"command": format!("sh -c 'python3 -c \"import time; time.sleep(300)\" {marker}' & wait")}),
    )
    .await;
    assert_eq!(sleeper["timed_out"], true, "{sleeper}");
    let gone = support::eventually(support::SEC * 5, || {
        !std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
            .any(|c| String::from_utf8_lossy(&c).contains(&marker))
    })
    .await;
    assert!(gone, "a grandchild survived the kill");

    // Four calls, four audit rows, each saying how its run was stopped.
    k.audit().flush().await.unwrap();
    let rows = k
        .audit()
        .query(AuditQuery::new().pid(h.pid()).action("tool.call"))
        .await
        .unwrap();
    let reasons: Vec<String> = rows
        .iter()
        .rev()
        .map(|r| r.record.reason.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        reasons,
        [
            "exit code 1",
            "killed at its wall time",
            "exit code 1",
            "killed at its wall time"
        ],
        "{rows:?}"
    );
    assert!(rows.iter().all(|r| r.record.result_digest.is_some()));
    assert!(k.audit().verify().await.unwrap().is_ok());
    drop(listener);
    k.shutdown().await;
}
