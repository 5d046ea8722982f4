//! Supervision: restarts under the same pid, kept mailboxes, strategies, restart types,
//! intensity and escalation.

mod common;
mod support;

use std::time::Duration;

use agent_os_kernel::prelude::*;
use support::*;

fn fast(name: &str) -> SupervisorSpec {
    SupervisorSpec::new(name).backoff(Duration::from_millis(1), Duration::from_millis(5))
}

#[actix_rt::test]
async fn a_panic_restarts_the_agent_under_the_same_pid_keeping_queued_messages() {
    let (k, _db) = kernel().await;
    let probe = Probe::new();
    let pid = k
        .spawn(ProbeAgent::factory(&probe), SpawnOptions::new("crashy"))
        .await
        .unwrap();
    pid.tell(Cmd::Gated(0)).await.unwrap();
    assert!(
        eventually(LONG, || k.status(pid.pid()).unwrap().state
            == AgentState::Running)
        .await
    );
    // Queue: the crashing ask, then three more messages.
    let crashing = tokio::spawn(pid.ask(Cmd::Panic("boom".into())).timeout(LONG));
    assert!(eventually(LONG, || k.status(pid.pid()).unwrap().mailbox_len == 1).await);
    for id in 1..=3 {
        pid.tell(Cmd::Record(id)).await.unwrap();
    }
    probe.open(1);
    let r = crashing.await.unwrap();
    assert!(
        matches!(&r, Err(IpcError::Crashed { reason, .. }) if reason == "boom"),
        "{r:?}"
    );
    // Same pid, restarted once, the queued messages were kept and handled in order.
    let reply: Reply = pid.ask(Cmd::Log).timeout(LONG).await.unwrap();
    assert_eq!(reply.log, vec![0, 1, 2, 3]);
    let st = k.status(pid.pid()).unwrap();
    assert_eq!(st.restarts, 1);
    assert_eq!(probe.starts(), 2, "on_start ran for both incarnations");
    k.shutdown().await;
}

#[actix_rt::test]
async fn a_crash_never_takes_down_other_agents_or_the_arbiter() {
    let mut cfg = KernelConfig::default();
    cfg.kernel.arbiters = 1;
    let (k, _db) = kernel_with(cfg).await;
    let a = Probe::new();
    let b = Probe::new();
    let pa = k
        .spawn(ProbeAgent::factory(&a), SpawnOptions::new("a"))
        .await
        .unwrap();
    let pb = k
        .spawn(ProbeAgent::factory(&b), SpawnOptions::new("b"))
        .await
        .unwrap();
    for _ in 0..3 {
        let _ = pa.ask(Cmd::Panic("x".into())).timeout(LONG).await;
        pb.tell(Cmd::Record(1)).await.unwrap();
    }
    let reply: Reply = pb.ask(Cmd::Log).timeout(LONG).await.unwrap();
    assert_eq!(reply.log, vec![1, 1, 1]);
    assert_eq!(k.status(pb.pid()).unwrap().restarts, 0);
    k.shutdown().await;
}

#[actix_rt::test]
async fn transient_permanent_and_temporary_restart_types() {
    let (k, _db) = kernel().await;
    let sup = k
        .supervisor(fast("types").intensity(10, LONG))
        .await
        .unwrap();
    let spawn = |restart: RestartType, probe: &std::sync::Arc<Probe>| {
        let k = k.clone();
        let f = ProbeAgent::factory(probe);
        async move {
            let f = f;
            k.spawn(
                f,
                SpawnOptions::new(format!("{restart:?}"))
                    .supervisor(sup)
                    .restart(restart),
            )
            .await
            .unwrap()
        }
    };
    let (pt, pp, ptmp) = (Probe::new(), Probe::new(), Probe::new());
    let transient = spawn(RestartType::Transient, &pt).await;
    let permanent = spawn(RestartType::Permanent, &pp).await;
    let temporary = spawn(RestartType::Temporary, &ptmp).await;

    // Crash: transient and permanent restart, temporary terminates.
    for pid in [&transient, &permanent, &temporary] {
        let _ = pid.ask(Cmd::Panic("x".into())).timeout(LONG).await;
    }
    assert_eq!(
        k.wait(temporary.pid()).await.unwrap(),
        ExitReason::Crashed("x".into())
    );
    assert!(
        eventually(LONG, || k
            .status(transient.pid())
            .map(|s| s.restarts == 1)
            .unwrap_or(false))
        .await
    );
    assert!(
        eventually(LONG, || k
            .status(permanent.pid())
            .map(|s| s.restarts == 1)
            .unwrap_or(false))
        .await
    );

    // Normal exit: transient terminates, permanent restarts.
    transient.tell(Cmd::StopSelf).await.unwrap();
    assert_eq!(k.wait(transient.pid()).await.unwrap(), ExitReason::Normal);
    permanent.tell(Cmd::StopSelf).await.unwrap();
    assert!(
        eventually(LONG, || k
            .status(permanent.pid())
            .map(|s| s.restarts == 2)
            .unwrap_or(false))
        .await
    );
    assert_eq!(pp.stops(), 1, "on_stop ran on the normal exit");
    k.shutdown().await;
}

