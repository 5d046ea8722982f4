//! [`AgentContext`]: the syscalls an agent makes from inside its handlers.

use std::any::Any;
use std::fmt;
use std::sync::{Arc, OnceLock};

use actix::Recipient;
use serde::Serialize;

use crate::agent::durable::Durability;
use crate::agent::journal::StepCtx;
use crate::agent::state::ProcessShared;
use crate::agent::{Agent, AgentState, SpawnOptions, WaitReason};
use crate::error::IpcError;
use crate::ipc::AgentRef;
use crate::ipc::mailbox::Mailbox;
use crate::kernel::{Kernel, Spawn};
use crate::pid::Pid;
use crate::scheduler::{
    SchedulerError, SliceObserver, SlicePreempted, SliceProgress, SliceRequest, SliceToken, Usage,
};

/// The agent's window onto the kernel, passed to every handler and hook.
///
/// Messages the handler sends through any [`AgentRef`] carry this agent's pid as their sender
/// ([`AgentContext::sender`] on the receiving side), and while it awaits an `ask` or a `call`
/// its state is `Waiting(reply)`.
pub struct AgentContext {
    pid: Pid,
    name: Arc<str>,
    /// Its type as trajectories and [`crate::tuning`] name it.
    agent_type: Arc<str>,
    priority: u8,
    control: Recipient<SlicePreempted>,
    kernel: Kernel,
    shared: Arc<ProcessShared>,
    me: Arc<dyn Any + Send + Sync>,
    sender: Option<Pid>,
    topic: Option<Arc<str>>,
    stop: bool,
    durable: Arc<Durability>,
    step: StepCtx,
    policy: Arc<crate::security::policy::SecurityPolicy>,
    /// When this incarnation's recent tool calls started (the policy's tool-rate window).
    tool_calls: parking_lot::Mutex<std::collections::VecDeque<std::time::Instant>>,
    /// The step being recorded as a trajectory (none when recording is off), and what its
    /// syscalls added.
    step_open: Option<crate::trajectory::StepOpen>,
    step_calls: parking_lot::Mutex<crate::trajectory::StepCalls>,
}

impl AgentContext {
    #[allow(clippy::too_many_arguments)] // one per part of the context; called once per incarnation
    pub(crate) fn new(
        pid: Pid,
        name: Arc<str>,
        priority: u8,
        control: Recipient<SlicePreempted>,
        kernel: Kernel,
        shared: Arc<ProcessShared>,
        me: Arc<dyn Any + Send + Sync>,
        durable: Arc<Durability>,
    ) -> Self {
        AgentContext {
            pid,
            name,
            agent_type: Arc::from(""),
            priority,
            control,
            kernel,
            shared,
            me,
            sender: None,
            topic: None,
            stop: false,
            durable,
            step: StepCtx::default(),
            policy: Arc::default(),
            tool_calls: parking_lot::Mutex::default(),
            step_open: None,
            step_calls: parking_lot::Mutex::default(),
        }
    }

    /// Starts recording a step.
    pub(crate) fn open_step(&mut self, open: crate::trajectory::StepOpen) {
        self.step_open = Some(open);
    }

    /// The step being recorded and what its syscalls added (and stops recording it).
    pub(crate) fn close_step(
        &mut self,
    ) -> Option<(crate::trajectory::StepOpen, crate::trajectory::StepCalls)> {
        let open = self.step_open.take()?;
        Some((open, std::mem::take(&mut *self.step_calls.lock())))
    }

    /// Adds to the step being recorded, if one is.
    pub(crate) fn trace_with(&self, f: impl FnOnce(&mut crate::trajectory::StepCalls)) {
        if self.step_open.is_some() {
            f(&mut self.step_calls.lock());
        }
    }

