//! The write-behind registry writer.
//!
//! The kernel must register up to 100 000 agents in ≤ 2 s and write a registry row on every
//! spawn and exit, so it cannot await an INSERT per agent. [`RegistryWriter::record`] only
//! pushes the record into an unbounded channel; a Tokio task drains the channel, keeps the last
//! record per pid ("last write wins") and writes everything pending in one transaction of
//! chunked multi-row upserts. While a batch is being written, new records accumulate, so the
//! batch size grows with the load (group commit).
//!
//! Contract:
//! * "written on spawn" means *recorded* on spawn: the row becomes durable at the next batch,
//!   normally within milliseconds; a crash can lose records not yet flushed.
//! * [`RegistryWriter::flush`] returns once every record passed to `record` before the call (on
//!   any clone) is durable, or reports that some of them could not be written.
//! * [`RegistryWriter::shutdown`] flushes and stops the task. Dropping the last clone also
//!   flushes, as long as the Tokio runtime keeps running.
//! * Write failures never reach the caller of `record`: they are retried, then logged with
//!   `tracing::error!` and counted in [`WriterStats::failed`].

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::Pid;
use crate::storage::{AgentRecord, AgentRegistry, Storage, StorageError};

/// Attempts per batch before its records are counted as failed.
const WRITE_ATTEMPTS: u32 = 3;
/// Most records taken from the channel before a batch is written, so a continuous stream of
/// records cannot postpone writing (and flush acknowledgements) indefinitely.
const MAX_BATCH_RECORDS: usize = 50_000;
/// Backoff before the second attempt (doubles after that).
const RETRY_BACKOFF: Duration = Duration::from_millis(100);

// `Record` is the hot path (one per spawn/exit): boxing it would cost an allocation each.
#[allow(clippy::large_enum_variant)]
enum Command {
    Record(AgentRecord),
    /// Acknowledged with the number of records that failed in the rounds since the last flush.
    Flush(oneshot::Sender<u64>),
    Shutdown(oneshot::Sender<u64>),
}

/// Counters of a [`RegistryWriter`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Records accepted by `record`.
    pub recorded: u64,
    /// Rows written (after coalescing: several records of one pid count once per batch).
    pub written: u64,
    /// Records that could not be written (after retries) or arrived after shutdown.
    pub failed: u64,
    /// Transactions committed.
    pub batches: u64,
}

#[derive(Default)]
struct Counters {
    recorded: AtomicU64,
    written: AtomicU64,
    failed: AtomicU64,
    batches: AtomicU64,
}

/// Write-behind writer of the agents registry. Cheap to clone; all clones feed one task.
#[derive(Clone)]
pub struct RegistryWriter {
    tx: mpsc::UnboundedSender<Command>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for RegistryWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryWriter")
            .field("stats", &self.stats())
            .finish()
    }
}

impl RegistryWriter {
    /// Starts the writer task on the current Tokio runtime (actix-rt counts).
    ///
    /// Fails with [`StorageError::NoRuntime`] outside a runtime.
    pub fn spawn(storage: Storage) -> Result<RegistryWriter, StorageError> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| StorageError::NoRuntime)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        let task = WriterTask {
            registry: AgentRegistry::new(storage),
            rx,
            counters: counters.clone(),
            pending: HashMap::new(),
            failed_since_flush: 0,
        };
        handle.spawn(task.run());
        Ok(RegistryWriter { tx, counters })
    }

    /// Queues `record` for writing. Never blocks, never fails: if the writer has stopped, the
    /// record is logged and counted as failed.
    pub fn record(&self, record: AgentRecord) {
        self.counters.recorded.fetch_add(1, Ordering::Relaxed);
        if let Err(mpsc::error::SendError(cmd)) = self.tx.send(Command::Record(record)) {
            self.counters.failed.fetch_add(1, Ordering::Relaxed);
            if let Command::Record(r) = cmd {
                tracing::error!(pid = %r.pid, state = %r.state, "registry writer stopped; record dropped");
            }
        }
    }

    /// Waits until every record passed to [`record`](Self::record) before this call is durable.
    ///
    /// Errors: [`StorageError::WriteBehindFailed`] if records written since the previous flush
    /// could not be stored (details were logged), [`StorageError::WriterStopped`] if the task
    /// is gone.
    pub async fn flush(&self) -> Result<(), StorageError> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Command::Flush(ack))
            .map_err(|_| StorageError::WriterStopped)?;
        let failed = done.await.map_err(|_| StorageError::WriterStopped)?;
        failed_to_result(failed)
    }

    /// Flushes and stops the writer task. Records sent afterwards (by other clones) are counted
    /// as failed.
    pub async fn shutdown(self) -> Result<(), StorageError> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Command::Shutdown(ack))
            .map_err(|_| StorageError::WriterStopped)?;
        let failed = done.await.map_err(|_| StorageError::WriterStopped)?;
        failed_to_result(failed)
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> WriterStats {
        WriterStats {
            recorded: self.counters.recorded.load(Ordering::Relaxed),
            written: self.counters.written.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
            batches: self.counters.batches.load(Ordering::Relaxed),
        }
    }
}

