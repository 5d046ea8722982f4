//! `mailbox_messages`: durable mailbox rows (`pending` until the handling step's checkpoint
//! acknowledges them; `dead` after too many deliveries).

use chrono::{DateTime, Utc};

use crate::storage::{Storage, StorageError};

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
    todo!()
}

/// Deletes one row (a message refused after it was persisted).
pub(crate) async fn remove(storage: &Storage, id: i64) -> Result<(), StorageError> {
    todo!()
}

/// `pid`'s `pending` rows, by id.
pub(crate) async fn pending(storage: &Storage, pid: &str) -> Result<Vec<MailboxRow>, StorageError> {
    todo!()
}

/// Rows by id (any status), by id.
pub(crate) async fn by_ids(
    storage: &Storage,
    ids: &[i64],
) -> Result<Vec<MailboxRow>, StorageError> {
    todo!()
}

/// Adds one to `attempts` of these rows and sets `delivered_at = now`.
pub(crate) async fn bump_attempts(storage: &Storage, ids: &[i64]) -> Result<(), StorageError> {
    todo!()
}

/// Sets `status = 'dead'` on one row.
pub(crate) async fn mark_dead(storage: &Storage, id: i64) -> Result<(), StorageError> {
    todo!()
}

/// Deletes `acked` rows whose `delivered_at` is older than `before`; returns how many.
pub(crate) async fn prune_acked(
    storage: &Storage,
    before: DateTime<Utc>,
) -> Result<u64, StorageError> {
    todo!()
}

/// Counts `pid`'s rows by status: (pending, acked, dead).
pub(crate) async fn counts(storage: &Storage, pid: &str) -> Result<(u64, u64, u64), StorageError> {
    todo!()
}
