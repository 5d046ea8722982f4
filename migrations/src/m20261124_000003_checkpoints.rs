//! Checkpoints: versioned agent snapshots stored as deltas over a parent, with large content
//! kept once in a content-addressed blob table.

use sea_orm_migration::prelude::*;

use crate::columns::{bigint, index, int, json, text, text_null, text_pk, ts};

/// Creates `checkpoints` and `page_blobs`.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Checkpoints {
    Table,
    Id,
    Pid,
    Sequence,
    FormatVersion,
    ParentId,
    State,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PageBlobs {
    Table,
    Hash,
    Content,
    Size,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Checkpoints::Table)
                    .if_not_exists()
                    .col(text_pk(Checkpoints::Id))
                    .col(text(Checkpoints::Pid))
                    .col(bigint(Checkpoints::Sequence))
                    .col(int(Checkpoints::FormatVersion, 1))
                    .col(text_null(Checkpoints::ParentId))
                    .col(json(Checkpoints::State))
                    .col(ts(Checkpoints::CreatedAt))
                    .to_owned(),
            )
            .await?;
        // One checkpoint per (pid, sequence); also the "latest checkpoint of pid" lookup.
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("uq_checkpoints_pid_sequence")
                    .table(Checkpoints::Table)
                    .col(Checkpoints::Pid)
                    .col(Checkpoints::Sequence)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_checkpoints_parent_id",
                Checkpoints::Table,
                &["parent_id"],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PageBlobs::Table)
                    .if_not_exists()
                    .col(text_pk(PageBlobs::Hash))
                    .col(ColumnDef::new(PageBlobs::Content).blob().not_null())
                    .col(bigint(PageBlobs::Size))
                    .col(ts(PageBlobs::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PageBlobs::Table).if_exists().to_owned())
            .await?;
        manager
            .drop_table(
                Table::drop()
                    .table(Checkpoints::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
