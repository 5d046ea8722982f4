//! Entity of `locks`: named mutual-exclusion locks.

use sea_orm::entity::prelude::*;

/// One held lock.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "locks")]
pub struct Model {
    /// Lock name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// Holder.
    pub holder: String,
    /// When acquired.
    pub acquired_at: DateTimeUtc,
    /// Optional expiry (a crashed holder's lock frees itself).
    pub expires_at: Option<DateTimeUtc>,
}

impl ActiveModelBehavior for ActiveModel {}
