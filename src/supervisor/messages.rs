//! Messages between supervisors and their children.

use actix::{Message, Recipient};

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
    /// Terminate for good with this final reason.
    Terminate(ExitReason),
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
    pub(crate) handle: Recipient<ChildCommand>,
}
