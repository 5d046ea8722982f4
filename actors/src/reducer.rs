//! [`Reducer`]: folds values into an accumulator.

use std::sync::Arc;

use agent_os_kernel::{Agent, AgentContext, AgentError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Messages a [`Reducer`] understands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ReducerMsg {
    /// Fold one value into the accumulator. Replies with the number of values folded so far.
    Add(Value),
    /// Reply with the accumulator (as `{"count": n, "value": acc}`).
    Result,
    /// Start over from the initial value.
    Reset,
}

type FoldFn = dyn Fn(Value, &Value) -> Value + Send + Sync;

/// Folds every value it is sent into one accumulator. Its state (accumulator and count) is
/// exposed through `snapshot`/`restore`, so a checkpoint captures it.
pub struct Reducer {
    init: Value,
    fold: Arc<FoldFn>,
    acc: Value,
    count: u64,
}

impl std::fmt::Debug for Reducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reducer")
            .field("count", &self.count)
            .field("acc", &self.acc)
            .finish_non_exhaustive()
    }
}

impl Reducer {
    /// A factory for `Kernel::spawn`: every incarnation starts from `init`.
    pub fn factory(
        init: Value,
        fold: impl Fn(Value, &Value) -> Value + Send + Sync + 'static,
    ) -> impl Fn() -> Reducer + Send + Sync + 'static {
        let fold: Arc<FoldFn> = Arc::new(fold);
        move || Reducer {
            init: init.clone(),
            fold: fold.clone(),
            acc: init.clone(),
            count: 0,
        }
    }

    fn report(&self) -> Value {
        serde_json::json!({ "count": self.count, "value": self.acc })
    }
}

impl Agent for Reducer {
    type Msg = ReducerMsg;
    type Reply = Value;

    async fn handle(
        &mut self,
        msg: ReducerMsg,
        _ctx: &mut AgentContext,
    ) -> Result<Value, AgentError> {
        match msg {
            ReducerMsg::Add(v) => {
                let acc = std::mem::take(&mut self.acc);
                self.acc = (self.fold)(acc, &v);
                self.count += 1;
                Ok(Value::from(self.count))
            }
            ReducerMsg::Result => Ok(self.report()),
            ReducerMsg::Reset => {
                self.acc = self.init.clone();
                self.count = 0;
                Ok(self.report())
            }
        }
    }

    fn snapshot(&self) -> Result<Option<Value>, AgentError> {
        Ok(Some(self.report()))
    }

    fn restore(&mut self, state: Value) -> Result<(), AgentError> {
        let count = state["count"]
            .as_u64()
            .ok_or_else(|| AgentError::invalid("reducer state lacks a numeric `count`"))?;
        self.acc = state["value"].clone();
        self.count = count;
        Ok(())
    }
}