async fn three_under(
    k: &Kernel,
    strategy: Strategy,
) -> (Vec<AgentRef<ProbeAgent>>, Vec<std::sync::Arc<Probe>>) {
    let sup = k
        .supervisor(fast("group").strategy(strategy).intensity(10, LONG))
        .await
        .unwrap();
    let probes: Vec<_> = (0..3).map(|_| Probe::new()).collect();
    let mut pids = Vec::new();
    for (i, p) in probes.iter().enumerate() {
        pids.push(
            k.spawn(
                ProbeAgent::factory(p),
                SpawnOptions::new(format!("c{i}")).supervisor(sup),
            )
            .await
            .unwrap(),
        );
    }
    (pids, probes)
}

async fn restarts_after_crashing(
    k: &Kernel,
    pids: &[AgentRef<ProbeAgent>],
    crash: usize,
    expected: [u32; 3],
) {
    let _ = pids[crash].ask(Cmd::Panic("x".into())).timeout(LONG).await;
    let ok = eventually(LONG, || {
        pids.iter()
            .map(|p| k.status(p.pid()).map(|s| s.restarts).unwrap_or(99))
            .collect::<Vec<_>>()
            == expected
    })
    .await;
    let got: Vec<u32> = pids
        .iter()
        .map(|p| k.status(p.pid()).map(|s| s.restarts).unwrap_or(99))
        .collect();
    assert!(ok, "restarts {got:?}, expected {expected:?}");
    // Everyone works afterwards.
    for pid in pids {
        let _: Reply = pid.ask(Cmd::Log).timeout(LONG).await.unwrap();
    }
}

#[actix_rt::test]
async fn one_for_one_restarts_only_the_failed_child() {
    let (k, _db) = kernel().await;
    let (pids, _) = three_under(&k, Strategy::OneForOne).await;
    restarts_after_crashing(&k, &pids, 1, [0, 1, 0]).await;
    k.shutdown().await;
}

#[actix_rt::test]
async fn one_for_all_restarts_every_child() {
    let (k, _db) = kernel().await;
    let (pids, probes) = three_under(&k, Strategy::OneForAll).await;
    restarts_after_crashing(&k, &pids, 1, [1, 1, 1]).await;
    assert!(probes.iter().all(|p| p.starts() == 2));
    k.shutdown().await;
}

#[actix_rt::test]
async fn rest_for_one_restarts_the_failed_child_and_those_started_after_it() {
    let (k, _db) = kernel().await;
    let (pids, _) = three_under(&k, Strategy::RestForOne).await;
    restarts_after_crashing(&k, &pids, 1, [0, 1, 1]).await;
    k.shutdown().await;
}

#[actix_rt::test]
async fn a_sibling_restart_keeps_the_siblings_queued_messages() {
    let (k, _db) = kernel().await;
    let (pids, probes) = three_under(&k, Strategy::OneForAll).await;
    pids[2].tell(Cmd::Gated(0)).await.unwrap();
    assert!(
        eventually(LONG, || k.status(pids[2].pid()).unwrap().state
            == AgentState::Running)
        .await
    );
    pids[2].tell(Cmd::Record(1)).await.unwrap();
    let _ = pids[0].ask(Cmd::Panic("x".into())).timeout(LONG).await;
    assert!(
        eventually(LONG, || k
            .status(pids[2].pid())
            .map(|s| s.restarts == 1)
            .unwrap_or(false))
        .await
    );
    // Gated(0) was interrupted by the restart; Record(1) was queued and survives.
    let reply: Reply = pids[2].ask(Cmd::Log).timeout(LONG).await.unwrap();
    assert_eq!(reply.log, vec![1]);
    assert_eq!(probes[2].starts(), 2);
    k.shutdown().await;
}

