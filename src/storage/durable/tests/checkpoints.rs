//! `checkpoints` rows, their mailbox acknowledgements, and the content-addressed blobs.

use std::collections::HashSet;

use chrono::{SubsecRound, Utc};
use sea_orm::EntityTrait;
use sha2::{Digest, Sha256};

use super::{on_both_backends, storage};
use crate::storage::durable::checkpoints::{self, NewCheckpoint};
use crate::storage::durable::mailbox;
use crate::storage::entities::checkpoint;
use crate::storage::pages::{NewPageRow, insert_pages};
use crate::storage::sql::stmt;
use crate::storage::{Backend, Storage, StorageError};

/// A checkpoint of `pid` at `sequence` whose body is `body`.
fn new_checkpoint(
    id: &str,
    pid: &str,
    sequence: u64,
    parent: Option<&str>,
    body: &str,
) -> NewCheckpoint {
    let kind = if parent.is_some() { "delta" } else { "full" };
    NewCheckpoint {
        id: id.into(),
        pid: pid.into(),
        sequence,
        parent_id: parent.map(str::to_string),
        format_version: 2,
        kind,
        step: sequence * 10,
        base_sequence: 1,
        checksum: hex(body.as_bytes()),
        body: body.as_bytes().to_vec(),
        agent_type: Some("echo".into()),
        summary: serde_json::json!({"kind": kind, "step": sequence * 10}),
        created_at: Utc::now().trunc_subsecs(6),
    }
}

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Runs `f` and returns its result and how many statements it counted.
async fn counted<T>(storage: &Storage, f: impl Future<Output = T>) -> (T, u64) {
    let before = storage.statements_executed();
    let out = f.await;
    (out, storage.statements_executed() - before)
}

