//! Entity of `memories`.
//!
//! The `embedding` / `embedding_dim` columns are left out of the model: see
//! [`crate::storage::embedding`].

use sea_orm::entity::prelude::*;

/// A long-term memory of an agent.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "memories")]
pub struct Model {
    /// Id (UUID string).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Owner pid.
    pub pid: String,
    /// The text.
    pub content: String,
    /// Token count of `content`.
    pub tokens: i32,
    /// Importance score, higher is kept longer.
    pub importance: f64,
    /// Pinned entries are never evicted.
    pub pinned: bool,
    /// Kind (`system`, `tools`, `message`, `summary`, `fact`, …).
    pub kind: String,
    /// Free-form metadata.
    #[sea_orm(column_type = "JsonBinary")]
    pub metadata: Json,
    /// How often it was accessed (frequency for replacement).
    pub access_count: i32,
    /// Created.
    pub created_at: DateTimeUtc,
    /// Last written.
    pub updated_at: DateTimeUtc,
    /// Last read (recency for replacement).
    pub accessed_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
