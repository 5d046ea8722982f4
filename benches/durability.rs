//! Durability costs (issue 13's goals), printed as a table per backend:
//!
//! * **checkpointed step** of a durable agent with 100 pages: an `ask` whose handler changes
//!   its state, checkpointed every step (message persisted, checkpoint + acknowledgement
//!   committed before the reply) — p50/p99, and SQL statements per step counted by
//!   `Storage::statements_executed`; baseline: the same agent without a durable mailbox or
//!   checkpoints, in the same run. Goal: p99 ≤ 2 ms on local PostgreSQL, ≤ 3 statements.
//! * **bytes per checkpoint** over 1 000 steps of a growing conversation (one ~200-character
//!   message per step, in the pager and in the agent's state): ours (deltas; a full base when
//!   the deltas since the last one weigh as much as it) vs a full snapshot of the conversation
//!   every step (what a checkpointer
//!   that re-saves the message list writes), in the same run. Goal: ours flat.
//! * **restore** of the newest checkpoint (a full base and its chain of deltas): the 100-page
//!   agent, and the 1 000-step conversation (its longest chain): p50/p99. Goal ≤ 20 ms.
//! * **crash to resumed**: a panic (supervisor restart from the checkpoint, backoff 1 ms) and a
//!   SIGKILL of the whole process (a new process starts, resumes the agent, answers).
//!
//! `cargo bench --bench durability` (release). PostgreSQL is measured when
//! `AOK_TEST_POSTGRES_URL` is set (schema `aok_bench_durability`, dropped at the end).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use agent_os_kernel::pager::{NewPage, PageKind};
use agent_os_kernel::prelude::*;
use agent_os_kernel::storage::Storage;
use agent_os_kernel::{KernelConfig, KernelEvent};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};

type BoxError = Box<dyn std::error::Error>;
const SCHEMA: &str = "aok_bench_durability";
const STEPS: usize = 1_000;
const TIMED: usize = 500;
static PANIC: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[derive(Default, Serialize, Deserialize)]
struct Chat {
    turns: Vec<String>,
    counter: u64,
}

#[derive(Serialize, Deserialize)]
enum ChatMsg {
    /// Grow the conversation by one message (pager + state).
    Say(String),
    /// Change the state only.
    Tick,
    /// Allocate `n` pages.
    Fill(u32),
    Panic,
}

impl Agent for Chat {
    type Msg = ChatMsg;
    type Reply = u64;

    async fn handle(&mut self, msg: ChatMsg, ctx: &mut AgentContext) -> Result<u64, AgentError> {
        match msg {
            ChatMsg::Say(text) => {
                ctx.allocate(NewPage::new(PageKind::Message, text.clone()))
                    .await?;
                self.turns.push(text);
            }
            ChatMsg::Tick => self.counter += 1,
            ChatMsg::Fill(n) => {
                for i in 0..n {
                    ctx.allocate(NewPage::new(
                        PageKind::Message,
                        format!("page {i}: {}", words(30)),
                    ))
                    .await?;
                }
            }
            ChatMsg::Panic => {
                // Once: the redelivered message then succeeds.
                if PANIC.swap(false, std::sync::atomic::Ordering::SeqCst) {
                    panic!("bench crash");
                }
            }
        }
        Ok(self.counter)
    }

    fn snapshot(&self) -> Result<Option<serde_json::Value>, AgentError> {
        AgentContext::to_state(self).map(Some)
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), AgentError> {
        *self = serde_json::from_value(state).map_err(AgentError::other)?;
        Ok(())
    }
}

fn words(n: usize) -> String {
    (0..n)
        .map(|i| format!("w{}", (i * 7919) % 1000))
        .collect::<Vec<_>>()
        .join(" ")
}

fn pct(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort_unstable();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i].as_secs_f64() * 1e3
}

async fn kernel(storage: &Storage) -> Result<Kernel, BoxError> {
    let mut cfg = KernelConfig::default();
    cfg.kernel.arbiters = 1;
    cfg.supervisor.backoff_min_ms = 1;
    cfg.supervisor.backoff_max_ms = 1;
    cfg.supervisor.max_restarts = 1_000;
    cfg.durability.keep_last = 0;
    Ok(Kernel::builder()
        .config(cfg)
        .storage(storage.clone())
        .agent_type("chat", Chat::default)
        .build()
        .await?)
}