async fn commit_acks_and_reads(backend: Backend) {
    let (s, _guard) = storage(backend).await;
    let pid = "agent-1";
    let c1 = new_checkpoint("c1", pid, 1, None, "{\"full\":1}");
    let (done, n) = counted(&s, checkpoints::commit(&s, &c1, &[])).await;
    assert!(done.is_ok(), "{backend}: {done:?}");
    assert_eq!(n, 1, "{backend}: a commit without acks is one INSERT");

    let mut ids = Vec::new();
    for i in 0..3 {
        let id = mailbox::persist(&s, pid, &format!("d{i}"), "tester", &serde_json::json!(i))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("{backend}: persisted"));
        ids.push(id);
    }
    let c2 = new_checkpoint("c2", pid, 2, Some("c1"), "{\"delta\":2}");
    let (done, n) = counted(&s, checkpoints::commit(&s, &c2, &ids[..2])).await;
    assert!(done.is_ok(), "{backend}: {done:?}");
    let want = if backend == Backend::Postgres { 1 } else { 2 };
    assert_eq!(
        n, want,
        "{backend}: INSERT + ack UPDATE (one statement on PostgreSQL)"
    );
    let rows = mailbox::by_ids(&s, &ids)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let statuses: Vec<&str> = rows.iter().map(|r| r.status.as_str()).collect();
    assert_eq!(statuses, ["acked", "acked", "pending"], "{backend}");
    assert_eq!(mailbox::counts(&s, pid).await.ok(), Some((1, 2, 0)));

    // A conflicting sequence fails, and its acknowledgements roll back with it.
    let dup = new_checkpoint("c2b", pid, 2, Some("c1"), "{}");
    let err = checkpoints::commit(&s, &dup, &ids[2..]).await;
    assert!(
        matches!(err, Err(StorageError::Query { .. })),
        "{backend}: {err:?}"
    );
    assert_eq!(
        mailbox::counts(&s, pid).await.ok(),
        Some((1, 2, 0)),
        "{backend}: rolled back"
    );

    // More than one IN chunk of acks: INSERT + two UPDATEs.
    let many: Vec<i64> = (1_000..1_501).collect();
    let c3 = new_checkpoint("c3", pid, 3, Some("c2"), "{\"delta\":3}");
    let (done, n) = counted(&s, checkpoints::commit(&s, &c3, &many)).await;
    assert!(done.is_ok(), "{backend}: {done:?}");
    assert_eq!(n, 3, "{backend}: 501 acks take two UPDATEs");

    let list = checkpoints::list(&s, pid)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let seqs: Vec<u64> = list.iter().map(|m| m.sequence).collect();
    assert_eq!(seqs, [1, 2, 3], "{backend}");
    let m2 = &list[1];
    assert_eq!(m2.id, "c2");
    assert_eq!(m2.pid, pid);
    assert_eq!(m2.parent_id.as_deref(), Some("c1"));
    assert_eq!(m2.format_version, 2);
    assert_eq!(m2.kind, "delta");
    assert_eq!(m2.step, 20);
    assert_eq!(m2.base_sequence, 1);
    assert_eq!(m2.checksum.as_deref(), Some(c2.checksum.as_str()));
    assert_eq!(m2.bytes, c2.body.len() as u64);
    assert_eq!(m2.agent_type.as_deref(), Some("echo"));
    assert_eq!(
        m2.created_at, c2.created_at,
        "{backend}: timestamp round trip"
    );
    assert!(
        checkpoints::list(&s, "nobody")
            .await
            .is_ok_and(|l| l.is_empty())
    );

    let got = checkpoints::get(&s, "c2")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let got = got.unwrap_or_else(|| panic!("{backend}: c2 missing"));
    assert_eq!(&got.meta, m2);
    assert_eq!(got.body.as_deref(), Some(c2.body.as_slice()));
    assert!(
        checkpoints::get(&s, "nope")
            .await
            .is_ok_and(|r| r.is_none())
    );

    // The legacy `state` column holds the summary; the entity reads the new columns.
    let model = checkpoint::Entity::find_by_id("c2".to_string())
        .one(s.connection())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("{backend}: entity"));
    assert_eq!(model.state, c2.summary);
    assert_eq!(model.body, Some(c2.body.clone()));
    assert_eq!(
        (model.kind.as_str(), model.step, model.bytes),
        ("delta", 20, 11)
    );

    let latest = checkpoints::latest(&s, pid)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(latest.map(|r| r.meta.id).as_deref(), Some("c3"));
    assert!(
        checkpoints::latest(&s, "nobody")
            .await
            .is_ok_and(|r| r.is_none())
    );

    let chain = checkpoints::range(&s, pid, 2, 3)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let chain: Vec<(u64, Option<Vec<u8>>)> = chain
        .into_iter()
        .map(|r| (r.meta.sequence, r.body))
        .collect();
    assert_eq!(
        chain,
        [(2, Some(c2.body.clone())), (3, Some(c3.body.clone()))]
    );
    let one = checkpoints::range(&s, pid, 1, 1)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(one.len(), 1);

    assert_eq!(
        checkpoints::children(&s, "c1").await.ok(),
        Some(vec!["c2".to_string()])
    );
    assert_eq!(checkpoints::children(&s, "c3").await.ok(), Some(Vec::new()));

    let gone = checkpoints::delete(&s, &["c1".into(), "c3".into(), "nope".into()]).await;
    assert_eq!(gone.ok(), Some(2), "{backend}");
    let left: Vec<String> = checkpoints::list(&s, pid)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(left, ["c2"]);
    let many_ids: Vec<String> = (0..600).map(|i| format!("x{i}")).collect();
    assert_eq!(checkpoints::delete(&s, &many_ids).await.ok(), Some(0));
}

async fn bodies_after_pages_by_id(backend: Backend) {
    let (s, _guard) = storage(backend).await;
    for (i, pid) in ["a", "b", "a", "b", "a"].iter().enumerate() {
        let id = format!("c{}", i + 1);
        let cp = new_checkpoint(&id, pid, i as u64 + 1, None, &format!("body{}", i + 1));
        assert!(checkpoints::commit(&s, &cp, &[]).await.is_ok(), "{backend}");
    }
    // A row from before the body column: defaults, no body, skipped by the collector.
    let legacy = stmt(
        backend,
        "INSERT INTO checkpoints (id, pid, sequence, format_version, state, created_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
        vec![
            "c0".into(),
            "a".into(),
            0i64.into(),
            1i32.into(),
            sea_orm::Value::Json(Some(Box::new(serde_json::json!({})))),
            Utc::now().into(),
        ],
    );
    let inserted = sea_orm::ConnectionTrait::execute_raw(s.connection(), legacy).await;
    assert!(inserted.is_ok(), "{backend}: {inserted:?}");
    let old = checkpoints::get(&s, "c0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let old = old.unwrap_or_else(|| panic!("{backend}: c0"));
    assert_eq!(old.body, None);
    assert_eq!(
        (old.meta.kind.as_str(), old.meta.bytes, old.meta.step),
        ("full", 0, 0)
    );
    assert_eq!(old.meta.checksum, None);

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = checkpoints::bodies_after(&s, after.as_deref(), 2)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        pages += 1;
        after = page.last().map(|(id, _)| id.clone());
        seen.extend(page);
    }
    assert_eq!(pages, 3, "{backend}");
    let expected: Vec<(String, Vec<u8>)> = (1..=5)
        .map(|i| (format!("c{i}"), format!("body{i}").into_bytes()))
        .collect();
    assert_eq!(seen, expected, "{backend}");
}

