//! [`Kernel`]: the handle user code holds. It starts the system actors and owns the registry.

mod builder;
mod durability;
mod info;
mod llm;
mod messaging;
mod paging;
mod registry;
mod scheduling;
mod spawn;
mod supervision;
mod types;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use actix::{Arbiter, ArbiterHandle};
use futures::future::join_all;
use tracing::info;

use crate::agent::AgentState;
use crate::agent::messages::ProcessCommand;
use crate::agent::state::ProcessShared;
use crate::config::KernelConfig;
use crate::error::IpcError;
use crate::events::{EventBus, EventStream};
use crate::ipc::topics::Topics;
use crate::pid::Pid;
use crate::scheduler::Scheduler;
use crate::storage::{AgentRecord, RegistryWriter, Storage, StorageError};
use crate::supervisor::{ExitReason, SupervisorMap};

pub use builder::KernelBuilder;
pub use info::AgentInfo;
pub use llm::LlmError;
pub use paging::PagedLlmError;
pub(crate) use registry::AgentEntry;
pub use spawn::Spawn;

/// How long shutdown waits for queued audit records to be committed.
const AUDIT_FLUSH_DEADLINE: Duration = Duration::from_secs(10);

/// The kernel handle. Cheap to clone (one `Arc`); every clone is the same kernel.
///
/// ```no_run
/// use agent_os_kernel::prelude::*;
/// # #[derive(Default)] struct Echo;
/// # impl Agent for Echo {
/// #     type Msg = String; type Reply = String;
/// #     async fn handle(&mut self, m: String, _: &mut AgentContext) -> Result<String, AgentError> { Ok(m) }
/// # }
/// #[actix::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let kernel = Kernel::builder().build().await?;
///     let echo = kernel.spawn(Echo::default, SpawnOptions::new("echo")).await?;
///     let reply = echo.ask("hi".to_string()).await?;
///     assert_eq!(reply, "hi");
///     kernel.shutdown().await;
///     Ok(())
/// }
/// ```
#[derive(Clone)]
pub struct Kernel {
    inner: Arc<KernelInner>,
}

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernel")
            .field("agents", &self.inner.registry.len())
            .field("arbiters", &self.inner.arbiters.len())
            .field("storage", &self.inner.storage.url())
            .field("backends", &self.inner.providers.router.backends())
            .field(
                "shutting_down",
                &self.inner.shutting_down.load(Ordering::Relaxed),
            )
            .finish_non_exhaustive()
    }
}

pub(crate) struct KernelInner {
    config: KernelConfig,
    /// `config.security`, shared by every agent spawned without a policy of its own.
    default_policy: Arc<crate::security::policy::SecurityPolicy>,
    registry: registry::Registry,
    topics: Topics,
    arbiters: Vec<Arbiter>,
    arbiter_handles: Vec<ArbiterHandle>,
    next_arbiter: AtomicUsize,
    supervisors: SupervisorMap,
    next_supervisor: AtomicU64,
    events: EventBus,
    shutting_down: Arc<AtomicBool>,
    storage: Storage,
    writer: RegistryWriter,
    scheduler: Scheduler,
    providers: crate::provider::Providers,
    /// Set by the builder right after the kernel exists (the provider embedder needs the
    /// kernel's router and scheduler); always set before a `Kernel` is handed out.
    pager: std::sync::OnceLock<crate::pager::Pager>,
    checkpoint_writer: crate::checkpoint::writer::CheckpointWriter,
    tools: crate::tools::ToolRegistry,
    audit: crate::security::audit::AuditLog,
    trajectories: crate::trajectory::Trajectories,
    tuning: crate::tuning::Tuning,
    types: types::AgentTypes,
}

impl Kernel {
    /// Starts configuring a kernel.
    pub fn builder() -> KernelBuilder {
        KernelBuilder::default()
    }

    /// The effective configuration.
    pub fn config(&self) -> &KernelConfig {
        &self.inner.config
    }

    /// The kernel's storage (registry, mailboxes, checkpoints, pages, memories, coordination,
    /// audit log).
    pub fn storage(&self) -> &Storage {
        &self.inner.storage
    }

