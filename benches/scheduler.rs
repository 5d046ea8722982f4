//! Scheduler benchmark: all four policies side by side.
//!
//! Run with `cargo bench --bench scheduler`. Prints a markdown table (recorded in
//! `docs/benchmarks.md`):
//! - grant+release latency p50/p99 with 10 000 queued requests, and grants per second: one slot,
//!   10 000 agents waiting; each cycle is "holder releases → next waiter's task holds its
//!   token", measured end to end (the release grants under the scheduler's lock, the waiter's
//!   task is woken by its oneshot);
//! - Jain's fairness index of grants over 100 equal agents (4 slots, 20 000 grants);
//! - utilisation of a simulated backend with capacity C = 8 and fixed latency L = 100 ms
//!   (32 agents always asking): throughput of 240 calls divided by the C/L bound;
//! - the uncontended round trip: one agent, free slots, nothing queued, `acquire` awaited then
//!   `release_nowait` (what `AgentContext::llm` does), with the scheduler actor on the caller's
//!   arbiter and on another arbiter (the kernel's layout: agents run on their own arbiters).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use actix::Arbiter;
use agent_os_kernel::Pid;
use agent_os_kernel::scheduler::{PolicyKind, Scheduler, SchedulerConfig, SliceRequest, Usage};

const QUEUED: usize = 10_000;
const CYCLES: usize = 30_000;
const FAIR_AGENTS: usize = 100;
const FAIR_GRANTS: usize = 20_000;
const CAPACITY: usize = 8;
const LATENCY: Duration = Duration::from_millis(100);
const UTIL_AGENTS: usize = 32;
const UTIL_ROUNDS: usize = 30;
const RT_WARMUP: usize = 10_000;
const RT_ROUNDS: usize = 200_000;

fn config(policy: PolicyKind, slots: usize) -> SchedulerConfig {
    SchedulerConfig {
        policy,
        global_slots: slots,
        preemption: false,
        ..SchedulerConfig::default()
    }
}

struct Latency {
    p50_us: f64,
    p99_us: f64,
    grants_per_sec: f64,
}

