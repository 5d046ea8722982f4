//! Agent states stay true under concurrency: scheduler transitions are ordered with the agent's
//! own, and a dropped wait ends its `Waiting` state.

mod common;
mod support;

use std::time::Duration;

use agent_os_kernel::prelude::*;
use agent_os_kernel::scheduler::Usage;
use support::*;

/// Takes a slice and gives it back at once, `n` times, then goes idle.
struct SliceUser;

impl Agent for SliceUser {
    type Msg = u32;
    type Reply = ();
    async fn handle(&mut self, n: u32, ctx: &mut AgentContext) -> Result<(), AgentError> {
        for _ in 0..n {
            let token = ctx.acquire_slice(ctx.slice_request()).await?;
            ctx.release_slice(token, Usage::default()).await?;
        }
        Ok(())
    }
}

#[actix_rt::test]
async fn an_idle_agent_never_shows_running_after_its_slices() {
    // The agent runs on a worker arbiter; this test's thread is the kernel's own arbiter,
    // where the scheduler's events used to be turned into states by a follower task. Blocking
    // this thread while the agent works, then letting it run, replays those events late.
    let mut cfg = KernelConfig::default();
    cfg.kernel.arbiters = 1;
    let (k, _db) = kernel_with(cfg).await;
    let agent = k
        .spawn(|| SliceUser, SpawnOptions::new("slices"))
        .await
        .unwrap();
    for round in 0..5 {
        agent.tell(20).await.unwrap();
        // Blocks this arbiter (not the agent's) until the agent has gone idle.
        let deadline = std::time::Instant::now() + LONG;
        while k.status(agent.pid()).unwrap().handled < (round + 1) as u64 {
            assert!(
                std::time::Instant::now() < deadline,
                "the agent never finished"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(20));
        // Now let everything queued on this arbiter run.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let state = k.status(agent.pid()).unwrap().state;
        assert_eq!(
            state,
            AgentState::Waiting(WaitReason::Message),
            "round {round}: an idle agent shows {state}"
        );
    }
    k.shutdown().await;
}

/// Asks a peer that never answers in time, gives up on the ask by dropping it, then works on.
struct Impatient {
    peer: AgentRef<ProbeAgent>,
    busy_ms: u64,
}

impl Agent for Impatient {
    type Msg = ();
    type Reply = ();
    async fn handle(&mut self, _: (), _ctx: &mut AgentContext) -> Result<(), AgentError> {
        let ask = self
            .peer
            .ask(Cmd::SleepRecord { id: 1, ms: 2_000 })
            .timeout(LONG);
        // Dropped unfinished after 20 ms (a select, a timeout of the caller's own…).
        let _ = tokio::time::timeout(Duration::from_millis(20), ask).await;
        tokio::time::sleep(Duration::from_millis(self.busy_ms)).await;
        Ok(())
    }
}

#[actix_rt::test]
async fn a_dropped_ask_does_not_leave_the_agent_waiting_for_a_reply() {
    let (k, _db) = kernel().await;
    let probe = Probe::new();
    let peer = k
        .spawn(ProbeAgent::factory(&probe), SpawnOptions::new("peer"))
        .await
        .unwrap();
    let p = peer.clone();
    let agent = k
        .spawn(
            move || Impatient {
                peer: p.clone(),
                busy_ms: 400,
            },
            SpawnOptions::new("impatient"),
        )
        .await
        .unwrap();
    let mut events = k.events();
    agent.tell(()).await.unwrap();
    // While it waits for the peer it is `Waiting(reply)`…
    assert!(
        eventually(LONG, || k.status(agent.pid()).unwrap().state
            == AgentState::Waiting(WaitReason::Reply))
        .await
    );
    // …and once it dropped the ask it is `Running` again, while it keeps working.
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(k.status(agent.pid()).unwrap().state, AgentState::Running);
    let mut back_to_running = false;
    while let Ok(e) = events.try_recv() {
        if let KernelEvent::StateChanged { pid, from, to } = e
            && pid == agent.pid()
            && from == AgentState::Waiting(WaitReason::Reply)
            && to == AgentState::Running
        {
            back_to_running = true;
        }
    }
    assert!(back_to_running, "the transition was published");
    k.kill(peer.pid()).await.unwrap();
    k.shutdown().await;
}
