//! The rules that turn reports into [`Suggestion`]s, each with its evidence.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::analyze::{Task, overran_quota};
use super::report::{BackendReport, ToolReport, rate};
use super::spread::Spread;
use crate::provider::{RouteTarget, Router};
use crate::tuning::Tuning;

/// A change to what the runtime uses, as a suggestion carries it and
/// [`Optimizer::apply`](super::Optimizer::apply) makes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Change {
    /// Replace the fallback chain of a model or group (the first backend takes the traffic).
    Route {
        /// The model or group.
        model: String,
        /// The new chain, first backend first.
        #[schema(value_type = Vec<Object>)]
        chain: Vec<RouteTarget>,
    },
    /// Set the step limit of an agent type.
    StepLimit {
        /// The agent type.
        agent_type: String,
        /// Steps a task may take (at least 1).
        max_steps: u64,
    },
    /// Set the priority of an agent type's slice requests and LLM calls.
    Priority {
        /// The agent type.
        agent_type: String,
        /// 0 most urgent … 100.
        priority: u8,
    },
}

/// The counts and percentiles a suggestion rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    /// Each backend's attempts at the model, as measured.
    Backends {
        /// One row per backend that was tried.
        backends: Vec<BackendReport>,
    },
    /// Tasks that stopped at the step limit although nothing in them failed.
    StepLimit {
        /// Tasks of the type.
        tasks: u64,
        /// Tasks cut off at the current limit with every call answered.
        clean_cut_off: u64,
        /// The limit they stopped at.
        limit: u64,
        /// Steps of the tasks that finished (a step's LLM calls, or 1 for a step without —
        /// an agent that loops inside one step counts its calls).
        finished_steps: Spread,
    },
    /// LLM calls that ran into the agents' quota.
    Quota {
        /// LLM calls of the type at its current priority.
        llm_calls: u64,
        /// Of them, calls that waited for a quota window or were refused by a quota.
        overruns: u64,
        /// The priority they ran at.
        priority: u8,
    },
    /// A tool that fails.
    Tool {
        /// The tool's counts.
        tool: ToolReport,
    },
}

/// Advice drawn from recorded steps: what to change (if anything can be), why, and the
/// evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Suggestion {
    /// The agent type it is about (none for a model group's route).
    pub agent_type: Option<String>,
    /// One line for a person.
    pub summary: String,
    /// What it rests on.
    pub evidence: Evidence,
    /// The change to apply; none when it is advice a person acts on.
    pub change: Option<Change>,
}

/// Thresholds of the rules.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules {
    /// Fewest samples a rule reads as evidence.
    pub(crate) min_samples: u64,
}

/// Route suggestions: per model with a chain of two or more backends, the fastest backend
/// that fails no more often than the first (within 2 points) and answers at ≤ 80 % of its
/// median latency — or fails 10 points less and is at most 25 % slower — goes first.
pub(crate) fn routes(backends: &[BackendReport], router: &Router, rules: Rules) -> Vec<Suggestion> {
    let mut by_model: BTreeMap<&str, Vec<&BackendReport>> = BTreeMap::new();
    for b in backends {
        by_model.entry(b.model.as_str()).or_default().push(b);
    }
    let mut out = Vec::new();
    for (model, rows) in by_model {
        let chain = router.chain(model, None);
        let Some(first) = chain.first() else { continue };
        let Some(primary) = rows
            .iter()
            .find(|b| b.backend == first.backend && b.attempts >= rules.min_samples)
        else {
            continue;
        };
        // A first backend that never answered is slower than any that did.
        let primary_p50 = if primary.latency_ms.n == 0 {
            u64::MAX / 8
        } else {
            primary.latency_ms.p50
        };
        let better = rows
            .iter()
            .filter(|b| b.backend != primary.backend && b.position.is_some())
            .filter(|b| b.attempts >= rules.min_samples && b.latency_ms.n > 0)
            .filter(|b| {
                let faster = b.failure_rate <= primary.failure_rate + 0.02
                    && b.latency_ms.p50.saturating_mul(5) <= primary_p50.saturating_mul(4);
                let steadier = b.failure_rate + 0.10 <= primary.failure_rate
                    && b.latency_ms.p50.saturating_mul(4) <= primary_p50.saturating_mul(5);
                faster || steadier
            })
            .min_by(|a, b| {
                a.failure_rate
                    .total_cmp(&b.failure_rate)
                    .then(a.latency_ms.p50.cmp(&b.latency_ms.p50))
            });
        let Some(best) = better else { continue };
        let mut new_chain: Vec<RouteTarget> = chain
            .iter()
            .filter(|t| t.backend == best.backend)
            .take(1)
            .cloned()
            .collect();
        new_chain.extend(chain.iter().filter(|t| t.backend != best.backend).cloned());
        out.push(Suggestion {
            agent_type: None,
            summary: format!(
                "route `{model}` to `{}` first: p50 {} ms and {:.0} % failed attempts against \
                 `{}`'s p50 {} ms and {:.0} % ({} and {} attempts)",
                best.backend,
                best.latency_ms.p50,
                best.failure_rate * 100.0,
                primary.backend,
                primary.latency_ms.p50,
                primary.failure_rate * 100.0,
                best.attempts,
                primary.attempts,
            ),
            evidence: Evidence::Backends {
                backends: rows.iter().map(|b| (*b).clone()).collect(),
            },
            change: Some(Change::Route {
                model: model.to_owned(),
                chain: new_chain,
            }),
        });
    }
    out
}