    /// The tool registry (built-in tools and those added with `KernelBuilder::tool`).
    pub fn tools(&self) -> &crate::tools::ToolRegistry {
        &self.inner.tools
    }

    /// The audit log: record what agents and callers do, verify the chain, query it.
    pub fn audit(&self) -> &crate::security::audit::AuditLog {
        &self.inner.audit
    }

    /// The agents' recorded steps (`[trajectories]`): query them by agent type, task or pid.
    pub fn trajectories(&self) -> &crate::trajectory::Trajectories {
        &self.inner.trajectories
    }

    /// Per-agent-type settings changed at run time (step limit, priority): what the
    /// optimizer's applied suggestions change ([`crate::tuning`]).
    pub fn tuning(&self) -> &crate::tuning::Tuning {
        &self.inner.tuning
    }

    /// Waits until every registry row written so far (spawns and exits are written behind,
    /// in batches) is durable.
    pub async fn flush(&self) -> Result<(), StorageError> {
        self.inner.writer.flush().await
    }

    /// Queues the registry row of an agent (write-behind, batched).
    pub(crate) fn record_agent(
        &self,
        pid: Pid,
        entry: &AgentEntry,
        state: &str,
        exit: Option<&ExitReason>,
    ) {
        let mut record = AgentRecord::new(pid, &*entry.name);
        record.state = state.to_string();
        record.priority = entry.priority;
        record.restart_policy = entry.restart.as_str().to_string();
        record.supervisor_id = Some(entry.supervisor.to_string());
        record.parent_pid = entry.parent;
        record.restarts = entry.shared.restarts();
        record.exit_reason = exit.map(|r| r.to_string());
        record.spec = serde_json::json!({
            "mailbox_capacity": entry.capacity,
            "overflow": entry.overflow,
            "stop_timeout_ms": u64::try_from(entry.stop_timeout.as_millis()).unwrap_or(u64::MAX),
            "message_type": entry.endpoint.msg_type(),
            "agent_type": entry.endpoint.agent_type(),
            "json": entry.endpoint.accepts_json(),
        });
        record.created_at = entry.created_at;
        self.inner.writer.record(record);
    }

    /// Subscribes to the kernel's events (lifecycle transitions, crashes, restarts, exits,
    /// escalations).
    pub fn events(&self) -> EventStream {
        self.inner.events.subscribe()
    }

    pub(crate) fn events_bus(&self) -> &EventBus {
        &self.inner.events
    }

    fn next_arbiter(&self) -> &ArbiterHandle {
        let n = self.inner.next_arbiter.fetch_add(1, Ordering::Relaxed);
        &self.inner.arbiter_handles[n % self.inner.arbiter_handles.len()]
    }

    /// Stops an agent gracefully: it finishes the message it is handling, runs `on_stop` and
    /// terminates; messages still queued are failed back to their askers. If the handler does
    /// not finish within the agent's stop deadline it is aborted (`StopTimeout`). Resolves
    /// with the exit reason. A stopped agent is never restarted.
    pub async fn stop(&self, pid: Pid) -> Result<ExitReason, IpcError> {
        let entry = self.inner.registry.entry(pid)?;
        let deadline = entry.stop_timeout;
        self.stop_within(pid, deadline).await
    }

    /// [`Kernel::stop`] with an explicit deadline.
    pub async fn stop_within(&self, pid: Pid, deadline: Duration) -> Result<ExitReason, IpcError> {
        let entry = self.inner.registry.entry(pid)?;
        entry.control.do_send(ProcessCommand::Stop {
            deadline,
            reason: ExitReason::Shutdown,
        });
        Ok(entry.shared.wait_exit().await)
    }

    /// Kills an agent: the message it is handling is aborted (its asker gets
    /// `Interrupted`), `on_stop` does not run, queued messages are failed back. Never
    /// restarted.
    pub async fn kill(&self, pid: Pid) -> Result<ExitReason, IpcError> {
        let entry = self.inner.registry.entry(pid)?;
        entry.control.do_send(ProcessCommand::Kill);
        Ok(entry.shared.wait_exit().await)
    }

    /// Waits until the agent terminates for good (restarts do not count) and returns why.
    pub async fn wait(&self, pid: Pid) -> Result<ExitReason, IpcError> {
        let shared = self.inner.registry.entry(pid)?.shared.clone();
        Ok(shared.wait_exit().await)
    }

