//! The kernel and its storage: the agents registry row of each agent is written on spawn and
//! on exit (on the backend `AOK_TEST_BACKEND` names).

mod common;
mod support;

use agent_os_kernel::prelude::*;
use agent_os_kernel::storage::AgentRegistry;
use support::*;

#[actix_rt::test]
async fn registry_rows_are_written_on_spawn_and_on_exit() {
    let (k, _db) = kernel().await;
    let probe = Probe::new();
    let sup = k.supervisor(SupervisorSpec::new("s")).await.unwrap();
    let pid = k
        .spawn(
            ProbeAgent::factory(&probe),
            SpawnOptions::new("recorded")
                .priority(7)
                .supervisor(sup)
                .restart(RestartType::Permanent),
        )
        .await
        .unwrap();
    k.flush().await.unwrap();
    let registry = AgentRegistry::new(k.storage().clone());
    let row = registry
        .get(pid.pid())
        .await
        .unwrap()
        .expect("row written on spawn");
    assert_eq!(row.name, "recorded");
    assert_eq!(row.state, "created");
    assert_eq!(row.priority, 7);
    assert_eq!(row.restart_policy, "permanent");
    assert_eq!(row.supervisor_id.as_deref(), Some(sup.to_string().as_str()));
    assert_eq!(row.spec["mailbox_capacity"], 1024);

    // A crash and restart, then a stop: the exit row carries the restarts and the reason.
    let _ = pid.ask(Cmd::Panic("x".into())).timeout(LONG).await;
    assert!(
        eventually(LONG, || k
            .status(pid.pid())
            .map(|s| s.restarts == 1)
            .unwrap_or(false))
        .await
    );
    assert_eq!(k.stop(pid.pid()).await.unwrap(), ExitReason::Shutdown);
    k.flush().await.unwrap();
    let row = registry.get(pid.pid()).await.unwrap().unwrap();
    assert_eq!(row.state, "terminated");
    assert_eq!(row.exit_reason.as_deref(), Some("shutdown"));
    assert_eq!(row.restarts, 1);
    k.shutdown().await;
}

#[actix_rt::test]
async fn shutdown_stops_every_agent_and_flushes_the_registry() {
    let (k, _db) = kernel().await;
    let probe = Probe::new();
    let mut pids = Vec::new();
    for i in 0..50 {
        pids.push(
            k.spawn(
                ProbeAgent::factory(&probe),
                SpawnOptions::new(format!("a{i}")),
            )
            .await
            .unwrap(),
        );
    }
    let storage = k.storage().clone();
    k.shutdown().await;
    assert_eq!(k.agent_count(), 0);
    assert_eq!(probe.stops(), 50, "each agent's on_stop ran");
    assert!(matches!(
        k.spawn(ProbeAgent::factory(&probe), SpawnOptions::new("late"))
            .await,
        Err(SpawnError::ShuttingDown)
    ));
    let rows = AgentRegistry::new(storage).list().await.unwrap();
    assert_eq!(rows.len(), 50);
    assert!(rows.iter().all(|r| r.state == "terminated" && r.exit_reason.as_deref() == Some("kernel shutdown")));
}
