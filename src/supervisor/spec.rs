//! Supervision strategies, restart types and supervisor specs.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Identifies a supervisor. The root supervisor is [`SupervisorId::ROOT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SupervisorId(pub u64);

impl SupervisorId {
    /// The kernel's root supervisor.
    pub const ROOT: SupervisorId = SupervisorId(0);
}

impl std::fmt::Display for SupervisorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sup-{}", self.0)
    }
}

/// Which children restart when one child fails (OTP semantics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Strategy {
    /// Only the failed child restarts.
    #[default]
    OneForOne,
    /// Every child restarts.
    OneForAll,
    /// The failed child and every child started after it restart, in start order.
    RestForOne,
}

/// When a child is restarted. The default for agents and supervisors alike is `Transient`.
///
/// | restart type | panic / failed start | normal exit (`ctx.stop()`) | stop, kill, shutdown |
/// |---|---|---|---|
/// | `Permanent` | restarted | restarted | never restarted |
/// | `Transient` (default) | restarted | not restarted | never restarted |
/// | `Temporary` | not restarted | not restarted | never restarted |
///
/// A restart is within the supervisor's intensity ([`SupervisorSpec::intensity`]) and the
/// child's own limit ([`crate::SpawnOptions::restart_limit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RestartType {
    /// Always restarted, also after a normal exit (`ctx.stop()`).
    Permanent,
    /// Restarted only after an abnormal exit (panic, failed start).
    #[default]
    Transient,
    /// Never restarted; terminated when a sibling restart would touch it.
    Temporary,
}

impl RestartType {
    /// Lowercase name, as stored in the registry table.
    pub fn as_str(self) -> &'static str {
        match self {
            RestartType::Permanent => "permanent",
            RestartType::Transient => "transient",
            RestartType::Temporary => "temporary",
        }
    }
}

/// How a supervisor behaves.
///
/// ```
/// use std::time::Duration;
/// use agent_os_kernel::prelude::*;
/// let spec = SupervisorSpec::new("pipeline")
///     .strategy(Strategy::RestForOne)
///     .intensity(5, Duration::from_secs(10));
/// assert_eq!(spec.max_restarts(), 5);
/// ```
#[derive(Debug, Clone)]
pub struct SupervisorSpec {
    pub(crate) name: String,
    pub(crate) strategy: Strategy,
    pub(crate) max_restarts: u32,
    pub(crate) period: Duration,
    pub(crate) backoff_min: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) parent: Option<SupervisorId>,
    pub(crate) restart: RestartType,
}

impl SupervisorSpec {
    /// A one_for_one supervisor with the default intensity (3 restarts in 5 s) and backoff
    /// (10 ms doubling to 1 s), under the root supervisor, restart type `Transient` (restarted
    /// by its parent when it escalates).
    pub fn new(name: impl Into<String>) -> Self {
        SupervisorSpec {
            name: name.into(),
            strategy: Strategy::OneForOne,
            max_restarts: 3,
            period: Duration::from_secs(5),
            backoff_min: Duration::from_millis(10),
            backoff_max: Duration::from_secs(1),
            parent: None,
            restart: RestartType::Transient,
        }
    }

    /// The restart strategy.
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// At most `max_restarts` restarts within `period`; one more and the supervisor escalates.
    pub fn intensity(mut self, max_restarts: u32, period: Duration) -> Self {
        self.max_restarts = max_restarts;
        self.period = period;
        self
    }

    /// Delay before a restart: `min` after the first restart in the period, doubling for each
    /// further restart in the period, capped at `max`.
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.backoff_min = min;
        self.backoff_max = max.max(min);
        self
    }

    /// Nests this supervisor under another one (default: the root supervisor).
    pub fn parent(mut self, parent: SupervisorId) -> Self {
        self.parent = Some(parent);
        self
    }

    /// How the parent treats this supervisor when it escalates (default `Transient`: it is
    /// restarted; `Temporary`: it is terminated with its children). A supervisor only exits
    /// abnormally (by escalating) or when stopped, so `Permanent` behaves like `Transient`.
    pub fn restart(mut self, restart: RestartType) -> Self {
        self.restart = restart;
        self
    }

    /// The configured maximum restarts per period.
    pub fn max_restarts(&self) -> u32 {
        self.max_restarts
    }
}
