//! Kernel configuration: `config/default.toml`, an optional user file (TOML or YAML), and
//! `AOK__SECTION__KEY` environment variables, validated with errors that name the key and
//! where its value came from.
//!
//! ```
//! use agent_os_kernel::KernelConfig;
//! let cfg = KernelConfig::from_sources(None, [("AOK__KERNEL__MAILBOX_CAPACITY", "64")]).unwrap();
//! assert_eq!(cfg.kernel.mailbox_capacity, 64);
//! ```

mod env_lists;
mod error;
mod load;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::agent::OverflowPolicy;
use crate::pager::PagerConfig;
use crate::provider::ProvidersConfig;
use crate::scheduler::SchedulerConfig;

pub use error::ConfigError;

/// The embedded defaults (`config/default.toml`).
pub const DEFAULT_CONFIG_TOML: &str = include_str!("../../config/default.toml");

/// The whole kernel configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelConfig {
    /// Agent processes, mailboxes, stop deadlines.
    pub kernel: KernelSection,
    /// The root supervisor.
    pub supervisor: SupervisorSection,
    /// The scheduler (slice tokens, policies, quotas).
    pub scheduler: SchedulerConfig,
    /// LLM backends, routes and prices.
    pub providers: ProvidersConfig,
    /// The pager (context pages, budgets, replacement, recall, embeddings).
    pub pager: PagerConfig,
    /// Checkpoints, durable mailboxes, resume on start, runaway limits.
    pub durability: crate::checkpoint::DurabilityConfig,
    /// The default security policy of every agent (per spawn: `SpawnOptions::policy`).
    pub security: crate::security::policy::SecurityPolicy,
    /// Tools: where workspaces live.
    pub tools: crate::tools::ToolsConfig,
    /// MCP servers whose tools agents can call.
    #[serde(default)]
    pub mcp: crate::tools::mcp::McpConfig,
    /// The HTTP API (`agent_os_kernel::api`, `agent-os serve`): bind address, limits, tokens.
    pub api: crate::api::ApiConfig,
    /// Which agent steps the kernel records as trajectories.
    #[serde(default)]
    pub trajectories: crate::trajectory::TrajectoryConfig,
    /// Storage backend.
    pub storage: StorageSection,
    /// Logging.
    pub log: LogSection,
}

/// `[kernel]`: see `config/default.toml` for each key's meaning.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelSection {
    /// Arbiters (threads) for agent processes; 0 = one per core.
    pub arbiters: usize,
    /// Default mailbox capacity.
    pub mailbox_capacity: usize,
    /// Default overflow policy.
    pub overflow: OverflowPolicy,
    /// Default graceful-stop deadline (ms).
    pub stop_timeout_ms: u64,
    /// Default reply timeout of JSON asks (ms).
    pub ask_timeout_ms: u64,
    /// Events buffered per subscriber.
    pub event_buffer: usize,
}

/// `[supervisor]`: the root supervisor's intensity and backoff.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupervisorSection {
    /// Restarts allowed per period.
    pub max_restarts: u32,
    /// The period (ms).
    pub period_ms: u64,
    /// First restart delay (ms).
    pub backoff_min_ms: u64,
    /// Maximum restart delay (ms).
    pub backoff_max_ms: u64,
}

/// `[storage]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSection {
    /// `sqlite://PATH` or `postgres://…`.
    pub url: String,
}

/// `[log]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// tracing-subscriber filter directive.
    pub filter: String,
}

impl KernelSection {
    /// The stop deadline as a duration.
    pub fn stop_timeout(&self) -> Duration {
        Duration::from_millis(self.stop_timeout_ms)
    }
    /// The JSON ask timeout as a duration.
    pub fn ask_timeout(&self) -> Duration {
        Duration::from_millis(self.ask_timeout_ms)
    }
}

impl Default for KernelConfig {
    /// The embedded defaults (`config/default.toml`).
    fn default() -> Self {
        // The embedded file is a compile-time constant, checked by the unit test
        // `embedded_defaults_parse`; no user input reaches this call.
        KernelConfig::from_sources(None, std::iter::empty::<(String, String)>())
            .expect("embedded config/default.toml is valid")
    }
}

impl KernelConfig {
    /// Renders the effective configuration as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}"))
    }
}
