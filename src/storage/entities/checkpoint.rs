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
    /// A small JSON summary (kind, step); the checkpoint itself is in `body`.
    #[sea_orm(column_type = "JsonBinary")]
    pub state: Json,
    /// When it was taken.
    pub created_at: DateTimeUtc,
    /// `full` or `delta`.
    pub kind: String,
    /// The agent's step count when it was taken.
    pub step: i64,
    /// Sequence of the full checkpoint this one's delta chain starts at (itself if full).
    pub base_sequence: i64,
    /// Hex SHA-256 of `body`.
    pub checksum: Option<String>,
    /// The encoded checkpoint (absent on rows older than the body column).
    pub body: Option<Vec<u8>>,
    /// `body` length in bytes.
    pub bytes: i64,
    /// The registered agent type, if known.
    pub agent_type: Option<String>,
}

impl ActiveModelBehavior for ActiveModel {}