#[actix_rt::test]
async fn exceeding_restart_intensity_escalates_to_the_parent_supervisor() {
    let (k, _db) = kernel().await;
    let mut events = k.events();
    let parent = k
        .supervisor(fast("parent").intensity(1, LONG))
        .await
        .unwrap();
    let child = k
        .supervisor(fast("child").intensity(2, LONG).parent(parent))
        .await
        .unwrap();
    let probe = Probe::new();
    let pid = k
        .spawn(
            ProbeAgent::factory(&probe),
            SpawnOptions::new("w").supervisor(child),
        )
        .await
        .unwrap();
    let crash = |n: usize| {
        let (k, pid) = (k.clone(), pid.clone());
        async move {
            for _ in 0..n {
                let r = pid.ask(Cmd::Panic("x".into())).timeout(LONG).await;
                assert!(matches!(r, Err(IpcError::Crashed { .. })), "{r:?}");
                // Wait for the restart before crashing again.
                let before = probe_restarts(&k, &pid);
                assert!(
                    eventually(LONG, || probe_restarts(&k, &pid) > before
                        || k.status(pid.pid()).is_err())
                    .await
                );
            }
        }
    };
    // Two crashes are within the child's intensity; the third escalates to the parent, which
    // restarts the child supervisor (and with it the agent).
    crash(3).await;
    let mut escalations = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let KernelEvent::SupervisorEscalated { supervisor, parent } = e {
            escalations.push((supervisor, parent));
        }
    }
    assert_eq!(escalations, vec![(child, Some(parent))]);
    assert_eq!(k.status(pid.pid()).unwrap().restarts, 3);

    // Three more: the child escalates again; the parent is now over its own limit (2 > 1)
    // and escalates to the root, which restarts the parent subtree.
    crash(3).await;
    while let Ok(e) = events.try_recv() {
        if let KernelEvent::SupervisorEscalated { supervisor, parent } = e {
            escalations.push((supervisor, parent));
        }
    }
    assert_eq!(
        escalations,
        vec![
            (child, Some(parent)),
            (child, Some(parent)),
            (parent, Some(SupervisorId::ROOT))
        ]
    );
    let reply: Reply = pid.ask(Cmd::Log).timeout(LONG).await.unwrap();
    assert!(reply.log.is_empty());
    k.shutdown().await;
}

fn probe_restarts(k: &Kernel, agent: &AgentRef<ProbeAgent>) -> u32 {
    k.status(agent.pid())
        .map(|s| s.restarts)
        .unwrap_or(u32::MAX)
}

#[actix_rt::test]
async fn the_root_terminates_a_child_that_exceeds_its_intensity() {
    let mut cfg = KernelConfig::default();
    cfg.supervisor.max_restarts = 2;
    cfg.supervisor.backoff_min_ms = 1;
    cfg.supervisor.backoff_max_ms = 2;
    let (k, _db) = kernel_with(cfg).await;
    let probe = Probe::new();
    let pid = k
        .spawn(ProbeAgent::factory(&probe), SpawnOptions::new("r"))
        .await
        .unwrap();
    for i in 0..3 {
        let _ = pid.ask(Cmd::Panic(format!("p{i}"))).timeout(LONG).await;
        if i < 2 {
            assert!(eventually(LONG, || probe_restarts(&k, &pid) == i + 1).await);
        }
    }
    assert_eq!(
        k.wait(pid.pid()).await.unwrap(),
        ExitReason::Crashed("p2".into())
    );
    k.shutdown().await;
}

#[actix_rt::test]
async fn children_spawned_by_an_agent_stop_with_it() {
    struct Parent {
        probe: std::sync::Arc<Probe>,
    }
    impl Agent for Parent {
        type Msg = ();
        type Reply = AgentRef<ProbeAgent>;
        async fn handle(
            &mut self,
            _: (),
            ctx: &mut AgentContext,
        ) -> Result<AgentRef<ProbeAgent>, AgentError> {
            Ok(ctx
                .spawn_child(ProbeAgent::factory(&self.probe), SpawnOptions::new("kid"))
                .await?)
        }
    }
    let (k, _db) = kernel().await;
    let probe = Probe::new();
    let p2 = probe.clone();
    let parent = k
        .spawn(move || Parent { probe: p2.clone() }, SpawnOptions::new("p"))
        .await
        .unwrap();
    let kid = parent.ask(()).timeout(LONG).await.unwrap();
    assert_eq!(k.status(kid.pid()).unwrap().parent, Some(parent.pid()));
    let k2 = k.clone();
    let kid_exit = tokio::spawn(async move { k2.wait(kid.pid()).await });
    tokio::task::yield_now().await;
    k.stop(parent.pid()).await.unwrap();
    assert_eq!(kid_exit.await.unwrap().unwrap(), ExitReason::ParentExited);
    k.shutdown().await;
}

#[actix_rt::test]
async fn a_pending_stop_wins_over_a_sibling_restart() {
    let (k, _db) = kernel().await;
    let (pids, probes) = three_under(&k, Strategy::OneForAll).await;
    // pids[2] is busy; a stop is requested (it waits for the message to finish)…
    pids[2].tell(Cmd::Gated(0)).await.unwrap();
    assert!(
        eventually(LONG, || k.status(pids[2].pid()).unwrap().state
            == AgentState::Running)
        .await
    );
    let (k2, target) = (k.clone(), pids[2].pid());
    let stopping = tokio::spawn(async move { k2.stop(target).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    // …then a sibling crashes and one_for_all restarts everyone.
    let _ = pids[0].ask(Cmd::Panic("x".into())).timeout(LONG).await;
    let reason = tokio::time::timeout(LONG, stopping)
        .await
        .expect("stop returns")
        .unwrap()
        .unwrap();
    assert_eq!(reason, ExitReason::Shutdown);
    assert!(
        k.status(pids[2].pid()).is_err(),
        "the stopped agent did not come back"
    );
    assert_eq!(probes[2].starts(), 1);
    assert!(
        eventually(LONG, || k
            .status(pids[0].pid())
            .map(|s| s.restarts == 1)
            .unwrap_or(false))
        .await
    );
    k.shutdown().await;
}
