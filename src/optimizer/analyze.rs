//! Turning recorded steps into [`TypeReport`]s and [`BackendReport`]s.

use std::collections::BTreeMap;

use super::report::{BackendReport, ToolReport, TypeReport, rate};
use super::spread::Spread;
use crate::provider::Router;
use crate::trajectory::{LlmCallTrace, StepOutcome, TrajectoryStep};

/// Whether an LLM call ran into a quota: its slice waited for the quota window, or a quota
/// refused it.
pub(crate) fn overran_quota(call: &LlmCallTrace) -> bool {
    call.quota_waits > 0 || call.error.as_deref().is_some_and(|e| e.contains("quota"))
}

/// The steps of one task, in order.
pub(crate) struct Task<'a> {
    pub(crate) steps: Vec<&'a TrajectoryStep>,
}

impl Task<'_> {
    /// Every step ended `ok`.
    pub(crate) fn succeeded(&self) -> bool {
        self.steps.iter().all(|s| s.outcome == StepOutcome::Ok)
    }

    /// The step limit it stopped at, if it did.
    pub(crate) fn cut_off_at(&self) -> Option<u64> {
        self.steps.iter().find_map(|s| s.step_limit_hit())
    }

    /// Nothing in it failed: no step errored, crashed or was refused for another reason than
    /// the step limit, and every LLM and tool call answered — a run that looked successful.
    pub(crate) fn clean(&self) -> bool {
        self.steps.iter().all(|s| {
            let outcome_ok = match s.outcome {
                StepOutcome::Ok | StepOutcome::CutOff => true,
                StepOutcome::Refused => s.step_limit_hit().is_some(),
                StepOutcome::Error | StepOutcome::Crashed => false,
            };
            outcome_ok
                && s.llm_calls.iter().all(|c| c.error.is_none())
                && s.tool_calls.iter().all(|c| c.ok)
        })
    }
}

/// Steps grouped by agent type, then by task (both sorted by name).
pub(crate) fn by_type(steps: &[TrajectoryStep]) -> BTreeMap<&str, BTreeMap<&str, Task<'_>>> {
    let mut out: BTreeMap<&str, BTreeMap<&str, Task<'_>>> = BTreeMap::new();
    for s in steps {
        out.entry(s.agent_type.as_str())
            .or_default()
            .entry(s.task.as_str())
            .or_insert_with(|| Task { steps: Vec::new() })
            .steps
            .push(s);
    }
    out
}

/// The report of one agent type.
pub(crate) fn type_report(agent_type: &str, tasks: &BTreeMap<&str, Task<'_>>) -> TypeReport {
    let steps = || tasks.values().flat_map(|t| t.steps.iter().copied());
    let calls = || steps().flat_map(|s| s.llm_calls.iter());
    let succeeded = tasks.values().filter(|t| t.succeeded()).count() as u64;
    let (prompt_tokens, completion_tokens) = steps().fold((0u64, 0u64), |(p, c), s| {
        let (sp, sc) = s.tokens();
        (p.saturating_add(sp), c.saturating_add(sc))
    });
    TypeReport {
        agent_type: agent_type.to_owned(),
        tasks: tasks.len() as u64,
        succeeded,
        success_rate: rate(succeeded, tasks.len() as u64),
        cut_off: tasks.values().filter(|t| t.cut_off_at().is_some()).count() as u64,
        steps_per_task: Spread::of(tasks.values().map(|t| t.steps.len() as u64).collect()),
        step_ms: Spread::of(steps().map(|s| s.duration_ms).collect()),
        llm_calls: calls().count() as u64,
        llm_failures: calls().filter(|c| c.error.is_some()).count() as u64,
        llm_ms: Spread::of(calls().map(|c| c.latency_ms).collect()),
        tokens_per_task: Spread::of(
            tasks
                .values()
                .map(|t| {
                    t.steps.iter().fold(0u64, |n, s| {
                        let (p, c) = s.tokens();
                        n.saturating_add(p).saturating_add(c)
                    })
                })
                .collect(),
        ),
        prompt_tokens,
        completion_tokens,
        cost_usd: steps().map(TrajectoryStep::cost_usd).sum(),
        quota_overruns: calls().filter(|c| overran_quota(c)).count() as u64,
        tools: tool_reports(steps()),
    }
}

fn tool_reports<'a>(steps: impl Iterator<Item = &'a TrajectoryStep>) -> Vec<ToolReport> {
    #[derive(Default)]
    struct Acc {
        latencies: Vec<u64>,
        failures: u64,
        errors: BTreeMap<String, u64>,
    }
    let mut tools: BTreeMap<&str, Acc> = BTreeMap::new();
    for call in steps.flat_map(|s| s.tool_calls.iter()) {
        let acc = tools.entry(call.tool.as_str()).or_default();
        acc.latencies.push(call.latency_ms);
        if !call.ok {
            acc.failures += 1;
            if let Some(e) = &call.error {
                *acc.errors.entry(e.clone()).or_default() += 1;
            }
        }
    }
    let mut out: Vec<ToolReport> = tools
        .into_iter()
        .map(|(tool, acc)| ToolReport {
            tool: tool.to_owned(),
            calls: acc.latencies.len() as u64,
            failures: acc.failures,
            latency_ms: Spread::of(acc.latencies),
            top_error: acc
                .errors
                .into_iter()
                .max_by_key(|(_, n)| *n)
                .map(|(e, _)| e),
        })
        .collect();
    out.sort_by(|a, b| b.failures.cmp(&a.failures).then(a.tool.cmp(&b.tool)));
    out
}

/// Every (model or group, backend) that attempts were made at, sorted by model then by place
/// in the model's current chain.
pub(crate) fn backend_reports(steps: &[TrajectoryStep], router: &Router) -> Vec<BackendReport> {
    let mut acc: BTreeMap<(&str, &str), (u64, Vec<u64>)> = BTreeMap::new();
    for call in steps.iter().flat_map(|s| s.llm_calls.iter()) {
        for a in &call.attempts {
            let e = acc
                .entry((call.model.as_str(), a.backend.as_str()))
                .or_default();
            if a.ok {
                e.1.push(a.latency_ms);
            } else {
                e.0 += 1;
            }
        }
    }
    let mut out: Vec<BackendReport> = acc
        .into_iter()
        .map(|((model, backend), (failures, latencies))| {
            let attempts = failures + latencies.len() as u64;
            let position = router
                .chain(model, None)
                .iter()
                .position(|t| t.backend == backend)
                .and_then(|p| u32::try_from(p).ok());
            BackendReport {
                model: model.to_owned(),
                backend: backend.to_owned(),
                position,
                attempts,
                failures,
                failure_rate: rate(failures, attempts),
                latency_ms: Spread::of(latencies),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        a.model
            .cmp(&b.model)
            .then(
                a.position
                    .unwrap_or(u32::MAX)
                    .cmp(&b.position.unwrap_or(u32::MAX)),
            )
            .then(a.backend.cmp(&b.backend))
    });
    out
}
