//! Entity of `journal`: completed LLM and tool results of a step, replayed when the step is
//! redelivered after a crash.

use sea_orm::entity::prelude::*;

/// One journaled call of one step.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "journal")]
pub struct Model {
    /// The agent.
    #[sea_orm(primary_key, auto_increment = false)]
    pub pid: String,
    /// The step number.
    #[sea_orm(primary_key, auto_increment = false)]
    pub step: i64,
    /// Position of the call within the step.
    #[sea_orm(primary_key, auto_increment = false)]
    pub call_index: i32,
    /// The delivery the step was handling.
    pub delivery: String,
    /// `llm` or `op:<name>`.
    pub kind: String,
    /// Hex SHA-256 of the request.
    pub request_digest: String,
    /// The result, JSON bytes.
    pub payload: Vec<u8>,
    /// When it was journaled.
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
