//! Agent types registered by name (name → factory): what the kernel needs to spawn an agent
//! from JSON options, to resume durable agents at start, and to restore or fork checkpoints
//! of agents that no longer run.

use std::any::Any;
use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::agent::durable::Restart;
use crate::agent::process::Factory;
use crate::agent::{Agent, SpawnOptions};
use crate::checkpoint::store::{Lineage, load_latest};
use crate::error::SpawnError;
use crate::events::KernelEvent;
use crate::ipc::AgentRef;
use crate::kernel::Kernel;
use crate::kernel::spawn::{Resume, Spawn};
use crate::pid::Pid;
use crate::storage::durable::agents as agent_rows;
use crate::storage::durable::mailbox as mailbox_rows;

/// A registered agent type, without its Rust type.
pub(crate) trait AgentType: Send + Sync + 'static {
    fn as_any(&self) -> &dyn Any;
    fn spawn<'a>(
        &'a self,
        kernel: &'a Kernel,
        opts: SpawnOptions,
        resume: Option<Resume>,
    ) -> BoxFuture<'a, Result<Pid, SpawnError>>;
}

struct Registered<A: Agent> {
    name: Arc<str>,
    factory: Factory<A>,
}

impl<A> AgentType for Registered<A>
where
    A: Agent,
    A::Msg: Serialize + DeserializeOwned,
    A::Reply: Serialize,
{
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn spawn<'a>(
        &'a self,
        kernel: &'a Kernel,
        opts: SpawnOptions,
        resume: Option<Resume>,
    ) -> BoxFuture<'a, Result<Pid, SpawnError>> {
        async move {
            let durable = opts.durable;
            let mut spawn =
                Spawn::shared(kernel, self.factory.clone(), opts).registered(self.name.clone());
            spawn = if durable {
                spawn.durable()
            } else {
                spawn.json()
            };
            if let Some(r) = resume {
                spawn = spawn.resume(r);
            }
            spawn.await.map(|r| r.pid())
        }
        .boxed()
    }
}

/// Registered types by name.
pub(crate) type AgentTypes = dashmap::DashMap<Arc<str>, Arc<dyn AgentType>>;

/// Builds a registration (for [`crate::KernelBuilder::agent_type`]).
pub(crate) fn registration<A, F>(name: &str, factory: F) -> (Arc<str>, Arc<dyn AgentType>)
where
    A: Agent,
    A::Msg: Serialize + DeserializeOwned,
    A::Reply: Serialize,
    F: Fn() -> A + Send + Sync + 'static,
{
    let name: Arc<str> = Arc::from(name);
    let t = Registered {
        name: name.clone(),
        factory: Arc::new(factory),
    };
    (name, Arc::new(t))
}

impl Kernel {
    fn registered_type(&self, name: &str) -> Result<Arc<dyn AgentType>, SpawnError> {
        self.inner
            .types
            .get(name)
            .map(|t| t.value().clone())
            .ok_or_else(|| SpawnError::UnknownAgentType(name.to_string()))
    }

    /// The names of the registered agent types.
    pub fn agent_types(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .inner
            .types
            .iter()
            .map(|e| e.key().to_string())
            .collect();
        names.sort();
        names
    }

    /// Spawns a **durable** agent of a registered type and returns its typed handle: a
    /// durable mailbox, a checkpoint every step (unless `opts` says otherwise), crash-restart
    /// from its last checkpoint, and — because the kernel can build it again by name — it is
    /// resumed by the next kernel started on the same storage if this process dies.
    ///
    /// ```no_run
    /// use agent_os_kernel::prelude::*;
    /// use serde::{Deserialize, Serialize};
    ///
    /// #[derive(Default, Serialize, Deserialize)]
    /// struct Tally { total: i64 }
    ///
    /// impl Agent for Tally {
    ///     type Msg = i64;
    ///     type Reply = i64;
    ///     async fn handle(&mut self, n: i64, _ctx: &mut AgentContext) -> Result<i64, AgentError> {
    ///         self.total += n;
    ///         Ok(self.total)
    ///     }
    ///     fn snapshot(&self) -> Result<Option<serde_json::Value>, AgentError> {
    ///         AgentContext::to_state(self).map(Some)
    ///     }
    ///     fn restore(&mut self, state: serde_json::Value) -> Result<(), AgentError> {
    ///         *self = serde_json::from_value(state).map_err(AgentError::other)?;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let kernel = Kernel::builder().agent_type("tally", Tally::default).build().await?;
    /// let tally = kernel.spawn_durable::<Tally>("tally", SpawnOptions::new("t1")).await?;
    /// tally.tell(5).await?; // persisted before it returns
    /// # Ok(()) }
    /// ```
    pub async fn spawn_durable<A: Agent>(
        &self,
        type_name: &str,
        opts: SpawnOptions,
    ) -> Result<AgentRef<A>, SpawnError> {
        let t = self.registered_type(type_name)?;
        if t.as_any().downcast_ref::<Registered<A>>().is_none() {
            return Err(SpawnError::Durability(format!(
                "agent type `{type_name}` is not a `{}`",
                std::any::type_name::<A>()
            )));
        }
        let pid = t.spawn(self, opts.durable(true), None).await?;
        self.agent_ref::<A>(pid)
            .map_err(|e| SpawnError::Durability(e.to_string()))
    }

