//! The audit log through the kernel (`kernel.audit()`), on the backend `AOK_TEST_BACKEND`
//! names: concurrent records form one contiguous chain, a restart continues it, queries
//! filter, and tampering is refused (PostgreSQL, SQLite while its triggers exist) or named by
//! `verify` (SQLite once the triggers are dropped, as anyone holding the file can).

mod common;

use std::collections::HashSet;

use agent_os_kernel::storage::{Backend, Storage};
use agent_os_kernel::{AuditQuery, AuditRecord, Kernel, KernelConfig, Pid};
use chrono::{Duration, Utc};
use sea_orm::ConnectionTrait;

async fn kernel_on(storage: Storage) -> Kernel {
    let mut config = KernelConfig::default();
    config.kernel.arbiters = 1;
    Kernel::builder()
        .config(config)
        .storage(storage)
        .build()
        .await
        .expect("kernel builds")
}

fn records(k: &Kernel, n: usize, action: &str) {
    for i in 0..n {
        k.audit()
            .record(AuditRecord::new(action).target(format!("t{i}")));
    }
}

#[actix_rt::test]
async fn ten_thousand_records_from_twenty_tasks_form_one_contiguous_chain() {
    let (storage, _db) = common::test_storage(common::backend_from_env()).await;
    let k = kernel_on(storage).await;
    let tasks: Vec<_> = (0..20)
        .map(|t| {
            let audit = k.audit().clone();
            tokio::spawn(async move {
                let pid = Pid::new();
                for i in 0..500 {
                    audit.record(
                        AuditRecord::new("tool.call")
                            .pid(pid)
                            .target(format!("task{t}"))
                            .args_digest(format!("{i:064x}")),
                    );
                    if i % 50 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    let report = k.audit().verify().await.expect("verify");
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.rows, 10_000);
    let stats = k.audit().stats();
    assert_eq!(
        (stats.recorded, stats.written, stats.dropped),
        (10_000, 10_000, 0)
    );
    assert!(stats.batches >= 10, "at most 1 000 per batch: {stats:?}");

    let all = k
        .audit()
        .query(AuditQuery::new().limit(20_000))
        .await
        .expect("query");
    assert_eq!(all.len(), 10_000, "the limit is capped at 10 000");
    let seqs: Vec<u64> = all.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=10_000).rev().collect::<Vec<_>>());
    for pair in all.windows(2) {
        assert_eq!(pair[1].hash, pair[0].prev_hash);
    }
    assert_eq!(all[9_999].prev_hash, "");
    let pids: HashSet<_> = all.iter().filter_map(|e| e.record.pid).collect();
    assert_eq!(pids.len(), 20);
    k.shutdown().await;
}

#[actix_rt::test]
async fn a_restart_on_the_same_storage_continues_the_chain() {
    let (storage, _db) = common::test_storage(common::backend_from_env()).await;
    let first = kernel_on(storage.clone()).await;
    records(&first, 30, "ipc.send");
    first.shutdown().await;
    assert_eq!(first.audit().stats().written, 30, "shutdown flushes");

    let second = kernel_on(storage).await;
    records(&second, 20, "llm.call");
    let report = second.audit().verify().await.expect("verify");
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.rows, 50);
    let around = second
        .audit()
        .query(AuditQuery::new().limit(21))
        .await
        .expect("query");
    assert_eq!(around[0].seq, 50);
    assert_eq!(around[20].seq, 30);
    assert_eq!(around[20].record.action, "ipc.send");
    assert_eq!(around[19].record.action, "llm.call");
    assert_eq!(around[19].prev_hash, around[20].hash);
    second.shutdown().await;
}

#[actix_rt::test]
async fn queries_filter_by_pid_action_time_and_limit_newest_first() {
    let (storage, _db) = common::test_storage(common::backend_from_env()).await;
    let k = kernel_on(storage).await;
    let (a, b) = (Pid::new(), Pid::new());
    let t0 = Utc::now() - Duration::hours(1);
    for i in 0..10 {
        let at = t0 + Duration::minutes(i);
        let pid = if i % 2 == 0 { a } else { b };
        let action = ["tool.call", "tool.result", "ipc.send"][usize::try_from(i % 3).unwrap()];
        k.audit().record(
            AuditRecord::new(action)
                .pid(pid)
                .at(at)
                .actor("token-ci")
                .denied(format!("r{i}\0nul")),
        );
    }
    k.audit()
        .record(AuditRecord::new("policy.decide").actor("admin"));
    k.audit().flush().await.expect("flush");
    let q = |q: AuditQuery| async { k.audit().query(q).await.expect("query") };

    let of_a = q(AuditQuery::new().pid(a)).await;
    assert_eq!(of_a.len(), 5);
    assert!(of_a.iter().all(|e| e.record.pid == Some(a)));
    assert!(of_a.windows(2).all(|w| w[0].seq > w[1].seq), "newest first");
    assert_eq!(of_a[0].record.reason.as_deref(), Some("r8\u{FFFD}nul"));
    assert!(!of_a[0].record.allowed);
    assert_eq!(of_a[0].record.actor.as_deref(), Some("token-ci"));

    let tools = q(AuditQuery::new().action("tool.*")).await;
    assert_eq!(tools.len(), 7);
    assert!(tools.iter().all(|e| e.record.action.starts_with("tool.")));
    assert_eq!(q(AuditQuery::new().action("tool.call")).await.len(), 4);
    assert_eq!(q(AuditQuery::new().action("tool")).await.len(), 0);
    assert_eq!(q(AuditQuery::new().action("*")).await.len(), 11);
    assert_eq!(q(AuditQuery::new().pid(b).action("ipc.*")).await.len(), 1); // i = 5

    // Minutes 2, 3, 4 (from inclusive, to exclusive).
    let window = q(AuditQuery::new()
        .from(t0 + Duration::minutes(2))
        .to(t0 + Duration::minutes(5)))
    .await;
    assert_eq!(
        window.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![5, 4, 3]
    );
    assert_eq!(
        window[2].record.ts,
        t0.trunc_subsecs_micros() + Duration::minutes(2)
    );
    let recent = q(AuditQuery::new().from(Utc::now() - Duration::minutes(5))).await;
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].record.action, "policy.decide");

    let two = q(AuditQuery::new().limit(2)).await;
    assert_eq!(two.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![11, 10]);
    assert!(
        k.audit()
            .query(AuditQuery::new().from(Utc::now()).to(t0))
            .await
            .is_err()
    );
    k.shutdown().await;
}

