//! [`AgentContext`]: the syscalls an agent makes from inside its handlers.

use std::sync::Arc;
use std::time::Duration;

use actix::Recipient;
use serde::Serialize;

use crate::agent::state::ProcessShared;
use crate::agent::{Agent, AgentState, SpawnOptions, WaitReason};
use crate::error::{IpcError, SpawnError};
use crate::kernel::Kernel;
use crate::pid::Pid;
use crate::scheduler::{SchedulerError, SlicePreempted, SliceRequest, SliceToken, Usage};

/// The agent's window onto the kernel, passed to every handler and hook.
///
/// Messages sent through the context carry the agent's pid as their sender
/// ([`AgentContext::sender`] on the receiving side).
pub struct AgentContext {
    pid: Pid,
    name: Arc<str>,
    priority: u8,
    control: Recipient<SlicePreempted>,
    kernel: Kernel,
    shared: Arc<ProcessShared>,
    sender: Option<Pid>,
    topic: Option<Arc<str>>,
    stop: bool,
}

impl AgentContext {
    pub(crate) fn new(
        pid: Pid,
        name: Arc<str>,
        priority: u8,
        control: Recipient<SlicePreempted>,
        kernel: Kernel,
        shared: Arc<ProcessShared>,
    ) -> Self {
        AgentContext {
            pid,
            name,
            priority,
            control,
            kernel,
            shared,
            sender: None,
            topic: None,
            stop: false,
        }
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

    /// Sends a message to another agent (fire and forget). Errors if the target does not
    /// exist, its mailbox is full (under `Reject`), or the message has the wrong type.
    pub async fn send<M: Send + 'static>(&self, to: Pid, msg: M) -> Result<(), IpcError> {
        self.kernel.send_from(Some(self.pid), to, msg).await
    }

    /// Sends a message and waits up to `timeout` for the reply. The agent's state is
    /// `Waiting(reply)` meanwhile; its own mailbox keeps queueing (no interleaving).
    pub async fn ask<R: Send + 'static, M: Send + 'static>(
        &self,
        to: Pid,
        msg: M,
        timeout: Duration,
    ) -> Result<R, IpcError> {
        self.set_state(AgentState::Waiting(WaitReason::Reply));
        let r = self.kernel.ask_from(Some(self.pid), to, msg, timeout).await;
        self.set_state(AgentState::Running);
        r
    }

    /// Publishes a message on a topic: every subscriber gets one copy. Returns how many
    /// subscribers it was delivered to; subscribers that could not take it (full mailbox,
    /// wrong type, gone) are logged and skipped.
    pub async fn publish<M: Clone + Send + 'static>(&self, topic: &str, msg: M) -> usize {
        self.kernel.publish_from(Some(self.pid), topic, msg).await
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

    /// Spawns a child agent. It is placed under `opts`' supervisor if given, else under this
    /// agent's supervisor (after its existing children), and it is stopped when this agent
    /// terminates for good.
    pub async fn spawn_child<A, F>(&self, factory: F, opts: SpawnOptions) -> Result<Pid, SpawnError>
    where
        A: Agent,
        F: Fn() -> A + Send + Sync + 'static,
    {
        self.kernel
            .spawn_linked(factory, opts, Some(self.pid))
            .await
    }

    /// This agent's priority (0 most urgent … 100).
    pub fn priority(&self) -> u8 {
        self.priority
    }

    /// A slice request for this agent: its pid and priority, and its control lane as the
    /// preemption notice target. Adjust it (estimated tokens, provider, `resume`) and pass it
    /// to [`AgentContext::acquire_slice`].
    pub fn slice_request(&self) -> SliceRequest {
        SliceRequest::new(self.pid)
            .priority(self.priority)
            .notify(self.control.clone())
    }

    /// Waits for a slice token (the agent is `Waiting(slice)` or `Waiting(quota)` meanwhile,
    /// `Running` once granted). Every LLM call needs one; a provider refuses calls without a
    /// valid token. When the scheduler revokes it (preemption), `token.revoked()` resolves
    /// and the control lane gets the notice: keep the partial output, release, and acquire
    /// again with `resume(true)`.
    pub async fn acquire_slice(&self, request: SliceRequest) -> Result<SliceToken, SchedulerError> {
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
        serde_json::to_value(value).map_err(|e| crate::AgentError::failed(e.to_string()))
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
        self.kernel.set_agent_state(self.pid, &self.shared, to);
    }
}
