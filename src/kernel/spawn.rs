//! Spawning agent processes: the [`Spawn`] builder that `Kernel::spawn` and
//! `AgentContext::spawn_child` return.

use std::fmt;
use std::future::IntoFuture;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use actix::Actor;
use chrono::Utc;
use futures::FutureExt;
use futures::future::BoxFuture;
use parking_lot::Mutex;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;
use tracing::debug;

use crate::agent::durable::{Durability, Restart};
use crate::agent::process::{AgentProcess, Factory, Me, ProcessParts};
use crate::agent::run_loop::panic_message;
use crate::agent::state::ProcessShared;
use crate::agent::{Agent, SpawnOptions};
use crate::checkpoint::store::Lineage;
use crate::error::SpawnError;
use crate::events::KernelEvent;
use crate::ipc::AgentRef;
use crate::ipc::codec::JsonCodec;
use crate::ipc::mailbox::{Mailbox, MailboxParts};
use crate::ipc::queue;
use crate::kernel::{AgentEntry, Kernel};
use crate::pid::Pid;
use crate::supervisor::SupervisorId;
use crate::supervisor::messages::{AddChild, ChildKey};

/// A spawn being prepared: await it for the agent's [`AgentRef`].
///
/// Returned by [`Kernel::spawn`] and [`crate::AgentContext::spawn_child`]. The factory is
/// kept: a supervisor restart builds a fresh agent from it under the same pid. The agent's
/// actor starts on one of the kernel's arbiters (round robin); messages sent right after the
/// spawn resolves are queued and handled after `on_start`.
///
/// ```no_run
/// use agent_os_kernel::prelude::*;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Default)]
/// struct Counter { total: i64 }
///
/// #[derive(Serialize, Deserialize)]
/// enum CounterMsg { Add(i64), Get }
///
/// impl Agent for Counter {
///     type Msg = CounterMsg;
///     type Reply = i64;
///     async fn handle(&mut self, msg: CounterMsg, _ctx: &mut AgentContext) -> Result<i64, AgentError> {
///         if let CounterMsg::Add(n) = msg { self.total += n; }
///         Ok(self.total)
///     }
/// }
///
/// # async fn demo(kernel: Kernel) -> Result<(), Box<dyn std::error::Error>> {
/// // Typed only:
/// let a = kernel.spawn(Counter::default, SpawnOptions::new("a")).await?;
/// // Typed, and reachable as JSON by pid (envelope, CLI, HTTP API):
/// let b = kernel.spawn(Counter::default, SpawnOptions::new("b")).json().await?;
/// let total = kernel.ask_json(b.pid(), serde_json::json!({"Add": 2}), std::time::Duration::from_secs(1)).await?;
/// # Ok(()) }
/// ```
#[must_use = "a spawn does nothing unless it is awaited"]
pub struct Spawn<'k, A: Agent> {
    kernel: &'k Kernel,
    factory: Factory<A>,
    opts: SpawnOptions,
    parent: Option<Pid>,
    json: Option<JsonCodec<A>>,
    durable: Option<crate::ipc::mailbox::EncodeMsg<A>>,
    type_name: Option<Arc<str>>,
    resume: Option<Resume>,
}

/// Where a spawned agent starts from: an existing pid, a checkpoint, durable messages.
pub(crate) struct Resume {
    pub(crate) pid: Pid,
    pub(crate) restart: Restart,
    pub(crate) lineage: Lineage,
}

impl<'k, A: Agent> Spawn<'k, A> {
    pub(crate) fn new(
        kernel: &'k Kernel,
        factory: impl Fn() -> A + Send + Sync + 'static,
        opts: SpawnOptions,
        parent: Option<Pid>,
    ) -> Self {
        Spawn {
            kernel,
            factory: Arc::new(factory),
            opts,
            parent,
            json: None,
            durable: None,
            type_name: None,
            resume: None,
        }
    }

    /// Builds from a shared factory (a registered type, a fork).
    pub(crate) fn shared(kernel: &'k Kernel, factory: Factory<A>, opts: SpawnOptions) -> Self {
        Spawn {
            kernel,
            factory,
            opts,
            parent: None,
            json: None,
            durable: None,
            type_name: None,
            resume: None,
        }
    }

