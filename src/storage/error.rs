//! The storage error type.

use std::path::PathBuf;

use sea_orm::DbErr;

/// Everything that can go wrong in the storage layer.
///
/// Every variant that involves a database names its URL, with any password replaced by `***`
/// (see [`redact_url`](crate::storage::redact_url)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The URL scheme is neither `sqlite:` nor `postgres:`/`postgresql:`.
    #[error(
        "unsupported database URL scheme `{scheme}` in `{url}`: expected `sqlite://PATH` or `postgres://USER@HOST/DB`"
    )]
    UnsupportedScheme {
        /// The scheme found (empty if the URL has none).
        scheme: String,
        /// The redacted URL.
        url: String,
    },
    /// The parent directory of a SQLite file could not be created.
    #[error("cannot create directory {} for the SQLite database `{url}`: {source}", path.display())]
    CreateDir {
        /// The redacted URL.
        url: String,
        /// The directory.
        path: PathBuf,
        /// The I/O cause.
        #[source]
        source: std::io::Error,
    },
    /// Connecting failed.
    #[error("cannot connect to `{url}`: {source}")]
    Connect {
        /// The redacted URL.
        url: String,
        /// The driver error.
        #[source]
        source: DbErr,
    },
    /// Running the schema migrations failed.
    #[error("migrating the schema of `{url}` failed: {source}")]
    Migrate {
        /// The redacted URL.
        url: String,
        /// The migration error (for a missing pgvector it says how to install it).
        #[source]
        source: DbErr,
    },
    /// A query failed.
    #[error("storage query failed on `{url}` while {operation}: {source}")]
    Query {
        /// The redacted URL.
        url: String,
        /// What was being done.
        operation: &'static str,
        /// The driver error.
        #[source]
        source: DbErr,
    },
    /// A stored value could not be decoded.
    #[error("invalid stored data in `{url}` ({what}): {reason}")]
    Corrupt {
        /// The redacted URL.
        url: String,
        /// Which value.
        what: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A value given by the caller cannot be stored.
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// Which value.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The registry writer task is gone (shut down, or its runtime stopped).
    #[error("the registry writer task has stopped")]
    WriterStopped,
    /// Some records given to the write-behind writer could not be stored (see the logs).
    #[error("{failed} registry record(s) could not be written (see the error log)")]
    WriteBehindFailed {
        /// How many records were lost since the previous flush.
        failed: u64,
    },
    /// A background task was requested outside a Tokio runtime.
    #[error("no Tokio runtime: start the registry writer from within a Tokio/actix runtime")]
    NoRuntime,
}
