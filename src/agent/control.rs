//! State shared between a process actor and its run loop: stop requests, between-message
//! requests, and the reply slot of the message being handled.

use std::sync::atomic::{AtomicBool, Ordering};

use std::task::Waker;

use futures::task::AtomicWaker;
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::checkpoint::{CheckpointError, CheckpointInfo};
use crate::error::IpcError;
use crate::ipc::envelope::ReplyTx;

/// A request the run loop serves between two messages.
pub(crate) enum LoopRequest {
    Snapshot(oneshot::Sender<Result<Option<serde_json::Value>, IpcError>>),
    Pressure(crate::pager::MemoryPressure),
    /// Take a checkpoint now (synchronously).
    Checkpoint(oneshot::Sender<Result<CheckpointInfo, CheckpointError>>),
    /// Rebuild the agent from its factory and restore this plan in place.
    Restore(
        Box<crate::agent::durable::Restart>,
        Box<crate::checkpoint::store::Lineage>,
        oneshot::Sender<Result<(), CheckpointError>>,
    ),
}

/// Shared by the actor (control lane) and the run loop (data lane). The run loop checks
/// `attention` (one atomic load) before taking each message. `R` is the agent's reply type.
pub(crate) struct LoopControl<R> {
    attention: AtomicBool,
    stop: AtomicBool,
    requests: Mutex<Vec<LoopRequest>>,
    waker: AtomicWaker,
    in_flight: Mutex<Option<ReplyTx<R>>>,
}

impl<R> Default for LoopControl<R> {
    fn default() -> Self {
        LoopControl {
            attention: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            requests: Mutex::new(Vec::new()),
            waker: AtomicWaker::new(),
            in_flight: Mutex::new(None),
        }
    }
}

impl<R> LoopControl<R> {
    #[inline]
    pub(crate) fn needs_attention(&self) -> bool {
        self.attention.load(Ordering::Acquire)
    }

    pub(crate) fn request_stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.attention.store(true, Ordering::Release);
        self.waker.wake();
    }

    pub(crate) fn push(&self, req: LoopRequest) {
        self.requests.lock().push(req);
        self.attention.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Takes pending requests and whether a stop was requested; clears the attention flag.
    pub(crate) fn take(&self) -> (Vec<LoopRequest>, bool) {
        self.attention.store(false, Ordering::Release);
        let reqs = std::mem::take(&mut *self.requests.lock());
        (reqs, self.stop.load(Ordering::Acquire))
    }

    /// Forget a stop request (a fresh incarnation after a restart starts clean).
    pub(crate) fn reset_stop(&self) {
        self.stop.store(false, Ordering::Release);
    }

    /// Registers the idle run loop's waker (lock-free); `request_stop` and `push` wake it.
    pub(crate) fn register(&self, waker: &Waker) {
        self.waker.register(waker);
    }

    pub(crate) fn set_in_flight(&self, tx: Option<ReplyTx<R>>) {
        *self.in_flight.lock() = tx;
    }

    pub(crate) fn take_in_flight(&self) -> Option<ReplyTx<R>> {
        self.in_flight.lock().take()
    }

    /// Fails every queued between-message request (the loop is gone).
    pub(crate) fn fail_requests(&self, err: impl Fn() -> IpcError) {
        for req in std::mem::take(&mut *self.requests.lock()) {
            match req {
                LoopRequest::Snapshot(tx) => {
                    let _ = tx.send(Err(err()));
                }
                LoopRequest::Pressure(_) => {}
                LoopRequest::Checkpoint(tx) => {
                    let _ = tx.send(Err(CheckpointError::Agent {
                        pid: err().pid().unwrap_or_default(),
                        reason: err().to_string(),
                    }));
                }
                LoopRequest::Restore(_, _, tx) => {
                    let _ = tx.send(Err(CheckpointError::Agent {
                        pid: err().pid().unwrap_or_default(),
                        reason: err().to_string(),
                    }));
                }
            }
        }
    }
}