trait Micros {
    fn trunc_subsecs_micros(self) -> Self;
}

impl Micros for chrono::DateTime<Utc> {
    fn trunc_subsecs_micros(self) -> Self {
        chrono::SubsecRound::trunc_subsecs(self, 6)
    }
}

/// Runs `sql` on the kernel's storage; the error text if refused.
async fn tamper(k: &Kernel, sql: &str) -> Result<(), String> {
    k.storage()
        .connection()
        .execute_unprepared(sql)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// A kernel with 20 audit rows, and whether its backend is SQLite.
async fn twenty_rows() -> (Kernel, common::StorageGuard, bool) {
    let (storage, db) = common::test_storage(common::backend_from_env()).await;
    let sqlite = storage.backend() == Backend::Sqlite;
    let k = kernel_on(storage).await;
    records(&k, 20, "page.share");
    assert!(k.audit().verify().await.expect("verify").is_ok());
    (k, db, sqlite)
}

#[actix_rt::test]
async fn an_edited_row_is_refused_or_named_by_verify() {
    let (k, _db, sqlite) = twenty_rows().await;
    let update = "UPDATE audit_log SET action = 'x' WHERE seq = 5";
    let refused = tamper(&k, update).await.expect_err("the trigger refuses");
    assert!(refused.contains("append-only"), "{refused}");
    if sqlite {
        // Whoever holds the file can drop the triggers; the chain still tells.
        tamper(&k, "DROP TRIGGER audit_log_no_update")
            .await
            .expect("drop");
        tamper(&k, update)
            .await
            .expect("update without the trigger");
        let report = k.audit().verify().await.expect("verify");
        let bad = report.first_bad.expect("tampering found");
        assert_eq!((bad.seq, bad.reason.as_str()), (5, "hash mismatch"));
        assert_eq!(report.rows, 5);
    } else {
        let report = k.audit().verify().await.expect("verify");
        assert!(report.is_ok(), "{report:?}");
        assert_eq!(report.rows, 20);
    }
    k.shutdown().await;
}

#[actix_rt::test]
async fn a_deleted_row_is_refused_or_reported_as_a_gap() {
    let (k, _db, sqlite) = twenty_rows().await;
    let delete = "DELETE FROM audit_log WHERE seq = 7";
    let refused = tamper(&k, delete).await.expect_err("the trigger refuses");
    assert!(refused.contains("append-only"), "{refused}");
    if sqlite {
        tamper(&k, "DROP TRIGGER audit_log_no_delete")
            .await
            .expect("drop");
        tamper(&k, delete)
            .await
            .expect("delete without the trigger");
        let bad = k.audit().verify().await.expect("verify").first_bad;
        let bad = bad.expect("tampering found");
        assert_eq!((bad.seq, bad.reason.as_str()), (7, "gap: seq 7 missing"));

        // Deleting the newest rows is seen too (the writer knows what it wrote).
        tamper(&k, "DELETE FROM audit_log WHERE seq >= 7")
            .await
            .expect("delete");
        let bad = k.audit().verify().await.expect("verify").first_bad;
        assert_eq!(bad.map(|b| b.seq), Some(7));
    } else {
        let truncate = tamper(&k, "TRUNCATE audit_log").await.expect_err("refused");
        assert!(truncate.contains("append-only"), "{truncate}");
        let report = k.audit().verify().await.expect("verify");
        assert!(report.is_ok(), "{report:?}");
        assert_eq!(report.rows, 20);
    }
    k.shutdown().await;
}
