//! The write-behind registry writer on real SQLite and PostgreSQL.

mod common;

use std::time::{Duration, Instant};

use agent_os_kernel::Pid;
use agent_os_kernel::storage::{AgentRecord, AgentRegistry, Backend, RegistryWriter, StorageError};
use common::test_storage;

async fn coalesces_and_flush_makes_10k_visible(backend: Backend) {
    let (storage, _guard) = test_storage(backend).await;
    let writer = RegistryWriter::spawn(storage.clone()).unwrap_or_else(|e| panic!("spawn: {e}"));
    let registry = AgentRegistry::new(storage);

    let pids: Vec<Pid> = (0..10_000).map(|_| Pid::new()).collect();
    for (i, pid) in pids.iter().enumerate() {
        writer.record(AgentRecord::new(*pid, format!("agent-{i}")));
    }
    // Every 10th agent also runs and exits: three records for one pid, the last must win.
    for pid in pids.iter().step_by(10) {
        let mut running = AgentRecord::new(*pid, "x");
        running.state = "running".into();
        writer.record(running);
        let mut done = AgentRecord::new(*pid, "x");
        done.state = "terminated".into();
        done.exit_reason = Some("normal".into());
        writer.record(done);
    }
    writer
        .flush()
        .await
        .unwrap_or_else(|e| panic!("{backend}: flush: {e}"));

    let all = registry
        .list()
        .await
        .unwrap_or_else(|e| panic!("list: {e}"));
    assert_eq!(
        all.len(),
        10_000,
        "{backend}: every record visible after flush"
    );
    let terminated = all.iter().filter(|r| r.state == "terminated").count();
    assert_eq!(terminated, 1_000);
    assert!(
        all.iter()
            .filter(|r| r.state == "terminated")
            .all(|r| r.exit_reason.as_deref() == Some("normal"))
    );
    let stats = writer.stats();
    assert_eq!(stats.recorded, 12_000);
    assert_eq!(stats.failed, 0);
    assert!(
        stats.written >= 10_000 && stats.written <= 12_000,
        "{stats:?}"
    );
    assert!(stats.batches >= 1);
}

async fn shutdown_flushes_and_later_records_count_as_failed(backend: Backend) {
    let (storage, _guard) = test_storage(backend).await;
    let writer = RegistryWriter::spawn(storage.clone()).unwrap_or_else(|e| panic!("spawn: {e}"));
    let other = writer.clone();
    for i in 0..500 {
        writer.record(AgentRecord::new(Pid::new(), format!("a{i}")));
    }
    writer
        .shutdown()
        .await
        .unwrap_or_else(|e| panic!("{backend}: shutdown: {e}"));
    let registry = AgentRegistry::new(storage);
    assert_eq!(registry.list().await.map(|l| l.len()).ok(), Some(500));

    other.record(AgentRecord::new(Pid::new(), "late"));
    assert_eq!(
        other.stats().failed,
        1,
        "record after shutdown is counted, not panicking"
    );
    assert!(matches!(
        other.flush().await,
        Err(StorageError::WriterStopped)
    ));
}

async fn dropping_the_last_handle_flushes(backend: Backend) {
    let (storage, _guard) = test_storage(backend).await;
    let writer = RegistryWriter::spawn(storage.clone()).unwrap_or_else(|e| panic!("spawn: {e}"));
    for i in 0..300 {
        writer.record(AgentRecord::new(Pid::new(), format!("a{i}")));
    }
    drop(writer);
    let registry = AgentRegistry::new(storage);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n = registry.list().await.map(|l| l.len()).unwrap_or(0);
        if n == 300 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{backend}: only {n}/300 rows after drop"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn write_failures_are_counted_and_reported_by_flush(backend: Backend) {
    let (storage, _guard) = test_storage(backend).await;
    let writer = RegistryWriter::spawn(storage.clone()).unwrap_or_else(|e| panic!("spawn: {e}"));
    let mut bad = AgentRecord::new(Pid::new(), "bad");
    bad.priority = 200; // refused by the repository on every attempt
    writer.record(bad);
    match writer.flush().await {
        Err(StorageError::WriteBehindFailed { failed }) => assert_eq!(failed, 1),
        other => panic!("{backend}: expected WriteBehindFailed, got {other:?}"),
    }
    assert_eq!(writer.stats().failed, 1);
    // The writer keeps working after a failed batch.
    let good = AgentRecord::new(Pid::new(), "good");
    writer.record(good.clone());
    writer
        .flush()
        .await
        .unwrap_or_else(|e| panic!("{backend}: flush: {e}"));
    let registry = AgentRegistry::new(storage);
    assert_eq!(
        registry.get(good.pid).await.ok().flatten().map(|r| r.name),
        Some("good".to_string())
    );
}

on_both_backends! {
    coalesce_flush_10k => super::coalesces_and_flush_makes_10k_visible;
    shutdown_flushes => super::shutdown_flushes_and_later_records_count_as_failed;
    drop_flushes => super::dropping_the_last_handle_flushes;
    failures_reported => super::write_failures_are_counted_and_reported_by_flush;
}

/// The measurement in docs/storage.md: 100 000 records recorded, then one flush.
/// Run with `cargo test --test storage_writer -- --ignored --nocapture`.
async fn measure_100k(backend: Backend) {
    let (storage, _guard) = test_storage(backend).await;
    let writer = RegistryWriter::spawn(storage.clone()).unwrap_or_else(|e| panic!("spawn: {e}"));
    let records: Vec<AgentRecord> = (0..100_000)
        .map(|i| AgentRecord::new(Pid::new(), format!("agent-{i}")))
        .collect();
    let start = Instant::now();
    for r in records {
        writer.record(r);
    }
    let recorded = start.elapsed();
    writer
        .flush()
        .await
        .unwrap_or_else(|e| panic!("{backend}: flush: {e}"));
    let durable = start.elapsed();
    let n = AgentRegistry::new(storage)
        .list()
        .await
        .map(|l| l.len())
        .unwrap_or(0);
    assert_eq!(n, 100_000);
    let stats = writer.stats();
    println!(
        "{backend}: record() x100000 took {recorded:?}; all durable after {durable:?} \
         ({} batches)",
        stats.batches
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; run explicitly"]
async fn measure_100k_sqlite() {
    measure_100k(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; run explicitly"]
async fn measure_100k_postgres() {
    measure_100k(Backend::Postgres).await;
}
