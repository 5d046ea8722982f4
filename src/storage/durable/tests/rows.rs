//! The journal, durable mailbox rows and durable agents.

use chrono::{Duration, SubsecRound, Utc};

use super::{on_both_backends, storage};
use crate::storage::durable::agents::{self, DurableAgentRow};
use crate::storage::durable::checkpoints::{self, NewCheckpoint};
use crate::storage::durable::journal::{self, JournalEntry};
use crate::storage::durable::mailbox;
use crate::storage::{Backend, Storage};

fn entry(pid: &str, step: u64, call_index: u32, payload: &str) -> JournalEntry {
    JournalEntry {
        pid: pid.into(),
        step,
        call_index,
        delivery: format!("delivery-{step}"),
        kind: if call_index == 0 {
            "llm".into()
        } else {
            "op:search".into()
        },
        request_digest: format!("digest-{step}-{call_index}"),
        payload: payload.as_bytes().to_vec(),
        created_at: Utc::now().trunc_subsecs(6),
    }
}

async fn put(s: &Storage, e: &JournalEntry) {
    let before = s.statements_executed();
    let done = journal::put(s, e).await;
    assert!(done.is_ok(), "{done:?}");
    assert_eq!(
        s.statements_executed() - before,
        1,
        "a journal put is one statement"
    );
}

async fn journal_put_step_prune(backend: Backend) {
    let (s, _guard) = storage(backend).await;
    let first = entry("a", 1, 0, "\"first\"");
    put(&s, &first).await;
    put(&s, &entry("a", 1, 1, "\"tool\"")).await;
    put(&s, &entry("a", 2, 0, "\"later\"")).await;
    put(&s, &entry("b", 1, 0, "\"other agent\"")).await;
    // Same (pid, step, call_index): replaced.
    let mut replaced = entry("a", 1, 0, "\"replaced\"");
    replaced.delivery = "redelivered".into();
    put(&s, &replaced).await;

    let step1 = journal::step(&s, "a", 1)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(step1.len(), 2, "{backend}");
    assert_eq!(
        step1[0], replaced,
        "{backend}: upsert replaces every column"
    );
    assert_eq!(step1[1].call_index, 1);
    assert_eq!(step1[1].kind, "op:search");
    assert!(journal::step(&s, "a", 9).await.is_ok_and(|v| v.is_empty()));

    assert_eq!(journal::prune(&s, "a", 2).await.ok(), Some(2), "{backend}");
    assert!(journal::step(&s, "a", 1).await.is_ok_and(|v| v.is_empty()));
    assert_eq!(
        journal::step(&s, "a", 2).await.map(|v| v.len()).ok(),
        Some(1)
    );
    assert_eq!(
        journal::step(&s, "b", 1).await.map(|v| v.len()).ok(),
        Some(1)
    );
    assert_eq!(
        journal::delete_pid(&s, "a").await.ok(),
        Some(1),
        "{backend}"
    );
    assert_eq!(journal::delete_pid(&s, "a").await.ok(), Some(0));
    assert_eq!(
        journal::step(&s, "b", 1).await.map(|v| v.len()).ok(),
        Some(1)
    );
}

async fn mailbox_lifecycle(backend: Backend) {
    let (s, _guard) = storage(backend).await;
    let before = Utc::now() - Duration::seconds(1);
    let mut ids = Vec::new();
    for i in 0..3 {
        let payload = serde_json::json!({"n": i, "text": format!("hello {i}")});
        let start = s.statements_executed();
        let id = mailbox::persist(&s, "a", &format!("d{i}"), "sender", &payload).await;
        assert_eq!(
            s.statements_executed() - start,
            1,
            "{backend}: persist is one statement"
        );
        ids.push(
            id.unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|| panic!("persisted")),
        );
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{backend}: ids ascend");
    let dup = mailbox::persist(&s, "a", "d1", "sender", &serde_json::json!("again")).await;
    assert_eq!(
        dup.ok(),
        Some(None),
        "{backend}: a duplicate delivery id writes nothing"
    );
    let other = mailbox::persist(&s, "b", "b0", "x", &serde_json::json!(null)).await;
    let other = other
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("b0"));

    let pending = mailbox::pending(&s, "a")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let got: Vec<(i64, &str)> = pending
        .iter()
        .map(|r| (r.id, r.delivery_id.as_str()))
        .collect();
    assert_eq!(
        got,
        [(ids[0], "d0"), (ids[1], "d1"), (ids[2], "d2")],
        "{backend}"
    );
    let first = &pending[0];
    assert_eq!(first.pid, "a");
    assert_eq!(first.sender, "sender");
    assert_eq!(
        first.payload,
        serde_json::json!({"n": 0, "text": "hello 0"})
    );
    assert_eq!((first.status.as_str(), first.attempts), ("pending", 0));
    assert!(
        first.enqueued_at >= before && first.enqueued_at <= Utc::now(),
        "{backend}"
    );

    for _ in 0..2 {
        assert!(mailbox::bump_attempts(&s, &ids[..2]).await.is_ok());
    }
    assert!(mailbox::bump_attempts(&s, &[]).await.is_ok());
    let rows = mailbox::by_ids(&s, &[ids[2], ids[0], other, 999_999]).await;
    let rows = rows.unwrap_or_else(|e| panic!("{e}"));
    let got: Vec<(i64, u32)> = rows.iter().map(|r| (r.id, r.attempts)).collect();
    assert_eq!(
        got,
        [(ids[0], 2), (ids[2], 0), (other, 0)],
        "{backend}: by id"
    );
    let delivered_at: Vec<bool> = delivered(&s, &ids).await;
    assert_eq!(
        delivered_at,
        [true, true, false],
        "{backend}: bump sets delivered_at"
    );

    assert!(mailbox::mark_dead(&s, ids[1]).await.is_ok());
    assert_eq!(
        mailbox::counts(&s, "a").await.ok(),
        Some((2, 0, 1)),
        "{backend}"
    );
    assert!(mailbox::remove(&s, ids[2]).await.is_ok());
    let pending = mailbox::pending(&s, "a")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pending.iter().map(|r| r.id).collect::<Vec<_>>(), [ids[0]]);

    let cp = NewCheckpoint {
        id: "c1".into(),
        pid: "a".into(),
        sequence: 1,
        parent_id: None,
        format_version: 1,
        kind: "full",
        step: 1,
        base_sequence: 1,
        checksum: "00".into(),
        body: b"{}".to_vec(),
        agent_type: None,
        summary: serde_json::json!({"kind": "full", "step": 1}),
        created_at: Utc::now(),
    };
    assert!(
        checkpoints::commit(&s, &cp, &[ids[0]]).await.is_ok(),
        "{backend}"
    );
    assert_eq!(mailbox::counts(&s, "a").await.ok(), Some((0, 1, 1)));
    let old = Utc::now() - Duration::hours(1);
    assert_eq!(
        mailbox::prune_acked(&s, old).await.ok(),
        Some(0),
        "{backend}: too recent"
    );
    let later = Utc::now() + Duration::hours(1);
    assert_eq!(
        mailbox::prune_acked(&s, later).await.ok(),
        Some(1),
        "{backend}"
    );
    assert_eq!(mailbox::counts(&s, "a").await.ok(), Some((0, 0, 1)));
    assert_eq!(mailbox::counts(&s, "b").await.ok(), Some((1, 0, 0)));
    assert_eq!(mailbox::counts(&s, "nobody").await.ok(), Some((0, 0, 0)));
}

