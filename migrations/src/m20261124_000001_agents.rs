//! The agents registry: one row per agent process, keyed by its pid.

use sea_orm_migration::prelude::*;

use crate::columns::{index, int, json, text, text_null, text_pk, ts};

/// Creates `agents`.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Agents {
    Table,
    Pid,
    Name,
    State,
    Priority,
    RestartPolicy,
    SupervisorId,
    ParentPid,
    Restarts,
    ExitReason,
    Spec,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Agents::Table)
                    .if_not_exists()
                    .col(text_pk(Agents::Pid))
                    .col(text(Agents::Name))
                    .col(text(Agents::State))
                    .col(
                        ColumnDef::new(Agents::Priority)
                            .integer()
                            .not_null()
                            .default(50)
                            .check(Expr::col(Agents::Priority).between(0, 100)),
                    )
                    .col(text(Agents::RestartPolicy))
                    .col(text_null(Agents::SupervisorId))
                    .col(text_null(Agents::ParentPid))
                    .col(int(Agents::Restarts, 0))
                    .col(text_null(Agents::ExitReason))
                    .col(json(Agents::Spec))
                    .col(ts(Agents::CreatedAt))
                    .col(ts(Agents::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("idx_agents_state", Agents::Table, &["state"]))
            .await?;
        manager
            .create_index(index(
                "idx_agents_parent_pid",
                Agents::Table,
                &["parent_pid"],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Agents::Table).if_exists().to_owned())
            .await
    }
}
