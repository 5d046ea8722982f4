//! Durability: checkpoints (versioned, checksummed, deltas over a periodic full base, pages by
//! content hash), their retention, and the runaway limits checked against each task.
//!
//! The run loop of a checkpointed agent (`crate::agent`) takes a checkpoint at a step
//! boundary as its [`CheckpointPolicy`] says: the agent's [`crate::Agent::snapshot`], its page
//! table by reference (page bodies are content-addressed blobs the pager wrote once), its
//! usage, its task counters and the step number, committed together with the
//! acknowledgement of the durable messages the step handled. See `docs/durability.md`.

mod config;
pub(crate) mod delta;
mod error;
pub(crate) mod image;
pub(crate) mod retention;
pub(crate) mod store;
pub(crate) mod task;
pub(crate) mod writer;

pub use config::{CheckpointPolicy, DurabilityConfig, RunawayLimits, WriteMode};
pub use error::CheckpointError;
pub use image::AgentUsage;
pub use retention::GcReport;
pub use store::CheckpointInfo;
pub use task::RunawayLimit;
