//! Response bodies about the kernel as a whole: scheduler, providers, usage, tools, audit,
//! health.

use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use crate::provider::{BreakerState, ProviderStats, UsageTotals};
use crate::scheduler::{SchedulerStats, WindowUsage};
use crate::security::audit::{AuditEntry, VerifyReport};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Usage charged in the current quota window.
#[derive(Debug, Serialize, ToSchema)]
pub struct WindowView {
    /// Tokens charged.
    pub tokens: u64,
    /// Calls charged.
    pub calls: u64,
    /// Cost charged, US dollars.
    pub cost_usd: f64,
    /// Tokens reserved by running slices.
    pub reserved_tokens: u64,
    /// Running slices.
    pub reserved_calls: u64,
}

impl From<&WindowUsage> for WindowView {
    fn from(w: &WindowUsage) -> Self {
        WindowView {
            tokens: w.tokens,
            calls: w.calls,
            cost_usd: w.cost_usd,
            reserved_tokens: w.reserved_tokens,
            reserved_calls: w.reserved_calls,
        }
    }
}

/// One agent's scheduler counters.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentSchedView {
    /// The agent.
    pub pid: String,
    /// Slices granted.
    pub grants: u64,
    /// Slices revoked for a more urgent waiter.
    pub preemptions: u64,
    /// Slices reclaimed at their deadline.
    pub expirations: u64,
    /// Slices released.
    pub calls: u64,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Generated tokens.
    pub output_tokens: u64,
    /// Cost, US dollars.
    pub cost_usd: f64,
    /// Usage in its current quota window.
    pub window: WindowView,
}

/// The scheduler now.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchedulerView {
    /// `fifo`, `round_robin`, `priority` or `fair_share`.
    pub policy: String,
    /// Global concurrent-slice capacity.
    pub global_slots: usize,
    /// Slices running now.
    pub running: usize,
    /// Slices running per configured provider.
    pub running_per_provider: std::collections::BTreeMap<String, usize>,
    /// Requests waiting for a slice.
    pub queued: usize,
    /// Waiting requests by priority class (only non-empty classes).
    pub queue_depth_by_priority: std::collections::BTreeMap<String, usize>,
    /// Requests waiting for a quota window to reset.
    pub waiting_quota: usize,
    /// Median wait for a slice, milliseconds.
    pub wait_p50_ms: f64,
    /// 90th percentile wait, milliseconds.
    pub wait_p90_ms: f64,
    /// 99th percentile wait, milliseconds.
    pub wait_p99_ms: f64,
    /// Slices granted since start.
    pub grants: u64,
    /// Slices preempted since start.
    pub preemptions: u64,
    /// Slices expired since start.
    pub expirations: u64,
    /// Requests refused since start.
    pub denials: u64,
    /// Usage in the current global quota window.
    pub global_window: WindowView,
    /// Per-agent counters.
    pub agents: Vec<AgentSchedView>,
}

impl From<SchedulerStats> for SchedulerView {
    fn from(s: SchedulerStats) -> Self {
        SchedulerView {
            policy: serde_json::to_value(s.policy)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            global_slots: s.global_slots,
            running: s.running,
            running_per_provider: s.running_per_provider,
            queued: s.queued,
            queue_depth_by_priority: s
                .queue_depth_by_priority
                .iter()
                .map(|(p, n)| (p.to_string(), *n))
                .collect(),
            waiting_quota: s.waiting_quota,
            wait_p50_ms: ms(s.wait_p50),
            wait_p90_ms: ms(s.wait_p90),
            wait_p99_ms: ms(s.wait_p99),
            grants: s.grants,
            preemptions: s.preemptions,
            expirations: s.expirations,
            denials: s.denials,
            global_window: (&s.global_window).into(),
            agents: s
                .agents
                .iter()
                .map(|(pid, a)| AgentSchedView {
                    pid: pid.to_string(),
                    grants: a.grants,
                    preemptions: a.preemptions,
                    expirations: a.expirations,
                    calls: a.calls,
                    input_tokens: a.input_tokens,
                    output_tokens: a.output_tokens,
                    cost_usd: a.cost_usd,
                    window: (&a.window).into(),
                })
                .collect(),
        }
    }
}

/// A backend's configured rate budget and what is left of it now.
#[derive(Debug, Serialize, ToSchema)]
pub struct BudgetView {
    /// Requests per window (`null`: unlimited).
    pub rpm: Option<u64>,
    /// Tokens per window (`null`: unlimited).
    pub tpm: Option<u64>,
    /// Window length, milliseconds.
    pub window_ms: u64,
    /// Requests in flight at once, at most.
    pub max_concurrency: usize,
    /// Tokens a call could still reserve now (`null`: nothing limits tokens).
    pub tokens_available: Option<u64>,
}

