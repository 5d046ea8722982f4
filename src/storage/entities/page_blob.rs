//! Entity of `page_blobs`: content-addressed blobs shared by checkpoints.

use sea_orm::entity::prelude::*;

/// One blob, stored once per distinct content.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "page_blobs")]
pub struct Model {
    /// Hex hash of `content`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub hash: String,
    /// The bytes.
    pub content: Vec<u8>,
    /// `content.len()`.
    pub size: i64,
    /// First stored.
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
