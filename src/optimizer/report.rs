//! What the optimizer reports per agent type, per tool and per backend.

use serde::{Deserialize, Serialize};

use super::spread::Spread;

/// How the agents of one type did in the steps read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TypeReport {
    /// The agent type (registered name, else Rust type).
    pub agent_type: String,
    /// Tasks seen (a message from outside an agent starts one).
    pub tasks: u64,
    /// Tasks whose every recorded step ended `ok`.
    pub succeeded: u64,
    /// `succeeded / tasks` (0 without tasks).
    pub success_rate: f64,
    /// Tasks stopped at a step limit (cut off by the agent or refused by the kernel).
    pub cut_off: u64,
    /// Steps per task.
    pub steps_per_task: Spread,
    /// Wall time of a step (ms).
    pub step_ms: Spread,
    /// LLM calls made.
    pub llm_calls: u64,
    /// LLM calls that failed (after retries and fallbacks).
    pub llm_failures: u64,
    /// LLM call latency, slice waits and retries included (ms).
    pub llm_ms: Spread,
    /// Tokens per task (prompt + completion).
    pub tokens_per_task: Spread,
    /// Prompt tokens in all.
    pub prompt_tokens: u64,
    /// Completion tokens in all.
    pub completion_tokens: u64,
    /// Cost in all (USD, from the price table).
    pub cost_usd: f64,
    /// LLM calls whose slice request waited for the agent's quota window, or that a quota
    /// refused.
    pub quota_overruns: u64,
    /// Its tools, most failures first.
    pub tools: Vec<ToolReport>,
}

/// How one tool did for one agent type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ToolReport {
    /// The tool.
    pub tool: String,
    /// Calls.
    pub calls: u64,
    /// Calls that failed or were refused.
    pub failures: u64,
    /// Wall time of a call (ms).
    pub latency_ms: Spread,
    /// The most frequent error, if any failed.
    pub top_error: Option<String>,
}

/// How one backend answered one model or group: each attempt (a retry or a fallback is an
/// attempt of its own), timed at the backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BackendReport {
    /// The model or group the calls asked for.
    pub model: String,
    /// The backend.
    pub backend: String,
    /// Its place in the model's current chain (0 first; none when it is not in it).
    pub position: Option<u32>,
    /// Attempts.
    pub attempts: u64,
    /// Attempts that failed.
    pub failures: u64,
    /// `failures / attempts`.
    pub failure_rate: f64,
    /// Time of an answered attempt at the backend (ms).
    pub latency_ms: Spread,
}

/// A rate that is 0 for an empty sample.
pub(crate) fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}