/// One LLM backend: its counters, budget and breaker.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderView {
    /// Backend name.
    pub backend: String,
    /// Calls waiting at its gate for budget.
    pub queued: usize,
    /// Requests in flight.
    pub in_flight: usize,
    /// Attempts admitted.
    pub attempts: u64,
    /// Attempts that succeeded.
    pub succeeded: u64,
    /// Calls answered with an error.
    pub failed: u64,
    /// Retries scheduled.
    pub retries: u64,
    /// 429 responses received.
    pub rate_limited: u64,
    /// Streams cut by a revoked slice.
    pub preempted: u64,
    /// Times the breaker opened.
    pub breaker_opened: u64,
    /// `closed`, `open` or `half_open`.
    pub breaker: String,
    /// While open: milliseconds until it half-opens.
    pub breaker_open_for_ms: Option<u64>,
    /// Milliseconds dispatch stays paused (429 with retry-after), if paused.
    pub paused_for_ms: Option<u64>,
    /// Its rate budget.
    pub budget: BudgetView,
    /// Usage and cost through it since start.
    pub usage: UsageView,
}

impl ProviderView {
    pub(crate) fn of(s: ProviderStats, usage: UsageTotals) -> Self {
        let now = std::time::Instant::now();
        let left = |t: std::time::Instant| {
            u64::try_from(t.saturating_duration_since(now).as_millis()).unwrap_or(u64::MAX)
        };
        let (breaker, open_for) = match s.breaker {
            Some(BreakerState::Open(until)) => ("open", Some(left(until))),
            Some(BreakerState::HalfOpen) => ("half_open", None),
            _ => ("closed", None),
        };
        ProviderView {
            backend: s.backend.clone(),
            queued: s.queued,
            in_flight: s.in_flight,
            attempts: s.attempts,
            succeeded: s.succeeded,
            failed: s.failed,
            retries: s.retries,
            rate_limited: s.rate_limited,
            preempted: s.preempted,
            breaker_opened: s.breaker_opened,
            breaker: breaker.to_string(),
            breaker_open_for_ms: open_for,
            paused_for_ms: s.paused_until.map(left),
            budget: BudgetView {
                rpm: s.budget.rpm,
                tpm: s.budget.tpm,
                window_ms: s.budget.window_ms,
                max_concurrency: s.budget.max_concurrency,
                tokens_available: s.budget.tokens_available,
            },
            usage: usage.into(),
        }
    }
}

/// Usage and cost totals.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageView {
    /// Successful calls.
    pub calls: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Generated tokens.
    pub completion_tokens: u64,
    /// Cost, US dollars.
    pub cost_usd: f64,
}

impl From<UsageTotals> for UsageView {
    fn from(u: UsageTotals) -> Self {
        UsageView {
            calls: u.calls,
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            cost_usd: u.cost_usd(),
        }
    }
}

/// One (agent, backend, model) cell of the usage ledger.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageCell {
    /// The agent.
    pub pid: String,
    /// The backend.
    pub backend: String,
    /// The model.
    pub model: String,
    /// Its totals.
    pub usage: UsageView,
}

/// The usage ledger: totals and every cell.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageReport {
    /// Everything since start.
    pub total: UsageView,
    /// Per agent, backend and model.
    pub cells: Vec<UsageCell>,
}

/// A tool agents can call.
#[derive(Debug, Serialize, ToSchema)]
pub struct ToolView {
    /// Its name (`fs.read`, `files.read_file`, …).
    pub name: String,
    /// What it does.
    pub description: String,
    /// The least permission level that may call it.
    pub level: String,
    /// JSON Schema of its arguments.
    #[schema(value_type = Object)]
    pub schema: serde_json::Value,
}

/// One audit entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    /// Position in the chain.
    pub seq: u64,
    /// When (RFC 3339).
    pub ts: String,
    /// The acting agent, if any.
    pub pid: Option<String>,
    /// An outside caller's name (an API token's name), if any.
    pub actor: Option<String>,
    /// What was done.
    pub action: String,
    /// What it was done to.
    pub target: Option<String>,
    /// Whether it was allowed.
    pub allowed: bool,
    /// Why.
    pub reason: Option<String>,
    /// The row's hash.
    pub hash: String,
    /// The previous row's hash.
    pub prev_hash: String,
}

impl From<AuditEntry> for AuditView {
    fn from(e: AuditEntry) -> Self {
        AuditView {
            seq: e.seq,
            ts: e.record.ts.to_rfc3339(),
            pid: e.record.pid.map(|p| p.to_string()),
            actor: e.record.actor,
            action: e.record.action,
            target: e.record.target,
            allowed: e.record.allowed,
            reason: e.record.reason,
            hash: e.hash,
            prev_hash: e.prev_hash,
        }
    }
}

/// What verifying the audit chain found.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyView {
    /// Whether the whole chain is intact.
    pub ok: bool,
    /// Rows read.
    pub rows: u64,
    /// The first row that breaks the chain.
    pub first_bad_seq: Option<u64>,
    /// Why it breaks it.
    pub reason: Option<String>,
}

impl From<VerifyReport> for VerifyView {
    fn from(r: VerifyReport) -> Self {
        VerifyView {
            ok: r.is_ok(),
            rows: r.rows,
            first_bad_seq: r.first_bad.as_ref().map(|b| b.seq),
            reason: r.first_bad.map(|b| b.reason),
        }
    }
}

/// Health and readiness.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` (live) or `ready` (storage reachable).
    pub status: String,
}

/// The registered agent types.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentTypes {
    /// Their names, sorted.
    pub types: Vec<String>,
}
