//! Process identifiers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The identity of an agent process.
///
/// A `Pid` is stable for the agent's whole life: restarts by its supervisor, restores from a
/// checkpoint and (later) moves between nodes keep it. It is a UUIDv7, so pids sort by spawn
/// time and never collide across kernel restarts.
///
/// ```
/// use agent_os_kernel::Pid;
/// let pid = Pid::new();
/// let parsed: Pid = pid.to_string().parse().unwrap();
/// assert_eq!(pid, parsed);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Pid(Uuid);

impl Pid {
    /// A fresh, time-ordered pid.
    pub fn new() -> Self {
        Pid(Uuid::now_v7())
    }

    /// The pid as a UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }

    /// Wraps an existing UUID (e.g. one read back from storage).
    pub fn from_uuid(id: Uuid) -> Self {
        Pid(id)
    }
}

impl Default for Pid {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pid({})", self.0)
    }
}

/// Error for a string that is not a pid.
#[derive(Debug, thiserror::Error)]
#[error("`{input}` is not a pid (expected a UUID such as 0190f3a4-7c1e-7000-8000-000000000000)")]
pub struct ParsePidError {
    input: String,
}

impl FromStr for Pid {
    type Err = ParsePidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s.trim())
            .map(Pid)
            .map_err(|_| ParsePidError {
                input: s.to_string(),
            })
    }
}
