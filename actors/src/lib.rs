//! Ready-made agents for `agent-os-kernel`, built only on its public API (no `pub(crate)`
//! access: everything here an application could write itself).
//!
//! LLM agents (each asks through `ctx.llm`: the scheduler's slices, the router's fallbacks,
//! the agent's policy and quotas):
//!
//! - [`ReactAgent`]: reason → call tools → observe, until an answer or its step limit; its
//!   conversation lives in the pager (`ctx.context`), its tools are the registry's as its policy
//!   allows (`ctx.tool_specs`, `ctx.call_tools`); a typed [`ReactOutcome`]. The seed's quick start
//!   (a name, a task, a priority; run; status) is its doc example.
//! - [`Router`]: forwards JSON messages to agents by topic (a table topic → pid) or by an LLM
//!   classification (unknown answers to a fallback).
//! - [`Summarizer`]: answers memory pressure by summarising its evicted pages into a summary
//!   page ([`summarize_evicted`] does it for any agent's `on_memory_pressure`).
//! - [`Planner`] + [`WorkerPool`]: a plan (from the LLM, or given) fanned out to supervised
//!   workers, results gathered, a crashed task retried once, then reported.
//! - [`ApprovalGate`]: runs tool calls for other agents, holding sensitive ones until an
//!   operator approves or rejects them (JSON messages: the HTTP API's `ask`, the CLI's `ask`).
//!
//! Building blocks:
//!
//! - [`FnWorker`]: applies a function to each job (a JSON value) and replies with the result.
//! - [`Reducer`]: folds the values sent to it into one accumulator; snapshot/restore aware.
//! - [`Coordinator`]: fans a list of jobs out to workers, retries jobs whose worker crashed
//!   or timed out (the supervisor restarts the worker under the same pid), and feeds the
//!   results to a reducer.
//!
//! Together the last three make a map/reduce pipeline; see `examples/quickstart.rs` in the
//! kernel. Each agent holds the others it talks to as typed handles
//! ([`agent_os_kernel::AgentRef`]); the tests (`actors/tests/`) run them against in-test HTTP
//! servers speaking the OpenAI chat wire, on SQLite or PostgreSQL (`AOK_TEST_BACKEND`).

mod approval;
mod coordinator;
mod planner;
mod react;
mod reducer;
mod router;
mod summarizer;
mod worker;

pub use approval::{APPROVAL_TOPIC, ApprovalGate, GateMsg, GateResult};
pub use coordinator::{Coordinator, FanOut, FanOutReport};
pub use planner::{PLAN_INSTRUCTION, PlanMsg, PlanReport, Planner, TaskOutcome, WorkerPool};
pub use react::{REACT_SYSTEM_PROMPT, ReactAgent, ReactMsg, ReactOutcome, Stopped, ToolUse};
pub use reducer::{Reducer, ReducerMsg};
pub use router::{Routed, Router};
pub use summarizer::{SUMMARY_INSTRUCTION, Summarizer, SummarizerMsg, summarize_evicted};
pub use worker::FnWorker;
