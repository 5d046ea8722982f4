//! Durability: checkpoint bodies and chain metadata, the journal of completed calls, the
//! durable-agents table the kernel resumes from, and an index for the blob collector.
//!
//! * `checkpoints` + `kind` (`full`/`delta`), `step`, `base_sequence` (where the delta chain
//!   starts), `checksum` (hex SHA-256 of `body`), `body` (the encoded checkpoint), `bytes`
//!   (`body` length), `agent_type`.
//! * `journal` — completed LLM and tool results by `(pid, step, call_index)`.
//! * `durable_agents` — registered type, name and options of every durable agent, and whether
//!   it is still running.
//! * `idx_pages_content_hash` — "is this blob still referenced by a page?".

use sea_orm_migration::prelude::*;

use crate::columns::{bigint, index, json, text, text_null, text_pk, ts};

/// Adds the checkpoint columns, `journal`, `durable_agents` and `idx_pages_content_hash`.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Checkpoints {
    Table,
    Kind,
    Step,
    BaseSequence,
    Checksum,
    Body,
    Bytes,
    AgentType,
}

#[derive(DeriveIden)]
enum Journal {
    Table,
    Pid,
    Step,
    CallIndex,
    Delivery,
    Kind,
    RequestDigest,
    Payload,
    CreatedAt,
}

#[derive(DeriveIden)]
enum DurableAgents {
    Table,
    Pid,
    TypeName,
    Name,
    Options,
    Status,
    ExitReason,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Pages {
    Table,
}

/// A non-null `BIGINT` defaulting to 0.
fn bigint_zero<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .big_integer()
        .not_null()
        .default(0i64)
        .take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite can add only one column per ALTER TABLE, and has no ADD COLUMN IF NOT
        // EXISTS: add each column unless it is already there.
        let columns = [
            (
                "kind",
                ColumnDef::new(Checkpoints::Kind)
                    .text()
                    .not_null()
                    .default("full")
                    .take(),
            ),
            ("step", bigint_zero(Checkpoints::Step)),
            ("base_sequence", bigint_zero(Checkpoints::BaseSequence)),
            ("checksum", text_null(Checkpoints::Checksum)),
            (
                "body",
                ColumnDef::new(Checkpoints::Body).blob().null().take(),
            ),
            ("bytes", bigint_zero(Checkpoints::Bytes)),
            ("agent_type", text_null(Checkpoints::AgentType)),
        ];
        for (name, column) in columns {
            if manager.has_column("checkpoints", name).await? {
                continue;
            }
            manager
                .alter_table(
                    Table::alter()
                        .table(Checkpoints::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Journal::Table)
                    .if_not_exists()
                    .col(text(Journal::Pid))
                    .col(bigint(Journal::Step))
                    .col(ColumnDef::new(Journal::CallIndex).integer().not_null())
                    .col(text(Journal::Delivery))
                    .col(text(Journal::Kind))
                    .col(text(Journal::RequestDigest))
                    .col(ColumnDef::new(Journal::Payload).blob().not_null())
                    .col(ts(Journal::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(Journal::Pid)
                            .col(Journal::Step)
                            .col(Journal::CallIndex),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(DurableAgents::Table)
                    .if_not_exists()
                    .col(text_pk(DurableAgents::Pid))
                    .col(text(DurableAgents::TypeName))
                    .col(text(DurableAgents::Name))
                    .col(json(DurableAgents::Options))
                    .col(text(DurableAgents::Status))
                    .col(text_null(DurableAgents::ExitReason))
                    .col(ts(DurableAgents::CreatedAt))
                    .col(ts(DurableAgents::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_durable_agents_status",
                DurableAgents::Table,
                &["status"],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_pages_content_hash",
                Pages::Table,
                &["content_hash"],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .if_exists()
                    .name("idx_pages_content_hash")
                    .table(Pages::Table)
                    .to_owned(),
            )
            .await?;
        for table in [DurableAgents::Table.into_iden(), Journal::Table.into_iden()] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        for (name, column) in [
            ("agent_type", Checkpoints::AgentType),
            ("bytes", Checkpoints::Bytes),
            ("body", Checkpoints::Body),
            ("checksum", Checkpoints::Checksum),
            ("base_sequence", Checkpoints::BaseSequence),
            ("step", Checkpoints::Step),
            ("kind", Checkpoints::Kind),
        ] {
            if !manager.has_column("checkpoints", name).await? {
                continue;
            }
            manager
                .alter_table(
                    Table::alter()
                        .table(Checkpoints::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
