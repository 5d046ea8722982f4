//! Profiling mode of the provider benchmark: one path only, for `perf record`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use agent_os_kernel::Pid;
use agent_os_kernel::provider::Providers;
use agent_os_kernel::provider::backend::{Backend, Timeouts};
use agent_os_kernel::provider::config::{BackendKind, ProvidersConfig};
use agent_os_kernel::provider::openai::OpenAiCompatible;
use agent_os_kernel::scheduler::Usage;

use super::{backend, direct_client, direct_request, fresh_request, grant, scheduler};

/// `PROVIDER_BENCH_PROFILE_SECS=n`: one path only, for `n` seconds (for `perf record`), then
/// exit. `PROVIDER_BENCH_PROFILE_MODE`: `full` (default: slice + provider path), `notpm` (same
/// without RPM/TPM limits), `router` (provider path on one long-lived slice), `grant-router`
/// (a slice per call, the call on the long-lived one), `scripted` (provider path on the
/// offline backend), `alone` (the backend without actor or scheduler), `direct` (a plain
/// async-openai client, the baseline), `sched` (slice
/// acquire + release only), `sched-alone`; `PROVIDER_BENCH_PROFILE_CONC` callers (16);
/// `PROVIDER_BENCH_PROFILE_CALLS=n` stops after `n` calls instead (so that two modes run under
/// `valgrind --tool=callgrind` make the same number of calls and compare per call).
pub async fn profile_kernel(url: &str, secs: u64) {
    let mode = std::env::var("PROVIDER_BENCH_PROFILE_MODE").unwrap_or_else(|_| "full".into());
    let mut b = backend(url);
    if mode != "notpm" {
        b.rpm = Some(100_000_000);
        b.tpm = Some(u64::MAX / 4);
    }
    if mode == "scripted" {
        b.kind = BackendKind::Scripted;
    }
    let mut cfg = ProvidersConfig::default();
    cfg.backends.insert("local".into(), b);
    let p = Providers::start(&cfg).expect("providers");
    let alone =
        OpenAiCompatible::new("alone", url, None, None, reqwest::Client::new()).expect("backend");
    let timeouts = Timeouts {
        request: Duration::from_secs(30),
        stall: Duration::from_secs(30),
    };
    let direct = direct_client(url);
    let alone = std::sync::Arc::new(alone);
    let mode: &'static str = mode.leak();
    let sched = scheduler();
    let pid = Pid::new();
    let long = grant(&sched, Pid::new(), Duration::from_secs(3600)).await;
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let seq = &SEQ;
    let started = Instant::now();
    let stop = started + Duration::from_secs(secs);
    let max_calls: usize = std::env::var("PROVIDER_BENCH_PROFILE_CALLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(usize::MAX);
    let conc: usize = std::env::var("PROVIDER_BENCH_PROFILE_CONC")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16);
    // Each caller is its own task on this thread, as agents are their own tasks.
    let tasks: Vec<_> = (0..conc)
        .map(|_| {
            let (router, sched, long, alone, direct) = (
                p.router.clone(),
                sched.clone(),
                long.clone(),
                std::sync::Arc::clone(&alone),
                direct.clone(),
            );
            async move {
                while Instant::now() < stop {
                    let n = seq.fetch_add(1, Ordering::Relaxed);
                    if n >= max_calls {
                        break;
                    }
                    if mode == "direct" {
                        let r = direct.chat().create(direct_request(n)).await;
                        r.expect("direct call");
                        continue;
                    }
                    let r = fresh_request(n);
                    match mode {
                        "alone" => {
                            alone.chat(&r, timeouts).await.expect("backend call");
                        }
                        "router" | "scripted" => {
                            router.chat(r, &long, None).await.expect("provider call");
                        }
                        "grant-router" => {
                            let slice = grant(&sched, pid, Duration::from_secs(600)).await;
                            router.chat(r, &long, None).await.expect("provider call");
                            let _ = sched.release_nowait(slice, Usage::default());
                        }
                        "sched" => {
                            let slice = grant(&sched, pid, Duration::from_secs(600)).await;
                            let _ = sched.release_nowait(slice, Usage::default());
                        }
                        "sched-alone" => {
                            let slice = grant(&sched, pid, Duration::from_secs(600)).await;
                            alone.chat(&r, timeouts).await.expect("backend call");
                            let _ = sched.release_nowait(slice, Usage::default());
                        }
                        _ => {
                            let slice = grant(&sched, pid, Duration::from_secs(600)).await;
                            router.chat(r, &slice, None).await.expect("provider call");
                            let _ = sched.release_nowait(slice, Usage::default());
                        }
                    }
                }
            }
        })
        .map(tokio::task::spawn_local)
        .collect();
    for task in tasks {
        task.await.expect("caller task");
    }
    let n = seq.load(Ordering::Relaxed).min(max_calls);
    println!(
        "{mode}: {n} calls, {:.1} µs/call",
        started.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}
