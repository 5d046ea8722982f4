//! agent-os-kernel: an operating-system kernel for AI agents.

pub mod agent;
pub mod provider;
pub mod scheduler;

pub use agent::Pid;
