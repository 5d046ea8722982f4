//! The HTTP API under load and the standalone server's footprint (issue 15's goals):
//!
//! 1. `POST /v1/agents/{pid}/tell` requests per second and latency percentiles on loopback,
//!    driven by `wrk` (Debian package), against the same server's `GET /v1/health` (no auth,
//!    no kernel work) as the baseline: goal ≥ 20 000 tell/s.
//! 2. `agent-os serve` (this release build) cold start to ready: from process spawn to its first
//!    `200` from `/v1/ready`, against spawning `agent-os --version` (the process floor):
//!    goal ≤ 50 ms.
//! 3. Its idle resident memory with SQLite (VmRSS after 1 s idle), against the same binary's
//!    `config defaults` peak (VmHWM): goal ≤ 25 MB.
//!
//! `cargo bench --bench api` (release; `wrk` on PATH: `apt-get install wrk`).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use actix_web::{App, HttpServer};
use agent_os_kernel::KernelConfig;
use agent_os_kernel::api::{Api, ApiConfig, ApiToken, Role};
use agent_os_kernel::prelude::*;
use sha2::{Digest, Sha256};

const TOKEN: &str = "bench-token-0123456789";
const BIN: &str = env!("CARGO_BIN_EXE_agent-os");

/// Swallows every message.
#[derive(Default)]
struct Sink(u64);

