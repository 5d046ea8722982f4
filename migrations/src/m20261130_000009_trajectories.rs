//! Trajectories: one row per recorded agent step (what it was sent, its LLM and tool calls,
//! preemptions, faults, outcome), read by agent type and by task.

use sea_orm_migration::prelude::*;

use crate::columns::{bigint, index, json, text, text_null, ts};

/// Creates `trajectories` and its indexes.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Trajectories {
    Table,
    Id,
    Pid,
    AgentName,
    AgentType,
    Task,
    Step,
    StartedAt,
    DurationMs,
    Sender,
    Topic,
    Outcome,
    Error,
    LlmCalls,
    ToolCalls,
    Preemptions,
    Faults,
    PromptTokens,
    CompletionTokens,
    CostUsd,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Trajectories::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Trajectories::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(text(Trajectories::Pid))
                    .col(text(Trajectories::AgentName))
                    .col(text(Trajectories::AgentType))
                    .col(text(Trajectories::Task))
                    .col(bigint(Trajectories::Step))
                    .col(ts(Trajectories::StartedAt))
                    .col(bigint(Trajectories::DurationMs))
                    .col(text_null(Trajectories::Sender))
                    .col(text_null(Trajectories::Topic))
                    .col(text(Trajectories::Outcome))
                    .col(text_null(Trajectories::Error))
                    .col(json(Trajectories::LlmCalls))
                    .col(json(Trajectories::ToolCalls))
                    .col(bigint(Trajectories::Preemptions))
                    .col(bigint(Trajectories::Faults))
                    .col(bigint(Trajectories::PromptTokens))
                    .col(bigint(Trajectories::CompletionTokens))
                    .col(ColumnDef::new(Trajectories::CostUsd).double().not_null())
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("idx_trajectories_type", &["agent_type", "started_at"][..]),
            ("idx_trajectories_task", &["task", "step"][..]),
            ("idx_trajectories_pid", &["pid", "step"][..]),
        ] {
            manager
                .create_index(index(name, Trajectories::Table, cols))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(Trajectories::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
