//! Resource limits of the processes an agent's tools start, and its tool-call rate.

use serde::{Deserialize, Serialize};

/// Limits of one sandboxed run (0 = no limit of that kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResourceLimits {
    /// Address space in bytes (`RLIMIT_AS`).
    pub memory_bytes: u64,
    /// CPU time in seconds (`RLIMIT_CPU`).
    pub cpu_seconds: u64,
    /// Wall time in milliseconds; past it the whole process group is killed.
    pub wall_ms: u64,
    /// Processes (and threads) the sandbox's uid may have at once (`RLIMIT_NPROC`; ended
    /// sandboxes keep counting for a second or two while the kernel releases them).
    pub processes: u64,
    /// Largest file it may write, in bytes (`RLIMIT_FSIZE`).
    pub file_size_bytes: u64,
    /// Output kept from stdout and stderr, each, in bytes (the rest is cut and counted).
    pub output_bytes: u64,
}

impl Default for ResourceLimits {
    fn default() -> Self {
        ResourceLimits {
            memory_bytes: 512 << 20,
            cpu_seconds: 30,
            wall_ms: 60_000,
            processes: 256,
            file_size_bytes: 64 << 20,
            output_bytes: 1 << 20,
        }
    }
}

/// At most `calls` tool calls per `window_ms` (0 calls = no cap).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallRate {
    /// Calls per window; 0 = no cap.
    pub calls: u32,
    /// The window in milliseconds.
    pub window_ms: u64,
}