    /// Gives the agent a **durable mailbox** (and JSON access): every message is persisted
    /// before the sender's `tell`/`ask` returns, delivered at least once with a delivery id
    /// ([`crate::AgentContext::delivery_id`]), and acknowledged when the checkpoint of the
    /// step that handled it commits; after a crash the unacknowledged ones are redelivered
    /// and the LLM and [`crate::AgentContext::journaled`] calls of a step that runs again are
    /// answered from the journal. Checkpoints every step unless
    /// [`SpawnOptions::checkpoint`] says otherwise.
    ///
    /// To also be **resumed after a kernel restart**, spawn it through its registered type
    /// ([`Kernel::spawn_durable`]): a resume needs a factory by name.
    pub fn durable(mut self) -> Self
    where
        A::Msg: Serialize + DeserializeOwned,
        A::Reply: Serialize,
    {
        self.json = Some(JsonCodec::of());
        self.durable = Some(crate::ipc::mailbox::encode_msg::<A>);
        self.opts.durable = true;
        self
    }

    /// Records the registered type this agent was spawned as.
    pub(crate) fn registered(mut self, name: Arc<str>) -> Self {
        self.type_name = Some(name);
        self
    }

    /// Starts the agent under an existing pid, from a checkpoint and/or durable messages.
    pub(crate) fn resume(mut self, resume: Resume) -> Self {
        self.resume = Some(resume);
        self
    }

    /// Opens the agent to JSON by pid: [`Kernel::send_json`], [`Kernel::ask_json`],
    /// [`Kernel::deliver`], [`Kernel::publish_json`] (and later the HTTP API, the CLI and
    /// durable mailboxes). Only for agents whose message type is `Deserialize` and whose reply
    /// type is `Serialize`; JSON sent to an agent spawned without it is
    /// [`crate::IpcError::NoJsonAccess`].
    pub fn json(mut self) -> Self
    where
        A::Msg: DeserializeOwned,
        A::Reply: Serialize,
    {
        self.json = Some(JsonCodec::of());
        self
    }
}

impl<'k, A: Agent> IntoFuture for Spawn<'k, A> {
    type Output = Result<AgentRef<A>, SpawnError>;
    type IntoFuture = BoxFuture<'k, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        async move { self.kernel.spawn_now(self).await }.boxed()
    }
}

impl<A: Agent> fmt::Debug for Spawn<'_, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spawn")
            .field("agent", &std::any::type_name::<A>())
            .field("opts", &self.opts)
            .field("parent", &self.parent)
            .field("json", &self.json.is_some())
            .finish()
    }
}

impl Kernel {
    /// Spawns an agent built by `factory`; await the returned [`Spawn`] for its typed handle
    /// (call [`Spawn::json`] first to open it to JSON).
    pub fn spawn<A, F>(&self, factory: F, opts: SpawnOptions) -> Spawn<'_, A>
    where
        A: Agent,
        F: Fn() -> A + Send + Sync + 'static,
    {
        Spawn::new(self, factory, opts, None)
    }

