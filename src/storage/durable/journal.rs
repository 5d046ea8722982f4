//! `journal`: completed LLM and tool results of a step, by (pid, step, call index).

use chrono::{DateTime, Utc};

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
    todo!()
}

/// The entries of one step, by call index.
pub(crate) async fn step(
    storage: &Storage,
    pid: &str,
    step: u64,
) -> Result<Vec<JournalEntry>, StorageError> {
    todo!()
}

/// Deletes `pid`'s entries of steps `< before_step`; returns how many.
pub(crate) async fn prune(
    storage: &Storage,
    pid: &str,
    before_step: u64,
) -> Result<u64, StorageError> {
    todo!()
}

/// Deletes every entry of `pid`.
pub(crate) async fn delete_pid(storage: &Storage, pid: &str) -> Result<u64, StorageError> {
    todo!()
}
