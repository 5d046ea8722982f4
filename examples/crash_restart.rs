//! Crash-restart, end to end and offline: an agent works through a durable job list — an LLM
//! call and a tool call per job — and is killed mid-way twice: first a panic inside a handler
//! (the supervisor restarts it from its last checkpoint, in the same process), then the whole
//! process with SIGKILL (the next process resumes it). At the end every job is done exactly
//! once, every tool effect happened once, and no LLM call was repeated.
//!
//! ```text
//! cargo run --example crash_restart
//! ```
//!
//! The example runs itself as the worker process (`--worker`); the parent plays the LLM
//! provider (an OpenAI-compatible endpoint on 127.0.0.1 that counts what it is asked) and the
//! operator who kills the worker.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_os_kernel::prelude::*;
use agent_os_kernel::provider::{BackendConfig, BackendKind, ChatRequest, Message};
use agent_os_kernel::{KernelConfig, KernelEvent};
use serde::{Deserialize, Serialize};

const JOBS: u64 = 12;
const PANIC_ON: u64 = 4;
const KILL_AFTER: u64 = 7;

/// Works through jobs: asks the LLM for each, then "files" the answer with a tool.
#[derive(Default, Serialize, Deserialize)]
struct Clerk {
    done: Vec<u64>,
    #[serde(skip)]
    dir: PathBuf,
}

#[derive(Serialize, Deserialize)]
enum ClerkMsg {
    Job(u64),
    Status,
}

impl Agent for Clerk {
    type Msg = ClerkMsg;
    type Reply = Vec<u64>;

    async fn handle(
        &mut self,
        msg: ClerkMsg,
        ctx: &mut AgentContext,
    ) -> Result<Vec<u64>, AgentError> {
        let ClerkMsg::Job(n) = msg else {
            return Ok(self.done.clone());
        };
        let answer = ctx
            .llm(ChatRequest::new(
                "local-model",
                vec![Message::user(format!("job {n}"))],
            ))
            .await?;
        // The tool: appends to a ledger file, idempotent by the key the kernel hands it.
        let ledger = self.dir.join("ledger.txt");
        ctx.journaled("file_answer", |key| async move {
            let seen = std::fs::read_to_string(&ledger).unwrap_or_default();
            if !seen.contains(&key) {
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&ledger)
                    .map_err(AgentError::other)?;
                writeln!(f, "{n}\t{}\t{key}", answer.content).map_err(AgentError::other)?;
            }
            Ok(())
        })
        .await?;
        let marker = self.dir.join("panicked");
        if n == PANIC_ON && !marker.exists() {
            std::fs::write(&marker, b"once").map_err(AgentError::other)?;
            panic!("the clerk trips over job {n}");
        }
        self.done.push(n);
        println!("@@ done {n} (step {})", ctx.step());
        Ok(self.done.clone())
    }

    fn snapshot(&self) -> Result<Option<serde_json::Value>, AgentError> {
        AgentContext::to_state(self).map(Some)
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), AgentError> {
        let dir = std::mem::take(&mut self.dir);
        *self = serde_json::from_value(state).map_err(AgentError::other)?;
        self.dir = dir;
        Ok(())
    }
}