    async fn spawn_now<A: Agent>(&self, spawn: Spawn<'_, A>) -> Result<AgentRef<A>, SpawnError> {
        let Spawn {
            factory,
            opts,
            parent,
            json,
            durable,
            type_name,
            resume,
            ..
        } = spawn;
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
        if let Some((max, within)) = opts.restart_limit
            && (max == 0 || within.is_zero())
        {
            return Err(SpawnError::InvalidRestartLimit(format!(
                "{max} restarts within {within:?}: use at least 1 restart within a non-zero period (or restart type `Temporary` for none)"
            )));
        }
        let parent_entry = parent.and_then(|p| inner.registry.entry(p).ok());
        let supervisor_id = opts
            .supervisor
            .or(parent_entry.as_ref().map(|e| e.supervisor))
            .unwrap_or(SupervisorId::ROOT);
        let supervisor = self
            .supervisor_addr(supervisor_id)
            .ok_or(SpawnError::NoSuchSupervisor(supervisor_id))?;

        let spec = self.durable_spec(&opts, durable.is_some(), type_name.clone())?;
        let policy = match &opts.policy {
            Some(own) => {
                if let Some((key, reason)) = own.problems().into_iter().next() {
                    return Err(SpawnError::Durability(format!("policy: {key} {reason}")));
                }
                Arc::new(own.clone())
            }
            None => Arc::clone(&inner.default_policy),
        };
        let agent = std::panic::catch_unwind(AssertUnwindSafe(|| factory()))
            .map_err(|p| SpawnError::FactoryPanicked(panic_message(&*p)))?;

        let pid = resume.as_ref().map_or_else(Pid::new, |r| r.pid);
        if inner.registry.entry(pid).is_ok() {
            return Err(SpawnError::Durability(format!(
                "agent {pid} is already running"
            )));
        }
        let durability = Arc::new(match resume {
            Some(r) => Durability::new(spec, r.lineage, Some(r.restart)),
            None => Durability::new(spec, Lineage::default(), None),
        });
        if let (Some(t), true) = (&type_name, durable.is_some()) {
            // Recorded before it runs: a crash at any moment after this spawn returns finds
            // it on the next start.
            self.record_durable(pid, t, &opts).await?;
        }
        let name: Arc<str> = Arc::from(opts.name.as_str());
        let (tx, rx) = queue::bounded(capacity);
        let (go, gate) = oneshot::channel();
        let shared = Arc::new(ProcessShared::new());
        let me: Me<A> = Arc::new(OnceLock::new());
        let stop_timeout = opts
            .stop_timeout
            .unwrap_or(inner.config.kernel.stop_timeout());
        let parts = ProcessParts {
            pid,
            name: name.clone(),
            priority: opts.priority,
            kernel: self.clone(),
            factory,
            agent,
            shared: shared.clone(),
            rx,
            me: me.clone(),
            supervisor: supervisor.clone().recipient(),
            gate,
            stop_timeout,
            durable: durability.clone(),
            policy: policy.clone(),
        };
        let addr =
            AgentProcess::start_in_arbiter(self.next_arbiter(), move |_| AgentProcess::new(parts));
        let overflow = opts.overflow.unwrap_or(inner.config.kernel.overflow);
        let mailbox = Arc::new(Mailbox::new(MailboxParts {
            pid,
            name: name.clone(),
            tx,
            overflow,
            closing: inner.shutting_down.clone(),
            ask_timeout: inner.config.kernel.ask_timeout(),
            json,
            bridge: addr.clone().recipient(),
            durable: durable.map(|encode| crate::ipc::mailbox::DurableLane {
                storage: inner.storage.clone(),
                encode,
            }),
        }));
        let _ = me.set(mailbox.clone());
        let entry = inner.registry.insert(
            pid,
            AgentEntry {
                name: name.clone(),
                priority: opts.priority,
                endpoint: mailbox.clone(),
                capacity,
                overflow,
                control: addr.clone().recipient(),
                shared,
                supervisor: supervisor_id,
                parent,
                restart: opts.restart,
                stop_timeout,
                created_at: Utc::now(),
                topics: Mutex::new(Vec::new()),
                durability,
                policy,
            },
        );
        self.record_agent(pid, &entry, "created", None);
        supervisor.do_send(AddChild {
            key: ChildKey::Agent(pid),
            restart: opts.restart,
            limit: opts.restart_limit,
            handle: addr.recipient(),
        });
        if let Some(p) = &parent_entry {
            p.shared.add_child(pid);
        }
        if let Some(budget) = opts.context_budget {
            // Before the agent runs, so its first page is already under it.
            self_pager_budget(inner, pid, budget);
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
        Ok(AgentRef::new(mailbox))
    }
}

fn self_pager_budget(inner: &crate::kernel::KernelInner, pid: Pid, budget: u64) {
    if let Some(pager) = inner.pager.get() {
        pager.preset_budget(pid, budget);
    }
}
