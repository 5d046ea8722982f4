//! Supervision declared where the child is spawned (supervisor, restart type, its own restart
//! limit), the restart hook, and stopping a supervisor.

mod common;
mod support;

use std::sync::Arc;
use std::time::Duration;

use agent_os_kernel::prelude::*;
use parking_lot::Mutex;
use support::*;

fn fast(name: &str) -> SupervisorSpec {
    SupervisorSpec::new(name)
        .backoff(Duration::from_millis(1), Duration::from_millis(5))
        .intensity(100, LONG)
}

/// Records the previous exit reason its restart hook saw; panics or stops on demand.
struct Hooked {
    seen: Arc<Mutex<Vec<ExitReason>>>,
}

enum HookMsg {
    Panic,
    Stop,
    Ping,
}

impl Agent for Hooked {
    type Msg = HookMsg;
    type Reply = u32;

    async fn on_restart(
        &mut self,
        previous: &ExitReason,
        _ctx: &mut AgentContext,
    ) -> Result<(), AgentError> {
        self.seen.lock().push(previous.clone());
        Ok(())
    }

    async fn handle(&mut self, msg: HookMsg, ctx: &mut AgentContext) -> Result<u32, AgentError> {
        match msg {
            HookMsg::Panic => panic!("hooked panic"),
            HookMsg::Stop => ctx.stop(),
            HookMsg::Ping => {}
        }
        Ok(ctx.restarts())
    }
}

async fn hooked(
    k: &Kernel,
    name: &str,
    opts: SpawnOptions,
) -> (AgentRef<Hooked>, Arc<Mutex<Vec<ExitReason>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let _ = name;
    let agent = k
        .spawn(move || Hooked { seen: s.clone() }, opts)
        .await
        .unwrap();
    (agent, seen)
}

async fn restarts(k: &Kernel, agent: &AgentRef<Hooked>, n: u32) -> bool {
    eventually(LONG, || {
        k.status(agent.pid())
            .map(|s| s.restarts == n && s.state == AgentState::Waiting(WaitReason::Message))
            .unwrap_or(false)
    })
    .await
}

#[actix_rt::test]
async fn each_restart_type_declared_at_spawn_with_its_own_restart_limit() {
    let (k, _db) = kernel().await;
    let sup = k.supervisor(fast("declared")).await.unwrap();
    let at = |name: &str, restart| {
        SpawnOptions::new(name)
            .supervisor(sup)
            .restart(restart)
            .restart_limit(2, LONG)
    };
    let (permanent, p_seen) = hooked(&k, "p", at("p", RestartType::Permanent)).await;
    let (transient, t_seen) = hooked(&k, "t", at("t", RestartType::Transient)).await;
    let (temporary, _) = hooked(&k, "tmp", at("tmp", RestartType::Temporary)).await;

    // Permanent: a crash and a normal exit both restart it; the restart hook sees why.
    let _ = permanent.ask(HookMsg::Panic).await;
    assert!(restarts(&k, &permanent, 1).await);
    permanent.tell(HookMsg::Stop).await.unwrap();
    assert!(restarts(&k, &permanent, 2).await);
    assert_eq!(
        *p_seen.lock(),
        vec![
            ExitReason::Crashed("hooked panic".into()),
            ExitReason::Normal
        ]
    );
    // A third failure within the window is over its own limit: terminated, not restarted.
    let _ = permanent.ask(HookMsg::Panic).await;
    assert_eq!(
        k.wait(permanent.pid()).await.unwrap(),
        ExitReason::Crashed("hooked panic".into())
    );

    // Transient: restarted after a crash, not after a normal exit.
    let _ = transient.ask(HookMsg::Panic).await;
    assert!(restarts(&k, &transient, 1).await);
    assert_eq!(
        *t_seen.lock(),
        vec![ExitReason::Crashed("hooked panic".into())]
    );
    transient.tell(HookMsg::Stop).await.unwrap();
    assert_eq!(k.wait(transient.pid()).await.unwrap(), ExitReason::Normal);

    // Temporary: never restarted.
    let _ = temporary.ask(HookMsg::Panic).await;
    assert_eq!(
        k.wait(temporary.pid()).await.unwrap(),
        ExitReason::Crashed("hooked panic".into())
    );

    // The supervisor itself carried on: a new child under it works.
    let (fresh, _) = hooked(&k, "fresh", at("fresh", RestartType::Transient)).await;
    assert_eq!(fresh.ask(HookMsg::Ping).await.unwrap(), 0);

    // A limit of zero restarts is refused at spawn.
    let r = k
        .spawn(
            || Hooked {
                seen: Arc::default(),
            },
            SpawnOptions::new("bad").restart_limit(0, LONG),
        )
        .await;
    assert!(
        matches!(r, Err(SpawnError::InvalidRestartLimit(_))),
        "{r:?}"
    );
    k.shutdown().await;
}

