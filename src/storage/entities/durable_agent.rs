//! Entity of `durable_agents`: the agents the kernel resumes on start.

use sea_orm::entity::prelude::*;

/// One durable agent.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "durable_agents")]
pub struct Model {
    /// The agent's pid.
    #[sea_orm(primary_key, auto_increment = false)]
    pub pid: String,
    /// The registered agent type (name → factory).
    pub type_name: String,
    /// Human-readable name.
    pub name: String,
    /// Spawn options as JSON.
    #[sea_orm(column_type = "JsonBinary")]
    pub options: Json,
    /// `running` or `terminated`.
    pub status: String,
    /// Why it exited, once terminated.
    pub exit_reason: Option<String>,
    /// First registration time.
    pub created_at: DateTimeUtc,
    /// Last update time.
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
