//! Permission levels: what kinds of device an agent may use at all.

use serde::{Deserialize, Serialize};

/// How much an agent may do, from least to most. A tool declares the level it needs; an agent
/// below it is refused whatever its allow list says.
///
/// * `restricted`: reads only — files in its workspace, memory, its pages.
/// * `standard`: also writes in its workspace, and runs code in the sandbox.
/// * `elevated`: also shell commands (sandboxed) and the network (allowed hosts only).
/// * `admin`: also unsandboxed runs where the policy allows them.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum PermissionLevel {
    /// Reads only.
    Restricted,
    /// Workspace writes and sandboxed code.
    #[default]
    Standard,
    /// Shell and network.
    Elevated,
    /// Everything the policy allows, unsandboxed runs included.
    Admin,
}

impl PermissionLevel {
    /// The configuration name.
    pub fn as_str(self) -> &'static str {
        match self {
            PermissionLevel::Restricted => "restricted",
            PermissionLevel::Standard => "standard",
            PermissionLevel::Elevated => "elevated",
            PermissionLevel::Admin => "admin",
        }
    }
}

impl std::fmt::Display for PermissionLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
