//! Options for spawning an agent.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::checkpoint::{CheckpointPolicy, RunawayLimits, WriteMode};
use crate::scheduler::Quota;
use crate::supervisor::{RestartType, SupervisorId};

/// What happens when a message arrives at a full mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "String")]
#[non_exhaustive]
pub enum OverflowPolicy {
    /// The sender gets [`crate::IpcError::MailboxFull`] at once; nothing is dropped silently.
    #[default]
    Reject,
    /// The sender waits until there is room (backpressure).
    Backpressure,
}

impl TryFrom<String> for OverflowPolicy {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "reject" => Ok(OverflowPolicy::Reject),
            "backpressure" => Ok(OverflowPolicy::Backpressure),
            other => Err(format!(
                "unknown overflow policy `{other}`: use `reject` or `backpressure`"
            )),
        }
    }
}

/// How to spawn an agent: name, priority, mailbox, and its supervision, declared in one chain
/// where the child is spawned — its supervisor, its restart type, and its own restart limit.
///
/// ```
/// use std::time::Duration;
/// use agent_os_kernel::prelude::*;
/// let opts = SpawnOptions::new("worker-1")
///     .priority(10)
///     .mailbox(256)
///     .supervisor(SupervisorId::ROOT)
///     .restart(RestartType::Permanent)
///     .restart_limit(3, Duration::from_secs(10));
/// assert_eq!(opts.priority_value(), 10);
/// ```
#[derive(Debug, Clone)]
pub struct SpawnOptions {
    pub(crate) name: String,
    pub(crate) priority: u8,
    pub(crate) mailbox: Option<usize>,
    pub(crate) overflow: Option<OverflowPolicy>,
    pub(crate) restart: RestartType,
    pub(crate) supervisor: Option<SupervisorId>,
    pub(crate) stop_timeout: Option<Duration>,
    pub(crate) quota: Option<Quota>,
    pub(crate) restart_limit: Option<(u32, Duration)>,
    pub(crate) context_budget: Option<u64>,
    pub(crate) checkpoint: Option<CheckpointPolicy>,
    pub(crate) write_mode: Option<WriteMode>,
    pub(crate) limits: Option<RunawayLimits>,
    pub(crate) durable: bool,
    pub(crate) policy: Option<crate::security::policy::SecurityPolicy>,
}

impl SpawnOptions {
    /// Options with a name and defaults: priority 50, the configured mailbox capacity and
    /// overflow policy, restart type `Transient`, the root supervisor.
    pub fn new(name: impl Into<String>) -> Self {
        SpawnOptions {
            name: name.into(),
            priority: 50,
            mailbox: None,
            overflow: None,
            restart: RestartType::Transient,
            supervisor: None,
            stop_timeout: None,
            quota: None,
            restart_limit: None,
            context_budget: None,
            checkpoint: None,
            write_mode: None,
            limits: None,
            durable: false,
            policy: None,
        }
    }

