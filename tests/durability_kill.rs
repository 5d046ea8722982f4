//! The kill test: a child process running a durable agent is killed with SIGKILL at random
//! moments, 22 times, while the test keeps sending it work. After the last restart every job's
//! effect is there exactly once (the agent's state, and an external side-effect file written
//! by a journaled operation keyed by its idempotency key), and every LLM call was billed once
//! by a provider that honours the `Idempotency-Key` header the kernel sends. The raw number of
//! requests is checked too: a replay may repeat a request only when the kill fell between the
//! response and its journal write, so at most once per kill.
//!
//! The child is this test binary itself, started with `AOK_KILL_CHILD=1` to run
//! `kill_child_worker` (ignored in a normal run).

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_os_kernel::KernelConfig;
use agent_os_kernel::prelude::*;
use agent_os_kernel::provider::{BackendConfig, BackendKind, ChatRequest, Message};
use axum::http::HeaderMap;
use axum::routing::post;
use serde::{Deserialize, Serialize};

const JOBS: u64 = 60;
const KILLS: usize = 22;

#[derive(Default, Serialize, Deserialize)]
struct Worker {
    done: Vec<u64>,
    #[serde(skip)]
    effects: String,
}

#[derive(Serialize, Deserialize)]
enum Work {
    Job(u64),
    Get,
}

impl Agent for Worker {
    type Msg = Work;
    type Reply = Vec<u64>;

    async fn handle(&mut self, msg: Work, ctx: &mut AgentContext) -> Result<Vec<u64>, AgentError> {
        let Work::Job(n) = msg else {
            return Ok(self.done.clone());
        };
        if self.done.contains(&n) {
            return Ok(self.done.clone());
        }
        let answer = ctx
            .llm(ChatRequest::new(
                "test-model",
                vec![Message::user(format!("job {n}"))],
            ))
            .await?;
        let path = self.effects.clone();
        ctx.journaled("effect", |key| async move {
            // The external system dedups by the idempotency key, as it should.
            let seen = std::fs::read_to_string(&path).unwrap_or_default();
            if !seen.lines().any(|l| l.ends_with(&key)) {
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(AgentError::other)?;
                writeln!(f, "{n} {key}").map_err(AgentError::other)?;
                f.sync_all().map_err(AgentError::other)?;
            }
            Ok(answer.content)
        })
        .await?;
        self.done.push(n);
        Ok(self.done.clone())
    }

    fn snapshot(&self) -> Result<Option<serde_json::Value>, AgentError> {
        AgentContext::to_state(self).map(Some)
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), AgentError> {
        let effects = std::mem::take(&mut self.effects);
        *self = serde_json::from_value(state).map_err(AgentError::other)?;
        self.effects = effects;
        Ok(())
    }
}

