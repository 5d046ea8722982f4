//! Entity of `agents`: the agents registry.

use sea_orm::entity::prelude::*;

/// One registered agent process.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "agents")]
pub struct Model {
    /// The agent's pid (UUID string).
    #[sea_orm(primary_key, auto_increment = false)]
    pub pid: String,
    /// Human-readable name.
    pub name: String,
    /// Lifecycle state (`created`, `ready`, `running`, …, `terminated`).
    pub state: String,
    /// Scheduling priority, 0–100.
    pub priority: i32,
    /// Restart type (`permanent`, `transient`, `temporary`).
    pub restart_policy: String,
    /// The supervising supervisor, if any.
    pub supervisor_id: Option<String>,
    /// The pid of the agent that spawned this one, if any.
    pub parent_pid: Option<String>,
    /// How many times the supervisor restarted it.
    pub restarts: i32,
    /// Why it exited, once terminated.
    pub exit_reason: Option<String>,
    /// The spawn spec (factory name, config) as JSON.
    #[sea_orm(column_type = "JsonBinary")]
    pub spec: Json,
    /// First registration time.
    pub created_at: DateTimeUtc,
    /// Last update time.
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
