//! [`Coordinator`]: fan jobs out to workers, retry crashed ones, feed a reducer.

use std::time::Duration;

use agent_os_kernel::{Agent, AgentContext, AgentError, IpcError, Pid};
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::warn;

use crate::ReducerMsg;

/// One fan-out run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FanOut {
    /// The jobs, each sent to one worker as its message.
    pub jobs: Vec<Value>,
    /// Worker pids (jobs are dealt round robin).
    pub workers: Vec<Pid>,
    /// Reducer pid the results are folded into.
    pub reducer: Pid,
    /// Attempts per job (a crash or timeout of its worker costs one attempt).
    pub attempts: u32,
    /// Reply timeout per attempt, milliseconds.
    pub timeout_ms: u64,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FanOutReport {
    /// Jobs whose result reached the reducer.
    pub completed: usize,
    /// Retries caused by a crashed or unresponsive worker.
    pub retries: usize,
    /// Jobs that failed on every attempt, with the last error.
    pub failed: Vec<(usize, String)>,
    /// The reducer's final result.
    pub result: Value,
}

/// Fans jobs out to workers concurrently (one job in flight per worker at a time is not
/// required: workers queue them), retries a job when its worker crashed while handling it or
/// did not answer in time, and sends every result to the reducer.
#[derive(Default)]
pub struct Coordinator;

async fn run_job(
    ctx: &AgentContext,
    index: usize,
    job: &Value,
    workers: &[Pid],
    attempts: u32,
    timeout: Duration,
) -> (usize, Result<Value, String>, usize) {
    let worker = workers[index % workers.len()];
    let mut retries = 0;
    let mut last = String::new();
    for attempt in 0..attempts.max(1) {
        match ctx.ask::<Value, Value>(worker, job.clone(), timeout).await {
            Ok(v) => return (index, Ok(v), retries),
            Err(
                e @ (IpcError::Crashed { .. }
                | IpcError::Timeout { .. }
                | IpcError::Interrupted { .. }),
            ) => {
                warn!(job = index, %worker, attempt, error = %e, "retrying job");
                retries += 1;
                last = e.to_string();
            }
            Err(e) => return (index, Err(e.to_string()), retries),
        }
    }
    (index, Err(last), retries)
}

impl Agent for Coordinator {
    type Msg = FanOut;
    type Reply = FanOutReport;

    async fn handle(
        &mut self,
        run: FanOut,
        ctx: &mut AgentContext,
    ) -> Result<FanOutReport, AgentError> {
        if run.workers.is_empty() {
            return Err(AgentError::invalid("fan-out needs at least one worker"));
        }
        let timeout = Duration::from_millis(run.timeout_ms);
        let ctx_ref: &AgentContext = ctx;
        let outcomes = join_all(
            run.jobs
                .iter()
                .enumerate()
                .map(|(i, job)| run_job(ctx_ref, i, job, &run.workers, run.attempts, timeout)),
        )
        .await;
        let mut report = FanOutReport {
            completed: 0,
            retries: 0,
            failed: Vec::new(),
            result: Value::Null,
        };
        for (index, outcome, retries) in outcomes {
            report.retries += retries;
            match outcome {
                Ok(v) => {
                    ctx.send(run.reducer, ReducerMsg::Add(v)).await?;
                    report.completed += 1;
                }
                Err(e) => report.failed.push((index, e)),
            }
        }
        report.result = ctx.ask(run.reducer, ReducerMsg::Result, timeout).await?;
        Ok(report)
    }
}