    /// The agent's state as produced by its [`crate::Agent::snapshot`], taken between two
    /// messages (it waits for the message being handled, not for queued ones).
    pub async fn snapshot(&self, pid: Pid) -> Result<Option<serde_json::Value>, IpcError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.inner
            .registry
            .entry(pid)?
            .control
            .do_send(ProcessCommand::Snapshot(tx));
        rx.await.map_err(|_| IpcError::Terminated(pid))?
    }

    /// Stops every agent gracefully (each within its stop deadline), then the system actors
    /// and the arbiters. New spawns and messages are refused from the first moment.
    pub async fn shutdown(&self) {
        if self.inner.shutting_down.swap(true, Ordering::AcqRel) {
            return;
        }
        let entries = self.inner.registry.all();
        info!(agents = entries.len(), "kernel shutting down");
        let waits = entries.iter().map(|e| {
            e.control.do_send(ProcessCommand::Stop {
                deadline: e.stop_timeout,
                reason: ExitReason::KernelShutdown,
            });
            let shared = e.shared.clone();
            async move { shared.wait_exit().await }
        });
        join_all(waits).await;
        self.inner.checkpoint_writer.flush().await;
        for sup in self.inner.supervisors.iter() {
            sup.value()
                .do_send(crate::supervisor::messages::ChildCommand::Terminate(
                    ExitReason::KernelShutdown,
                ));
        }
        if let Err(e) = self.inner.writer.flush().await {
            tracing::error!(error = %e, "registry rows could not be flushed at shutdown");
        }
        if let Some(pager) = self.inner.pager.get() {
            pager.flush().await;
        }
        let _ = tokio::time::timeout(AUDIT_FLUSH_DEADLINE, self.inner.trajectories.flush()).await;
        match tokio::time::timeout(AUDIT_FLUSH_DEADLINE, self.inner.audit.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, "audit records could not be flushed at shutdown")
            }
            Err(_) => tracing::error!(
                queued = ?self.inner.audit.stats(),
                "audit records not flushed within the shutdown deadline (the database refuses writes)"
            ),
        }
        for arbiter in &self.inner.arbiters {
            arbiter.stop();
        }
    }

    /// Removes a terminated agent from the registry and its topics; returns its entry.
    pub(crate) fn deregister(&self, pid: Pid) -> Option<Arc<AgentEntry>> {
        let entry = self.inner.registry.remove(pid)?;
        for topic in entry.topics.lock().drain(..) {
            self.inner.topics.unsubscribe(&topic, pid);
        }
        Some(entry)
    }

    /// Called by a process once it has terminated for good.
    pub(crate) fn agent_exited(
        &self,
        pid: Pid,
        entry: Option<&AgentEntry>,
        shared: &ProcessShared,
        reason: &ExitReason,
    ) {
        if let Some(entry) = entry {
            self.record_agent(pid, entry, AgentState::Terminated.as_str(), Some(reason));
            let spec = &entry.durability.spec;
            if spec.mailbox && spec.type_name.is_some() && *reason != ExitReason::KernelShutdown {
                // Not resumed by the next start: it ended for good.
                let storage = self.inner.storage.clone();
                let why = reason.to_string();
                tokio::spawn(async move {
                    let key = pid.to_string();
                    if let Err(e) = crate::storage::durable::agents::set_status(
                        &storage,
                        &key,
                        "terminated",
                        Some(&why),
                    )
                    .await
                    {
                        tracing::error!(%pid, error = %e, "durable agent's exit not recorded; the next start resumes it");
                    }
                });
            }
        }
        self.forget_in_scheduler(pid);
        if let Some(pager) = self.inner.pager.get() {
            pager.forget(pid);
        }
        self.inner
            .events
            .emit_with(|| crate::events::KernelEvent::Exited {
                pid,
                reason: reason.clone(),
            });
        for child in shared.take_children() {
            if let Ok(entry) = self.inner.registry.entry(child) {
                entry.control.do_send(ProcessCommand::Stop {
                    deadline: entry.stop_timeout,
                    reason: ExitReason::ParentExited,
                });
            }
        }
    }
}
