//! Entity of `checkpoints`: versioned agent snapshots (deltas over a parent).

use sea_orm::entity::prelude::*;

/// One checkpoint of an agent.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "checkpoints")]
pub struct Model {
    /// Checkpoint id (UUID string).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The agent it belongs to.
    pub pid: String,
    /// Per-agent sequence number, unique with `pid`.
    pub sequence: i64,
    /// Version of the checkpoint format, for upgrades.
    pub format_version: i32,
    /// The checkpoint this one is a delta of, if any.
    pub parent_id: Option<String>,
    /// The snapshot or delta; large content is referenced by blob hash.
    #[sea_orm(column_type = "JsonBinary")]
    pub state: Json,
    /// When it was taken.
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
