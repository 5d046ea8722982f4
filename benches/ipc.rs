//! IPC and spawn benchmark: the kernel's agent-to-agent `send`/`ask` against raw actix
//! `do_send`/`send` between two plain actors, and spawning 100 000 idle agents.
//!
//! Run: `cargo bench --bench ipc` (optionally `-- --quick` for 1/10 the messages).
//! Both sides use two arbiters with the sender and the receiver on different threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix::prelude::*;
use agent_os_kernel::KernelConfig;
use agent_os_kernel::prelude::*;
use tokio::sync::Notify;

// ---------- raw actix ----------

#[derive(Message)]
#[rtype(result = "u64")]
struct Num(u64);

struct RawSink {
    seen: u64,
    target: u64,
    done: Arc<Notify>,
}
impl Actor for RawSink {
    type Context = Context<Self>;
    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(usize::MAX);
    }
}
impl Handler<Num> for RawSink {
    type Result = u64;
    fn handle(&mut self, m: Num, _: &mut Context<Self>) -> u64 {
        self.seen += 1;
        if self.seen == self.target {
            self.done.notify_one();
        }
        m.0
    }
}

#[derive(Message)]
#[rtype(result = "()")]
enum RawGo {
    DoSend(u64),
    Ask(u64),
}
struct RawDriver {
    sink: Addr<RawSink>,
}
impl Actor for RawDriver {
    type Context = Context<Self>;
}
impl Handler<RawGo> for RawDriver {
    type Result = ResponseFuture<()>;
    fn handle(&mut self, go: RawGo, _: &mut Context<Self>) -> Self::Result {
        let sink = self.sink.clone();
        Box::pin(async move {
            match go {
                RawGo::DoSend(n) => {
                    for i in 0..n {
                        sink.do_send(Num(i));
                    }
                }
                RawGo::Ask(n) => {
                    for i in 0..n {
                        let _ = sink.send(Num(i)).await;
                    }
                }
            }
        })
    }
}

async fn raw(mode: &str, n: u64) -> Duration {
    let a0 = Arbiter::new();
    let a1 = Arbiter::new();
    let done = Arc::new(Notify::new());
    let d = done.clone();
    let sink = RawSink::start_in_arbiter(&a1.handle(), move |_| RawSink {
        seen: 0,
        target: n,
        done: d,
    });
    let driver = RawDriver::start_in_arbiter(&a0.handle(), move |_| RawDriver { sink });
    let t = Instant::now();
    let go = if mode == "send" {
        RawGo::DoSend(n)
    } else {
        RawGo::Ask(n)
    };
    let _ = driver.send(go).await;
    done.notified().await;
    let el = t.elapsed();
    a0.stop();
    a1.stop();
    el
}

// ---------- kernel ----------

struct Sink {
    seen: Arc<AtomicU64>,
    target: u64,
    done: Arc<Notify>,
}
impl Agent for Sink {
    type Msg = u64;
    type Reply = u64;
    async fn handle(&mut self, m: u64, _: &mut AgentContext) -> Result<u64, AgentError> {
        if self.seen.fetch_add(1, Ordering::Relaxed) + 1 == self.target {
            self.done.notify_one();
        }
        Ok(m)
    }
}

enum Go {
    Send(u64, AgentRef<Sink>),
    Ask(u64, AgentRef<Sink>),
}
struct Driver;
impl Agent for Driver {
    type Msg = Go;
    type Reply = ();
    async fn handle(&mut self, go: Go, _ctx: &mut AgentContext) -> Result<(), AgentError> {
        match go {
            Go::Send(n, to) => {
                for i in 0..n {
                    to.tell(i).await?;
                }
            }
            Go::Ask(n, to) => {
                for i in 0..n {
                    let _echo = to.ask(i).timeout(Duration::from_secs(10)).await?;
                }
            }
        }
        Ok(())
    }
}

fn bench_config() -> KernelConfig {
    let mut c = KernelConfig::default();
    c.kernel.arbiters = 2;
    c.kernel.overflow = OverflowPolicy::Backpressure;
    c
}

