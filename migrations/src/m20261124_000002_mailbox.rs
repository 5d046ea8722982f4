//! Durable mailboxes: messages persisted until delivered (at-least-once, idempotent by
//! `delivery_id`).

use sea_orm_migration::prelude::*;

use crate::columns::{index, int, json, text, ts, ts_null};

/// Creates `mailbox_messages`.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum MailboxMessages {
    Table,
    Id,
    Pid,
    DeliveryId,
    Sender,
    Payload,
    Status,
    Attempts,
    EnqueuedAt,
    DeliveredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MailboxMessages::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(MailboxMessages::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(text(MailboxMessages::Pid))
                    .col(
                        ColumnDef::new(MailboxMessages::DeliveryId)
                            .text()
                            .not_null()
                            .unique_key(),
                    )
                    .col(text(MailboxMessages::Sender))
                    .col(json(MailboxMessages::Payload))
                    .col(text(MailboxMessages::Status))
                    .col(int(MailboxMessages::Attempts, 0))
                    .col(ts(MailboxMessages::EnqueuedAt))
                    .col(ts_null(MailboxMessages::DeliveredAt))
                    .to_owned(),
            )
            .await?;
        // Pending messages of one agent, in mailbox (id) order.
        manager
            .create_index(index(
                "idx_mailbox_pid_status_id",
                MailboxMessages::Table,
                &["pid", "status", "id"],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(MailboxMessages::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
