//! `durable_agents`: what the kernel resumes on start (registered type, name, options), and
//! whether each agent is still running.

use chrono::{DateTime, Utc};

use crate::storage::{Storage, StorageError};

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
    todo!()
}

/// Sets status (and exit reason, `updated_at = now`) of one agent. One statement.
pub(crate) async fn set_status(
    storage: &Storage,
    pid: &str,
    status: &str,
    exit_reason: Option<&str>,
) -> Result<(), StorageError> {
    todo!()
}

/// Every `running` row, oldest first.
pub(crate) async fn running(storage: &Storage) -> Result<Vec<DurableAgentRow>, StorageError> {
    todo!()
}

/// One row.
pub(crate) async fn get(
    storage: &Storage,
    pid: &str,
) -> Result<Option<DurableAgentRow>, StorageError> {
    todo!()
}
