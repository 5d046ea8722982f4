//! `durable_agents`: what the kernel resumes on start (registered type, name, options), and
//! whether each agent is still running.

use chrono::{DateTime, Utc};
use sea_orm::{QueryResult, Value};

use crate::storage::sql::{col, exec, now, query_all, query_one, stmt};
use crate::storage::{Storage, StorageError};

/// Columns of [`DurableAgentRow`], in `SELECT` order.
const COLUMNS: &str = "pid, type_name, name, options, status, exit_reason, created_at, updated_at";

/// One durable agent.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DurableAgentRow {
    pub(crate) pid: String,
    /// The registered agent type (name → factory).
    pub(crate) type_name: String,
    pub(crate) name: String,
    /// Spawn options as JSON (priority, mailbox, restart, checkpoint policy, limits, …).
    pub(crate) options: serde_json::Value,
    /// `running` or `terminated`.
    pub(crate) status: String,
    pub(crate) exit_reason: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
}

/// Inserts or replaces the row of `row.pid`. One statement.
pub(crate) async fn upsert(storage: &Storage, row: &DurableAgentRow) -> Result<(), StorageError> {
    let sql = format!(
        "INSERT INTO durable_agents ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (pid) DO UPDATE SET type_name = excluded.type_name, \
         name = excluded.name, options = excluded.options, status = excluded.status, \
         exit_reason = excluded.exit_reason, created_at = excluded.created_at, \
         updated_at = excluded.updated_at"
    );
    exec(
        storage,
        storage.connection(),
        "storing a durable agent",
        stmt(
            storage.backend(),
            &sql,
            vec![
                row.pid.clone().into(),
                row.type_name.clone().into(),
                row.name.clone().into(),
                Value::Json(Some(Box::new(row.options.clone()))),
                row.status.clone().into(),
                row.exit_reason.clone().into(),
                Value::ChronoDateTimeUtc(Some(row.created_at)),
                Value::ChronoDateTimeUtc(Some(row.updated_at)),
            ],
        ),
    )
    .await?;
    Ok(())
}

/// Sets status (and exit reason, `updated_at = now`) of one agent. One statement.
pub(crate) async fn set_status(
    storage: &Storage,
    pid: &str,
    status: &str,
    exit_reason: Option<&str>,
) -> Result<(), StorageError> {
    exec(
        storage,
        storage.connection(),
        "updating a durable agent's status",
        stmt(
            storage.backend(),
            "UPDATE durable_agents SET status = ?, exit_reason = ?, updated_at = ? WHERE pid = ?",
            vec![status.into(), exit_reason.into(), now(), pid.into()],
        ),
    )
    .await?;
    Ok(())
}

/// Decodes one `durable_agents` row.
fn agent(storage: &Storage, r: &QueryResult) -> Result<DurableAgentRow, StorageError> {
    Ok(DurableAgentRow {
        pid: col(storage, r, "pid")?,
        type_name: col(storage, r, "type_name")?,
        name: col(storage, r, "name")?,
        options: col(storage, r, "options")?,
        status: col(storage, r, "status")?,
        exit_reason: col(storage, r, "exit_reason")?,
        created_at: col(storage, r, "created_at")?,
        updated_at: col(storage, r, "updated_at")?,
    })
}

/// Every `running` row, oldest first.
pub(crate) async fn running(storage: &Storage) -> Result<Vec<DurableAgentRow>, StorageError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM durable_agents WHERE status = 'running' ORDER BY created_at, pid"
    );
    let rows = query_all(
        storage,
        storage.connection(),
        "listing running durable agents",
        stmt(storage.backend(), &sql, Vec::new()),
    )
    .await?;
    rows.iter().map(|r| agent(storage, r)).collect()
}

/// One row.
pub(crate) async fn get(
    storage: &Storage,
    pid: &str,
) -> Result<Option<DurableAgentRow>, StorageError> {
    let sql = format!("SELECT {COLUMNS} FROM durable_agents WHERE pid = ?");
    let row = query_one(
        storage,
        storage.connection(),
        "reading a durable agent",
        stmt(storage.backend(), &sql, vec![pid.into()]),
    )
    .await?;
    row.map(|r| agent(storage, &r)).transpose()
}