/// A step-limit suggestion: at least two tasks — and at least 10 % of the type's tasks — were
/// cut off at the current limit although every call in them answered; the limit doubles
/// (up to 1 000).
pub(crate) fn step_limit(
    agent_type: &str,
    tasks: &BTreeMap<&str, Task<'_>>,
    tuning: &Tuning,
) -> Option<Suggestion> {
    let tuned = tuning.get(agent_type).max_steps;
    let cut: Vec<u64> = tasks
        .values()
        .filter(|t| t.clean())
        .filter_map(Task::cut_off_at)
        .collect();
    // The limit in force: the tuned one, else the highest seen (older, lower limits are past).
    let limit = tuned.or_else(|| cut.iter().copied().max())?;
    let clean_cut_off = cut.iter().filter(|l| **l >= limit).count() as u64;
    let total = tasks.len() as u64;
    if clean_cut_off < 2 || clean_cut_off * 10 < total || limit >= 1_000 {
        return None;
    }
    let max_steps = limit.saturating_mul(2).min(1_000);
    let finished = tasks
        .values()
        .filter(|t| t.succeeded())
        .map(|t| {
            t.steps
                .iter()
                .map(|s| s.llm_calls.len().max(1) as u64)
                .sum()
        })
        .collect();
    Some(Suggestion {
        agent_type: Some(agent_type.to_owned()),
        summary: format!(
            "raise the step limit of `{agent_type}` from {limit} to {max_steps}: {clean_cut_off} \
             of {total} tasks stopped at it with every LLM and tool call answered"
        ),
        evidence: Evidence::StepLimit {
            tasks: total,
            clean_cut_off,
            limit,
            finished_steps: Spread::of(finished),
        },
        change: Some(Change::StepLimit {
            agent_type: agent_type.to_owned(),
            max_steps,
        }),
    })
}

/// A priority suggestion: of the type's LLM calls at its current priority, at least
/// `min_samples` and at least 20 % ran into its quota; the priority drops by 20 (to at most
/// 100) so the type yields to agents within their budget.
pub(crate) fn priority(
    agent_type: &str,
    tasks: &BTreeMap<&str, Task<'_>>,
    tuning: &Tuning,
    rules: Rules,
) -> Option<Suggestion> {
    let calls: Vec<_> = tasks
        .values()
        .flat_map(|t| t.steps.iter().flat_map(|s| s.llm_calls.iter()))
        .collect();
    // The priority in force: the tuned one, else the one most calls ran at.
    let current = tuning.get(agent_type).priority.or_else(|| {
        let mut counts: BTreeMap<u8, u64> = BTreeMap::new();
        for c in &calls {
            *counts.entry(c.priority).or_default() += 1;
        }
        counts.into_iter().max_by_key(|(_, n)| *n).map(|(p, _)| p)
    })?;
    let at_current: Vec<_> = calls.iter().filter(|c| c.priority == current).collect();
    let overruns = at_current.iter().filter(|c| overran_quota(c)).count() as u64;
    let n = at_current.len() as u64;
    if current >= 100 || overruns < rules.min_samples || overruns * 5 < n {
        return None;
    }
    let priority = current.saturating_add(20).min(100);
    Some(Suggestion {
        agent_type: Some(agent_type.to_owned()),
        summary: format!(
            "lower the priority of `{agent_type}` from {current} to {priority}: {overruns} of its \
             {n} LLM calls ({:.0} %) ran into its quota",
            rate(overruns, n) * 100.0
        ),
        evidence: Evidence::Quota {
            llm_calls: n,
            overruns,
            priority: current,
        },
        change: Some(Change::Priority {
            agent_type: agent_type.to_owned(),
            priority,
        }),
    })
}

/// Advice on tools that fail at least half of at least `min_samples` calls.
pub(crate) fn tools(agent_type: &str, tools: &[ToolReport], rules: Rules) -> Vec<Suggestion> {
    tools
        .iter()
        .filter(|t| t.calls >= rules.min_samples && t.failures * 2 >= t.calls)
        .map(|t| Suggestion {
            agent_type: Some(agent_type.to_owned()),
            summary: format!(
                "tool `{}` failed {} of {} calls for `{agent_type}`{}: check the arguments the \
                 agent sends, its policy and the tool itself",
                t.tool,
                t.failures,
                t.calls,
                t.top_error
                    .as_deref()
                    .map(|e| format!(" (most often: {e})"))
                    .unwrap_or_default()
            ),
            evidence: Evidence::Tool { tool: t.clone() },
            change: None,
        })
        .collect()
}