async fn kernel_ipc(k: &Kernel, mode: &str, n: u64) -> Duration {
    let done = Arc::new(Notify::new());
    let seen = Arc::new(AtomicU64::new(0));
    let (d, s) = (done.clone(), seen.clone());
    // Round robin: the driver lands on arbiter 0, the sink on arbiter 1.
    let driver = k
        .spawn(|| Driver, SpawnOptions::new("driver"))
        .await
        .unwrap();
    let sink = k
        .spawn(
            move || Sink {
                seen: s.clone(),
                target: n,
                done: d.clone(),
            },
            SpawnOptions::new("sink"),
        )
        .await
        .unwrap();
    let t = Instant::now();
    let go = if mode == "send" {
        Go::Send(n, sink.clone())
    } else {
        Go::Ask(n, sink.clone())
    };
    driver
        .ask(go)
        .timeout(Duration::from_secs(600))
        .await
        .unwrap();
    done.notified().await;
    let el = t.elapsed();
    k.kill(driver.pid()).await.unwrap();
    k.kill(sink.pid()).await.unwrap();
    el
}

struct Idle(Arc<AtomicUsize>);
impl Agent for Idle {
    type Msg = ();
    type Reply = ();
    async fn on_start(&mut self, _: &mut AgentContext) -> Result<(), AgentError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
    async fn handle(&mut self, _: (), _: &mut AgentContext) -> Result<(), AgentError> {
        Ok(())
    }
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n_send: u64 = if quick { 200_000 } else { 2_000_000 };
    let n_ask: u64 = if quick { 20_000 } else { 200_000 };
    let n_spawn: usize = 100_000;
    let sys = System::new();
    sys.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let k = Kernel::builder()
            .config(bench_config())
            .storage_url(format!("sqlite://{}/bench.db", dir.path().display()))
            .build()
            .await
            .unwrap();

        // `-- --profile MODE` (send | ask): only the kernel path, 10× longer, for a profiler.
        let args: Vec<String> = std::env::args().collect();
        if let Some(i) = args.iter().position(|a| a == "--profile") {
            let mode = args.get(i + 1).map_or("ask", String::as_str);
            let n = 10 * if mode == "send" { n_send } else { n_ask };
            let el = kernel_ipc(&k, mode, n).await;
            println!("kernel {mode}: {:.0} msg/s", rate(n, el));
            k.shutdown().await;
            System::current().stop();
            return;
        }

        const RUNS: usize = 5;
        println!(
            "IPC throughput through typed handles, best of {RUNS} runs (messages/s); each run times raw actix and the kernel back to back, alternating which goes first\n"
        );
        println!("| path | messages | raw actix | kernel | kernel / raw (best) | median of paired ratios | goal |");
        println!("|---|---:|---:|---:|---:|---:|---:|");
        for (mode, n, raw_name, goal) in [
            ("send", n_send, "do_send", "≥ 90%"),
            ("ask", n_ask, "send().await", "≥ 100%"),
        ] {
            let mut best_raw = Duration::MAX;
            let mut best_k = Duration::MAX;
            let mut ratios = Vec::with_capacity(RUNS);
            for run in 0..RUNS {
                let (r, kk) = if run % 2 == 0 {
                    let r = raw(mode, n).await;
                    (r, kernel_ipc(&k, mode, n).await)
                } else {
                    let kk = kernel_ipc(&k, mode, n).await;
                    (raw(mode, n).await, kk)
                };
                best_raw = best_raw.min(r);
                best_k = best_k.min(kk);
                ratios.push(r.as_secs_f64() / kk.as_secs_f64());
            }
            ratios.sort_by(f64::total_cmp);
            let (r, kk) = (rate(n, best_raw), rate(n, best_k));
            println!(
                "| {mode} (raw: {raw_name}) | {n} | {r:.0} | {kk:.0} | {:.0}% | {:.0}% | {goal} |",
                100.0 * kk / r,
                100.0 * ratios[RUNS / 2]
            );
        }

        let started = Arc::new(AtomicUsize::new(0));
        let rss0 = rss_bytes();
        let t = Instant::now();
        for i in 0..n_spawn {
            let s = started.clone();
            k.spawn(
                move || Idle(s.clone()),
                SpawnOptions::new(format!("idle-{i}")),
            )
            .await
            .unwrap();
        }
        let returned = t.elapsed();
        while started.load(Ordering::Relaxed) < n_spawn {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let all_started = t.elapsed();
        let rss1 = rss_bytes();
        println!("\nSpawning {n_spawn} idle agents\n");
        println!("| metric | value | goal |");
        println!("|---|---:|---:|");
        println!(
            "| all `spawn` calls returned | {:.3} s | |",
            returned.as_secs_f64()
        );
        println!(
            "| all agents started (on_start ran) | {:.3} s | ≤ 2 s |",
            all_started.as_secs_f64()
        );
        println!(
            "| resident memory per agent | {:.0} B | ≤ 8192 B |",
            (rss1.saturating_sub(rss0)) as f64 / n_spawn as f64
        );
        k.shutdown().await;
        System::current().stop();
    });
}