fn failed_to_result(failed: u64) -> Result<(), StorageError> {
    if failed == 0 {
        Ok(())
    } else {
        Err(StorageError::WriteBehindFailed { failed })
    }
}

struct WriterTask {
    registry: AgentRegistry,
    rx: mpsc::UnboundedReceiver<Command>,
    counters: Arc<Counters>,
    pending: HashMap<Pid, AgentRecord>,
    failed_since_flush: u64,
}

impl WriterTask {
    async fn run(mut self) {
        let mut flushes: Vec<oneshot::Sender<u64>> = Vec::new();
        let mut shutdown: Option<oneshot::Sender<u64>> = None;
        loop {
            // Wait for work, then take everything already queued (coalescing by pid).
            let Some(first) = self.rx.recv().await else {
                // Every handle was dropped: write what is left and stop.
                self.write_pending().await;
                return;
            };
            self.accept(first, &mut flushes, &mut shutdown);
            let mut taken = 1;
            while shutdown.is_none() && taken < MAX_BATCH_RECORDS {
                taken += 1;
                match self.rx.try_recv() {
                    Ok(cmd) => self.accept(cmd, &mut flushes, &mut shutdown),
                    Err(_) => break,
                }
            }
            self.write_pending().await;
            if !flushes.is_empty() || shutdown.is_some() {
                let failed = std::mem::take(&mut self.failed_since_flush);
                for ack in flushes.drain(..) {
                    // The caller may have given up waiting; nothing to do then.
                    let _ = ack.send(failed);
                }
                if let Some(ack) = shutdown.take() {
                    self.rx.close();
                    // Records that raced with shutdown were accepted by the channel: count them.
                    while let Ok(cmd) = self.rx.try_recv() {
                        if let Command::Record(r) = cmd {
                            self.counters.failed.fetch_add(1, Ordering::Relaxed);
                            tracing::error!(pid = %r.pid, "registry writer shut down; record dropped");
                        }
                    }
                    let _ = ack.send(failed);
                    return;
                }
            }
        }
    }

    fn accept(
        &mut self,
        cmd: Command,
        flushes: &mut Vec<oneshot::Sender<u64>>,
        shutdown: &mut Option<oneshot::Sender<u64>>,
    ) {
        match cmd {
            Command::Record(r) => {
                self.pending.insert(r.pid, r);
            }
            Command::Flush(ack) => flushes.push(ack),
            Command::Shutdown(ack) => *shutdown = Some(ack),
        }
    }

    async fn write_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let batch: Vec<AgentRecord> = self.pending.drain().map(|(_, r)| r).collect();
        let size = batch.len() as u64;
        let mut backoff = RETRY_BACKOFF;
        for attempt in 1..=WRITE_ATTEMPTS {
            match self.registry.upsert_batch(&batch).await {
                Ok(_) => {
                    self.counters.written.fetch_add(size, Ordering::Relaxed);
                    self.counters.batches.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Err(error) if attempt < WRITE_ATTEMPTS => {
                    tracing::warn!(%error, attempt, records = size, "registry batch failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
                Err(error) => {
                    tracing::error!(%error, records = size, "registry batch failed; records dropped");
                }
            }
        }
        self.counters.failed.fetch_add(size, Ordering::Relaxed);
        self.failed_since_flush += size;
    }
}
