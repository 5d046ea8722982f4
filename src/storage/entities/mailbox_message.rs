//! Entity of `mailbox_messages`: durable mailbox entries.

use sea_orm::entity::prelude::*;

/// One message persisted in an agent's durable mailbox.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "mailbox_messages")]
pub struct Model {
    /// Monotonic id; mailbox order.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Recipient pid.
    pub pid: String,
    /// Unique delivery id, for idempotent handlers under at-least-once delivery.
    #[sea_orm(unique)]
    pub delivery_id: String,
    /// Sender (pid or external name).
    pub sender: String,
    /// Message body.
    #[sea_orm(column_type = "JsonBinary")]
    pub payload: Json,
    /// `pending`, `delivered`, `acked`, `dead`.
    pub status: String,
    /// Delivery attempts so far.
    pub attempts: i32,
    /// When it was enqueued.
    pub enqueued_at: DateTimeUtc,
    /// When it was last delivered.
    pub delivered_at: Option<DateTimeUtc>,
}

impl ActiveModelBehavior for ActiveModel {}
