//! Ready-made agents for `agent-os-kernel`, built only on its public API.
//!
//! - [`FnWorker`]: applies a function to each job (a JSON value) and replies with the result.
//! - [`Reducer`]: folds the values sent to it into one accumulator; snapshot/restore aware.
//! - [`Coordinator`]: fans a list of jobs out to workers, retries jobs whose worker crashed
//!   or timed out (the supervisor restarts the worker under the same pid), and feeds the
//!   results to a reducer.
//!
//! Together they make a map/reduce pipeline; see `examples/quickstart.rs` in the kernel. The
//! coordinator holds its workers and its reducer as typed handles ([`agent_os_kernel::AgentRef`]).

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
