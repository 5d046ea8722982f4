//! Messages between supervisors and their children.

use std::time::Duration;

use actix::{Message, Recipient};
use tokio::sync::oneshot;

use crate::pid::Pid;
use crate::supervisor::{ExitReason, RestartType, SupervisorId};

/// Identifies a child of a supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ChildKey {
    Agent(Pid),
    Supervisor(SupervisorId),
}

/// A command from a supervisor to one of its children (agent process or sub-supervisor).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub(crate) enum ChildCommand {
    /// Rebuild from the factory (agents) / restart every child (supervisors). Queued messages
    /// are kept.
    Restart,
    /// Stop handling messages and wait for `Restart` or `Terminate` (an escalating
    /// supervisor halts its children while its parent decides).
    Halt,
    /// Terminate for good with this final reason, at once.
    Terminate(ExitReason),
    /// Stop gracefully with this final reason: an agent finishes its message and runs
    /// `on_stop` (within its stop deadline); a supervisor stops all its children that way
    /// first.
    Shutdown(ExitReason),
}

/// A child tells its supervisor it exited. For explicit exits (stop, kill) the child has
/// already terminated and the supervisor only forgets it; otherwise the child is suspended
/// until the supervisor answers with a [`ChildCommand`].
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub(crate) struct ChildExited {
    pub(crate) key: ChildKey,
    pub(crate) reason: ExitReason,
}

/// Adds a child, placed after every existing child (start order).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct AddChild {
    pub(crate) key: ChildKey,
    pub(crate) restart: RestartType,
    /// The child's own restart limit (max restarts within a period), if any.
    pub(crate) limit: Option<(u32, Duration)>,
    pub(crate) handle: Recipient<ChildCommand>,
}

/// Stops a supervisor and everything under it gracefully; `done` fires once every child has
/// terminated and the supervisor has left its parent.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct StopSupervisor {
    pub(crate) done: oneshot::Sender<()>,
}