    /// Spawns an agent of a registered type by name, with JSON access (a durable one if
    /// `opts` says [`SpawnOptions::durable`]); the dynamic path of the HTTP API and the CLI.
    pub async fn spawn_registered(
        &self,
        type_name: &str,
        opts: SpawnOptions,
    ) -> Result<Pid, SpawnError> {
        self.registered_type(type_name)?
            .spawn(self, opts, None)
            .await
    }

    pub(crate) async fn spawn_type_resumed(
        &self,
        type_name: &str,
        opts: SpawnOptions,
        resume: Resume,
    ) -> Result<Pid, SpawnError> {
        self.registered_type(type_name)?
            .spawn(self, opts, Some(resume))
            .await
    }

    /// Resumes every durable agent that was running when the kernel using this storage last
    /// stopped (crashed, was killed, or shut down): each is spawned again under its pid from
    /// its registered type, restored from its last checkpoint, and handed its
    /// unacknowledged durable messages first. Runs at build when `durability.resume_on_start`
    /// is set; returns the pids resumed. An agent whose type is not registered, or whose
    /// checkpoint cannot be read, is reported ([`KernelEvent::ResumeFailed`]) and left for a
    /// later start.
    pub async fn resume_agents(&self) -> Vec<Pid> {
        let storage = self.storage().clone();
        let rows = match agent_rows::running(&storage).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "durable agents could not be listed; none resumed");
                return Vec::new();
            }
        };
        let mut resumed = Vec::new();
        for row in rows {
            let Ok(pid) = row.pid.parse::<Pid>() else {
                tracing::error!(pid = %row.pid, "a durable agent row has a bad pid");
                continue;
            };
            if self.inner.registry.entry(pid).is_ok() {
                continue;
            }
            match self.resume_one(pid, &row).await {
                Ok(()) => resumed.push(pid),
                Err(reason) => {
                    tracing::error!(%pid, %reason, "durable agent not resumed");
                    self.events_bus()
                        .emit_with(|| KernelEvent::ResumeFailed { pid, reason });
                }
            }
        }
        if !resumed.is_empty() {
            tracing::info!(agents = resumed.len(), "durable agents resumed");
        }
        resumed
    }

    async fn resume_one(&self, pid: Pid, row: &agent_rows::DurableAgentRow) -> Result<(), String> {
        let opts = SpawnOptions::from_json(&row.options)
            .map_err(|e| format!("its stored options: {e}"))?;
        let storage = self.storage();
        let (image, lineage, checkpoint) = match load_latest(storage, pid).await {
            Ok(Some((image, lineage))) => {
                let id = lineage.last_id.clone();
                (Some(image), lineage, id)
            }
            Ok(None) => (None, Lineage::default(), None),
            Err(e) => return Err(e.to_string()),
        };
        let redeliver = mailbox_rows::pending(storage, &pid.to_string())
            .await
            .map_err(|e| e.to_string())?;
        let mut lineage = lineage;
        lineage.next_sequence = lineage.next_sequence.max(1);
        let resume = Resume {
            pid,
            restart: Restart {
                image,
                reset_pages: true,
                checkpoint,
                redeliver,
                redeliver_ids: Vec::new(),
            },
            lineage,
        };
        self.spawn_type_resumed(&row.type_name, opts, resume)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