/// The child: a kernel on the given storage, resuming its durable agent, taking commands on
/// stdin (`spawn`, `job N`, `state`, `quit`) and answering `@@ …` lines on stdout.
#[test]
#[ignore = "the child process of sigkill_at_random_moments_loses_nothing; started by it"]
fn kill_child_worker() {
    if std::env::var("AOK_KILL_CHILD").is_err() {
        return;
    }
    let db = std::env::var("AOK_KILL_DB").expect("AOK_KILL_DB");
    let llm = std::env::var("AOK_KILL_LLM").expect("AOK_KILL_LLM");
    let effects = std::env::var("AOK_KILL_EFFECTS").expect("AOK_KILL_EFFECTS");
    actix_rt::System::new().block_on(async move {
        let mut cfg = KernelConfig::default();
        cfg.kernel.arbiters = 1;
        let mut backend = BackendConfig::new(BackendKind::OpenaiCompatible);
        backend.base_url = Some(llm);
        backend.models = vec!["test-model".into()];
        cfg.providers.backends.insert("local".into(), backend);
        let kernel = Kernel::builder()
            .config(cfg)
            .storage_url(db)
            .agent_type("worker", move || Worker {
                effects: effects.clone(),
                ..Worker::default()
            })
            .build()
            .await
            .expect("kernel builds");
        let say = |line: String| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "@@ {line}");
            let _ = out.flush();
        };
        say("ready".into());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut worker: Option<AgentRef<Worker>> = None;
        while let Some(line) = rx.recv().await {
            let mut parts = line.split_whitespace();
            match (parts.next(), parts.next()) {
                (Some("spawn"), _) => {
                    let w = kernel
                        .spawn_durable::<Worker>("worker", SpawnOptions::new("worker"))
                        .await
                        .expect("spawn");
                    say(format!("pid {}", w.pid()));
                    worker = Some(w);
                }
                (Some("attach"), Some(pid)) => {
                    let pid: Pid = pid.parse().expect("pid");
                    worker = Some(kernel.agent_ref::<Worker>(pid).expect("resumed"));
                    say("attached".into());
                }
                (Some("job"), Some(n)) => {
                    let n: u64 = n.parse().expect("job number");
                    let w = worker.as_ref().expect("a worker");
                    w.tell_once(&format!("job-{n}"), Work::Job(n))
                        .await
                        .expect("persisted");
                    say(format!("sent {n}"));
                }
                (Some("state"), _) => {
                    let w = worker.as_ref().expect("a worker");
                    let done = w
                        .ask(Work::Get)
                        .timeout(Duration::from_secs(30))
                        .await
                        .expect("state");
                    say(format!(
                        "state {}",
                        serde_json::to_string(&done).unwrap_or_default()
                    ));
                }
                (Some("quit"), _) => break,
                _ => {}
            }
        }
        kernel.shutdown().await;
        say("bye".into());
    });
}

/// Requests by job: the idempotency keys they carried.
type Billing = Arc<Mutex<BTreeMap<u64, Vec<Option<String>>>>>;

/// The provider runs on its own runtime thread: the test blocks on the child's output.
fn provider() -> (String, Billing) {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let started = serve().await;
            tx.send(started).unwrap();
            std::future::pending::<()>().await;
        });
    });
    rx.recv().unwrap()
}

async fn serve() -> (String, Billing) {
    let billing: Billing = Arc::default();
    let b = billing.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |headers: HeaderMap, body: String| {
            let b = b.clone();
            async move {
                // A generation takes a while; it is billed once it is done.
                tokio::time::sleep(Duration::from_millis(5)).await;
                let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                let text = v["messages"][0]["content"].as_str().unwrap_or("").to_string();
                let job: u64 = text.trim_start_matches("job ").parse().unwrap_or(u64::MAX);
                let key = headers
                    .get("idempotency-key")
                    .and_then(|k| k.to_str().ok())
                    .map(str::to_string);
                b.lock().unwrap().entry(job).or_default().push(key);
                let reply = serde_json::json!({
                    "id": "x", "object": "chat.completion", "created": 0, "model": "test-model",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": format!("did {text}")}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
                });
                ([("content-type", "application/json")], reply.to_string())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/v1"), billing)
}

struct ChildProc {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl ChildProc {
    fn start(db: &str, llm: &str, effects: &str) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "kill_child_worker",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("AOK_KILL_CHILD", "1")
            .env("AOK_KILL_DB", db)
            .env("AOK_KILL_LLM", llm)
            .env("AOK_KILL_EFFECTS", effects)
            .env("RUST_LOG", "off")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the child starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // libtest may have written `test … ... ` on the same line first.
                if let Some(at) = line.find("@@ ")
                    && tx.send(line[at + 3..].to_string()).is_err()
                {
                    break;
                }
            }
        });
        ChildProc {
            child,
            stdin,
            lines,
        }
    }

    fn send(&mut self, line: &str) -> bool {
        writeln!(self.stdin, "{line}").is_ok() && self.stdin.flush().is_ok()
    }

    /// The next line, within `timeout`.
    fn next(&self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }
}