async fn step_latency(storage: &Storage, k: &Kernel) -> Result<(), BoxError> {
    let durable = k
        .spawn_durable::<Chat>("chat", SpawnOptions::new("durable"))
        .await?;
    durable.ask(ChatMsg::Fill(100)).await?;
    let plain = k.spawn(Chat::default, SpawnOptions::new("plain")).await?;
    plain.ask(ChatMsg::Fill(100)).await?;
    for _ in 0..50 {
        durable.ask(ChatMsg::Tick).await?;
        plain.ask(ChatMsg::Tick).await?;
    }
    let (mut ours, mut base) = (Vec::with_capacity(TIMED), Vec::with_capacity(TIMED));
    let before = storage.statements_executed();
    for _ in 0..TIMED {
        let t = Instant::now();
        durable.ask(ChatMsg::Tick).await?;
        ours.push(t.elapsed());
    }
    let statements = (storage.statements_executed() - before) as f64 / TIMED as f64;
    for _ in 0..TIMED {
        let t = Instant::now();
        plain.ask(ChatMsg::Tick).await?;
        base.push(t.elapsed());
    }
    println!(
        "| checkpointed step, 100 pages (durable ask) | p50 {:.3} ms, p99 {:.3} ms | {statements:.2} statements/step |",
        pct(&mut ours, 0.5),
        pct(&mut ours, 0.99)
    );
    println!(
        "| baseline: same ask, no durability | p50 {:.3} ms, p99 {:.3} ms | 0 |",
        pct(&mut base, 0.5),
        pct(&mut base, 0.99)
    );

    // Restore: the newest checkpoint, a delta chain over a full base.
    let mut restores = Vec::new();
    for _ in 0..30 {
        durable.ask(ChatMsg::Tick).await?;
        let newest = k
            .checkpoints(durable.pid())
            .await?
            .pop()
            .ok_or("no checkpoint")?;
        let t = Instant::now();
        k.restore_checkpoint(&newest.id).await?;
        restores.push(t.elapsed());
    }
    println!(
        "| restore newest checkpoint, 100-page agent | p50 {:.2} ms, p99 {:.2} ms | |",
        pct(&mut restores, 0.5),
        pct(&mut restores, 0.99)
    );

    // Crash to resumed after a panic.
    let mut crashes = Vec::new();
    for _ in 0..20 {
        PANIC.store(true, std::sync::atomic::Ordering::SeqCst);
        let t = Instant::now();
        let _ = durable.ask(ChatMsg::Panic).await;
        loop {
            if durable
                .ask(ChatMsg::Tick)
                .timeout(Duration::from_secs(5))
                .await
                .is_ok()
            {
                break;
            }
        }
        crashes.push(t.elapsed());
    }
    println!(
        "| panic → restarted from checkpoint → next ask answered | p50 {:.2} ms, p99 {:.2} ms | supervisor backoff 1 ms |",
        pct(&mut crashes, 0.5),
        pct(&mut crashes, 0.99)
    );
    Ok(())
}

async fn growth(k: &Kernel) -> Result<(), BoxError> {
    let chat = k
        .spawn_durable::<Chat>("chat", SpawnOptions::new("growing"))
        .await?;
    let mut events = k.events();
    let mut ours: Vec<(u64, String)> = Vec::with_capacity(STEPS);
    let mut baseline: Vec<u64> = Vec::with_capacity(STEPS);
    let mut conversation: Vec<String> = Vec::new();
    for i in 0..STEPS {
        let text = format!("turn {i}: {}", words(30));
        conversation.push(text.clone());
        chat.ask(ChatMsg::Say(text)).await?;
        baseline.push(serde_json::to_vec(&conversation)?.len() as u64);
        loop {
            match events.recv().await? {
                KernelEvent::Checkpointed {
                    pid, bytes, kind, ..
                } if pid == chat.pid() => {
                    ours.push((bytes, kind));
                    break;
                }
                _ => {}
            }
        }
    }
    let window =
        |v: &[u64], from: usize, to: usize| v[from..to].iter().sum::<u64>() / (to - from) as u64;
    let sizes: Vec<u64> = ours.iter().map(|(b, _)| *b).collect();
    let fulls: Vec<u64> = ours
        .iter()
        .filter(|(_, k)| k == "full")
        .map(|(b, _)| *b)
        .collect();
    let deltas: Vec<u64> = ours
        .iter()
        .filter(|(_, k)| k == "delta")
        .map(|(b, _)| *b)
        .collect();
    println!(
        "| bytes written per step (mean), steps 1–250 / 251–500 / 501–750 / 751–1000: ours | {} B / {} B / {} B / {} B | deltas {}–{} B, {} full bases (largest {} B) |",
        window(&sizes, 0, 250),
        window(&sizes, 250, 500),
        window(&sizes, 500, 750),
        window(&sizes, 750, 1000),
        deltas.iter().min().copied().unwrap_or(0),
        deltas.iter().max().copied().unwrap_or(0),
        fulls.len(),
        fulls.iter().max().copied().unwrap_or(0),
    );
    println!(
        "| same, baseline: full snapshot every step | {} B / {} B / {} B / {} B | grows with history |",
        window(&baseline, 0, 250),
        window(&baseline, 250, 500),
        window(&baseline, 500, 750),
        window(&baseline, 750, 1000),
    );
    let total_ours: u64 = sizes.iter().sum();
    let total_base: u64 = baseline.iter().sum();
    println!(
        "| total over 1 000 steps: ours vs baseline | {:.2} MB vs {:.2} MB | ×{:.0} less |",
        total_ours as f64 / 1e6,
        total_base as f64 / 1e6,
        total_base as f64 / total_ours.max(1) as f64
    );
    let newest = k.checkpoints(chat.pid()).await?;
    let chain = newest
        .iter()
        .rev()
        .take_while(|c| c.kind == "delta")
        .count();
    let id = newest.last().ok_or("no checkpoint")?.id.clone();
    let mut restores = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        k.restore_checkpoint(&id).await?;
        restores.push(t.elapsed());
    }
    println!(
        "| restore at step 1 000 (base + {chain} deltas, 1 000 pages) | p50 {:.2} ms, p99 {:.2} ms | |",
        pct(&mut restores, 0.5),
        pct(&mut restores, 0.99)
    );
    Ok(())
}

