//! Agents: the user-facing [`Agent`] trait, the [`AgentContext`] syscalls, spawn options,
//! lifecycle states, and the process actor that runs one agent.

mod bridge;
mod context;
pub(crate) mod control;
pub(crate) mod durable;
pub(crate) mod journal;
pub(crate) mod messages;
mod options;
pub(crate) mod process;
pub(crate) mod run_loop;
pub(crate) mod state;
pub(crate) mod step;
mod trace;
mod traits;

pub use crate::pid::{ParsePidError, Pid};
pub use bridge::Deliver;
pub use context::AgentContext;
pub use options::{OverflowPolicy, SpawnOptions};
pub use state::{AgentState, WaitReason};
pub use traits::Agent;
