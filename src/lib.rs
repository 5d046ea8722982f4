//! agent-os-kernel: an operating-system kernel for AI agents.

pub mod agent;
pub mod scheduler;

pub use agent::Pid;
pub use scheduler::{
    PolicyKind, Scheduler, SchedulerConfig, SchedulerError, SliceRequest, SliceToken, Usage,
};