#[actix_rt::test]
async fn a_sibling_restart_is_the_previous_reason_of_the_siblings() {
    let (k, _db) = kernel().await;
    let sup = k
        .supervisor(fast("all").strategy(Strategy::OneForAll))
        .await
        .unwrap();
    let opts = |n: &str| SpawnOptions::new(n).supervisor(sup);
    let (a, _) = hooked(&k, "a", opts("a")).await;
    let (b, b_seen) = hooked(&k, "b", opts("b")).await;
    let _ = a.ask(HookMsg::Panic).await;
    assert!(restarts(&k, &b, 1).await);
    assert_eq!(*b_seen.lock(), vec![ExitReason::GroupRestart]);
    k.shutdown().await;
}

#[actix_rt::test]
async fn a_stopped_supervisor_stops_everything_under_it_gracefully() {
    let (k, _db) = kernel().await;
    let sup = k.supervisor(fast("stoppable")).await.unwrap();
    let nested = k.supervisor(fast("nested").parent(sup)).await.unwrap();
    let (p1, p2, p3) = (Probe::new(), Probe::new(), Probe::new());
    let busy = k
        .spawn(
            ProbeAgent::factory(&p1),
            SpawnOptions::new("busy").supervisor(sup),
        )
        .await
        .unwrap();
    let idle = k
        .spawn(
            ProbeAgent::factory(&p2),
            SpawnOptions::new("idle").supervisor(sup),
        )
        .await
        .unwrap();
    let deep = k
        .spawn(
            ProbeAgent::factory(&p3),
            SpawnOptions::new("deep").supervisor(nested),
        )
        .await
        .unwrap();
    let outside = k
        .spawn(
            ProbeAgent::factory(&Probe::new()),
            SpawnOptions::new("outside"),
        )
        .await
        .unwrap();
    // `busy` is handling a message when the stop comes: it finishes it.
    let inflight = tokio::spawn(busy.ask(Cmd::Gated(7)).timeout(LONG));
    assert!(
        eventually(LONG, || k.status(busy.pid()).unwrap().state
            == AgentState::Running)
        .await
    );
    let k2 = k.clone();
    let stopping = tokio::spawn(async move { k2.stop_supervisor(sup).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    // From the first moment nothing more is placed under it.
    let r = k
        .spawn(
            ProbeAgent::factory(&Probe::new()),
            SpawnOptions::new("late").supervisor(sup),
        )
        .await;
    assert!(
        matches!(r, Err(SpawnError::NoSuchSupervisor(id)) if id == sup),
        "{r:?}"
    );
    p1.open(1);
    tokio::time::timeout(LONG, stopping)
        .await
        .expect("the stop completes")
        .unwrap()
        .unwrap();
    assert!(
        inflight.await.unwrap().is_ok(),
        "the in-flight message finished"
    );
    for (agent, probe) in [(&busy, &p1), (&idle, &p2), (&deep, &p3)] {
        assert_eq!(
            k.wait(agent.pid()).await.err().map(|e| e.kind()),
            Some("no_such_agent"),
            "terminated and deregistered"
        );
        assert_eq!(probe.stops(), 1, "on_stop ran");
        assert!(agent.is_terminated());
    }
    assert_eq!(p1.log(), vec![7]);
    assert!(matches!(
        k.stop_supervisor(sup).await,
        Err(SupervisorError::NoSuchSupervisor(_))
    ));
    assert!(matches!(
        k.stop_supervisor(nested).await,
        Err(SupervisorError::NoSuchSupervisor(_))
    ));
    assert!(matches!(
        k.stop_supervisor(SupervisorId::ROOT).await,
        Err(SupervisorError::Root)
    ));
    // Agents elsewhere are untouched.
    assert!(outside.ask(Cmd::Log).await.is_ok());
    k.shutdown().await;
}

#[actix_rt::test]
async fn exit_reasons_of_a_stopped_supervisors_agents_are_supervisor_shutdown() {
    let (k, _db) = kernel().await;
    let sup = k.supervisor(fast("reasons")).await.unwrap();
    let probe = Probe::new();
    let agent = k
        .spawn(
            ProbeAgent::factory(&probe),
            SpawnOptions::new("a")
                .supervisor(sup)
                .restart(RestartType::Permanent),
        )
        .await
        .unwrap();
    let k2 = k.clone();
    let pid = agent.pid();
    let exit = tokio::spawn(async move { k2.wait(pid).await });
    tokio::task::yield_now().await;
    k.stop_supervisor(sup).await.unwrap();
    assert_eq!(
        exit.await.unwrap().unwrap(),
        ExitReason::SupervisorShutdown,
        "never restarted, whatever its restart type"
    );
    k.shutdown().await;
}
