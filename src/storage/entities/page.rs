//! Entity of `pages`.
//!
//! The `embedding` / `embedding_dim` columns are left out of the model: see
//! [`crate::storage::embedding`].

use sea_orm::entity::prelude::*;

/// A context page of the pager (resident or swapped out).
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "pages")]
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
    /// Hex SHA-256 of the content, whose bytes live once in `page_blobs`; `content` is then
    /// empty. `None` for a row whose text is inline in `content`.
    pub content_hash: Option<String>,
    /// Position in the owner's conversation (ascending).
    pub seq: i64,
    /// In the owner's resident set (`false`: swapped out).
    pub resident: bool,
}

impl ActiveModelBehavior for ActiveModel {}