/// Whether each row has a `delivered_at`.
async fn delivered(s: &Storage, ids: &[i64]) -> Vec<bool> {
    use crate::storage::entities::mailbox_message;
    use sea_orm::EntityTrait;
    let mut out = Vec::new();
    for id in ids {
        let row = mailbox_message::Entity::find_by_id(*id)
            .one(s.connection())
            .await;
        let row = row
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("row {id}"));
        out.push(row.delivered_at.is_some());
    }
    out
}

fn agent(pid: &str, status: &str, age_secs: i64) -> DurableAgentRow {
    let at = (Utc::now() - Duration::seconds(age_secs)).trunc_subsecs(6);
    DurableAgentRow {
        pid: pid.into(),
        type_name: "echo".into(),
        name: format!("agent {pid}"),
        options: serde_json::json!({"priority": 50, "restart": "permanent"}),
        status: status.into(),
        exit_reason: None,
        created_at: at,
        updated_at: at,
    }
}

async fn durable_agents_rows(backend: Backend) {
    let (s, _guard) = storage(backend).await;
    let a1 = agent("a1", "running", 30);
    let a2 = agent("a2", "running", 60);
    let a3 = agent("a3", "terminated", 90);
    for row in [&a1, &a2, &a3] {
        let start = s.statements_executed();
        assert!(agents::upsert(&s, row).await.is_ok(), "{backend}");
        assert_eq!(s.statements_executed() - start, 1);
    }
    let running = agents::running(&s).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        running,
        [a2.clone(), a1.clone()],
        "{backend}: running, oldest first"
    );
    assert_eq!(agents::get(&s, "a3").await.ok(), Some(Some(a3)));
    assert_eq!(agents::get(&s, "nope").await.ok(), Some(None));

    let mut renamed = a1.clone();
    renamed.name = "renamed".into();
    renamed.options = serde_json::json!({"priority": 90});
    assert!(agents::upsert(&s, &renamed).await.is_ok());
    assert_eq!(
        agents::get(&s, "a1").await.ok(),
        Some(Some(renamed.clone())),
        "{backend}"
    );

    let start = s.statements_executed();
    assert!(
        agents::set_status(&s, "a1", "terminated", Some("done"))
            .await
            .is_ok()
    );
    assert_eq!(s.statements_executed() - start, 1);
    let got = agents::get(&s, "a1")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let got = got.unwrap_or_else(|| panic!("{backend}: a1"));
    assert_eq!(
        (got.status.as_str(), got.exit_reason.as_deref()),
        ("terminated", Some("done"))
    );
    assert!(
        got.updated_at > renamed.updated_at,
        "{backend}: updated_at moves"
    );
    assert_eq!(got.created_at, renamed.created_at);
    let running = agents::running(&s).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        running.iter().map(|r| r.pid.as_str()).collect::<Vec<_>>(),
        ["a2"]
    );

    assert!(agents::set_status(&s, "a2", "running", None).await.is_ok());
    assert_eq!(agents::running(&s).await.map(|r| r.len()).ok(), Some(1));
}

on_both_backends! {
    journal_put_step_prune => super::journal_put_step_prune;
    mailbox_lifecycle => super::mailbox_lifecycle;
    durable_agents_rows => super::durable_agents_rows;
}
