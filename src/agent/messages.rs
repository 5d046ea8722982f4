//! Control-lane messages of an agent process (they overtake queued data messages).

use std::time::Duration;

use actix::Message;
use tokio::sync::oneshot;

use crate::error::IpcError;
use crate::supervisor::ExitReason;

/// A control command sent by the kernel to one agent process. Data messages travel in the
/// agent's bounded mailbox; these travel in the actor's own mailbox and are handled at once,
/// even while a data message is being handled.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) enum ProcessCommand {
    /// Finish the current message, run `on_stop`, terminate with `reason`. If the handler has
    /// not finished within `deadline`, abort it and terminate with `StopTimeout`.
    Stop {
        deadline: Duration,
        reason: ExitReason,
    },
    /// Abort the current handler and terminate at once.
    Kill,
    /// Take a snapshot of the agent's state between two messages.
    Snapshot(oneshot::Sender<Result<Option<serde_json::Value>, IpcError>>),
    /// Tell the agent about memory pressure between two messages.
    Pressure(crate::pager::MemoryPressure),
    /// Take a checkpoint between two messages.
    Checkpoint(
        oneshot::Sender<
            Result<crate::checkpoint::CheckpointInfo, crate::checkpoint::CheckpointError>,
        >,
    ),
    /// Rebuild the agent and restore a checkpoint in place, between two messages.
    Restore(
        Box<crate::agent::durable::Restart>,
        Box<crate::checkpoint::store::Lineage>,
        oneshot::Sender<Result<(), crate::checkpoint::CheckpointError>>,
    ),
}
