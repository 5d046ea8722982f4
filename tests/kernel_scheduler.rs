//! Agents inside the kernel acquiring slices: state transitions and preemption through the
//! control lane.

mod common;
mod support;

use std::time::Duration;

use agent_os_kernel::WaitReason;
use agent_os_kernel::prelude::*;
use agent_os_kernel::scheduler::{PolicyKind, Usage};
use support::*;

/// Streams `n` chunks under a slice; when preempted, keeps its partial output, releases, and
/// re-acquires with `resume` to continue where it stopped.
struct Streamer;

#[derive(Debug, serde::Serialize, serde::Deserialize, PartialEq)]
struct Output {
    chunks: Vec<u32>,
    preempted: u32,
}

impl Agent for Streamer {
    type Msg = (u32, u64);
    type Reply = Output;
    async fn handle(
        &mut self,
        (n, chunk_ms): (u32, u64),
        ctx: &mut AgentContext,
    ) -> Result<Output, AgentError> {
        let mut out = Output {
            chunks: Vec::new(),
            preempted: 0,
        };
        let mut resume = false;
        loop {
            let token = ctx
                .acquire_slice(
                    ctx.slice_request()
                        .estimated_tokens(u64::from(n))
                        .resume(resume),
                )
                .await?;
            let before = out.chunks.len();
            while out.chunks.len() < n as usize && !token.is_revoked() {
                tokio::time::sleep(Duration::from_millis(chunk_ms)).await;
                out.chunks.push(out.chunks.len() as u32);
            }
            let used = (out.chunks.len() - before) as u64;
            let done = out.chunks.len() == n as usize;
            ctx.release_slice(
                token,
                Usage {
                    input_tokens: 0,
                    output_tokens: used,
                    cost_usd: 0.0,
                },
            )
            .await?;
            if done {
                return Ok(out);
            }
            out.preempted += 1;
            resume = true;
        }
    }
}

fn one_slot() -> KernelConfig {
    let mut c = KernelConfig::default();
    c.kernel.arbiters = 2;
    c.scheduler.global_slots = 1;
    c.scheduler.policy = PolicyKind::Priority;
    c.scheduler.min_quantum_ms = 0;
    c
}

#[actix_rt::test]
async fn an_urgent_agent_preempts_and_the_preempted_one_finishes_its_full_output() {
    let (k, _db) = kernel_with(one_slot()).await;
    let mut events = k.events();
    let low = k
        .spawn(|| Streamer, SpawnOptions::new("low").priority(90))
        .await
        .unwrap();
    let high = k
        .spawn(|| Streamer, SpawnOptions::new("high").priority(5))
        .await
        .unwrap();
    let low_run = tokio::spawn(low.ask((60u32, 5u64)).timeout(LONG));
    // Wait until the low agent holds the only slot, then let it stream a little.
    wait_for_grants(&k, 1).await;
    tokio::time::sleep(Duration::from_millis(30)).await;
    let high_out: Output = high.ask((5u32, 1u64)).timeout(LONG).await.unwrap();
    assert_eq!(high_out.chunks, (0..5).collect::<Vec<_>>());
    assert_eq!(high_out.preempted, 0);
    let low_out = low_run.await.unwrap().unwrap();
    assert_eq!(
        low_out.chunks,
        (0..60).collect::<Vec<_>>(),
        "full output after resuming"
    );
    assert_eq!(low_out.preempted, 1);

    let mut notices = Vec::new();
    let mut waited_for_slice = false;
    while let Ok(e) = events.try_recv() {
        match e {
            KernelEvent::SlicePreempted { pid, by, .. } => notices.push((pid, by)),
            KernelEvent::StateChanged {
                pid,
                to: AgentState::Waiting(WaitReason::Slice),
                ..
            } if pid == high.pid() => waited_for_slice = true,
            _ => {}
        }
    }
    assert_eq!(
        notices,
        vec![(low.pid(), high.pid())],
        "the holder was told through its control lane"
    );
    assert!(
        waited_for_slice,
        "the newcomer was Waiting(slice) before it got the slot"
    );
    let stats = k.scheduler_stats().await.unwrap();
    assert_eq!(stats.preemptions, 1);
    k.shutdown().await;
}

#[actix_rt::test]
async fn a_waiting_agent_shows_waiting_slice_in_its_status() {
    let (k, _db) = kernel_with(one_slot()).await;
    let a = k
        .spawn(|| Streamer, SpawnOptions::new("a").priority(50))
        .await
        .unwrap();
    let b = k
        .spawn(|| Streamer, SpawnOptions::new("b").priority(50))
        .await
        .unwrap();
    let ra = tokio::spawn(a.ask((20u32, 5u64)).timeout(LONG));
    assert!(
        eventually(LONG, || k.status(a.pid()).unwrap().state
            == AgentState::Running)
        .await
    );
    let rb = tokio::spawn(b.ask((1u32, 1u64)).timeout(LONG));
    assert!(
        eventually(LONG, || k.status(b.pid()).unwrap().state
            == AgentState::Waiting(WaitReason::Slice))
        .await,
        "equal priority does not preempt: b waits for the slot"
    );
    assert_eq!(ra.await.unwrap().unwrap().preempted, 0);
    assert_eq!(rb.await.unwrap().unwrap().chunks, vec![0]);
    k.shutdown().await;
}

#[actix_rt::test]
async fn a_per_spawn_quota_applies_to_that_agent_only() {
    use agent_os_kernel::scheduler::Quota;
    struct Asker;
    impl Agent for Asker {
        type Msg = u64;
        type Reply = bool;
        async fn handle(
            &mut self,
            tokens: u64,
            ctx: &mut AgentContext,
        ) -> Result<bool, AgentError> {
            match ctx
                .acquire_slice(ctx.slice_request().estimated_tokens(tokens))
                .await
            {
                Ok(t) => {
                    ctx.release_slice(t, Usage::default()).await?;
                    Ok(true)
                }
                Err(_) => Ok(false),
            }
        }
    }
    let (k, _db) = kernel().await;
    let capped = Quota {
        max_tokens_per_request: Some(10),
        ..Quota::default()
    };
    let small = k
        .spawn(|| Asker, SpawnOptions::new("small").quota(capped))
        .await
        .unwrap();
    let free = k.spawn(|| Asker, SpawnOptions::new("free")).await.unwrap();
    assert!(
        !small.ask(100u64).timeout(LONG).await.unwrap(),
        "over its cap: denied"
    );
    assert!(small.ask(5u64).timeout(LONG).await.unwrap());
    assert!(free.ask(100u64).timeout(LONG).await.unwrap());
    let bad = Quota {
        window_ms: 0,
        ..Quota::default()
    };
    assert!(matches!(
        k.spawn(|| Asker, SpawnOptions::new("bad").quota(bad)).await,
        Err(SpawnError::InvalidQuota(_))
    ));
    k.shutdown().await;
}
