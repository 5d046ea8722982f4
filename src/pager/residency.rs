//! Write-behind of residency flags. The `resident` column is only a hint for rebuilding a
//! table after a restart: every page's body is in storage from its allocation on, so a flag
//! that lags (or is lost in a crash) can make a page load as swapped or resident, never lose
//! it. Faults and evictions therefore queue their flags here, in order, instead of waiting for
//! a commit each; [`crate::pager::Pager::flush`] waits for them (the kernel does at shutdown).

use std::collections::HashMap;

use tokio::sync::{mpsc, oneshot};

use crate::storage::Storage;
use crate::storage::pages::{Residency, set_residency};

enum Cmd {
    Write(Vec<Residency>),
    Flush(oneshot::Sender<()>),
}

/// The queue in front of the residency writer task.
#[derive(Debug, Clone)]
pub(crate) struct ResidencyWriter {
    tx: mpsc::UnboundedSender<Cmd>,
}

impl ResidencyWriter {
    /// Starts the writer on the current tokio runtime; `None` outside one (writes are then
    /// made in place).
    pub(crate) fn spawn(storage: Storage) -> Option<Self> {
        let handle = tokio::runtime::Handle::try_current().ok()?;
        let (tx, rx) = mpsc::unbounded_channel();
        handle.spawn(run(storage, rx));
        Some(ResidencyWriter { tx })
    }

    /// Queues changes; gives them back if the writer has stopped.
    pub(crate) fn write(&self, changes: Vec<Residency>) -> Result<(), Vec<Residency>> {
        self.tx.send(Cmd::Write(changes)).map_err(|e| match e.0 {
            Cmd::Write(c) => c,
            Cmd::Flush(_) => Vec::new(),
        })
    }

    /// Waits until everything queued before this call is written (or the writer is gone).
    pub(crate) async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Cmd::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

async fn run(storage: Storage, mut rx: mpsc::UnboundedReceiver<Cmd>) {
    while let Some(first) = rx.recv().await {
        // Coalesce what is queued: the last flag of a page wins.
        let mut pending: HashMap<String, Residency> = HashMap::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        while let Some(cmd) = next {
            match cmd {
                Cmd::Write(changes) => {
                    for c in changes {
                        pending.insert(c.id.clone(), c);
                    }
                }
                Cmd::Flush(done) => flushes.push(done),
            }
            next = rx.try_recv().ok();
        }
        let batch: Vec<Residency> = pending.into_values().collect();
        if let Err(e) = set_residency(&storage, &batch).await {
            tracing::warn!(pages = batch.len(), error = %e, "page residency flags not written (a hint only: every page body is stored; a restart may load these pages as swapped or resident)");
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}
