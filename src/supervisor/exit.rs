//! Why a child exited.

use serde::{Deserialize, Serialize};

/// Why an agent (or a supervisor) exited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", content = "detail", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ExitReason {
    /// The agent finished by itself (`ctx.stop()`).
    Normal,
    /// Stopped gracefully through the kernel (`Kernel::stop`).
    Shutdown,
    /// A graceful stop did not finish within its deadline; the handler was aborted.
    StopTimeout,
    /// Killed through the kernel (`Kernel::kill`): the handler was aborted at once.
    Killed,
    /// A handler panicked (abnormal).
    Crashed(String),
    /// The start hook (or the factory) failed or panicked (abnormal).
    StartFailed(String),
    /// Terminated by its supervisor: not restarted under its restart type, or its supervisor
    /// gave up (restart intensity exceeded).
    SupervisorShutdown,
    /// The parent agent that spawned it terminated.
    ParentExited,
    /// The kernel shut down.
    KernelShutdown,
    /// Halted and restarted with its group, not for a failure of its own: a sibling failed
    /// under `one_for_all` / `rest_for_one`, or its supervisor was restarted after escalating.
    /// Only ever the previous reason passed to [`crate::Agent::on_restart`].
    GroupRestart,
}

impl ExitReason {
    /// Crashes and failed starts are abnormal; everything else is a normal exit.
    pub fn is_abnormal(&self) -> bool {
        matches!(self, ExitReason::Crashed(_) | ExitReason::StartFailed(_))
    }

    /// Exits requested explicitly through the kernel API (stop, kill) or caused by kernel
    /// shutdown; supervisors never restart these.
    pub fn is_explicit(&self) -> bool {
        matches!(
            self,
            ExitReason::Shutdown
                | ExitReason::StopTimeout
                | ExitReason::Killed
                | ExitReason::KernelShutdown
                | ExitReason::ParentExited
                | ExitReason::SupervisorShutdown
        )
    }
}

impl std::fmt::Display for ExitReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitReason::Normal => f.write_str("normal"),
            ExitReason::Shutdown => f.write_str("shutdown"),
            ExitReason::StopTimeout => f.write_str("stop timeout"),
            ExitReason::Killed => f.write_str("killed"),
            ExitReason::Crashed(r) => write!(f, "crashed: {r}"),
            ExitReason::StartFailed(r) => write!(f, "start failed: {r}"),
            ExitReason::SupervisorShutdown => f.write_str("terminated by supervisor"),
            ExitReason::ParentExited => f.write_str("parent exited"),
            ExitReason::KernelShutdown => f.write_str("kernel shutdown"),
            ExitReason::GroupRestart => f.write_str("restarted with its group"),
        }
    }
}