/// One slot, `QUEUED` agents waiting; every holder releases at once and re-queues.
async fn latency(policy: PolicyKind) -> Latency {
    let s = Scheduler::start(config(policy, 1)).expect("start");
    let released_at: Rc<Cell<Option<Instant>>> = Rc::default();
    let samples: Rc<RefCell<Vec<u64>>> = Rc::new(RefCell::new(Vec::with_capacity(CYCLES)));
    let measuring = Rc::new(Cell::new(false));
    let done = Rc::new(tokio::sync::Notify::new());
    let holder = s
        .acquire(SliceRequest::new(Pid::new()))
        .await
        .expect("holder");
    for i in 0..QUEUED {
        let (s, released_at, samples, measuring, done) = (
            s.clone(),
            released_at.clone(),
            samples.clone(),
            measuring.clone(),
            done.clone(),
        );
        actix_rt::spawn(async move {
            let pid = Pid::new();
            let priority = (i * 37 % 101) as u8;
            loop {
                let Ok(t) = s.acquire(SliceRequest::new(pid).priority(priority)).await else {
                    return;
                };
                let now = Instant::now();
                if measuring.get()
                    && let Some(r) = released_at.get()
                {
                    let mut v = samples.borrow_mut();
                    v.push(now.duration_since(r).as_nanos() as u64);
                    if v.len() == CYCLES {
                        measuring.set(false);
                        done.notify_one();
                        return; // keep the slot: the run is over
                    }
                }
                released_at.set(Some(Instant::now()));
                if s.release(t, Usage::default()).await.is_err() {
                    return;
                }
            }
        });
    }
    loop {
        let st = s.stats().await.expect("stats");
        if st.queued >= QUEUED {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    measuring.set(true);
    let start = Instant::now();
    released_at.set(Some(Instant::now()));
    s.release(holder, Usage::default()).await.expect("release");
    done.notified().await;
    let elapsed = start.elapsed();
    let mut v = samples.borrow().clone();
    v.sort_unstable();
    Latency {
        p50_us: percentile(&v, 50.0) as f64 / 1000.0,
        p99_us: percentile(&v, 99.0) as f64 / 1000.0,
        grants_per_sec: CYCLES as f64 / elapsed.as_secs_f64(),
    }
}

/// Jain's index of the grants received by `FAIR_AGENTS` equal agents over `FAIR_GRANTS` grants.
async fn fairness(policy: PolicyKind) -> f64 {
    let s = Scheduler::start(config(policy, 4)).expect("start");
    let counts = Rc::new(RefCell::new(vec![0u64; FAIR_AGENTS]));
    let total = Rc::new(Cell::new(0usize));
    let mut tasks = Vec::new();
    for i in 0..FAIR_AGENTS {
        let (s, counts, total) = (s.clone(), counts.clone(), total.clone());
        tasks.push(actix_rt::spawn(async move {
            let pid = Pid::new();
            loop {
                let Ok(t) = s.acquire(SliceRequest::new(pid)).await else {
                    return;
                };
                let n = total.get();
                total.set(n + 1);
                if n < FAIR_GRANTS {
                    counts.borrow_mut()[i] += 1;
                }
                tokio::task::yield_now().await;
                let _ = s.release(t, Usage::default()).await;
                if n >= FAIR_GRANTS {
                    return;
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let c = counts.borrow();
    let sum: f64 = c.iter().map(|x| *x as f64).sum();
    let sq: f64 = c.iter().map(|x| (*x as f64).powi(2)).sum();
    sum * sum / (c.len() as f64 * sq)
}

/// Throughput of a backend with capacity C and fixed latency L, against its C/L bound: the time
/// `UTIL_ROUNDS * C` calls take, from the first request to the last completion, compared with
/// `UTIL_ROUNDS * L`.
async fn utilisation(policy: PolicyKind) -> f64 {
    let s = Scheduler::start(config(policy, CAPACITY)).expect("start");
    let target = UTIL_ROUNDS * CAPACITY;
    let completed = Rc::new(Cell::new(0usize));
    let last = Rc::new(Cell::new(None::<Instant>));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..UTIL_AGENTS {
        let (s, completed, last) = (s.clone(), completed.clone(), last.clone());
        tasks.push(actix_rt::spawn(async move {
            let pid = Pid::new();
            loop {
                let req = SliceRequest::new(pid).priority((i * 3 % 101) as u8);
                let Ok(t) = s.acquire(req).await else {
                    return;
                };
                if completed.get() >= target {
                    let _ = s.release(t, Usage::default()).await;
                    return;
                }
                tokio::time::sleep(LATENCY).await; // the simulated backend call
                let n = completed.get() + 1;
                completed.set(n);
                if n == target {
                    last.set(Some(Instant::now()));
                }
                let _ = s.release(t, Usage::tokens(100, 100)).await;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = last
        .get()
        .map_or(f64::INFINITY, |t| (t - start).as_secs_f64());
    (UTIL_ROUNDS as f64 * LATENCY.as_secs_f64()) / elapsed
}

struct RoundTrip {
    p50_us: f64,
    p99_us: f64,
    mean_us: f64,
}

/// One agent, 8 free slots, nothing queued: `acquire` (awaited) + `release_nowait`, timed per
/// round; the mean is the wall time over all rounds.
async fn round_trip(s: &Scheduler) -> RoundTrip {
    let pid = Pid::new();
    for _ in 0..RT_WARMUP {
        let t = s.acquire(SliceRequest::new(pid)).await.expect("warm-up");
        s.release_nowait(t, Usage::default()).expect("release");
    }
    let mut v = Vec::with_capacity(RT_ROUNDS);
    let start = Instant::now();
    for _ in 0..RT_ROUNDS {
        let t0 = Instant::now();
        let t = s.acquire(SliceRequest::new(pid)).await.expect("acquire");
        s.release_nowait(t, Usage::default()).expect("release");
        v.push(t0.elapsed().as_nanos() as u64);
    }
    let mean_us = start.elapsed().as_secs_f64() * 1e6 / RT_ROUNDS as f64;
    v.sort_unstable();
    RoundTrip {
        p50_us: percentile(&v, 50.0) as f64 / 1000.0,
        p99_us: percentile(&v, 99.0) as f64 / 1000.0,
        mean_us,
    }
}

async fn round_trips() {
    println!();
    println!(
        "| uncontended acquire+release_nowait ({RT_ROUNDS} rounds) | p50 (µs) | p99 (µs) | mean (µs) |"
    );
    println!("|---|---:|---:|---:|");
    let same = Scheduler::start(config(PolicyKind::Priority, 8)).expect("start");
    let r = round_trip(&same).await;
    println!(
        "| scheduler on the caller's arbiter | {:.2} | {:.2} | {:.2} |",
        r.p50_us, r.p99_us, r.mean_us
    );
    let arbiter = Arbiter::new();
    let other =
        Scheduler::start_in_arbiter(&arbiter.handle(), config(PolicyKind::Priority, 8), None)
            .expect("start");
    let r = round_trip(&other).await;
    println!(
        "| scheduler on another arbiter | {:.2} | {:.2} | {:.2} |",
        r.p50_us, r.p99_us, r.mean_us
    );
    arbiter.stop();
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let sys = actix_rt::System::new();
    sys.block_on(async {
        println!(
            "| policy | grant+release p50 (µs) | p99 (µs) | grants/s | Jain (100 agents) | utilisation (C={CAPACITY}, L={} ms) |",
            LATENCY.as_millis()
        );
        println!("|---|---:|---:|---:|---:|---:|");
        for policy in PolicyKind::ALL {
            let l = latency(policy).await;
            let j = fairness(policy).await;
            let u = utilisation(policy).await;
            println!(
                "| {policy} | {:.1} | {:.1} | {:.0} | {:.4} | {:.1}% |",
                l.p50_us,
                l.p99_us,
                l.grants_per_sec,
                j,
                u * 100.0
            );
        }
        round_trips().await;
    });
}

/// Nearest-rank percentile of sorted samples (0 for none).
fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
