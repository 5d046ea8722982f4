//! [`AuditError`]: why an audit operation failed.

use crate::storage::StorageError;

/// Why an audit operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The database refused or failed a statement.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A stored row could not be decoded (a column of the wrong type, a detail that is not
    /// the JSON the writer produces).
    #[error("audit row {seq} cannot be decoded: {reason}")]
    Corrupt {
        /// The row's `seq`.
        seq: i64,
        /// What is wrong with it.
        reason: String,
    },
    /// The writer task has stopped (its runtime shut down), so nothing can be flushed.
    #[error("the audit writer has stopped")]
    Stopped,
    /// A query's filters are invalid.
    #[error("invalid audit query: {0}")]
    InvalidQuery(String),
}
