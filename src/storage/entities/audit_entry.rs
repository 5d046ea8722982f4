//! Entity of `audit_log`: the append-only audit hash chain.

use sea_orm::entity::prelude::*;

/// One audit record.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    /// Position in the chain (assigned by the appender: previous + 1).
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    /// When it happened.
    pub ts: DateTimeUtc,
    /// Acting agent, if any.
    pub pid: Option<String>,
    /// What was done (`llm.call`, `tool.exec`, `ipc.send`, …).
    pub action: String,
    /// Details.
    #[sea_orm(column_type = "JsonBinary")]
    pub detail: Json,
    /// Hash of the previous record (`""` for the first).
    pub prev_hash: String,
    /// Hash of this record's content and `prev_hash`.
    pub hash: String,
}

impl ActiveModelBehavior for ActiveModel {}
