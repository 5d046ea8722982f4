//! [`Coordinator`]: fan jobs out to workers, retry crashed ones, feed a reducer.

use std::time::Duration;

use agent_os_kernel::{Agent, AgentContext, AgentError, AgentRef, IpcError};
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::warn;

use crate::{FnWorker, Reducer, ReducerMsg};

/// One fan-out run.
#[derive(Debug, Clone)]
pub struct FanOut {
    /// The jobs, each sent to one worker as its message.
    pub jobs: Vec<Value>,
    /// The workers (jobs are dealt round robin).
    pub workers: Vec<AgentRef<FnWorker>>,
    /// The reducer the results are folded into.
    pub reducer: AgentRef<Reducer>,
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
#[derive(Debug, Default)]
pub struct Coordinator;

pub(crate) async fn run_job(
    index: usize,
    job: &Value,
    worker: &AgentRef<FnWorker>,
    attempts: u32,
    timeout: Duration,
) -> (usize, Result<Value, String>, usize) {
    let mut retries = 0;
    let mut last = String::new();
    for attempt in 0..attempts.max(1) {
        match worker.ask(job.clone()).timeout(timeout).await {
            Ok(v) => return (index, Ok(v), retries),
            Err(
                e @ (IpcError::Crashed { .. }
                | IpcError::Timeout { .. }
                | IpcError::Interrupted { .. }),
            ) => {
                warn!(job = index, worker = %worker.pid(), attempt, error = %e, "retrying job");
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
        _ctx: &mut AgentContext,
    ) -> Result<FanOutReport, AgentError> {
        if run.workers.is_empty() {
            return Err(AgentError::invalid("fan-out needs at least one worker"));
        }
        let timeout = Duration::from_millis(run.timeout_ms);
        let workers = &run.workers;
        let outcomes =
            join_all(run.jobs.iter().enumerate().map(|(i, job)| {
                run_job(i, job, &workers[i % workers.len()], run.attempts, timeout)
            }))
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
                    run.reducer.tell(ReducerMsg::Add(v)).await?;
                    report.completed += 1;
                }
                Err(e) => report.failed.push((index, e)),
            }
        }
        report.result = run.reducer.ask(ReducerMsg::Result).timeout(timeout).await?;
        Ok(report)
    }
}