/// The worker process: resumes (or spawns) the clerk and sends it the job list.
async fn worker(dir: PathBuf, llm: String) -> Result<(), Box<dyn std::error::Error>> {
    let mut cfg = KernelConfig::default();
    let mut backend = BackendConfig::new(BackendKind::OpenaiCompatible);
    backend.base_url = Some(llm);
    backend.models = vec!["local-model".into()];
    cfg.providers.backends.insert("local".into(), backend);
    let clerk_dir = dir.clone();
    let kernel = Kernel::builder()
        .config(cfg)
        .storage_url(format!("sqlite://{}", dir.join("kernel.db").display()))
        .agent_type("clerk", move || Clerk {
            dir: clerk_dir.clone(),
            ..Clerk::default()
        })
        .build()
        .await?;
    let mut events = kernel.events();
    actix::spawn(async move {
        while let Ok(e) = events.recv().await {
            match e {
                KernelEvent::Crashed { reason, .. } => println!("@@ crashed: {reason}"),
                KernelEvent::Restored {
                    checkpoint,
                    step,
                    redelivered,
                    ..
                } => println!(
                    "@@ restored from checkpoint {} at step {step}, {redelivered} message(s) redelivered",
                    checkpoint.as_deref().unwrap_or("(none)")
                ),
                _ => {}
            }
        }
    });
    let pid_file = dir.join("pid");
    let clerk = match std::fs::read_to_string(&pid_file) {
        Ok(pid) => {
            let pid: Pid = pid.trim().parse()?;
            println!("@@ resumed clerk {pid}");
            kernel.agent_ref::<Clerk>(pid)?
        }
        Err(_) => {
            let clerk = kernel
                .spawn_durable::<Clerk>("clerk", SpawnOptions::new("clerk"))
                .await?;
            std::fs::write(&pid_file, clerk.pid().to_string())?;
            println!("@@ spawned clerk {}", clerk.pid());
            clerk
        }
    };
    // The producer sends the whole list each time, under stable delivery ids: jobs already
    // received are recognised and not queued twice.
    for n in 0..JOBS {
        clerk
            .tell_once(&format!("job-{n}"), ClerkMsg::Job(n))
            .await?;
    }
    loop {
        let done = clerk
            .ask(ClerkMsg::Status)
            .timeout(Duration::from_secs(30))
            .await?;
        if done.len() as u64 >= JOBS {
            println!("@@ all done: {done:?}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    kernel.shutdown().await;
    Ok(())
}

/// The parent's provider: answers every chat and counts requests per job.
fn provider(calls: Arc<Mutex<BTreeMap<String, usize>>>) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("a runtime");
        rt.block_on(async move {
            let app = axum::Router::new().route(
                "/v1/chat/completions",
                axum::routing::post(move |body: String| {
                    let calls = calls.clone();
                    async move {
                        tokio::time::sleep(Duration::from_millis(30)).await;
                        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                        let q = v["messages"][0]["content"].as_str().unwrap_or("").to_string();
                        *calls.lock().expect("calls").entry(q.clone()).or_default() += 1;
                        let reply = serde_json::json!({
                            "id": "c", "object": "chat.completion", "created": 0, "model": "local-model",
                            "choices": [{"index": 0, "message": {"role": "assistant", "content": format!("answer to {q}")}, "finish_reason": "stop"}],
                            "usage": {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7}
                        });
                        ([("content-type", "application/json")], reply.to_string())
                    }
                }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
            let addr = listener.local_addr().expect("an address");
            tx.send(format!("http://{addr}/v1")).expect("the parent waits");
            let _ = axum::serve(listener, app).await;
        });
    });
    rx.recv().expect("the provider starts")
}

/// Runs the worker; with `kill_after`, SIGKILLs it once that job is reported done.
fn run_worker(
    dir: &Path,
    llm: &str,
    kill_after: Option<u64>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut child = Command::new(std::env::current_exe()?)
        .args(["--worker", &dir.display().to_string(), llm])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        let Some(msg) = line.strip_prefix("@@ ") else {
            continue;
        };
        println!("  worker {}: {msg}", child.id());
        if let Some(n) = kill_after
            && msg.starts_with(&format!("done {n} "))
        {
            child.kill()?; // SIGKILL: no shutdown, no final checkpoint
            println!("  -- SIGKILL sent to worker {} --", child.id());
            break;
        }
    }
    child.wait()?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--worker") {
        let (dir, llm) = (PathBuf::from(&args[2]), args[3].clone());
        return actix::System::new().block_on(worker(dir, llm));
    }
    let dir = tempfile::tempdir()?;
    let calls = Arc::new(Mutex::new(BTreeMap::new()));
    let llm = provider(calls.clone());
    println!(
        "1. a worker process starts the clerk; job {PANIC_ON} panics once, the process is killed after job {KILL_AFTER}"
    );
    run_worker(dir.path(), &llm, Some(KILL_AFTER))?;
    println!("2. a new worker process resumes the clerk and finishes");
    run_worker(dir.path(), &llm, None)?;

    let ledger = std::fs::read_to_string(dir.path().join("ledger.txt"))?;
    let mut filed: BTreeMap<u64, usize> = BTreeMap::new();
    for line in ledger.lines() {
        if let Some(n) = line.split('\t').next().and_then(|n| n.parse().ok()) {
            *filed.entry(n).or_default() += 1;
        }
    }
    let calls = calls.lock().map_err(|_| "calls")?.clone();
    println!("\njob  tool effects  LLM requests");
    let mut ok = true;
    for n in 0..JOBS {
        let f = filed.get(&n).copied().unwrap_or(0);
        let c = calls.get(&format!("job {n}")).copied().unwrap_or(0);
        ok &= f == 1 && c == 1;
        println!("{n:>3}  {f:>12}  {c:>12}");
    }
    if ok {
        println!("\nevery job done once, every tool effect once, no LLM call repeated");
        Ok(())
    } else {
        Err("a job was lost or repeated".into())
    }
}
