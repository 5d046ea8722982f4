//! What one agent step did: the message that started it, its LLM and tool calls, preemptions,
//! page faults, and how it ended.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::pid::Pid;

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    /// The handler returned `Ok`.
    Ok,
    /// The handler returned an error.
    Error,
    /// The handler panicked (the agent was restarted).
    Crashed,
    /// The step was refused before the handler ran (a runaway limit).
    Refused,
    /// The handler returned `Ok` but stopped at its step limit while still working
    /// ([`AgentContext::reached_step_limit`](crate::AgentContext::reached_step_limit)); the
    /// error reads `step limit reached: <limit>`.
    CutOff,
}

impl StepOutcome {
    /// Its name as stored (`ok`, `error`, `crashed`, `refused`).
    pub fn as_str(self) -> &'static str {
        match self {
            StepOutcome::Ok => "ok",
            StepOutcome::Error => "error",
            StepOutcome::Crashed => "crashed",
            StepOutcome::Refused => "refused",
            StepOutcome::CutOff => "cut_off",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ok" => StepOutcome::Ok,
            "error" => StepOutcome::Error,
            "crashed" => StepOutcome::Crashed,
            "refused" => StepOutcome::Refused,
            "cut_off" => StepOutcome::CutOff,
            _ => return None,
        })
    }
}

/// One LLM call of a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LlmCallTrace {
    /// The backend that answered (empty when the call failed before one did).
    pub backend: String,
    /// The model asked for.
    pub model: String,
    /// Prompt tokens used.
    pub prompt_tokens: u64,
    /// Completion tokens used.
    pub completion_tokens: u64,
    /// Wall time of the call, slice waits and retries included (ms).
    pub latency_ms: u64,
    /// Cost from the price table (USD).
    pub cost_usd: f64,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// The priority the call ran at (0 most urgent … 100).
    #[serde(default = "default_priority")]
    pub priority: u8,
    /// Times a slice request of the call waited for the agent's quota window.
    #[serde(default)]
    pub quota_waits: u32,
    /// Each attempt at a backend, in order (retries and fallbacks included).
    #[serde(default)]
    pub attempts: Vec<AttemptTrace>,
}

fn default_priority() -> u8 {
    50
}

/// One attempt of an LLM call at one backend: from its slice's grant to its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AttemptTrace {
    /// The backend tried.
    pub backend: String,
    /// Whether it answered.
    pub ok: bool,
    /// Time at the backend (ms).
    pub latency_ms: u64,
}

/// The prefix of a [`StepOutcome::CutOff`] step's error; the limit follows.
pub(crate) const CUT_OFF_PREFIX: &str = "step limit reached: ";

impl TrajectoryStep {
    /// The step limit a [`StepOutcome::CutOff`] step stopped at, or the limit of a step
    /// refused by `durability.limits.max_steps_per_task` (or its per-type tuning).
    pub fn step_limit_hit(&self) -> Option<u64> {
        let error = self.error.as_deref()?;
        match self.outcome {
            StepOutcome::CutOff => error.strip_prefix(CUT_OFF_PREFIX)?.trim().parse().ok(),
            StepOutcome::Refused => {
                let rest = error.split_once("limit of ")?.1;
                let (n, tail) = rest.split_once(' ')?;
                tail.starts_with("steps").then(|| n.parse().ok()).flatten()
            }
            _ => None,
        }
    }
}

/// One tool call of a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ToolCallTrace {
    /// The tool.
    pub tool: String,
    /// SHA-256 of its arguments (hex).
    pub args_digest: String,
    /// Whether it returned a value.
    pub ok: bool,
    /// Its error, when it failed or was refused.
    pub error: Option<String>,
    /// Wall time of the call (ms).
    pub latency_ms: u64,
}

/// One recorded step of an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrajectoryStep {
    /// The agent.
    #[schema(value_type = String)]
    pub pid: Pid,
    /// Its name.
    pub agent_name: String,
    /// Its type: the registered type name when it has one, else its Rust type.
    pub agent_type: String,
    /// The task the step belongs to: a message from outside starts one, the agent's messages
    /// to itself continue it (`<pid>/<first step>`).
    pub task: String,
    /// The step number (per agent, counting from 1).
    pub step: u64,
    /// When the step started.
    #[schema(value_type = String, format = DateTime)]
    pub started_at: DateTime<Utc>,
    /// How long it took (ms).
    pub duration_ms: u64,
    /// The sender of the message (none: from outside any agent).
    #[schema(value_type = Option<String>)]
    pub sender: Option<Pid>,
    /// The topic it was published on, if any.
    pub topic: Option<String>,
    /// How it ended.
    pub outcome: StepOutcome,
    /// The error or panic message, when it did not end well.
    pub error: Option<String>,
    /// Its LLM calls, in order.
    pub llm_calls: Vec<LlmCallTrace>,
    /// Its tool calls, in order.
    pub tool_calls: Vec<ToolCallTrace>,
    /// Times a running generation was preempted and resumed.
    pub preemptions: u64,
    /// Pages faulted back in for its context.
    pub faults: u64,
}

impl TrajectoryStep {
    /// Tokens of all its LLM calls (prompt, completion).
    pub fn tokens(&self) -> (u64, u64) {
        self.llm_calls.iter().fold((0, 0), |(p, c), call| {
            (
                p.saturating_add(call.prompt_tokens),
                c.saturating_add(call.completion_tokens),
            )
        })
    }

    /// Cost of all its LLM calls (USD).
    pub fn cost_usd(&self) -> f64 {
        self.llm_calls.iter().map(|c| c.cost_usd).sum()
    }
}

/// The cheap part of a step being recorded, set before its handler runs: no allocation, so a
/// plain message on the IPC fast path pays a clock read and nothing more.
#[derive(Debug)]
pub(crate) struct StepOpen {
    pub(crate) step: u64,
    pub(crate) from: Option<Pid>,
    pub(crate) topic: Option<std::sync::Arc<str>>,
    pub(crate) started: std::time::Instant,
}

/// What a step's syscalls added to its record.
#[derive(Debug, Default)]
pub(crate) struct StepCalls {
    pub(crate) llm_calls: Vec<LlmCallTrace>,
    pub(crate) tool_calls: Vec<ToolCallTrace>,
    pub(crate) preemptions: u64,
    pub(crate) faults: u64,
    /// Set by `AgentContext::reached_step_limit`: the limit the agent stopped at.
    pub(crate) cut_off: Option<u64>,
}

impl StepCalls {
    /// Whether the step called an LLM or a tool.
    pub(crate) fn any(&self) -> bool {
        !self.llm_calls.is_empty() || !self.tool_calls.is_empty()
    }
}
