//! `checkpoints` rows and the content-addressed `page_blobs` they reference.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use crate::storage::{Storage, StorageError};

/// A checkpoint row to insert.
#[derive(Debug, Clone)]
pub(crate) struct NewCheckpoint {
    pub(crate) id: String,
    pub(crate) pid: String,
    pub(crate) sequence: u64,
    pub(crate) parent_id: Option<String>,
    pub(crate) format_version: i32,
    /// `full` or `delta`.
    pub(crate) kind: &'static str,
    pub(crate) step: u64,
    /// The sequence of the full checkpoint this one's delta chain starts at (itself if full).
    pub(crate) base_sequence: u64,
    /// Hex SHA-256 of `body`.
    pub(crate) checksum: String,
    /// The encoded checkpoint (JSON bytes, exact).
    pub(crate) body: Vec<u8>,
    pub(crate) agent_type: Option<String>,
    /// Small JSON summary kept in the legacy `state` column (kind, step).
    pub(crate) summary: serde_json::Value,
    pub(crate) created_at: DateTime<Utc>,
}

/// A stored checkpoint, with its body.
#[derive(Debug, Clone)]
pub(crate) struct CheckpointRow {
    pub(crate) meta: CheckpointMeta,
    /// `None` when the row predates the body column.
    pub(crate) body: Option<Vec<u8>>,
}

/// A stored checkpoint without its body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CheckpointMeta {
    pub(crate) id: String,
    pub(crate) pid: String,
    pub(crate) sequence: u64,
    pub(crate) parent_id: Option<String>,
    pub(crate) format_version: i32,
    pub(crate) kind: String,
    pub(crate) step: u64,
    pub(crate) base_sequence: u64,
    pub(crate) checksum: Option<String>,
    pub(crate) bytes: u64,
    pub(crate) agent_type: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
}

/// Inserts a checkpoint and marks the mailbox rows `acks` acknowledged (`status = 'acked'`,
/// `delivered_at = now`), in one transaction (a single INSERT, without a transaction, when
/// `acks` is empty). At most two statements besides BEGIN/COMMIT.
pub(crate) async fn commit(
    storage: &Storage,
    row: &NewCheckpoint,
    acks: &[i64],
) -> Result<(), StorageError> {
    todo!()
}

/// Every checkpoint of `pid`, oldest first (by sequence), without bodies.
pub(crate) async fn list(
    storage: &Storage,
    pid: &str,
) -> Result<Vec<CheckpointMeta>, StorageError> {
    todo!()
}

/// One checkpoint with its body.
pub(crate) async fn get(
    storage: &Storage,
    id: &str,
) -> Result<Option<CheckpointRow>, StorageError> {
    todo!()
}

/// The newest checkpoint of `pid` (highest sequence), with its body.
pub(crate) async fn latest(
    storage: &Storage,
    pid: &str,
) -> Result<Option<CheckpointRow>, StorageError> {
    todo!()
}

/// Checkpoints of `pid` with `from <= sequence <= to`, with bodies, by sequence (one query).
pub(crate) async fn range(
    storage: &Storage,
    pid: &str,
    from: u64,
    to: u64,
) -> Result<Vec<CheckpointRow>, StorageError> {
    todo!()
}

/// Ids of the checkpoints whose `parent_id` is `id`.
pub(crate) async fn children(storage: &Storage, id: &str) -> Result<Vec<String>, StorageError> {
    todo!()
}

/// Deletes these checkpoints (chunked); returns how many rows went.
pub(crate) async fn delete(storage: &Storage, ids: &[String]) -> Result<u64, StorageError> {
    todo!()
}

/// Bodies of every checkpoint (any pid), `limit` at a time after `after` (by id), for the
/// blob collector.
pub(crate) async fn bodies_after(
    storage: &Storage,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
    todo!()
}

/// Every `content_hash` some `pages` row still references.
pub(crate) async fn page_hashes_in_use(storage: &Storage) -> Result<HashSet<String>, StorageError> {
    todo!()
}

/// Every blob's hash and size.
pub(crate) async fn blobs(storage: &Storage) -> Result<Vec<(String, u64)>, StorageError> {
    todo!()
}

/// Deletes these blobs (chunked); returns (rows, bytes) freed.
pub(crate) async fn delete_blobs(
    storage: &Storage,
    hashes: &[String],
) -> Result<(u64, u64), StorageError> {
    todo!()
}

/// Stores blobs not yet stored (`ON CONFLICT DO NOTHING`), in one transaction.
pub(crate) async fn put_blobs(
    storage: &Storage,
    blobs: &[(String, Vec<u8>)],
) -> Result<(), StorageError> {
    todo!()
}

/// The bytes of these blobs (missing ones are absent from the result).
pub(crate) async fn get_blobs(
    storage: &Storage,
    hashes: &[String],
) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
    todo!()
}
