//! The JSON envelope: how the HTTP API, the CLI and other languages message any agent.

use serde::{Deserialize, Serialize};

use crate::pid::Pid;

/// A message to one agent, in JSON form. `body` must deserialize into the agent's `Msg` type;
/// the reply (for `ask`) is the agent's `Reply` serialised to JSON.
///
/// ```
/// use agent_os_kernel::MessageEnvelope;
/// let env: MessageEnvelope = serde_json::from_str(
///     r#"{"to":"0190f3a4-7c1e-7000-8000-000000000000","body":{"Add":2},"ask":true}"#,
/// ).unwrap();
/// assert!(env.ask);
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageEnvelope {
    /// The receiving agent.
    pub to: Pid,
    /// The message, as the agent's `Msg` type serialised to JSON.
    pub body: serde_json::Value,
    /// Wait for the reply (`ask`) instead of fire-and-forget (`send`).
    #[serde(default)]
    pub ask: bool,
    /// Reply timeout in milliseconds for `ask` (default: `kernel.ask_timeout_ms`).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}
