//! Agents: the user-facing [`Agent`] trait, the process actor that runs one, and pids.

mod pid;

pub use pid::{ParsePidError, Pid};
