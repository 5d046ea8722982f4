//! Coordination: leases with fencing tokens, named locks and a job queue.

use sea_orm_migration::prelude::*;

use crate::columns::{bigint, index, int, json, text, text_null, text_pk, ts, ts_null};

/// Creates `leases`, `locks` and `jobs`.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Leases {
    Table,
    Name,
    Holder,
    FencingToken,
    ExpiresAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Locks {
    Table,
    Name,
    Holder,
    AcquiredAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    Queue,
    Payload,
    Status,
    Priority,
    Attempts,
    LastError,
    RunAt,
    LockedBy,
    LockedUntil,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Leases::Table)
                    .if_not_exists()
                    .col(text_pk(Leases::Name))
                    .col(text(Leases::Holder))
                    .col(bigint(Leases::FencingToken))
                    .col(ts(Leases::ExpiresAt))
                    .col(ts(Leases::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Locks::Table)
                    .if_not_exists()
                    .col(text_pk(Locks::Name))
                    .col(text(Locks::Holder))
                    .col(ts(Locks::AcquiredAt))
                    .col(ts_null(Locks::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Jobs::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(text(Jobs::Queue))
                    .col(json(Jobs::Payload))
                    .col(text(Jobs::Status))
                    .col(int(Jobs::Priority, 0))
                    .col(int(Jobs::Attempts, 0))
                    .col(text_null(Jobs::LastError))
                    .col(ts(Jobs::RunAt))
                    .col(text_null(Jobs::LockedBy))
                    .col(ts_null(Jobs::LockedUntil))
                    .col(ts(Jobs::CreatedAt))
                    .col(ts(Jobs::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // The dequeue scan: ready jobs of a queue by priority then run_at.
        manager
            .create_index(index(
                "idx_jobs_queue_status_run_at",
                Jobs::Table,
                &["queue", "status", "priority", "run_at"],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            Jobs::Table.into_iden(),
            Locks::Table.into_iden(),
            Leases::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