async fn blobs_put_get_delete(backend: Backend) {
    let (s, _guard) = storage(backend).await;
    let b1 = (hex(b"one"), b"one".to_vec());
    let b2 = (hex(b"second"), b"second".to_vec());
    assert!(
        checkpoints::put_blobs(&s, &[b1.clone(), b2.clone()])
            .await
            .is_ok()
    );
    // Stored once: a second put of the same hash changes nothing.
    let clash = (b1.0.clone(), b"other".to_vec());
    assert!(
        checkpoints::put_blobs(&s, &[clash, b1.clone()])
            .await
            .is_ok()
    );
    assert!(checkpoints::put_blobs(&s, &[]).await.is_ok());
    let mut got = checkpoints::get_blobs(&s, &[b1.0.clone(), b2.0.clone(), "missing".into()])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    got.sort();
    let mut want = vec![b1.clone(), b2.clone()];
    want.sort();
    assert_eq!(got, want, "{backend}");

    // A page's body is a blob too, and stays referenced.
    let page_text = "a page of conversation";
    let page_hash = hex(page_text.as_bytes());
    let page = NewPageRow {
        id: "p1".into(),
        pid: "a".into(),
        hash: &page_hash,
        content: page_text,
        tokens: 5,
        importance: 0.5,
        pinned: false,
        kind: "message",
        metadata: serde_json::json!({}),
        embedding: None,
        seq: 1,
        resident: true,
    };
    assert!(insert_pages(&s, &[page]).await.is_ok(), "{backend}");
    let in_use = checkpoints::page_hashes_in_use(&s)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(in_use, HashSet::from([page_hash.clone()]), "{backend}");

    let mut sizes = checkpoints::blobs(&s)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    sizes.sort();
    let mut want_sizes = vec![(b1.0.clone(), 3), (b2.0.clone(), 6), (page_hash, 22)];
    want_sizes.sort();
    assert_eq!(sizes, want_sizes, "{backend}");

    let freed = checkpoints::delete_blobs(&s, &[b2.0.clone(), "missing".into()]).await;
    assert_eq!(freed.ok(), Some((1, 6)), "{backend}");
    let left = checkpoints::get_blobs(&s, &[b1.0.clone(), b2.0.clone()]).await;
    assert_eq!(left.ok(), Some(vec![b1.clone()]));

    // Over one INSERT chunk (a transaction) and over one IN chunk.
    let many: Vec<(String, Vec<u8>)> = (0..620)
        .map(|i| {
            let body = format!("blob {i}").into_bytes();
            (hex(&body), body)
        })
        .collect();
    assert!(checkpoints::put_blobs(&s, &many).await.is_ok(), "{backend}");
    let hashes: Vec<String> = many.iter().map(|(h, _)| h.clone()).collect();
    let got = checkpoints::get_blobs(&s, &hashes)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got.len(), 620, "{backend}");
    let bytes: u64 = many.iter().map(|(_, b)| b.len() as u64).sum();
    assert_eq!(
        checkpoints::delete_blobs(&s, &hashes).await.ok(),
        Some((620, bytes))
    );
    assert_eq!(checkpoints::blobs(&s).await.map(|b| b.len()).ok(), Some(2));
}

on_both_backends! {
    checkpoint_commit_acks_and_reads => super::commit_acks_and_reads;
    checkpoint_bodies_after_pages_by_id => super::bodies_after_pages_by_id;
    checkpoint_blobs_put_get_delete => super::blobs_put_get_delete;
}
