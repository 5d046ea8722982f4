//! The agents-registry repository: durable rows of [`AgentRecord`], keyed by pid.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue, ConnectionTrait, EntityTrait, QueryOrder, TransactionTrait};
use serde::{Deserialize, Serialize};

use crate::Pid;
use crate::storage::entities::agent;
use crate::storage::{Backend, Storage, StorageError};

/// Columns of `agents` (bind parameters per row in a multi-row insert).
const AGENT_COLUMNS: usize = 12;
/// Bind-parameter limit per statement: SQLite ≥ 3.32 allows 32 766; Postgres 65 535. Kept
/// below both so the same chunking is safe on either backend.
const MAX_BIND_PARAMS: usize = 32_000;
/// Rows per multi-row `INSERT … ON CONFLICT` statement.
pub const UPSERT_CHUNK_ROWS: usize = MAX_BIND_PARAMS / AGENT_COLUMNS;

/// The registry row of one agent, as the kernel sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentRecord {
    /// The agent's pid.
    pub pid: Pid,
    /// Human-readable name.
    pub name: String,
    /// Lifecycle state, lower-case (`created`, `running`, `terminated`, …).
    pub state: String,
    /// Scheduling priority, 0–100.
    pub priority: u8,
    /// Restart type (`permanent`, `transient`, `temporary`).
    pub restart_policy: String,
    /// The supervisor it runs under.
    pub supervisor_id: Option<String>,
    /// The agent that spawned it.
    pub parent_pid: Option<Pid>,
    /// Restarts so far.
    pub restarts: u32,
    /// Why it exited.
    pub exit_reason: Option<String>,
    /// Spawn spec (factory, config) as JSON.
    pub spec: serde_json::Value,
    /// First registration; kept by upserts of an existing pid.
    pub created_at: DateTime<Utc>,
    /// Time of this version of the record.
    pub updated_at: DateTime<Utc>,
}

impl AgentRecord {
    /// A fresh record in state `created`, priority 50, restart policy `permanent`.
    pub fn new(pid: Pid, name: impl Into<String>) -> Self {
        let now = Utc::now();
        AgentRecord {
            pid,
            name: name.into(),
            state: "created".to_string(),
            priority: 50,
            restart_policy: "permanent".to_string(),
            supervisor_id: None,
            parent_pid: None,
            restarts: 0,
            exit_reason: None,
            spec: serde_json::Value::Object(Default::default()),
            created_at: now,
            updated_at: now,
        }
    }

    fn to_active_model(&self) -> Result<agent::ActiveModel, StorageError> {
        if self.priority > 100 {
            return Err(StorageError::InvalidInput {
                what: "agent priority",
                reason: format!("{} is outside 0..=100 (pid {})", self.priority, self.pid),
            });
        }
        let restarts = i32::try_from(self.restarts).map_err(|_| StorageError::InvalidInput {
            what: "agent restarts",
            reason: format!(
                "{} does not fit the column (pid {})",
                self.restarts, self.pid
            ),
        })?;
        Ok(agent::ActiveModel {
            pid: ActiveValue::Set(self.pid.to_string()),
            name: ActiveValue::Set(self.name.clone()),
            state: ActiveValue::Set(self.state.clone()),
            priority: ActiveValue::Set(i32::from(self.priority)),
            restart_policy: ActiveValue::Set(self.restart_policy.clone()),
            supervisor_id: ActiveValue::Set(self.supervisor_id.clone()),
            parent_pid: ActiveValue::Set(self.parent_pid.map(|p| p.to_string())),
            restarts: ActiveValue::Set(restarts),
            exit_reason: ActiveValue::Set(self.exit_reason.clone()),
            spec: ActiveValue::Set(self.spec.clone()),
            created_at: ActiveValue::Set(self.created_at),
            updated_at: ActiveValue::Set(self.updated_at),
        })
    }

