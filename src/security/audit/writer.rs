//! The audit writer: one task per kernel owns the chain tail and appends queued records in
//! batches. Callers never wait: a full queue drops the record, counts it and logs an error.
//! A failed batch is kept and retried (with backoff, the tail reloaded first), never dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use super::chain::row_hash;
use super::record::AuditRecord;
use super::store::{NewRow, Tail, insert, load_tail};
use crate::storage::Storage;

/// Records queued at most; beyond that [`AuditLog::record`](super::AuditLog::record) drops.
pub(crate) const QUEUE: usize = 65_536;

/// Records appended per statement at most.
pub(crate) const BATCH: usize = 1_000;

/// First and longest wait before retrying a failed batch.
const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Work for the writer.
#[derive(Debug)]
pub(crate) enum Job {
    /// Append this record.
    Record(Box<AuditRecord>),
    /// Answer once everything queued before is committed.
    Flush(oneshot::Sender<()>),
}

/// Counters shared by the handles and the writer.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) recorded: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) written: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) failed_batches: AtomicU64,
    /// The highest seq this writer committed (0: none yet).
    pub(crate) last_seq: AtomicU64,
}

/// Counters of an [`AuditLog`](super::AuditLog) since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AuditStats {
    /// Records accepted into the queue.
    pub recorded: u64,
    /// Records refused because the queue was full (or the writer had stopped).
    pub dropped: u64,
    /// Records committed.
    pub written: u64,
    /// Batches committed.
    pub batches: u64,
    /// Batch attempts that failed (and were retried).
    pub failed_batches: u64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> AuditStats {
        AuditStats {
            recorded: self.recorded.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            written: self.written.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
            failed_batches: self.failed_batches.load(Ordering::Relaxed),
        }
    }
}

/// Starts the writer on the current tokio runtime; the sender it returns feeds it. The task
/// ends once every sender is dropped and the queue is drained.
pub(crate) fn spawn(storage: Storage, counters: Arc<Counters>) -> mpsc::Sender<Job> {
    let (tx, rx) = mpsc::channel(QUEUE);
    tokio::spawn(run(storage, counters, rx).instrument(tracing::info_span!("audit_writer")));
    tx
}

/// What the writer knows of the chain's end.
#[derive(Debug)]
enum Known {
    /// Not known: at start, and after a failure (another writer may have appended).
    Unknown,
    /// The chain is empty.
    Empty,
    /// The last row.
    Tail(Tail),
}

async fn run(storage: Storage, counters: Arc<Counters>, mut rx: mpsc::Receiver<Job>) {
    let mut tail = Known::Unknown;
    let mut records: Vec<AuditRecord> = Vec::with_capacity(BATCH);
    let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
    while let Some(job) = rx.recv().await {
        let mut next = Some(job);
        while let Some(job) = next.take() {
            match job {
                Job::Record(r) => records.push(*r),
                Job::Flush(done) => waiters.push(done),
            }
            if records.len() < BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !records.is_empty() {
            commit(&storage, &counters, &mut tail, &records).await;
            records.clear();
        }
        for done in waiters.drain(..) {
            let _ = done.send(());
        }
    }
    tracing::debug!("audit writer stopped");
}

/// Appends `records` after the tail, retrying until it succeeds.
async fn commit(storage: &Storage, counters: &Counters, tail: &mut Known, records: &[AuditRecord]) {
    let mut backoff = BACKOFF_MIN;
    loop {
        let result = match tail {
            Known::Empty => append(storage, None, records).await,
            Known::Tail(t) => append(storage, Some(t), records).await,
            Known::Unknown => match load_tail(storage).await {
                Ok(t) => {
                    *tail = t.map_or(Known::Empty, Known::Tail);
                    continue;
                }
                Err(e) => Err(e),
            },
        };
        match result {
            Ok(last) => {
                counters.last_seq.store(last.seq, Ordering::Relaxed);
                *tail = Known::Tail(last);
                counters
                    .written
                    .fetch_add(records.len() as u64, Ordering::Relaxed);
                counters.batches.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Err(e) => {
                counters.failed_batches.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    records = records.len(),
                    error = %e,
                    retry_in_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX),
                    "audit batch not written; kept and retried"
                );
                *tail = Known::Unknown;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

/// One attempt: chains `records` after `tail` and inserts them; the new tail.
async fn append(
    storage: &Storage,
    tail: Option<&Tail>,
    records: &[AuditRecord],
) -> Result<Tail, super::AuditError> {
    let (mut seq, mut prev) = match tail {
        Some(t) => (t.seq, t.hash.clone()),
        None => (0, String::new()),
    };
    let mut rows = Vec::with_capacity(records.len());
    for record in records {
        seq += 1;
        let pid = record.pid.map(|p| p.to_string());
        let hash = row_hash(
            &prev,
            seq,
            &record.ts,
            pid.as_deref(),
            &record.action,
            &record.detail(),
        );
        rows.push(NewRow {
            seq,
            record,
            prev_hash: std::mem::replace(&mut prev, hash.clone()),
            hash,
        });
    }
    insert(storage, &rows).await?;
    Ok(Tail { seq, hash: prev })
}
