//! The sandbox code and shell tools run in: bubblewrap (`bwrap`) with read-only system
//! directories, the agent's workspace read-write at `/workspace`, a private `/tmp`, every
//! namespace unshared (the network only when the policy allows it), `--die-with-parent`,
//! rlimits, a wall-time limit that kills the whole sandbox (its PID namespace goes with it,
//! grandchildren included), and capped output. Run as root, the sandbox first drops to a uid
//! of its own per workspace (200000 + a hash), so the process limit holds and one agent's fork
//! bomb does not use up another's.
//!
//! Where `bwrap` is missing, [`Sandbox::detect`] says so and how to install it; tools refuse
//! to run code unless the policy allows unsandboxed runs.

mod output;
mod run;

pub use output::Captured;
pub(crate) use run::hand_over;
pub use run::{RunOutput, RunSpec, Sandbox, SandboxError, run_unsandboxed};
