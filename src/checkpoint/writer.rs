//! The write-behind checkpoint writer: one task per kernel commits queued checkpoints in the
//! order they were taken (so an agent's deltas never land before their parent).

use tokio::sync::{mpsc, oneshot};

use crate::checkpoint::store::{Prepared, commit};
use crate::pid::Pid;
use crate::storage::Storage;

/// Called when a queued checkpoint could not be written, with its acknowledgements and why.
pub(crate) type OnFailure = Box<dyn FnOnce(Vec<i64>, String) + Send>;

enum Job {
    Write {
        pid: Pid,
        prepared: Box<Prepared>,
        on_failure: OnFailure,
    },
    Flush(oneshot::Sender<()>),
}

/// Queue capacity: a producer beyond it waits (backpressure on the agents writing behind).
const QUEUE: usize = 1024;

/// Handle to the writer task.
#[derive(Clone, Debug)]
pub(crate) struct CheckpointWriter {
    tx: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::Write { pid, .. } => write!(f, "Write({pid})"),
            Job::Flush(_) => f.write_str("Flush"),
        }
    }
}

impl CheckpointWriter {
    /// Starts the writer on the current tokio runtime.
    pub(crate) fn spawn(storage: Storage) -> Self {
        let (tx, mut rx) = mpsc::channel::<Job>(QUEUE);
        tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                match job {
                    Job::Write {
                        pid,
                        prepared,
                        on_failure,
                    } => {
                        if let Err(e) = commit(&storage, pid, &prepared).await {
                            tracing::error!(%pid, error = %e, "write-behind checkpoint not written");
                            on_failure(prepared.acks, e.to_string());
                        }
                    }
                    Job::Flush(done) => {
                        let _ = done.send(());
                    }
                }
            }
        });
        CheckpointWriter { tx }
    }

    /// Queues a checkpoint (waits while the queue is full).
    pub(crate) async fn submit(&self, pid: Pid, prepared: Prepared, on_failure: OnFailure) {
        let acks = prepared.acks.clone();
        let job = Job::Write {
            pid,
            prepared: Box::new(prepared),
            on_failure,
        };
        if let Err(mpsc::error::SendError(Job::Write { on_failure, .. })) = self.tx.send(job).await
        {
            on_failure(acks, "the checkpoint writer has stopped".into());
        }
    }

    /// Waits until everything queued so far is written.
    pub(crate) async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Job::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}
