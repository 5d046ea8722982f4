//! The tamper-evident audit log: an append-only hash chain in the `audit_log` table.
//!
//! Every [`AuditRecord`] becomes one row; each row's `hash` covers its content and the
//! previous row's hash (see `docs/audit.md` for the formula), so editing, deleting or
//! reordering rows breaks the chain where it happened and [`AuditLog::verify`] names that row.
//! On PostgreSQL a trigger refuses `UPDATE`, `DELETE` and `TRUNCATE` on the table outright.
//!
//! One writer task per kernel owns the chain tail; [`AuditLog::record`] never waits (a full
//! queue drops and counts the record), [`AuditLog::flush`] waits for what was queued.

mod chain;
mod error;
mod query;
mod record;
mod store;
mod verify;
mod writer;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{mpsc, oneshot};

pub use error::AuditError;
pub use query::{AuditQuery, DEFAULT_LIMIT, MAX_LIMIT};
pub use record::AuditRecord;
pub use store::AuditEntry;
pub use verify::{BadRow, VerifyReport};
pub use writer::AuditStats;

use crate::storage::Storage;
use writer::{Counters, Job};

/// Handle to the audit log of one storage. Cheap to clone; every clone feeds the same writer.
#[derive(Clone, Debug)]
pub struct AuditLog {
    storage: Storage,
    tx: mpsc::Sender<Job>,
    counters: Arc<Counters>,
}

impl AuditLog {
    /// Starts the writer on the current tokio runtime. The chain continues from the last row
    /// already stored. One writer per storage: the kernel starts it (see
    /// [`Kernel::audit`](crate::Kernel::audit)).
    pub fn start(storage: Storage) -> Self {
        let counters = Arc::new(Counters::default());
        let tx = writer::spawn(storage.clone(), counters.clone());
        AuditLog {
            storage,
            tx,
            counters,
        }
    }

    /// Queues `record` for the writer without waiting. If the queue (65 536 records) is full
    /// the record is dropped, counted in [`AuditStats::dropped`] and an error is logged.
    pub fn record(&self, record: AuditRecord) {
        let record = Box::new(record.normalized());
        match self.tx.try_send(Job::Record(record)) {
            Ok(()) => {
                self.counters.recorded.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                let dropped = self.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                let why = match e {
                    mpsc::error::TrySendError::Full(_) => "the audit queue is full",
                    mpsc::error::TrySendError::Closed(_) => "the audit writer has stopped",
                };
                tracing::error!(dropped, "audit record dropped: {why}");
            }
        }
    }

    /// Waits until every record queued so far is committed (while the database refuses
    /// writes, that is until it accepts them again).
    pub async fn flush(&self) -> Result<(), AuditError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Job::Flush(done))
            .await
            .map_err(|_| AuditError::Stopped)?;
        wait.await.map_err(|_| AuditError::Stopped)
    }

    /// Counters since this log started.
    pub fn stats(&self) -> AuditStats {
        self.counters.snapshot()
    }

    /// Flushes, then walks the whole chain (in pages of 10 000 rows) recomputing every hash
    /// and checking every link and that seqs have no gaps.
    pub async fn verify(&self) -> Result<VerifyReport, AuditError> {
        self.flush().await?;
        let committed = self.counters.last_seq.load(Ordering::Relaxed);
        verify::verify(&self.storage, committed).await
    }

    /// The entries `q` selects, newest first (records still queued are not included: call
    /// [`AuditLog::flush`] first to see them).
    pub async fn query(&self, q: AuditQuery) -> Result<Vec<AuditEntry>, AuditError> {
        query::query(&self.storage, &q).await
    }
}
