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
    k.send(pid, Cmd::Gated(0)).await.unwrap();
    assert!(eventually(LONG, || k.status(pid).unwrap().state == AgentState::Running).await);
    // Queue: the crashing ask, then three more messages.
    let k2 = k.clone();
    let crashing = tokio::spawn(async move {
        k2.ask::<Reply, _>(pid, Cmd::Panic("boom".into()), LONG)
            .await
    });
    assert!(eventually(LONG, || k.status(pid).unwrap().mailbox_len == 1).await);
    for id in 1..=3 {
        k.send(pid, Cmd::Record(id)).await.unwrap();
    }
    probe.open(1);
    let r = crashing.await.unwrap();
    assert!(
        matches!(&r, Err(IpcError::Crashed { reason, .. }) if reason == "boom"),
        "{r:?}"
    );
    // Same pid, restarted once, the queued messages were kept and handled in order.
    let reply: Reply = k.ask(pid, Cmd::Log, LONG).await.unwrap();
    assert_eq!(reply.log, vec![0, 1, 2, 3]);
    let st = k.status(pid).unwrap();
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
        let _ = k.ask::<Reply, _>(pa, Cmd::Panic("x".into()), LONG).await;
        k.send(pb, Cmd::Record(1)).await.unwrap();
    }
    let reply: Reply = k.ask(pb, Cmd::Log, LONG).await.unwrap();
    assert_eq!(reply.log, vec![1, 1, 1]);
    assert_eq!(k.status(pb).unwrap().restarts, 0);
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
    for pid in [transient, permanent, temporary] {
        let _ = k.ask::<Reply, _>(pid, Cmd::Panic("x".into()), LONG).await;
    }
    assert_eq!(
        k.wait(temporary).await.unwrap(),
        ExitReason::Crashed("x".into())
    );
    assert!(
        eventually(LONG, || k
            .status(transient)
            .map(|s| s.restarts == 1)
            .unwrap_or(false))
        .await
    );
    assert!(
        eventually(LONG, || k
            .status(permanent)
            .map(|s| s.restarts == 1)
            .unwrap_or(false))
        .await
    );

    // Normal exit: transient terminates, permanent restarts.
    k.send(transient, Cmd::StopSelf).await.unwrap();
    assert_eq!(k.wait(transient).await.unwrap(), ExitReason::Normal);
    k.send(permanent, Cmd::StopSelf).await.unwrap();
    assert!(
        eventually(LONG, || k
            .status(permanent)
            .map(|s| s.restarts == 2)
            .unwrap_or(false))
        .await
    );
    assert_eq!(pp.stops(), 1, "on_stop ran on the normal exit");
    k.shutdown().await;
}