    fn from_model(m: agent::Model, url: &str) -> Result<Self, StorageError> {
        let corrupt = |what: &str, reason: String| StorageError::Corrupt {
            url: url.to_string(),
            what: format!("agents.{what} of pid {}", m.pid),
            reason,
        };
        let pid = m
            .pid
            .parse::<Pid>()
            .map_err(|e| corrupt("pid", e.to_string()))?;
        let parent_pid = match &m.parent_pid {
            Some(p) => Some(
                p.parse::<Pid>()
                    .map_err(|e| corrupt("parent_pid", e.to_string()))?,
            ),
            None => None,
        };
        let priority = u8::try_from(m.priority)
            .ok()
            .filter(|p| *p <= 100)
            .ok_or_else(|| corrupt("priority", format!("{} is outside 0..=100", m.priority)))?;
        let restarts = u32::try_from(m.restarts)
            .map_err(|_| corrupt("restarts", format!("{} is negative", m.restarts)))?;
        Ok(AgentRecord {
            pid,
            name: m.name,
            state: m.state,
            priority,
            restart_policy: m.restart_policy,
            supervisor_id: m.supervisor_id,
            parent_pid,
            restarts,
            exit_reason: m.exit_reason,
            spec: m.spec,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

/// Reads and writes the agents registry.
#[derive(Clone, Debug)]
pub struct AgentRegistry {
    storage: Storage,
}

impl AgentRegistry {
    /// The registry of `storage`.
    pub fn new(storage: Storage) -> Self {
        AgentRegistry { storage }
    }

    /// Inserts or updates `records` in one transaction, with multi-row
    /// `INSERT … ON CONFLICT(pid) DO UPDATE` statements of at most [`UPSERT_CHUNK_ROWS`] rows.
    /// An existing row keeps its `created_at`. If a pid occurs twice, the later record wins.
    pub async fn upsert_batch(&self, records: &[AgentRecord]) -> Result<usize, StorageError> {
        if records.is_empty() {
            return Ok(0);
        }
        // Within one statement Postgres refuses to touch the same row twice: keep the last.
        let records = last_per_pid(records);
        let count = records.len();
        let mut models = Vec::with_capacity(count);
        for record in records {
            models.push(record.to_active_model()?);
        }
        let txn = self.storage.connection().begin().await.map_err(|e| {
            self.storage
                .query_error("beginning a registry transaction", e)
        })?;
        let mut models = models.into_iter().peekable();
        while models.peek().is_some() {
            let chunk: Vec<_> = models.by_ref().take(UPSERT_CHUNK_ROWS).collect();
            upsert_chunk(&txn, chunk)
                .await
                .map_err(|e| self.storage.query_error("upserting agent records", e))?;
        }
        txn.commit()
            .await
            .map_err(|e| self.storage.query_error("committing agent records", e))?;
        Ok(count)
    }

    /// The record of `pid`, if registered.
    pub async fn get(&self, pid: Pid) -> Result<Option<AgentRecord>, StorageError> {
        let model = agent::Entity::find_by_id(pid.to_string())
            .one(self.storage.connection())
            .await
            .map_err(|e| self.storage.query_error("reading an agent record", e))?;
        model
            .map(|m| AgentRecord::from_model(m, self.storage.url()))
            .transpose()
    }

    /// Every registered agent, ordered by pid (pids are UUIDv7, so this is spawn order).
    pub async fn list(&self) -> Result<Vec<AgentRecord>, StorageError> {
        let models = agent::Entity::find()
            .order_by_asc(agent::Column::Pid)
            .all(self.storage.connection())
            .await
            .map_err(|e| self.storage.query_error("listing agent records", e))?;
        models
            .into_iter()
            .map(|m| AgentRecord::from_model(m, self.storage.url()))
            .collect()
    }

    /// The backend, for callers that tune batch sizes.
    pub fn backend(&self) -> Backend {
        self.storage.backend()
    }
}

/// Keeps the last record of each pid, preserving first-seen order.
fn last_per_pid(records: &[AgentRecord]) -> Vec<&AgentRecord> {
    let mut index = std::collections::HashMap::with_capacity(records.len());
    let mut out: Vec<&AgentRecord> = Vec::with_capacity(records.len());
    for record in records {
        match index.get(&record.pid) {
            Some(&i) => out[i] = record,
            None => {
                index.insert(record.pid, out.len());
                out.push(record);
            }
        }
    }
    out
}

async fn upsert_chunk<C: ConnectionTrait>(
    conn: &C,
    chunk: Vec<agent::ActiveModel>,
) -> Result<(), sea_orm::DbErr> {
    use agent::Column as C;
    agent::Entity::insert_many(chunk)
        .on_conflict(
            OnConflict::column(C::Pid)
                .update_columns([
                    C::Name,
                    C::State,
                    C::Priority,
                    C::RestartPolicy,
                    C::SupervisorId,
                    C::ParentPid,
                    C::Restarts,
                    C::ExitReason,
                    C::Spec,
                    C::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await
        .map(|_| ())
}
