//! Spawning agent processes.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use actix::Actor;
use chrono::Utc;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};
use tracing::debug;

use crate::agent::codec::Codec;
use crate::agent::process::{AgentProcess, Factory, ProcessParts};
use crate::agent::run_loop::panic_message;
use crate::agent::state::ProcessShared;
use crate::agent::{Agent, SpawnOptions};
use crate::error::SpawnError;
use crate::events::KernelEvent;
use crate::kernel::{AgentEntry, Kernel};
use crate::pid::Pid;
use crate::supervisor::SupervisorId;
use crate::supervisor::messages::{AddChild, ChildKey};

impl Kernel {
    /// Spawns an agent built by `factory` and returns its pid. The factory is kept: a
    /// supervisor restart builds a fresh agent from it under the same pid.
    ///
    /// The agent's actor starts on one of the kernel's arbiters (round robin); messages sent
    /// right after `spawn` returns are queued and handled after `on_start`.
    pub async fn spawn<A, F>(&self, factory: F, opts: SpawnOptions) -> Result<Pid, SpawnError>
    where
        A: Agent,
        F: Fn() -> A + Send + Sync + 'static,
    {
        self.spawn_linked(factory, opts, None).await
    }

    pub(crate) async fn spawn_linked<A, F>(
        &self,
        factory: F,
        opts: SpawnOptions,
        parent: Option<Pid>,
    ) -> Result<Pid, SpawnError>
    where
        A: Agent,
        F: Fn() -> A + Send + Sync + 'static,
    {
        let inner = &self.inner;
        if inner.shutting_down.load(Ordering::Acquire) {
            return Err(SpawnError::ShuttingDown);
        }
        if opts.priority > 100 {
            return Err(SpawnError::InvalidPriority(opts.priority));
        }
        let capacity = opts.mailbox.unwrap_or(inner.config.kernel.mailbox_capacity);
        if capacity == 0 {
            return Err(SpawnError::InvalidMailboxCapacity);
        }
        if let Some(q) = &opts.quota {
            q.validate("quota")
                .map_err(|e| SpawnError::InvalidQuota(e.to_string()))?;
        }
        let parent_shared = parent.and_then(|p| inner.registry.entry(p).ok());
        let supervisor_id = opts
            .supervisor
            .or(parent_shared.as_ref().map(|e| e.supervisor))
            .unwrap_or(SupervisorId::ROOT);
        let supervisor = self
            .supervisor_addr(supervisor_id)
            .ok_or(SpawnError::NoSuchSupervisor(supervisor_id))?;

        let factory: Factory<A> = Arc::new(factory);
        let agent = std::panic::catch_unwind(AssertUnwindSafe(|| factory()))
            .map_err(|p| SpawnError::FactoryPanicked(panic_message(&*p)))?;

        let pid = Pid::new();
        let name: Arc<str> = Arc::from(opts.name.as_str());
        let (tx, rx) = mpsc::channel(capacity);
        let (go, gate) = oneshot::channel();
        let shared = Arc::new(ProcessShared::new());
        let parts = ProcessParts {
            pid,
            name: name.clone(),
            priority: opts.priority,
            kernel: self.clone(),
            factory,
            agent,
            shared: shared.clone(),
            rx,
            supervisor: supervisor.clone().recipient(),
            gate,
        };
        let addr =
            AgentProcess::start_in_arbiter(self.next_arbiter(), move |_| AgentProcess::new(parts));
        let entry = inner.registry.insert(
            pid,
            AgentEntry {
                name: name.clone(),
                priority: opts.priority,
                mailbox: tx,
                capacity,
                overflow: opts.overflow.unwrap_or(inner.config.kernel.overflow),
                control: addr.clone().recipient(),
                codec: Codec::of::<A>(),
                shared,
                supervisor: supervisor_id,
                parent,
                restart: opts.restart,
                stop_timeout: opts
                    .stop_timeout
                    .unwrap_or(inner.config.kernel.stop_timeout()),
                created_at: Utc::now(),
                topics: Mutex::new(Vec::new()),
            },
        );
        self.record_agent(pid, &entry, "created", None);
        supervisor.do_send(AddChild {
            key: ChildKey::Agent(pid),
            restart: opts.restart,
            handle: addr.recipient(),
        });
        if let Some(p) = &parent_shared {
            p.shared.add_child(pid);
        }
        if let Some(quota) = opts.quota.clone() {
            // Before the agent runs, so its first slice request is already under it.
            if let Err(e) = inner.scheduler.set_quota(pid, Some(quota)).await {
                tracing::error!(%pid, error = %e, "per-spawn quota not applied (scheduler gone)");
            }
        }
        // Registered: the process may run now.
        let _ = go.send(());
        debug!(%pid, name = %name, supervisor = %supervisor_id, "spawned");
        inner.events.emit_with(|| KernelEvent::Spawned {
            pid,
            name: name.to_string(),
            supervisor: supervisor_id,
        });
        Ok(pid)
    }
}
