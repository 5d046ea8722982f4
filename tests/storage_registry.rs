//! The agents-registry repository on real SQLite and PostgreSQL.

mod common;

use agent_os_kernel::Pid;
use agent_os_kernel::storage::{
    AgentRecord, AgentRegistry, Backend, StorageError, UPSERT_CHUNK_ROWS,
};
use chrono::{Duration, DurationRound, Utc};
use common::test_storage;

/// Timestamps round-trip at microsecond precision on Postgres.
fn now_us() -> chrono::DateTime<Utc> {
    Utc::now()
        .duration_trunc(Duration::microseconds(1))
        .unwrap_or_else(|_| Utc::now())
}

fn record(name: &str) -> AgentRecord {
    let mut r = AgentRecord::new(Pid::new(), name);
    r.created_at = now_us();
    r.updated_at = r.created_at;
    r
}

async fn batch_upsert_get_list_round_trip(backend: Backend) {
    let (storage, _guard) = test_storage(backend).await;
    let registry = AgentRegistry::new(storage);

    let parent = record("parent");
    let mut child = record("child");
    child.parent_pid = Some(parent.pid);
    child.supervisor_id = Some("root-sup".into());
    child.priority = 90;
    child.restart_policy = "transient".into();
    child.spec = serde_json::json!({"factory": "echo", "config": {"n": 3}});
    let written = registry
        .upsert_batch(&[parent.clone(), child.clone()])
        .await
        .unwrap_or_else(|e| panic!("{backend}: upsert: {e}"));
    assert_eq!(written, 2);

    assert_eq!(
        registry.get(child.pid).await.ok().flatten(),
        Some(child.clone())
    );
    assert_eq!(registry.get(Pid::new()).await.ok(), Some(None));
    let all = registry
        .list()
        .await
        .unwrap_or_else(|e| panic!("list: {e}"));
    assert_eq!(
        all,
        vec![parent.clone(), child.clone()],
        "{backend}: list in pid order"
    );

    // Update: new state/exit, created_at kept even if the caller sends another one.
    let mut exited = child.clone();
    exited.state = "terminated".into();
    exited.exit_reason = Some("normal".into());
    exited.restarts = 2;
    exited.created_at = now_us() + Duration::hours(1);
    exited.updated_at = now_us();
    registry
        .upsert_batch(std::slice::from_ref(&exited))
        .await
        .unwrap_or_else(|e| panic!("{backend}: update: {e}"));
    let got = registry
        .get(child.pid)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("{backend}: child vanished"));
    assert_eq!(got.state, "terminated");
    assert_eq!(got.exit_reason.as_deref(), Some("normal"));
    assert_eq!(got.restarts, 2);
    assert_eq!(
        got.created_at, child.created_at,
        "created_at must survive upserts"
    );
    assert_eq!(got.updated_at, exited.updated_at);
    assert_eq!(registry.list().await.map(|l| l.len()).ok(), Some(2));
}

async fn large_batches_are_chunked_and_duplicates_resolve_to_last(backend: Backend) {
    let (storage, _guard) = test_storage(backend).await;
    let registry = AgentRegistry::new(storage);
    let n = UPSERT_CHUNK_ROWS * 2 + 17;
    let mut records: Vec<AgentRecord> = (0..n).map(|i| record(&format!("a{i}"))).collect();
    // The same pid twice in one batch: the later record wins.
    let mut again = records[5].clone();
    again.state = "running".into();
    records.push(again);
    let written = registry
        .upsert_batch(&records)
        .await
        .unwrap_or_else(|e| panic!("{backend}: upsert {n}: {e}"));
    assert_eq!(written, n);
    let all = registry
        .list()
        .await
        .unwrap_or_else(|e| panic!("list: {e}"));
    assert_eq!(all.len(), n);
    let fifth = all
        .iter()
        .find(|r| r.pid == records[5].pid)
        .unwrap_or_else(|| panic!("record 5 missing"));
    assert_eq!(fifth.state, "running");
}

async fn invalid_priority_is_rejected_before_writing(backend: Backend) {
    let (storage, _guard) = test_storage(backend).await;
    let registry = AgentRegistry::new(storage);
    let ok = record("ok");
    let mut bad = record("bad");
    bad.priority = 101;
    match registry.upsert_batch(&[ok.clone(), bad]).await {
        Err(StorageError::InvalidInput { what, .. }) => assert_eq!(what, "agent priority"),
        other => panic!("{backend}: expected InvalidInput, got {other:?}"),
    }
    assert_eq!(
        registry.list().await.map(|l| l.len()).ok(),
        Some(0),
        "nothing written"
    );
}

on_both_backends! {
    round_trip => super::batch_upsert_get_list_round_trip;
    chunked => super::large_batches_are_chunked_and_duplicates_resolve_to_last;
    invalid_priority => super::invalid_priority_is_rejected_before_writing;
}
