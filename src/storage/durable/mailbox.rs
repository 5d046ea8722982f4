//! `mailbox_messages`: durable mailbox rows (`pending` until the handling step's checkpoint
//! acknowledges them; `dead` after too many deliveries).

use chrono::{DateTime, Utc};
use sea_orm::{QueryResult, Value};

use crate::storage::sql::{
    IN_CHUNK, col, exec, marks, now, query_all, query_one, stmt, to_u32, to_u64,
};
use crate::storage::{Storage, StorageError};

/// Columns of [`MailboxRow`], in `SELECT` order.
const COLUMNS: &str = "id, pid, delivery_id, sender, payload, status, attempts, enqueued_at";

/// A stored durable message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MailboxRow {
    pub(crate) id: i64,
    pub(crate) pid: String,
    pub(crate) delivery_id: String,
    pub(crate) sender: String,
    pub(crate) payload: serde_json::Value,
    pub(crate) status: String,
    pub(crate) attempts: u32,
    pub(crate) enqueued_at: DateTime<Utc>,
}

/// Persists a message as `pending` (attempts 0). Returns its row id, or `None` when a row with
/// this `delivery_id` already exists (a duplicate send: nothing is written). One statement.
pub(crate) async fn persist(
    storage: &Storage,
    pid: &str,
    delivery_id: &str,
    sender: &str,
    payload: &serde_json::Value,
) -> Result<Option<i64>, StorageError> {
    let row = query_one(
        storage,
        storage.connection(),
        "persisting a mailbox message",
        stmt(
            storage.backend(),
            "INSERT INTO mailbox_messages (pid, delivery_id, sender, payload, status, attempts, \
             enqueued_at) VALUES (?, ?, ?, ?, 'pending', 0, ?) \
             ON CONFLICT (delivery_id) DO NOTHING RETURNING id",
            vec![
                pid.into(),
                delivery_id.into(),
                sender.into(),
                Value::Json(Some(Box::new(payload.clone()))),
                now(),
            ],
        ),
    )
    .await?;
    row.map(|r| col(storage, &r, "id")).transpose()
}

/// Deletes one row (a message refused after it was persisted).
pub(crate) async fn remove(storage: &Storage, id: i64) -> Result<(), StorageError> {
    exec(
        storage,
        storage.connection(),
        "removing a mailbox message",
        stmt(
            storage.backend(),
            "DELETE FROM mailbox_messages WHERE id = ?",
            vec![id.into()],
        ),
    )
    .await?;
    Ok(())
}

/// Decodes one `mailbox_messages` row.
fn message(storage: &Storage, r: &QueryResult) -> Result<MailboxRow, StorageError> {
    Ok(MailboxRow {
        id: col(storage, r, "id")?,
        pid: col(storage, r, "pid")?,
        delivery_id: col(storage, r, "delivery_id")?,
        sender: col(storage, r, "sender")?,
        payload: col(storage, r, "payload")?,
        status: col(storage, r, "status")?,
        attempts: to_u32(
            storage,
            "mailbox_messages.attempts",
            col(storage, r, "attempts")?,
        )?,
        enqueued_at: col(storage, r, "enqueued_at")?,
    })
}

/// `pid`'s `pending` rows, by id.
pub(crate) async fn pending(storage: &Storage, pid: &str) -> Result<Vec<MailboxRow>, StorageError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM mailbox_messages WHERE pid = ? AND status = 'pending' ORDER BY id"
    );
    let rows = query_all(
        storage,
        storage.connection(),
        "reading pending mailbox messages",
        stmt(storage.backend(), &sql, vec![pid.into()]),
    )
    .await?;
    rows.iter().map(|r| message(storage, r)).collect()
}

/// Rows by id (any status), by id.
pub(crate) async fn by_ids(
    storage: &Storage,
    ids: &[i64],
) -> Result<Vec<MailboxRow>, StorageError> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(IN_CHUNK) {
        let sql = format!(
            "SELECT {COLUMNS} FROM mailbox_messages WHERE id IN ({}) ORDER BY id",
            marks(chunk.len())
        );
        let values = chunk.iter().map(|id| Value::BigInt(Some(*id))).collect();
        let rows = query_all(
            storage,
            storage.connection(),
            "reading mailbox messages",
            stmt(storage.backend(), &sql, values),
        )
        .await?;
        for r in &rows {
            out.push(message(storage, r)?);
        }
    }
    out.sort_by_key(|m| m.id);
    Ok(out)
}

/// Adds one to `attempts` of these rows and sets `delivered_at = now`.
pub(crate) async fn bump_attempts(storage: &Storage, ids: &[i64]) -> Result<(), StorageError> {
    for chunk in ids.chunks(IN_CHUNK) {
        let sql = format!(
            "UPDATE mailbox_messages SET attempts = attempts + 1, delivered_at = ? \
             WHERE id IN ({})",
            marks(chunk.len())
        );
        let mut values = vec![now()];
        values.extend(chunk.iter().map(|id| Value::BigInt(Some(*id))));
        exec(
            storage,
            storage.connection(),
            "counting a delivery attempt",
            stmt(storage.backend(), &sql, values),
        )
        .await?;
    }
    Ok(())
}

/// Sets `status = 'dead'` on one row.
pub(crate) async fn mark_dead(storage: &Storage, id: i64) -> Result<(), StorageError> {
    exec(
        storage,
        storage.connection(),
        "dead-lettering a mailbox message",
        stmt(
            storage.backend(),
            "UPDATE mailbox_messages SET status = 'dead' WHERE id = ?",
            vec![id.into()],
        ),
    )
    .await?;
    Ok(())
}

/// Deletes `acked` rows whose `delivered_at` is older than `before`; returns how many.
pub(crate) async fn prune_acked(
    storage: &Storage,
    before: DateTime<Utc>,
) -> Result<u64, StorageError> {
    let done = exec(
        storage,
        storage.connection(),
        "pruning acknowledged mailbox messages",
        stmt(
            storage.backend(),
            "DELETE FROM mailbox_messages WHERE status = 'acked' AND delivered_at < ?",
            vec![Value::ChronoDateTimeUtc(Some(before))],
        ),
    )
    .await?;
    Ok(done.rows_affected())
}

/// Counts `pid`'s rows by status: (pending, acked, dead).
pub(crate) async fn counts(storage: &Storage, pid: &str) -> Result<(u64, u64, u64), StorageError> {
    let rows = query_all(
        storage,
        storage.connection(),
        "counting mailbox messages",
        stmt(
            storage.backend(),
            "SELECT status, COUNT(*) AS n FROM mailbox_messages WHERE pid = ? GROUP BY status",
            vec![pid.into()],
        ),
    )
    .await?;
    let (mut pending, mut acked, mut dead) = (0, 0, 0);
    for r in &rows {
        let status: String = col(storage, r, "status")?;
        let n = to_u64(storage, "mailbox_messages count", col(storage, r, "n")?)?;
        match status.as_str() {
            "pending" => pending = n,
            "acked" => acked = n,
            "dead" => dead = n,
            _ => {}
        }
    }
    Ok((pending, acked, dead))
}
