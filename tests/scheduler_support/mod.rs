//! Helpers shared by the scheduler integration tests.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::{Actor, Context, Handler};
use agent_os_kernel::Pid;
use agent_os_kernel::scheduler::{
    PolicyKind, Scheduler, SchedulerConfig, SlicePreempted, SliceRequest, Usage,
};

/// A config with `slots` global slots, the given policy and preemption off.
pub(crate) fn config(policy: PolicyKind, slots: usize) -> SchedulerConfig {
    SchedulerConfig {
        policy,
        global_slots: slots,
        preemption: false,
        ..SchedulerConfig::default()
    }
}

/// Waits until `n` requests are queued (polls stats; fails after 10 s).
pub(crate) async fn wait_queued(s: &Scheduler, n: usize) {
    let start = Instant::now();
    loop {
        let st = s.stats().await.expect("stats");
        if st.queued + st.waiting_quota >= n {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "never saw {n} queued"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// An agent's control lane: records the preemption notices it receives.
#[derive(Default, Clone)]
pub(crate) struct ControlLane(pub Arc<Mutex<Vec<SlicePreempted>>>);

impl Actor for ControlLane {
    type Context = Context<Self>;
}

impl Handler<SlicePreempted> for ControlLane {
    type Result = ();
    fn handle(&mut self, msg: SlicePreempted, _: &mut Context<Self>) {
        self.0.lock().expect("lane lock").push(msg);
    }
}

/// Outcome of a streamed generation.
#[derive(Debug, Default)]
pub(crate) struct Generation {
    /// The chunks produced, in order.
    pub output: Vec<String>,
    /// Slices used.
    pub slices: usize,
    /// Slices that ended because they were revoked.
    pub preempted: usize,
    /// Chunks produced in each slice.
    pub per_slice: Vec<usize>,
}

/// A test workload that streams: `chunks` chunks of `tokens_per_chunk` tokens, one per `pause`.
/// Between chunks it checks `token.is_revoked()`; when revoked it keeps its partial output,
/// releases with the usage so far and re-acquires with `resume`, continuing from the partial
/// output. A slice also ends when its token quantum is used up (then it re-queues normally).
pub(crate) async fn stream_generation(
    s: Scheduler,
    pid: Pid,
    priority: u8,
    chunks: usize,
    tokens_per_chunk: u64,
    pause: Duration,
    lane: Option<actix::Recipient<SlicePreempted>>,
) -> Generation {
    let name = format!("{pid}");
    let mut g = Generation::default();
    let mut resume = false;
    while g.output.len() < chunks {
        let mut req = SliceRequest::new(pid)
            .priority(priority)
            .estimated_tokens(tokens_per_chunk * (chunks - g.output.len()) as u64)
            .resume(resume);
        if let Some(l) = &lane {
            req = req.notify(l.clone());
        }
        let token = s.acquire(req).await.expect("acquire");
        assert!(token.is_valid());
        g.slices += 1;
        resume = false;
        let mut used = 0u64;
        let mut produced = 0usize;
        while g.output.len() < chunks && used + tokens_per_chunk <= token.quantum_tokens() {
            tokio::time::sleep(pause).await;
            if token.is_revoked() {
                resume = true;
                g.preempted += 1;
                break;
            }
            g.output.push(format!("{name}:{}", g.output.len()));
            used += tokens_per_chunk;
            produced += 1;
        }
        g.per_slice.push(produced);
        s.release(token, Usage::tokens(0, used))
            .await
            .expect("release");
    }
    g
}
