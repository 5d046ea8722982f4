//! The optimizer: reads the recorded trajectories, reports per agent type (success rate,
//! steps, tokens, latency, cost, failing tools) and per backend (attempts, failures,
//! latency percentiles), and suggests changes — each with its evidence — that
//! [`Optimizer::apply`] makes to what the runtime uses: a model group's route
//! ([`Router::set_route`](crate::provider::Router::set_route)), an agent type's step limit or
//! priority ([`crate::tuning`]). Every applied change is in the audit log
//! (`optimizer.apply`). The rules are in `docs/observability.md`.
//!
//! ```no_run
//! # async fn demo(kernel: agent_os_kernel::Kernel) -> Result<(), Box<dyn std::error::Error>> {
//! use agent_os_kernel::optimizer::AnalysisQuery;
//!
//! let analysis = kernel.optimizer().analyze(AnalysisQuery::new()).await?;
//! for s in &analysis.suggestions {
//!     println!("{}", s.summary);
//!     if let Some(change) = &s.change {
//!         kernel.optimizer().apply(change, "operator")?;
//!     }
//! }
//! # Ok(()) }
//! ```

mod analyze;
mod report;
mod spread;
mod suggest;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use report::{BackendReport, ToolReport, TypeReport};
pub use spread::Spread;
pub use suggest::{Change, Evidence, Suggestion};

use crate::Kernel;
use crate::security::audit::AuditRecord;
use crate::storage::StorageError;
use crate::trajectory::TrajectoryQuery;

/// Why the optimizer could not analyze or apply.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OptimizerError {
    /// The trajectories could not be read.
    #[error("reading trajectories: {0}")]
    Storage(#[from] StorageError),
    /// The change names something the runtime does not have or a value out of range.
    #[error("the change cannot be applied: {0}")]
    Invalid(String),
}

/// Which recorded steps an analysis reads.
#[derive(Debug, Clone)]
pub struct AnalysisQuery {
    pub(crate) agent_type: Option<String>,
    pub(crate) from: Option<DateTime<Utc>>,
    pub(crate) limit: u64,
    pub(crate) min_samples: u64,
}

impl Default for AnalysisQuery {
    fn default() -> Self {
        AnalysisQuery {
            agent_type: None,
            from: None,
            limit: 100_000,
            min_samples: 5,
        }
    }
}

impl AnalysisQuery {
    /// Every agent type, the newest 100 000 recorded steps, rules reading 5 samples or more.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only this agent type (route suggestions then read only its calls).
    pub fn agent_type(mut self, agent_type: impl Into<String>) -> Self {
        self.agent_type = Some(agent_type.into());
        self
    }

    /// Only steps started at or after `from`.
    pub fn from(mut self, from: DateTime<Utc>) -> Self {
        self.from = Some(from);
        self
    }

    /// At most this many steps (the newest that match).
    pub fn limit(mut self, limit: u64) -> Self {
        self.limit = limit;
        self
    }

    /// The fewest samples (attempts, calls) a rule takes as evidence (at least 1).
    pub fn min_samples(mut self, n: u64) -> Self {
        self.min_samples = n.max(1);
        self
    }
}

/// What an analysis found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Analysis {
    /// Steps read.
    pub steps: u64,
    /// Per agent type, sorted by name.
    pub types: Vec<TypeReport>,
    /// Per model or group and backend.
    pub backends: Vec<BackendReport>,
    /// What to change, with the evidence.
    pub suggestions: Vec<Suggestion>,
}

/// A change made by [`Optimizer::apply`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Applied {
    /// The change.
    pub change: Change,
    /// What it replaced, for a person (`"chain slow, fast"`, `"max_steps none"`).
    pub previous: String,
}

/// The kernel's optimizer ([`Kernel::optimizer`]).
#[derive(Clone, Debug)]
pub struct Optimizer {
    kernel: Kernel,
}

impl Kernel {
    /// The optimizer over this kernel's trajectories.
    pub fn optimizer(&self) -> Optimizer {
        Optimizer {
            kernel: self.clone(),
        }
    }
}

impl Optimizer {
    /// Reads the recorded steps `q` selects (after the queued ones are written) and reports
    /// and suggests.
    #[tracing::instrument(name = "optimizer.analyze", skip_all)]
    pub async fn analyze(&self, q: AnalysisQuery) -> Result<Analysis, OptimizerError> {
        let recorder = self.kernel.trajectories();
        recorder.flush().await;
        let mut tq = TrajectoryQuery::new().limit(q.limit).newest();
        if let Some(t) = &q.agent_type {
            tq = tq.agent_type(t.clone());
        }
        if let Some(from) = q.from {
            tq = tq.from(from);
        }
        let steps = recorder.query(tq).await?;
        let router = &self.kernel.providers().router;
        let tuning = self.kernel.tuning();
        let rules = suggest::Rules {
            min_samples: q.min_samples,
        };
        let backends = analyze::backend_reports(&steps, router);
        let mut suggestions = suggest::routes(&backends, router, rules);
        let mut types = Vec::new();
        for (agent_type, tasks) in analyze::by_type(&steps) {
            let report = analyze::type_report(agent_type, &tasks);
            suggestions.extend(suggest::step_limit(agent_type, &tasks, tuning));
            suggestions.extend(suggest::priority(agent_type, &tasks, tuning, rules));
            suggestions.extend(suggest::tools(agent_type, &report.tools, rules));
            types.push(report);
        }
        Ok(Analysis {
            steps: steps.len() as u64,
            types,
            backends,
            suggestions,
        })
    }

    /// Makes `change` in the running kernel (every agent sees it at its next call or step)
    /// and records it in the audit log (`optimizer.apply`, by `actor`). Refused, changing
    /// nothing, when it names a backend that is not configured or a value out of range.
    pub fn apply(&self, change: &Change, actor: &str) -> Result<Applied, OptimizerError> {
        let invalid = |e: &dyn std::fmt::Display| OptimizerError::Invalid(e.to_string());
        let (target, previous) = match change {
            Change::Route { model, chain } => {
                let before = self
                    .kernel
                    .providers()
                    .router
                    .set_route(model, chain.clone())
                    .map_err(|e| invalid(&e))?;
                let names: Vec<&str> = before.iter().map(|t| t.backend.as_str()).collect();
                (
                    format!("route:{model}"),
                    format!("chain {}", names.join(", ")),
                )
            }
            Change::StepLimit {
                agent_type,
                max_steps,
            } => {
                let before = self
                    .kernel
                    .tuning()
                    .set_max_steps(agent_type, Some(*max_steps))
                    .map_err(|e| invalid(&e))?;
                (
                    format!("type:{agent_type}"),
                    format!("max_steps {}", shown(before)),
                )
            }
            Change::Priority {
                agent_type,
                priority,
            } => {
                let before = self
                    .kernel
                    .tuning()
                    .set_priority(agent_type, Some(*priority))
                    .map_err(|e| invalid(&e))?;
                (
                    format!("type:{agent_type}"),
                    format!("priority {}", shown(before)),
                )
            }
        };
        let description = serde_json::to_string(change).unwrap_or_default();
        tracing::info!(%target, change = %description, %previous, actor, "optimizer change applied");
        self.kernel.audit().record(
            AuditRecord::new("optimizer.apply")
                .actor(actor)
                .target(target)
                .allowed(true)
                .reason(format!("{description}; was {previous}")),
        );
        Ok(Applied {
            change: change.clone(),
            previous,
        })
    }
}

fn shown<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "none".to_owned(), |v| v.to_string())
}