#[test]
fn sigkill_at_random_moments_loses_nothing() {
    let (llm, billing) = provider();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let guard = rt.block_on(async {
        let (storage, guard) = common::test_storage(common::backend_from_env()).await;
        // Only the children use the database.
        let _ = storage.connection().clone().close().await;
        guard
    });
    let db = guard.url();
    let dir = tempfile::tempdir().unwrap();
    let effects = dir.path().join("effects.log").to_string_lossy().to_string();
    let mut confirmed: BTreeSet<u64> = BTreeSet::new();
    let mut next_job = 0u64;
    let mut pid: Option<String> = None;
    let wait = Duration::from_secs(60);

    for round in 0..=KILLS {
        let mut c = ChildProc::start(&db, &llm, &effects);
        assert_eq!(
            c.next(wait).as_deref(),
            Some("ready"),
            "round {round}: child started"
        );
        match &pid {
            None => {
                c.send("spawn");
                let line = c.next(wait).expect("pid");
                pid = Some(line.trim_start_matches("pid ").to_string());
            }
            Some(p) => {
                c.send(&format!("attach {p}"));
                assert_eq!(
                    c.next(wait).as_deref(),
                    Some("attached"),
                    "round {round}: resumed"
                );
            }
        }
        // Unconfirmed jobs again (same delivery id), then a few new ones.
        let mut batch: Vec<u64> = (0..next_job).filter(|n| !confirmed.contains(n)).collect();
        let fresh = (JOBS - next_job).min(if round == KILLS { JOBS } else { 4 });
        batch.extend(next_job..next_job + fresh);
        next_job += fresh;
        for n in &batch {
            c.send(&format!("job {n}"));
        }
        if round == KILLS {
            // The last one runs to the end.
            for _ in &batch {
                let line = c.next(wait).expect("sent");
                let n: u64 = line.trim_start_matches("sent ").parse().unwrap();
                confirmed.insert(n);
            }
            let mut state: Vec<u64> = Vec::new();
            for _ in 0..600 {
                c.send("state");
                let line = c.next(wait).expect("state");
                state = serde_json::from_str(line.trim_start_matches("state ")).unwrap();
                if state.len() as u64 >= JOBS {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            c.send("quit");
            let _ = c.child.wait();
            check(&state, &effects, &billing);
            return;
        }
        // Kill at a random moment while the work is being sent and done.
        let deadline =
            std::time::Instant::now() + Duration::from_millis(rand::random_range(5..120));
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match c.next(left) {
                Some(line) if line.starts_with("sent ") => {
                    confirmed.insert(line.trim_start_matches("sent ").parse().unwrap());
                }
                _ => break,
            }
        }
        c.child.kill().expect("SIGKILL");
        let _ = c.child.wait();
    }
}

fn check(state: &[u64], effects: &str, billing: &Billing) {
    let want: Vec<u64> = (0..JOBS).collect();
    let mut sorted = state.to_vec();
    sorted.sort_unstable();
    assert_eq!(
        sorted, want,
        "every job done, each once, in the agent's state"
    );
    let mut per_job: HashMap<u64, usize> = HashMap::new();
    for line in std::fs::read_to_string(effects).unwrap().lines() {
        let n: u64 = line.split_whitespace().next().unwrap().parse().unwrap();
        *per_job.entry(n).or_default() += 1;
    }
    for n in 0..JOBS {
        assert_eq!(
            per_job.get(&n),
            Some(&1),
            "job {n}: its side effect exactly once"
        );
    }
    let billing = billing.lock().unwrap();
    let mut raw = 0usize;
    for n in 0..JOBS {
        let requests = billing.get(&n).cloned().unwrap_or_default();
        raw += requests.len();
        assert!(
            requests.iter().all(Option::is_some),
            "job {n}: every request carries a key"
        );
        let keys: BTreeSet<_> = requests.iter().flatten().collect();
        assert_eq!(
            keys.len(),
            1,
            "job {n}: billed once (one idempotency key): {requests:?}"
        );
    }
    let repeats = raw - JOBS as usize;
    eprintln!(
        "{JOBS} jobs, {KILLS} SIGKILLs: {raw} provider requests, {repeats} repeated (a kill between a response and its journal write)"
    );
    assert!(
        repeats <= KILLS,
        "at most one repeated request per kill: {repeats}"
    );
}
