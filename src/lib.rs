//! agent-os-kernel: an operating-system kernel for AI agents.

pub mod agent;
pub mod scheduler;
pub mod storage;

pub use agent::Pid;