impl Agent for Sink {
    type Msg = serde_json::Value;
    type Reply = u64;
    async fn handle(
        &mut self,
        _: serde_json::Value,
        _: &mut AgentContext,
    ) -> Result<u64, AgentError> {
        self.0 += 1;
        Ok(self.0)
    }
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `wrk` for 10 s with 64 connections; the summary's requests/s and latency percentiles.
fn wrk(url: &str, script: &std::path::Path) -> (f64, String, String, String, u64) {
    let out = Command::new("wrk")
        .args(["-t", "1", "-c", "64", "-d", "10s", "--latency", "-s"])
        .arg(script)
        .arg(url)
        .output()
        .expect("wrk runs (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("?")
            .to_string()
    };
    let rps = field("Requests/sec:").parse().unwrap_or(0.0);
    let non_2xx = text
        .lines()
        .find(|l| l.contains("Non-2xx"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    (rps, field("50%"), field("99%"), text.clone(), non_2xx)
}

async fn throughput() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut cfg = KernelConfig::default();
    cfg.storage.url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let kernel = Kernel::builder()
        .config(cfg)
        .agent_type("sink", Sink::default)
        .build()
        .await
        .expect("kernel");
    let pid = kernel
        .spawn_registered("sink", SpawnOptions::new("sink"))
        .await
        .expect("spawn");
    let api = Api::new(
        kernel.clone(),
        ApiConfig {
            tokens: vec![ApiToken {
                name: "bench".into(),
                role: Role::Operator,
                sha256: sha256_hex(TOKEN),
            }],
            ..ApiConfig::default()
        },
    );
    let server = HttpServer::new(move || App::new().configure(api.routes()))
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .expect("bind");
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_rt::spawn(server);

    let tell = dir.path().join("tell.lua");
    std::fs::write(
        &tell,
        format!(
            "wrk.method = \"POST\"\nwrk.body = '{{\"message\": {{\"n\": 1}}}}'\n\
             wrk.headers[\"Content-Type\"] = \"application/json\"\n\
             wrk.headers[\"Authorization\"] = \"Bearer {TOKEN}\"\n"
        ),
    )
    .expect("script");
    let health = dir.path().join("health.lua");
    std::fs::write(&health, "wrk.method = \"GET\"\n").expect("script");

    let base = format!("http://{addr}");
    let (h_rps, h50, h99, _, h_bad) = tokio::task::spawn_blocking({
        let url = format!("{base}/v1/health");
        let health = health.clone();
        move || wrk(&url, &health)
    })
    .await
    .expect("wrk");
    let (t_rps, t50, t99, raw, t_bad) = tokio::task::spawn_blocking({
        let url = format!("{base}/v1/agents/{pid}/tell");
        move || wrk(&url, &tell)
    })
    .await
    .expect("wrk");
    let handled = kernel.status(pid).map(|s| s.handled).unwrap_or(0);
    println!("| request (wrk -t1 -c64 -d10s, server: 1 worker) | req/s | p50 | p99 | non-2xx |");
    println!("|---|---|---|---|---|");
    println!(
        "| baseline: GET /v1/health (no auth, no kernel) | {h_rps:.0} | {h50} | {h99} | {h_bad} |"
    );
    println!(
        "| POST /v1/agents/{{pid}}/tell (bearer, JSON decode, audit, mailbox) | {t_rps:.0} | {t50} | {t99} | {t_bad} |"
    );
    println!("\nmessages handled by the agent so far: {handled}");
    if t_rps == 0.0 {
        println!("{raw}");
    }
    let audit = kernel.audit().stats();
    println!(
        "audit: {} recorded, {} written, {} dropped",
        audit.recorded, audit.written, audit.dropped
    );
    handle.stop(true).await;
    kernel.shutdown().await;
}

/// Starts `agent-os serve`; the time until `/v1/ready` answers 200, and the child.
fn serve_once(dir: &std::path::Path) -> (Duration, std::process::Child) {
    let config = dir.join("serve.toml");
    std::fs::write(
        &config,
        format!(
            "[storage]\nurl = \"sqlite://{}\"\n[log]\nfilter = \"warn\"\n",
            dir.join("serve.db").display()
        ),
    )
    .expect("config");
    let t = Instant::now();
    let mut child = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("agent-os serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    let mut reader = BufReader::new(stdout);
    let addr = loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            panic!("agent-os serve exited before listening");
        }
        if let Some(a) = line.trim().strip_prefix("agent-os listening on http://") {
            break a.to_string();
        }
    };
    let ready = format!("http://{addr}/v1/ready");
    let answered = ready_check(&ready);
    while !answered() {
        std::thread::sleep(Duration::from_micros(200));
    }
    (t.elapsed(), child)
}

/// A blocking GET that tells whether it answered 200 (std only: one request, HTTP/1.0).
fn ready_check(url: &str) -> impl Fn() -> bool {
    let rest = url.strip_prefix("http://").unwrap_or(url).to_string();
    move || {
        use std::io::{Read, Write};
        let (host, path) = rest.split_once('/').unwrap_or((&rest, ""));
        let Ok(mut s) = std::net::TcpStream::connect(host) else {
            return false;
        };
        let _ = write!(s, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n");
        let mut head = [0u8; 12];
        s.read_exact(&mut head).is_ok() && head.ends_with(b"200")
    }
}

fn status_kb(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn footprint() {
    let mut starts = Vec::new();
    let mut floors = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let status = Command::new(BIN)
            .arg("--version")
            .stdout(Stdio::null())
            .status();
        floors.push(t.elapsed());
        assert!(status.is_ok_and(|s| s.success()));
        let dir = tempfile::tempdir().expect("a temp dir");
        let (took, mut child) = serve_once(dir.path());
        starts.push(took);
        std::thread::sleep(Duration::from_secs(1));
        rss.push(status_kb(child.id(), "VmRSS:"));
        let _ = Command::new("kill").arg(child.id().to_string()).status();
        let _ = child.wait();
    }
    // The binary's own floor: the peak resident set of `agent-os --version` (GNU time).
    let floor_rss = Command::new("/usr/bin/time")
        .args(["-f", "%M", BIN, "--version"])
        .stdout(Stdio::null())
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stderr)
                .trim()
                .parse::<u64>()
                .ok()
        })
        .unwrap_or(0);
    starts.sort();
    floors.sort();
    rss.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("\n| agent-os serve, 10 runs, SQLite | min | median | max |\n|---|---|---|---|");
    println!(
        "| baseline: spawn `agent-os --version` | {:.1} ms | {:.1} ms | {:.1} ms |",
        ms(floors[0]),
        ms(floors[5]),
        ms(floors[9])
    );
    println!(
        "| cold start → first 200 from /v1/ready | {:.1} ms | {:.1} ms | {:.1} ms |",
        ms(starts[0]),
        ms(starts[5]),
        ms(starts[9])
    );
    println!(
        "| idle resident memory (VmRSS after 1 s) | {:.1} MB | {:.1} MB | {:.1} MB |",
        rss[0] as f64 / 1024.0,
        rss[5] as f64 / 1024.0,
        rss[9] as f64 / 1024.0
    );
    println!(
        "| baseline: `agent-os --version` peak resident set | {:.1} MB | | |",
        floor_rss as f64 / 1024.0
    );
}

fn main() {
    actix::System::new().block_on(throughput());
    footprint();
}
