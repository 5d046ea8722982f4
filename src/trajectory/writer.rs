//! The trajectory writer: one task per kernel appends queued steps in batches. Agents never
//! wait: a full queue drops the step and counts it. A failed batch is retried with backoff.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use super::store::insert;
use super::trace::TrajectoryStep;
use crate::storage::Storage;

/// Steps queued at most.
pub(crate) const QUEUE: usize = 16_384;
/// Steps appended per statement at most.
const BATCH: usize = 500;
/// Attempts at one batch before it is given up (and counted as dropped).
const ATTEMPTS: u32 = 5;

/// Work for the writer.
#[derive(Debug)]
pub(crate) enum Job {
    Step(Box<TrajectoryStep>),
    Flush(oneshot::Sender<()>),
}

/// Counters shared by the handle and the writer.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) recorded: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) written: AtomicU64,
}

/// Starts the writer on the current tokio runtime.
pub(crate) fn spawn(storage: Storage, counters: Arc<Counters>) -> mpsc::Sender<Job> {
    let (tx, rx) = mpsc::channel(QUEUE);
    tokio::spawn(run(storage, counters, rx).instrument(tracing::info_span!("trajectory_writer")));
    tx
}

async fn run(storage: Storage, counters: Arc<Counters>, mut rx: mpsc::Receiver<Job>) {
    let mut steps: Vec<TrajectoryStep> = Vec::with_capacity(BATCH);
    let mut waiters = Vec::new();
    while let Some(job) = rx.recv().await {
        let mut next = Some(job);
        while let Some(job) = next.take() {
            match job {
                Job::Step(s) => steps.push(*s),
                Job::Flush(done) => waiters.push(done),
            }
            if steps.len() < BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !steps.is_empty() {
            commit(&storage, &counters, &steps).await;
            steps.clear();
        }
        for done in waiters.drain(..) {
            let _ = done.send(());
        }
    }
}

async fn commit(storage: &Storage, counters: &Counters, steps: &[TrajectoryStep]) {
    let n = steps.len() as u64;
    let mut wait = Duration::from_millis(50);
    for attempt in 1..=ATTEMPTS {
        match insert(storage, steps).await {
            Ok(()) => {
                counters.written.fetch_add(n, Ordering::Relaxed);
                return;
            }
            Err(e) if attempt < ATTEMPTS => {
                tracing::warn!(error = %e, attempt, "recording trajectories failed; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(2));
            }
            Err(e) => {
                tracing::error!(error = %e, steps = n, "recording trajectories failed; steps dropped");
                counters.dropped.fetch_add(n, Ordering::Relaxed);
            }
        }
    }
}