    /// Counts a tool call against the policy's rate (`security.tool_rate`); `Err` with the
    /// reason when the window is full.
    pub(crate) fn take_tool_slot(&self) -> Result<(), String> {
        let rate = self.policy.tool_rate;
        if rate.calls == 0 {
            return Ok(());
        }
        let window = std::time::Duration::from_millis(rate.window_ms.max(1));
        let now = std::time::Instant::now();
        let mut recent = self.tool_calls.lock();
        while recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            recent.pop_front();
        }
        if recent.len() >= rate.calls as usize {
            return Err(format!(
                "over its tool-call rate of {} per {} ms (security.tool_rate)",
                rate.calls, rate.window_ms
            ));
        }
        recent.push_back(now);
        Ok(())
    }

    pub(crate) fn with_agent_type(mut self, agent_type: Arc<str>) -> Self {
        self.agent_type = agent_type;
        self
    }

    pub(crate) fn with_policy(
        mut self,
        policy: Arc<crate::security::policy::SecurityPolicy>,
    ) -> Self {
        self.policy = policy;
        self
    }

    /// This agent's security policy.
    pub fn policy(&self) -> &crate::security::policy::SecurityPolicy {
        &self.policy
    }

    /// This agent's pid.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// This agent's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The kernel handle (to spawn unrelated agents, read status, …).
    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    /// This agent's own typed handle (to give to others, or to message itself). `A` must be
    /// this agent's type (`ctx.myself::<Self>()`); another type is
    /// [`IpcError::WrongAgentType`].
    pub fn myself<A: Agent>(&self) -> Result<AgentRef<A>, IpcError> {
        let wrong = || IpcError::WrongAgentType {
            pid: self.pid,
            expected: std::any::type_name::<A>(),
            actual: self
                .kernel
                .agent_type(self.pid)
                .unwrap_or("an agent of another type"),
        };
        let me = self
            .me
            .downcast_ref::<OnceLock<Arc<Mailbox<A>>>>()
            .ok_or_else(wrong)?;
        me.get()
            .map(|mailbox| AgentRef::new(mailbox.clone()))
            .ok_or(IpcError::NoSuchAgent(self.pid))
    }

    /// The pid of the agent that sent the message being handled (`None` when it came from
    /// outside any agent: user code, the HTTP API, the CLI).
    pub fn sender(&self) -> Option<Pid> {
        self.sender
    }

    /// The topic the message being handled was published on, if any.
    pub fn topic(&self) -> Option<&str> {
        self.topic.as_deref()
    }

    /// How many times this agent has been restarted by its supervisor.
    pub fn restarts(&self) -> u32 {
        self.shared.restarts()
    }

    /// Publishes a message on a topic: every subscriber gets one copy. Returns how many
    /// subscribers it was delivered to; subscribers that could not take it (full mailbox,
    /// wrong type, gone) are logged and skipped.
    pub async fn publish<M: Clone + Send + 'static>(&self, topic: &str, msg: M) -> usize {
        self.kernel.publish(topic, msg).await
    }

    /// Subscribes this agent to a topic (idempotent: one copy per publish however often it
    /// subscribes).
    pub fn subscribe(&self, topic: &str) {
        self.kernel.subscribe(self.pid, topic);
    }

    /// Unsubscribes this agent from a topic.
    pub fn unsubscribe(&self, topic: &str) {
        self.kernel.unsubscribe(self.pid, topic);
    }

    /// Spawns a child agent and returns its typed handle (await the returned [`Spawn`]). It is
    /// placed under `opts`' supervisor if given, else under this agent's supervisor (after its
    /// existing children), and it is stopped when this agent terminates for good.
    pub fn spawn_child<A, F>(&self, factory: F, opts: SpawnOptions) -> Spawn<'_, A>
    where
        A: Agent,
        F: Fn() -> A + Send + Sync + 'static,
    {
        Spawn::new(&self.kernel, factory, opts, Some(self.pid))
    }

    /// This agent's priority (0 most urgent … 100): the one it was spawned with, unless its
    /// type's priority was changed at run time ([`crate::Kernel::tuning`]).
    pub fn priority(&self) -> u8 {
        self.kernel
            .tuning()
            .get(&self.agent_type)
            .priority
            .unwrap_or(self.priority)
    }

    /// This agent's type as trajectories and the optimizer name it: the registered type name
    /// when it was spawned by type, else its Rust type.
    pub fn agent_type(&self) -> &str {
        &self.agent_type
    }

    /// The step limit of this agent's type when one was set at run time
    /// ([`crate::Kernel::tuning`], e.g. by an applied optimizer suggestion). The kernel
    /// enforces it on the task's steps; an agent that loops inside one step (reason → act)
    /// should use it in place of its own limit.
    pub fn step_limit(&self) -> Option<u64> {
        self.kernel.tuning().get(&self.agent_type).max_steps
    }

    /// Tells the kernel this step stopped at a step limit (`limit`) while still working: it
    /// is recorded as [`StepOutcome::CutOff`](crate::trajectory::StepOutcome::CutOff), which
    /// the optimizer reads to suggest a higher limit for the type.
    pub fn reached_step_limit(&self, limit: u64) {
        self.trace_with(|t| t.cut_off = Some(limit));
    }

    /// A slice request for this agent: its pid and priority, its control lane as the
    /// preemption notice target, and its state following the request (`Waiting(slice)`,
    /// `Waiting(quota)`, `Running`). Adjust it (estimated tokens, provider, `resume`) and pass
    /// it to [`AgentContext::acquire_slice`].
    pub fn slice_request(&self) -> SliceRequest {
        self.slice_request_counting(None)
    }

    /// [`AgentContext::slice_request`], counting in `quota_waits` each time the request
    /// waits for the agent's quota window (the LLM syscall's trajectory record).
    pub(crate) fn slice_request_counting(
        &self,
        quota_waits: Option<Arc<std::sync::atomic::AtomicU32>>,
    ) -> SliceRequest {
        let (pid, shared, events) = (
            self.pid,
            self.shared.clone(),
            self.kernel.events_bus().clone(),
        );
        SliceRequest::new(self.pid)
            .priority(self.priority())
            .notify(self.control.clone())
            .observe(SliceObserver::new(move |progress| {
                let to = match progress {
                    SliceProgress::Queued => AgentState::Waiting(WaitReason::Slice),
                    SliceProgress::WaitingQuota => {
                        if let Some(waits) = &quota_waits {
                            waits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        AgentState::Waiting(WaitReason::Quota)
                    }
                    SliceProgress::Granted => AgentState::Running,
                };
                shared.transition(pid, to, &events);
            }))
    }

    /// Waits for a slice token (the agent is `Waiting(slice)` or `Waiting(quota)` meanwhile,
    /// `Running` once granted — or once this future is dropped). Every LLM call needs one; a
    /// provider refuses calls without a valid token. When the scheduler revokes it
    /// (preemption), `token.revoked()` resolves and the control lane gets the notice: keep the
    /// partial output, release, and acquire again with `resume(true)`.
    pub async fn acquire_slice(&self, request: SliceRequest) -> Result<SliceToken, SchedulerError> {
        let _settle = SliceWait { ctx: self };
        self.kernel.scheduler().acquire(request).await
    }

    /// Returns a slice with what it actually used (charged to this agent's quotas).
    pub async fn release_slice(
        &self,
        token: SliceToken,
        usage: Usage,
    ) -> Result<(), SchedulerError> {
        self.kernel.scheduler().release(token, usage).await
    }

    /// Asks the kernel to stop this agent normally once the current handler returns
    /// (`on_stop` runs, exit reason `Normal`; a `Permanent` agent is then restarted).
    pub fn stop(&mut self) {
        self.stop = true;
    }

    /// Serialises a value to JSON (a convenience for [`Agent::snapshot`]).
    pub fn to_state<T: Serialize>(value: &T) -> Result<serde_json::Value, crate::AgentError> {
        serde_json::to_value(value).map_err(crate::AgentError::other)
    }

    /// The number of the step being handled: steps count handled messages over the agent's
    /// life, across restarts (a restart from a checkpoint continues from its step).
    pub fn step(&self) -> u64 {
        self.step.step
    }

    /// The delivery id of the durable message being handled (`None` for a message that did
    /// not go through a durable mailbox). Delivery is at least once: a handler that must not
    /// repeat an effect can key it by this id.
    pub fn delivery_id(&self) -> Option<&str> {
        self.step.delivery.as_deref()
    }

    pub(crate) fn durability(&self) -> &Arc<Durability> {
        &self.durable
    }

    pub(crate) fn step_ctx(&self) -> &StepCtx {
        &self.step
    }

    pub(crate) fn begin_step(&mut self, step: StepCtx) {
        self.step = step;
    }

    pub(crate) fn begin(&mut self, sender: Option<Pid>, topic: Option<Arc<str>>) {
        self.sender = sender;
        self.topic = topic;
    }

    pub(crate) fn shared(&self) -> &ProcessShared {
        &self.shared
    }

    pub(crate) fn take_stop(&mut self) -> bool {
        std::mem::take(&mut self.stop)
    }

    pub(crate) fn set_state(&self, to: AgentState) {
        self.shared
            .transition(self.pid, to, self.kernel.events_bus());
    }
}

/// Brings an agent that stopped waiting for a slice (granted, refused, or the acquire dropped)
/// back to `Running`.
struct SliceWait<'a> {
    ctx: &'a AgentContext,
}

impl Drop for SliceWait<'_> {
    fn drop(&mut self) {
        let c = self.ctx;
        let events = c.kernel.events_bus();
        for from in [WaitReason::Slice, WaitReason::Quota] {
            c.shared.settle(
                c.pid,
                AgentState::Waiting(from),
                AgentState::Running,
                events,
            );
        }
    }
}

impl fmt::Debug for AgentContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentContext")
            .field("pid", &self.pid)
            .field("name", &&*self.name)
            .field("priority", &self.priority)
            .field("sender", &self.sender)
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}
