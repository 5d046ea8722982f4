//! Entity of `leases`: time-bounded ownership with fencing tokens.

use sea_orm::entity::prelude::*;

/// One lease.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "leases")]
pub struct Model {
    /// Lease name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// Current holder.
    pub holder: String,
    /// Increases on every change of holder; writers pass it to reject stale holders.
    pub fencing_token: i64,
    /// The lease is free after this instant.
    pub expires_at: DateTimeUtc,
    /// Last acquire or renew.
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
