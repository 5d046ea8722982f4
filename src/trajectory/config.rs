//! `[trajectories]`: which agent steps the kernel records.

use serde::{Deserialize, Serialize};

/// Which steps are recorded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordMode {
    /// Nothing.
    Off,
    /// Steps that called an LLM or a tool, and steps that did not end well (the default: the
    /// steps a learning loop reads, without a row per plain message on the IPC fast path).
    #[default]
    Calls,
    /// Every step.
    All,
}

/// `[trajectories]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrajectoryConfig {
    /// Which steps are recorded (`off`, `calls`, `all`).
    pub record: RecordMode,
}