    /// This agent's security policy, replacing `[security]` for it: permission level, the
    /// tools, paths, hosts, agents and models it may use, the limits of its tools.
    pub fn policy(mut self, policy: crate::security::policy::SecurityPolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// When this agent is checkpointed (default: `durability.checkpoint`, or
    /// `durability.durable_checkpoint` for durable agents). A checkpointed agent that crashes
    /// is restarted from its last checkpoint.
    pub fn checkpoint(mut self, policy: CheckpointPolicy) -> Self {
        self.checkpoint = Some(policy);
        self
    }

    /// Whether a step waits for its checkpoint to commit (default `durability.write`).
    pub fn write_mode(mut self, mode: WriteMode) -> Self {
        self.write_mode = Some(mode);
        self
    }

    /// This agent's runaway limits (default `durability.limits`).
    pub fn limits(mut self, limits: RunawayLimits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// A durable mailbox for an agent spawned through its registered type
    /// ([`crate::Kernel::spawn_registered`]); [`crate::Kernel::spawn_durable`] sets it.
    pub fn durable(mut self, durable: bool) -> Self {
        self.durable = durable;
        self
    }

    /// These options as JSON (what the kernel stores to resume a durable agent).
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        serde_json::json!({
            "name": self.name,
            "priority": self.priority,
            "mailbox": self.mailbox,
            "overflow": self.overflow,
            "restart": self.restart,
            "stop_timeout_ms": self.stop_timeout.map(ms),
            "quota": self.quota,
            "restart_limit": self.restart_limit.map(|(n, d)| (n, ms(d))),
            "context_budget": self.context_budget,
            "checkpoint": self.checkpoint,
            "write_mode": self.write_mode,
            "limits": self.limits,
            "durable": self.durable,
            "policy": self.policy,
        })
    }

    /// Options back from [`SpawnOptions::to_json`].
    pub(crate) fn from_json(v: &serde_json::Value) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct Stored {
            name: String,
            priority: u8,
            mailbox: Option<usize>,
            overflow: Option<OverflowPolicy>,
            restart: RestartType,
            stop_timeout_ms: Option<u64>,
            quota: Option<Quota>,
            restart_limit: Option<(u32, u64)>,
            context_budget: Option<u64>,
            checkpoint: Option<CheckpointPolicy>,
            write_mode: Option<WriteMode>,
            limits: Option<RunawayLimits>,
            durable: bool,
            #[serde(default)]
            policy: Option<crate::security::policy::SecurityPolicy>,
        }
        let s: Stored = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
        Ok(SpawnOptions {
            name: s.name,
            priority: s.priority,
            mailbox: s.mailbox,
            overflow: s.overflow,
            restart: s.restart,
            supervisor: None,
            stop_timeout: s.stop_timeout_ms.map(Duration::from_millis),
            quota: s.quota,
            restart_limit: s
                .restart_limit
                .map(|(n, ms)| (n, Duration::from_millis(ms))),
            context_budget: s.context_budget,
            checkpoint: s.checkpoint,
            write_mode: s.write_mode,
            limits: s.limits,
            durable: s.durable,
            policy: s.policy,
        })
    }

    /// Priority 0 (most urgent) … 100; default 50. Used by the scheduler for LLM slices.
    pub fn priority(mut self, priority: u8) -> Self {
        self.priority = priority;
        self
    }

    /// Mailbox capacity (messages queued, not counting the one being handled).
    pub fn mailbox(mut self, capacity: usize) -> Self {
        self.mailbox = Some(capacity);
        self
    }

    /// Overflow policy for a full mailbox.
    pub fn overflow(mut self, policy: OverflowPolicy) -> Self {
        self.overflow = Some(policy);
        self
    }

    /// Restart type under the supervisor (default `Transient`: restarted after a crash or a
    /// failed start, not after a normal exit).
    pub fn restart(mut self, restart: RestartType) -> Self {
        self.restart = restart;
        self
    }

    /// This child's own restart limit: at most `max_restarts` restarts within `within`. One
    /// more failure in that window and the supervisor terminates this child (with the failure
    /// as its exit reason) instead of restarting it; its siblings and the supervisor carry on.
    /// The supervisor's intensity ([`crate::SupervisorSpec::intensity`]) still counts every
    /// restart it makes and escalates when exceeded. Default: no limit of its own.
    pub fn restart_limit(mut self, max_restarts: u32, within: Duration) -> Self {
        self.restart_limit = Some((max_restarts, within));
        self
    }

    /// Places the agent under this supervisor instead of the root supervisor.
    pub fn supervisor(mut self, id: SupervisorId) -> Self {
        self.supervisor = Some(id);
        self
    }

    /// Deadline for a graceful stop of this agent (default from config).
    pub fn stop_timeout(mut self, deadline: Duration) -> Self {
        self.stop_timeout = Some(deadline);
        self
    }

    /// This agent's resident context budget in tokens (default: `pager.window_tokens -
    /// pager.reserve_output_tokens`). Must be at least 1.
    pub fn context_budget(mut self, tokens: u64) -> Self {
        self.context_budget = Some(tokens);
        self
    }

    /// This agent's scheduler quota (tokens, calls, cost per window), replacing
    /// `scheduler.agent_quota` for it.
    pub fn quota(mut self, quota: Quota) -> Self {
        self.quota = Some(quota);
        self
    }

    /// The name.
    pub fn name_value(&self) -> &str {
        &self.name
    }

    /// The priority.
    pub fn priority_value(&self) -> u8 {
        self.priority
    }
}
