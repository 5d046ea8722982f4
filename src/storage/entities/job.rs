//! Entity of `jobs`: the durable job queue.

use sea_orm::entity::prelude::*;

/// One job.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    /// Job id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Queue name.
    pub queue: String,
    /// Job arguments.
    #[sea_orm(column_type = "JsonBinary")]
    pub payload: Json,
    /// `queued`, `running`, `done`, `failed`.
    pub status: String,
    /// Higher runs first.
    pub priority: i32,
    /// Attempts so far.
    pub attempts: i32,
    /// Last failure message.
    pub last_error: Option<String>,
    /// Not before this instant.
    pub run_at: DateTimeUtc,
    /// Worker holding it.
    pub locked_by: Option<String>,
    /// The worker's claim expires at this instant.
    pub locked_until: Option<DateTimeUtc>,
    /// Enqueued.
    pub created_at: DateTimeUtc,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
