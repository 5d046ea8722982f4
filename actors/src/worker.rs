//! [`FnWorker`]: a stateless worker that applies a function to each job.

use std::sync::Arc;

use agent_os_kernel::{Agent, AgentContext, AgentError};
use serde_json::Value;

/// The job function: input → output, or an error message sent back to the asker.
type JobFn = dyn Fn(&Value, &AgentContext) -> Result<Value, String> + Send + Sync;

/// Applies a function to each job. A panic inside the function is a crash: the worker's
/// supervisor restarts it and the asker gets `IpcError::Crashed`.
///
/// ```
/// use agent_os_actors::FnWorker;
/// let upper = FnWorker::new(|v, _ctx| Ok(v.as_str().unwrap_or_default().to_uppercase().into()));
/// let factory = upper.factory();
/// let _worker = factory();
/// ```
#[derive(Clone)]
pub struct FnWorker {
    f: Arc<JobFn>,
}

impl std::fmt::Debug for FnWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnWorker").finish_non_exhaustive()
    }
}

impl FnWorker {
    /// A worker running `f` on every job.
    pub fn new(
        f: impl Fn(&Value, &AgentContext) -> Result<Value, String> + Send + Sync + 'static,
    ) -> Self {
        FnWorker { f: Arc::new(f) }
    }

    /// A factory for `Kernel::spawn` (every incarnation shares the function).
    pub fn factory(&self) -> impl Fn() -> FnWorker + Send + Sync + 'static + use<> {
        let me = self.clone();
        move || me.clone()
    }
}

impl Agent for FnWorker {
    type Msg = Value;
    type Reply = Value;

    async fn handle(&mut self, job: Value, ctx: &mut AgentContext) -> Result<Value, AgentError> {
        (self.f)(&job, ctx).map_err(AgentError::Failed)
    }
}
