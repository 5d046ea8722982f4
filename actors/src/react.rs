//! [`ReactAgent`]: reason → act (tools) → observe, until the model answers or the step limit.

use agent_os_kernel::pager::{NewPage, PageKind};
use agent_os_kernel::provider::{ChatRequest, Message};
use agent_os_kernel::{
    Agent, AgentContext, AgentError, AgentRef, Kernel, SpawnError, SpawnOptions,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The system prompt a [`ReactAgent`] starts with unless given another.
pub const REACT_SYSTEM_PROMPT: &str = "You are an agent that completes a task. Think step by \
step; when a tool helps, call it and read its result; when the task is done, answer with the \
result and call no tool.";

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Stopped {
    /// The model answered without calling a tool.
    Finished,
    /// The step limit was reached while the model was still calling tools.
    StepLimit,
}

/// One tool call the model made, as the agent saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolUse {
    /// The tool's name as the model wrote it (`fs__write`).
    pub name: String,
    /// The arguments (JSON text, as the model produced them).
    pub arguments: String,
    /// The error the tool reported, if any (the model read it as the tool's result).
    pub error: Option<String>,
}

/// What a [`ReactAgent`] run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReactOutcome {
    /// The model's last text (its answer when `stopped` is `Finished`).
    pub answer: String,
    /// LLM calls made (each is one reason → act step).
    pub steps: u32,
    /// Every tool call, in order.
    pub tool_calls: Vec<ToolUse>,
    /// Why the run ended.
    pub stopped: Stopped,
}

/// Messages a [`ReactAgent`] understands.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ReactMsg {
    /// Work on the task it was built with.
    Run,
    /// Work on another task (the conversation so far stays in its pages).
    Task(String),
}

/// An LLM + tools loop: each step sends the conversation (assembled by the pager with
/// `ctx.context`) and the tools its policy allows (`ctx.tool_specs`) to the model, runs the
/// tool calls of the answer through `ctx.call_tools` (policy, schema check, audit), appends
/// the results to its pages and asks again — until the model answers without a tool call or
/// `max_steps` LLM calls were made. A step limit set for its agent type at run time
/// (`Kernel::tuning`, e.g. an applied optimizer suggestion) replaces `max_steps`; a run that
/// stops at the limit is recorded in its trajectory as cut off
/// (`AgentContext::reached_step_limit`), which is what the optimizer reads.
///
/// The quick start (a name, a task and a priority; run; status):
///
/// ```no_run
/// use agent_os_actors::{ReactAgent, ReactMsg};
/// use agent_os_kernel::Kernel;
///
/// #[actix_rt::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let kernel = Kernel::builder().offline_fallback(true).build().await?;
///     let agent = ReactAgent::new("researcher", "List your workspace").priority(10).spawn(&kernel).await?;
///     let outcome = agent.ask(ReactMsg::Run).await?;
///     println!("{:?} after {} steps: {}", kernel.status(agent.pid())?.state, outcome.steps, outcome.answer);
///     kernel.shutdown().await;
///     Ok(())
/// }
/// ```
#[derive(Debug, Clone)]
pub struct ReactAgent {
    name: String,
    task: String,
    priority: u8,
    model: String,
    max_steps: u32,
    max_tokens: u32,
    system: String,
}

impl ReactAgent {
    /// An agent named `name` working on `task` (priority 50, model `default` — any model name
    /// the router does not know goes to the first backend —, at most 8 steps).
    pub fn new(name: impl Into<String>, task: impl Into<String>) -> Self {
        ReactAgent {
            name: name.into(),
            task: task.into(),
            priority: 50,
            model: "default".into(),
            max_steps: 8,
            max_tokens: 1024,
            system: REACT_SYSTEM_PROMPT.into(),
        }
    }

    /// Its priority (0 most urgent … 100).
    pub fn priority(mut self, priority: u8) -> Self {
        self.priority = priority;
        self
    }

    /// The model (or route group) it asks.
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = model.into();
        self
    }

    /// The most LLM calls one run makes (at least 1).
    pub fn max_steps(mut self, steps: u32) -> Self {
        self.max_steps = steps.max(1);
        self
    }

    /// The most tokens one answer may have.
    pub fn max_tokens(mut self, tokens: u32) -> Self {
        self.max_tokens = tokens;
        self
    }

    /// Its system prompt (pinned in its pages).
    pub fn system(mut self, prompt: impl Into<String>) -> Self {
        self.system = prompt.into();
        self
    }

    /// Spawn options with its name and priority (add a policy, a budget, … before spawning).
    pub fn options(&self) -> SpawnOptions {
        SpawnOptions::new(self.name.clone()).priority(self.priority)
    }

    /// A factory for `Kernel::spawn` (every incarnation starts from this configuration).
    pub fn factory(&self) -> impl Fn() -> ReactAgent + Send + Sync + 'static + use<> {
        let me = self.clone();
        move || me.clone()
    }

    /// Spawns it with [`ReactAgent::options`].
    pub async fn spawn(self, kernel: &Kernel) -> Result<AgentRef<ReactAgent>, SpawnError> {
        let opts = self.options();
        kernel.spawn(self.factory(), opts).await
    }

    async fn run(&self, task: &str, ctx: &AgentContext) -> Result<ReactOutcome, AgentError> {
        ctx.kernel()
            .pager()
            .allocate_once(
                ctx.pid(),
                NewPage::new(PageKind::System, self.system.clone()),
            )
            .await?;
        ctx.add_message(&Message::user(task)).await?;
        let tools = ctx.tool_specs();
        let mut outcome = ReactOutcome {
            answer: String::new(),
            steps: 0,
            tool_calls: Vec::new(),
            stopped: Stopped::StepLimit,
        };
        // A step limit set for this agent type at run time (an applied optimizer suggestion)
        // takes the place of the one it was built with.
        let max_steps = ctx
            .step_limit()
            .map_or(self.max_steps, |n| u32::try_from(n).unwrap_or(u32::MAX));
        while outcome.steps < max_steps {
            let context = ctx.context(Some(task)).await?;
            let mut request = ChatRequest::new(self.model.clone(), context.messages);
            request.tools.clone_from(&tools);
            request.max_tokens = self.max_tokens;
            let answer = ctx.llm(request).await?;
            outcome.steps += 1;
            let mut turn = Message::assistant(answer.content.clone());
            turn.tool_calls.clone_from(&answer.tool_calls);
            ctx.add_message(&turn).await?;
            outcome.answer = answer.content;
            if answer.tool_calls.is_empty() {
                outcome.stopped = Stopped::Finished;
                return Ok(outcome);
            }
            let results = ctx.call_tools(&answer.tool_calls).await;
            for (call, result) in answer.tool_calls.iter().zip(&results) {
                ctx.add_message(result).await?;
                let error = serde_json::from_str::<Value>(&result.content)
                    .ok()
                    .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string));
                outcome.tool_calls.push(ToolUse {
                    name: call.name.clone(),
                    arguments: call.arguments.clone(),
                    error,
                });
            }
        }
        ctx.reached_step_limit(u64::from(max_steps));
        Ok(outcome)
    }
}

impl Agent for ReactAgent {
    type Msg = ReactMsg;
    type Reply = ReactOutcome;

    async fn handle(
        &mut self,
        msg: ReactMsg,
        ctx: &mut AgentContext,
    ) -> Result<ReactOutcome, AgentError> {
        let task = match msg {
            ReactMsg::Run => self.task.clone(),
            ReactMsg::Task(task) => task,
        };
        self.run(&task, ctx).await
    }
}