async fn three_under(k: &Kernel, strategy: Strategy) -> (Vec<Pid>, Vec<std::sync::Arc<Probe>>) {
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

async fn restarts_after_crashing(k: &Kernel, pids: &[Pid], crash: usize, expected: [u32; 3]) {
    let _ = k
        .ask::<Reply, _>(pids[crash], Cmd::Panic("x".into()), LONG)
        .await;
    let ok = eventually(LONG, || {
        pids.iter()
            .map(|p| k.status(*p).map(|s| s.restarts).unwrap_or(99))
            .collect::<Vec<_>>()
            == expected
    })
    .await;
    let got: Vec<u32> = pids
        .iter()
        .map(|p| k.status(*p).map(|s| s.restarts).unwrap_or(99))
        .collect();
    assert!(ok, "restarts {got:?}, expected {expected:?}");
    // Everyone works afterwards.
    for pid in pids {
        let _: Reply = k.ask(*pid, Cmd::Log, LONG).await.unwrap();
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
    k.send(pids[2], Cmd::Gated(0)).await.unwrap();
    assert!(
        eventually(LONG, || k.status(pids[2]).unwrap().state
            == AgentState::Running)
        .await
    );
    k.send(pids[2], Cmd::Record(1)).await.unwrap();
    let _ = k
        .ask::<Reply, _>(pids[0], Cmd::Panic("x".into()), LONG)
        .await;
    assert!(
        eventually(LONG, || k
            .status(pids[2])
            .map(|s| s.restarts == 1)
            .unwrap_or(false))
        .await
    );
    // Gated(0) was interrupted by the restart; Record(1) was queued and survives.
    let reply: Reply = k.ask(pids[2], Cmd::Log, LONG).await.unwrap();
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
        let k = k.clone();
        async move {
            for _ in 0..n {
                let r = k.ask::<Reply, _>(pid, Cmd::Panic("x".into()), LONG).await;
                assert!(matches!(r, Err(IpcError::Crashed { .. })), "{r:?}");
                // Wait for the restart before crashing again.
                let before = probe_restarts(&k, pid);
                assert!(
                    eventually(LONG, || probe_restarts(&k, pid) > before
                        || k.status(pid).is_err())
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
    assert_eq!(k.status(pid).unwrap().restarts, 3);

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
    let reply: Reply = k.ask(pid, Cmd::Log, LONG).await.unwrap();
    assert!(reply.log.is_empty());
    k.shutdown().await;
}

fn probe_restarts(k: &Kernel, pid: Pid) -> u32 {
    k.status(pid).map(|s| s.restarts).unwrap_or(u32::MAX)
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
        let _ = k
            .ask::<Reply, _>(pid, Cmd::Panic(format!("p{i}")), LONG)
            .await;
        if i < 2 {
            assert!(eventually(LONG, || probe_restarts(&k, pid) == i + 1).await);
        }
    }
    assert_eq!(k.wait(pid).await.unwrap(), ExitReason::Crashed("p2".into()));
    k.shutdown().await;
}

#[actix_rt::test]
async fn children_spawned_by_an_agent_stop_with_it() {
    struct Parent {
        probe: std::sync::Arc<Probe>,
    }
    impl Agent for Parent {
        type Msg = ();
        type Reply = Pid;
        async fn handle(&mut self, _: (), ctx: &mut AgentContext) -> Result<Pid, AgentError> {
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
    let kid: Pid = k.ask(parent, (), LONG).await.unwrap();
    assert_eq!(k.status(kid).unwrap().parent, Some(parent));
    let k2 = k.clone();
    let kid_exit = tokio::spawn(async move { k2.wait(kid).await });
    tokio::task::yield_now().await;
    k.stop(parent).await.unwrap();
    assert_eq!(kid_exit.await.unwrap().unwrap(), ExitReason::ParentExited);
    k.shutdown().await;
}

#[actix_rt::test]
async fn a_pending_stop_wins_over_a_sibling_restart() {
    let (k, _db) = kernel().await;
    let (pids, probes) = three_under(&k, Strategy::OneForAll).await;
    // pids[2] is busy; a stop is requested (it waits for the message to finish)…
    k.send(pids[2], Cmd::Gated(0)).await.unwrap();
    assert!(
        eventually(LONG, || k.status(pids[2]).unwrap().state
            == AgentState::Running)
        .await
    );
    let (k2, target) = (k.clone(), pids[2]);
    let stopping = tokio::spawn(async move { k2.stop(target).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    // …then a sibling crashes and one_for_all restarts everyone.
    let _ = k
        .ask::<Reply, _>(pids[0], Cmd::Panic("x".into()), LONG)
        .await;
    let reason = tokio::time::timeout(LONG, stopping)
        .await
        .expect("stop returns")
        .unwrap()
        .unwrap();
    assert_eq!(reason, ExitReason::Shutdown);
    assert!(
        k.status(pids[2]).is_err(),
        "the stopped agent did not come back"
    );
    assert_eq!(probes[2].starts(), 1);
    assert!(
        eventually(LONG, || k
            .status(pids[0])
            .map(|s| s.restarts == 1)
            .unwrap_or(false))
        .await
    );
    k.shutdown().await;
}