/// SIGKILL to resumed: a child process runs a durable agent; it is killed; a new child
/// resumes it and answers. Measured from the kill to the answer.
fn sigkill(db: &str) -> Result<(), BoxError> {
    let exe = std::env::current_exe()?;
    let start =
        |mode: &str| -> Result<(std::process::Child, std::sync::mpsc::Receiver<String>), BoxError> {
            let mut child = Command::new(&exe)
                .args(["--child", mode, db])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()?;
            let out = child.stdout.take().ok_or("stdout")?;
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                for l in BufReader::new(out).lines().map_while(Result::ok) {
                    let _ = tx.send(l);
                }
            });
            Ok((child, rx))
        };
    let mut times = Vec::new();
    let (mut child, rx) = start("spawn")?;
    rx.recv_timeout(Duration::from_secs(60))?;
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(50));
        child.kill()?;
        let t = Instant::now();
        child.wait()?;
        let (next, rx) = start("resume")?;
        rx.recv_timeout(Duration::from_secs(60))?;
        times.push(t.elapsed());
        child = next;
    }
    child.kill()?;
    child.wait()?;
    println!(
        "| SIGKILL → new process resumed the agent → answered | p50 {:.0} ms, max {:.0} ms | process start + kernel build + resume |",
        pct(&mut times, 0.5),
        pct(&mut times, 1.0)
    );
    Ok(())
}

async fn child(mode: &str, db: &str) -> Result<(), BoxError> {
    let storage = Storage::connect(db).await?;
    let k = kernel(&storage).await?;
    let path = format!(
        "{}.pid",
        db.trim_start_matches("sqlite://")
            .split('?')
            .next()
            .unwrap_or("db")
    );
    let chat = if mode == "spawn" {
        let c = k
            .spawn_durable::<Chat>("chat", SpawnOptions::new("killed"))
            .await?;
        c.ask(ChatMsg::Fill(100)).await?;
        std::fs::write(&path, c.pid().to_string())?;
        c
    } else {
        let pid: Pid = std::fs::read_to_string(&path)?.trim().parse()?;
        k.agent_ref::<Chat>(pid)?
    };
    chat.ask(ChatMsg::Tick).await?;
    println!("ready");
    std::io::stdout().flush()?;
    loop {
        chat.ask(ChatMsg::Tick).await?;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn run(label: &str, storage: Storage) -> Result<(), BoxError> {
    println!("\n### {label}\n\n| measure | value | note |\n|---|---|---|");
    let k = kernel(&storage).await?;
    step_latency(&storage, &k).await?;
    growth(&k).await?;
    k.shutdown().await;
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // The deliberate crash of the panic measurement is expected; others are reported.
        if info.payload().downcast_ref::<&str>() != Some(&"bench crash") {
            default_hook(info);
        }
    }));
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        return actix::System::new().block_on(child(&args[2], &args[3]));
    }
    let dir = tempfile::tempdir()?;
    let db = format!("sqlite://{}", dir.path().join("bench.db").display());
    actix::System::new().block_on(async {
        run(
            "SQLite (file, WAL, synchronous=NORMAL)",
            Storage::connect(&db).await?,
        )
        .await
    })?;
    let kill_db = format!("sqlite://{}", dir.path().join("kill.db").display());
    sigkill(&kill_db)?;
    if let Ok(url) = std::env::var("AOK_TEST_POSTGRES_URL") {
        actix::System::new().block_on(async {
            let admin = Storage::connect(&url).await?;
            let conn = admin.connection();
            conn.execute_unprepared(&format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
                .await?;
            conn.execute_unprepared(&format!("CREATE SCHEMA {SCHEMA}"))
                .await?;
            let sep = if url.contains('?') { '&' } else { '?' };
            let storage = Storage::connect(&format!(
                "{url}{sep}options=-c%20search_path%3D{SCHEMA}%2Cpublic"
            ))
            .await?;
            let r = run("PostgreSQL 15 (local, 127.0.0.1)", storage).await;
            conn.execute_unprepared(&format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
                .await?;
            r
        })?;
    }
    Ok(())
}
