//! The kernel's durability syscalls: checkpoint, list, restore (in place or into a stopped
//! agent's pid), fork, delete, garbage collection; and the durability settings of a spawn.

use std::sync::Arc;

use crate::agent::SpawnOptions;
use crate::agent::durable::{DurableSpec, Restart};
use crate::agent::messages::ProcessCommand;
use crate::checkpoint::retention::{collect_blobs, retain};
use crate::checkpoint::store::{self, CheckpointInfo, Lineage};
use crate::checkpoint::{CheckpointError, GcReport};
use crate::error::SpawnError;
use crate::kernel::Kernel;
use crate::kernel::spawn::Resume;
use crate::pid::Pid;
use crate::storage::durable::agents::{self as agent_rows, DurableAgentRow};
use crate::storage::durable::checkpoints as rows;

impl Kernel {
    /// Takes a checkpoint of a running agent now, between two messages (it waits for the
    /// message being handled), and waits until it is committed. Works whatever the agent's
    /// policy; a durable agent's handled messages are acknowledged with it.
    pub async fn checkpoint(&self, pid: Pid) -> Result<CheckpointInfo, CheckpointError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let entry = self
            .inner
            .registry
            .entry(pid)
            .map_err(|_| CheckpointError::NotRunning(pid))?;
        entry.control.do_send(ProcessCommand::Checkpoint(tx));
        rx.await.map_err(|_| CheckpointError::NotRunning(pid))?
    }

    /// What a running agent used through `ctx.llm` over its life — calls, tokens, cost —
    /// carried across restarts and resumes by its checkpoints (the provider ledger counts
    /// per process).
    pub fn agent_usage(&self, pid: Pid) -> Result<crate::checkpoint::AgentUsage, crate::IpcError> {
        let entry = self.inner.registry.entry(pid)?;
        let usage = entry.durability.state.lock().usage;
        Ok(usage)
    }

    /// Every stored checkpoint of `pid` (running or not), oldest first.
    pub async fn checkpoints(&self, pid: Pid) -> Result<Vec<CheckpointInfo>, CheckpointError> {
        rows::list(self.storage(), &pid.to_string())
            .await?
            .iter()
            .map(CheckpointInfo::of)
            .collect()
    }

    /// Restores a checkpoint into its own agent: a running agent is rebuilt from its factory
    /// between two messages and restored (state, pages, step, task and usage counters); an
    /// agent that is not running is spawned again under the same pid from its registered
    /// type. Later checkpoints stay listed; the next one is taken over the restored one.
    /// Every body of the chain is verified first ([`CheckpointError::Corrupt`]).
    pub async fn restore_checkpoint(&self, id: &str) -> Result<Pid, CheckpointError> {
        let (meta, image, lineage) = store::load_by_id(self.storage(), id).await?;
        let pid: Pid = meta.pid.parse().map_err(|e| CheckpointError::Invalid {
            id: id.to_string(),
            reason: format!("its pid: {e}"),
        })?;
        let plan = Restart {
            image: Some(image),
            reset_pages: true,
            checkpoint: Some(id.to_string()),
            ..Restart::default()
        };
        if let Ok(entry) = self.inner.registry.entry(pid) {
            let (tx, rx) = tokio::sync::oneshot::channel();
            entry.control.do_send(ProcessCommand::Restore(
                Box::new(plan),
                Box::new(lineage),
                tx,
            ));
            rx.await.map_err(|_| CheckpointError::NotRunning(pid))??;
            return Ok(pid);
        }
        let (type_name, opts) = self.type_and_options(pid, &meta.agent_type, id).await?;
        let resume = Resume {
            pid,
            restart: plan,
            lineage,
        };
        self.spawn_type_resumed(&type_name, opts, resume).await?;
        Ok(pid)
    }

    /// Starts a new agent (new pid) from a checkpoint of a registered agent type: its state,
    /// a copy of its pages, its counters. `name` defaults to the original's name + `-fork`.
    pub async fn fork_checkpoint(
        &self,
        id: &str,
        name: Option<&str>,
    ) -> Result<Pid, CheckpointError> {
        let (meta, image, _) = store::load_by_id(self.storage(), id).await?;
        let source: Pid = meta.pid.parse().map_err(|e| CheckpointError::Invalid {
            id: id.to_string(),
            reason: format!("its pid: {e}"),
        })?;
        let (type_name, mut opts) = self.type_and_options(source, &meta.agent_type, id).await?;
        opts.name = name.map_or_else(|| format!("{}-fork", opts.name), str::to_string);
        let pid = Pid::new();
        self.pager().copy_to(pid, &image.pages).await?;
        let mut image = image;
        // The copy's pages have new ids: the fork starts from its own stored table.
        image.pages = Default::default();
        let plan = Restart {
            image: Some(image),
            reset_pages: false,
            checkpoint: Some(id.to_string()),
            ..Restart::default()
        };
        let resume = Resume {
            pid,
            restart: plan,
            lineage: Lineage::default(),
        };
        self.spawn_type_resumed(&type_name, opts, resume).await?;
        Ok(pid)
    }

    /// Deletes one checkpoint (refused while other checkpoints are deltas over it), then
    /// the page blobs nothing refers to any more.
    pub async fn delete_checkpoint(&self, id: &str) -> Result<GcReport, CheckpointError> {
        let storage = self.storage();
        let row = rows::get(storage, id)
            .await?
            .ok_or_else(|| CheckpointError::NotFound(id.to_string()))?;
        let dependents = rows::children(storage, id).await?;
        if !dependents.is_empty() {
            return Err(CheckpointError::HasDependents {
                id: id.to_string(),
                dependents,
            });
        }
        let mut report = GcReport {
            checkpoints_deleted: rows::delete(storage, &[id.to_string()]).await?,
            checkpoint_bytes_freed: row.meta.bytes,
            ..GcReport::default()
        };
        report.merge(collect_blobs(storage).await?);
        Ok(report)
    }

    /// Applies `durability.keep_last` / `max_age_secs` to `pid`'s checkpoints now and
    /// collects the page blobs nothing refers to any more. (It also runs on its own after
    /// every full checkpoint.)
    pub async fn collect_garbage(&self, pid: Pid) -> Result<GcReport, CheckpointError> {
        let cfg = &self.config().durability;
        let acked = std::time::Duration::from_secs(cfg.acked_retention_secs);
        let mut report = retain(self.storage(), pid, cfg.keep_last, cfg.max_age(), acked).await?;
        report.merge(collect_blobs(self.storage()).await?);
        Ok(report)
    }

    /// Waits until every write-behind checkpoint queued so far is committed.
    pub async fn flush_checkpoints(&self) {
        self.inner.checkpoint_writer.flush().await;
    }

    pub(crate) fn checkpoint_writer(&self) -> &crate::checkpoint::writer::CheckpointWriter {
        &self.inner.checkpoint_writer
    }

    /// The registered type (and stored options) to respawn an agent from a checkpoint.
    async fn type_and_options(
        &self,
        pid: Pid,
        agent_type: &Option<String>,
        id: &str,
    ) -> Result<(String, SpawnOptions), CheckpointError> {
        let row = agent_rows::get(self.storage(), &pid.to_string()).await?;
        let type_name = row
            .as_ref()
            .map(|r| r.type_name.clone())
            .or_else(|| agent_type.clone())
            .unwrap_or_default();
        if !self.inner.types.contains_key(type_name.as_str()) {
            return Err(CheckpointError::NoFactory {
                id: id.to_string(),
                type_name: if type_name.is_empty() {
                    "none recorded".into()
                } else {
                    type_name
                },
            });
        }
        let opts = row
            .and_then(|r| SpawnOptions::from_json(&r.options).ok())
            .unwrap_or_else(|| SpawnOptions::new(type_name.clone()));
        Ok((type_name, opts))
    }

    /// The durability settings of a spawn.
    pub(crate) fn durable_spec(
        &self,
        opts: &SpawnOptions,
        mailbox: bool,
        type_name: Option<Arc<str>>,
    ) -> Result<DurableSpec, SpawnError> {
        let cfg = &self.config().durability;
        if opts.durable && !mailbox {
            return Err(SpawnError::Durability(
                "a durable agent needs serde messages: spawn it with `.durable()` or through its registered type (Kernel::spawn_durable)".into(),
            ));
        }
        let policy = opts.checkpoint.unwrap_or(if mailbox {
            cfg.durable_checkpoint
        } else {
            cfg.checkpoint
        });
        if let Some(reason) = policy.problem() {
            return Err(SpawnError::Durability(reason.to_string()));
        }
        Ok(DurableSpec {
            policy,
            write: opts.write_mode.unwrap_or(cfg.write),
            full_every: cfg.full_every.max(1),
            keep_last: cfg.keep_last,
            max_age: cfg.max_age(),
            limits: opts.limits.unwrap_or(cfg.limits),
            type_name,
            mailbox,
            max_deliveries: cfg.max_deliveries.max(1),
            acked_retention: std::time::Duration::from_secs(cfg.acked_retention_secs),
        })
    }

    /// Records a durable agent of a registered type, so the next kernel start resumes it.
    pub(crate) async fn record_durable(
        &self,
        pid: Pid,
        type_name: &str,
        opts: &SpawnOptions,
    ) -> Result<(), SpawnError> {
        let now = chrono::Utc::now();
        let row = DurableAgentRow {
            pid: pid.to_string(),
            type_name: type_name.to_string(),
            name: opts.name.clone(),
            options: opts.to_json(),
            status: "running".into(),
            exit_reason: None,
            created_at: now,
            updated_at: now,
        };
        agent_rows::upsert(self.storage(), &row)
            .await
            .map_err(|e| SpawnError::Storage(e.to_string()))
    }
}
