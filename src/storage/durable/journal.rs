//! `journal`: completed LLM and tool results of a step, by (pid, step, call index).

use chrono::{DateTime, Utc};
use sea_orm::{QueryResult, Value};

use crate::storage::sql::{col, exec, int, int32, query_all, stmt, to_u32, to_u64};
use crate::storage::{Storage, StorageError};

/// One journaled call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JournalEntry {
    pub(crate) pid: String,
    pub(crate) step: u64,
    pub(crate) call_index: u32,
    /// The delivery the step was handling (a redelivery of the same message replays).
    pub(crate) delivery: String,
    /// `llm` or `op:<name>`.
    pub(crate) kind: String,
    /// Hex SHA-256 of the request (to notice a step that diverged on replay).
    pub(crate) request_digest: String,
    /// The result, JSON bytes.
    pub(crate) payload: Vec<u8>,
    pub(crate) created_at: DateTime<Utc>,
}

/// Stores an entry, replacing one with the same (pid, step, call_index). One statement.
pub(crate) async fn put(storage: &Storage, entry: &JournalEntry) -> Result<(), StorageError> {
    exec(
        storage,
        storage.connection(),
        "journaling a call",
        stmt(
            storage.backend(),
            "INSERT INTO journal (pid, step, call_index, delivery, kind, request_digest, \
             payload, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (pid, step, call_index) DO UPDATE SET \
             delivery = excluded.delivery, kind = excluded.kind, \
             request_digest = excluded.request_digest, payload = excluded.payload, \
             created_at = excluded.created_at",
            vec![
                entry.pid.clone().into(),
                int(entry.step),
                int32(entry.call_index),
                entry.delivery.clone().into(),
                entry.kind.clone().into(),
                entry.request_digest.clone().into(),
                Value::Bytes(Some(entry.payload.clone())),
                Value::ChronoDateTimeUtc(Some(entry.created_at)),
            ],
        ),
    )
    .await?;
    Ok(())
}

/// Decodes one `journal` row.
fn entry(storage: &Storage, r: &QueryResult) -> Result<JournalEntry, StorageError> {
    Ok(JournalEntry {
        pid: col(storage, r, "pid")?,
        step: to_u64(storage, "journal.step", col(storage, r, "step")?)?,
        call_index: to_u32(
            storage,
            "journal.call_index",
            col(storage, r, "call_index")?,
        )?,
        delivery: col(storage, r, "delivery")?,
        kind: col(storage, r, "kind")?,
        request_digest: col(storage, r, "request_digest")?,
        payload: col(storage, r, "payload")?,
        created_at: col(storage, r, "created_at")?,
    })
}

/// The entries of one step, by call index.
pub(crate) async fn step(
    storage: &Storage,
    pid: &str,
    step: u64,
) -> Result<Vec<JournalEntry>, StorageError> {
    let rows = query_all(
        storage,
        storage.connection(),
        "reading a step's journal",
        stmt(
            storage.backend(),
            "SELECT pid, step, call_index, delivery, kind, request_digest, payload, created_at \
             FROM journal WHERE pid = ? AND step = ? ORDER BY call_index",
            vec![pid.into(), int(step)],
        ),
    )
    .await?;
    rows.iter().map(|r| entry(storage, r)).collect()
}

/// Deletes `pid`'s entries of steps `< before_step`; returns how many.
pub(crate) async fn prune(
    storage: &Storage,
    pid: &str,
    before_step: u64,
) -> Result<u64, StorageError> {
    let done = exec(
        storage,
        storage.connection(),
        "pruning the journal",
        stmt(
            storage.backend(),
            "DELETE FROM journal WHERE pid = ? AND step < ?",
            vec![pid.into(), int(before_step)],
        ),
    )
    .await?;
    Ok(done.rows_affected())
}

/// Deletes every entry of `pid`.
pub(crate) async fn delete_pid(storage: &Storage, pid: &str) -> Result<u64, StorageError> {
    let done = exec(
        storage,
        storage.connection(),
        "deleting an agent's journal",
        stmt(
            storage.backend(),
            "DELETE FROM journal WHERE pid = ?",
            vec![pid.into()],
        ),
    )
    .await?;
    Ok(done.rows_affected())
}
