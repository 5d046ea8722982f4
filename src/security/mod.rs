//! Protection: the security policy every agent's syscalls pass, the sandbox code and shell
//! tools run in, and the tamper-evident audit log of what agents and outside callers do.
//!
//! - [`policy`]: per-agent permission level, allow/block lists for tools, agents and models,
//!   canonicalised path checks, network and resource limits. Enforced today on IPC sends and
//!   LLM calls; the tool host (next) enforces the rest.
//! - [`sandbox`]: bubblewrap runs under the policy's limits.
//! - [`audit`]: the hash-chained, append-only log (`Kernel::audit`).

pub mod audit;
pub mod policy;
pub mod sandbox;
