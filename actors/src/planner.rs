//! [`Planner`] + [`WorkerPool`]: a plan split into tasks, fanned out to supervised workers,
//! results gathered, a failed task retried once and then reported.

use std::time::Duration;

use agent_os_kernel::provider::{ChatRequest, Message};
use agent_os_kernel::{
    Agent, AgentContext, AgentError, AgentRef, Kernel, SpawnError, SpawnOptions, SupervisorId,
    SupervisorSpec,
};
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::FnWorker;
use crate::coordinator::run_job;

/// The instruction a plan is asked with.
pub const PLAN_INSTRUCTION: &str = "Split the goal into independent tasks that can be done in \
parallel. Answer with a JSON array of task strings only, nothing else.";

/// Workers running one [`FnWorker`] function, each restarted by the pool's own one-for-one
/// supervisor when it crashes (under the same pid, its queued jobs kept).
#[derive(Debug, Clone)]
pub struct WorkerPool {
    workers: Vec<AgentRef<FnWorker>>,
    supervisor: SupervisorId,
}

impl WorkerPool {
    /// Spawns `size` workers (at least one) named `<name>-<i>` under a new supervisor `name`
    /// allowing `max_restarts` restarts in 5 s (more crashes than that escalate).
    pub async fn spawn(
        kernel: &Kernel,
        name: &str,
        size: usize,
        max_restarts: u32,
        worker: &FnWorker,
    ) -> Result<WorkerPool, SpawnError> {
        let supervisor = kernel
            .supervisor(SupervisorSpec::new(name).intensity(max_restarts, Duration::from_secs(5)))
            .await?;
        let mut workers = Vec::with_capacity(size.max(1));
        for i in 0..size.max(1) {
            let opts = SpawnOptions::new(format!("{name}-{i}")).supervisor(supervisor);
            workers.push(kernel.spawn(worker.factory(), opts).await?);
        }
        Ok(WorkerPool {
            workers,
            supervisor,
        })
    }

    /// The workers' handles.
    pub fn workers(&self) -> &[AgentRef<FnWorker>] {
        &self.workers
    }

    /// The pool's supervisor.
    pub fn supervisor(&self) -> SupervisorId {
        self.supervisor
    }
}

/// Messages a [`Planner`] understands.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub enum PlanMsg {
    /// Ask the model for a plan (a JSON array of tasks), then run it.
    Goal(String),
    /// Run this plan.
    Tasks(Vec<Value>),
}

/// One task's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskOutcome {
    /// The task as sent to a worker.
    pub task: Value,
    /// Its result, or the last error after every attempt failed.
    pub result: Result<Value, String>,
    /// Attempts made (2 when the first one's worker crashed or timed out).
    pub attempts: u32,
}

/// What a plan run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanReport {
    /// Every task, in plan order.
    pub tasks: Vec<TaskOutcome>,
}

impl PlanReport {
    /// The tasks that failed on every attempt.
    pub fn failed(&self) -> impl Iterator<Item = &TaskOutcome> {
        self.tasks.iter().filter(|t| t.result.is_err())
    }
}

/// Splits a goal into tasks (through the LLM: [`PLAN_INSTRUCTION`]) or takes a given plan,
/// deals the tasks round robin to a [`WorkerPool`] concurrently, retries once a task whose
/// worker crashed or did not answer in time (its supervisor restarts it), and replies with
/// every task's result or error ([`PlanReport`]). A task the worker refused (its function
/// returned `Err`) is not retried.
#[derive(Debug, Clone)]
pub struct Planner {
    workers: Vec<AgentRef<FnWorker>>,
    model: String,
    timeout: Duration,
    attempts: u32,
}

impl Planner {
    /// A planner over `pool` (model `default`, 30 s per attempt, two attempts per task).
    pub fn new(pool: &WorkerPool) -> Self {
        Planner {
            workers: pool.workers.clone(),
            model: "default".into(),
            timeout: Duration::from_secs(30),
            attempts: 2,
        }
    }

    /// The model (or route group) asked for plans.
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = model.into();
        self
    }

    /// The reply timeout of one attempt.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// A factory for `Kernel::spawn`.
    pub fn factory(&self) -> impl Fn() -> Planner + Send + Sync + 'static + use<> {
        let me = self.clone();
        move || me.clone()
    }

    async fn plan(&self, goal: &str, ctx: &AgentContext) -> Result<Vec<Value>, AgentError> {
        let request = ChatRequest::new(
            self.model.clone(),
            vec![Message::system(PLAN_INSTRUCTION), Message::user(goal)],
        );
        let answer = ctx.llm(request).await?.content;
        parse_plan(&answer)
            .ok_or_else(|| AgentError::invalid(format!("the plan is not a JSON array: {answer}")))
    }
}

/// The first JSON array in a model's answer (models wrap it in prose or code fences).
fn parse_plan(answer: &str) -> Option<Vec<Value>> {
    let (start, end) = (answer.find('[')?, answer.rfind(']')?);
    serde_json::from_str(answer.get(start..=end)?).ok()
}

impl Agent for Planner {
    type Msg = PlanMsg;
    type Reply = PlanReport;

    async fn handle(
        &mut self,
        msg: PlanMsg,
        ctx: &mut AgentContext,
    ) -> Result<PlanReport, AgentError> {
        if self.workers.is_empty() {
            return Err(AgentError::invalid("the planner has no workers"));
        }
        let tasks = match msg {
            PlanMsg::Goal(goal) => self.plan(&goal, ctx).await?,
            PlanMsg::Tasks(tasks) => tasks,
        };
        let workers = &self.workers;
        let outcomes = join_all(tasks.iter().enumerate().map(|(i, task)| {
            run_job(
                i,
                task,
                &workers[i % workers.len()],
                self.attempts,
                self.timeout,
            )
        }))
        .await;
        let most = self.attempts;
        let tasks = tasks
            .into_iter()
            .zip(outcomes)
            .map(|(task, (_, result, retries))| TaskOutcome {
                task,
                result,
                attempts: (u32::try_from(retries).unwrap_or(u32::MAX) + 1).min(most),
            })
            .collect();
        Ok(PlanReport { tasks })
    }
}

#[cfg(test)]
mod tests {
    use super::parse_plan;
    use serde_json::json;

    #[test]
    fn a_plan_is_the_json_array_in_the_answer() {
        assert_eq!(
            parse_plan("Sure:\n```json\n[\"a\", \"b\"]\n```"),
            Some(vec![json!("a"), json!("b")])
        );
        assert_eq!(parse_plan("no plan"), None);
    }
}
