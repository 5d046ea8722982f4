//! The audit log: an append-only hash chain.
//!
//! `seq` is assigned by the appender (previous seq + 1) and is the primary key, so two
//! concurrent appenders cannot both extend the chain from the same head. Each row's `hash`
//! covers its content and `prev_hash`. Both backends refuse UPDATE and DELETE on the table with
//! triggers (Postgres: `RAISE EXCEPTION`, also for TRUNCATE; SQLite: `RAISE(ABORT)`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use crate::columns::{bigint, index, json, text, text_null, ts};

/// Creates `audit_log` and its append-only triggers.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Seq,
    Ts,
    Pid,
    Action,
    Detail,
    PrevHash,
    Hash,
}

const PG_FUNCTION: &str = "CREATE OR REPLACE FUNCTION audit_log_refuse_change() RETURNS trigger \
LANGUAGE plpgsql AS $$ BEGIN \
RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP; \
END $$";

const PG_ROW_TRIGGER: &str = "CREATE TRIGGER audit_log_append_only \
BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change()";

const PG_TRUNCATE_TRIGGER: &str = "CREATE TRIGGER audit_log_no_truncate \
BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change()";

const SQLITE_UPDATE_TRIGGER: &str = "CREATE TRIGGER IF NOT EXISTS audit_log_no_update \
BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END";

const SQLITE_DELETE_TRIGGER: &str = "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete \
BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .if_not_exists()
                    .col(bigint(AuditLog::Seq).primary_key())
                    .col(ts(AuditLog::Ts))
                    .col(text_null(AuditLog::Pid))
                    .col(text(AuditLog::Action))
                    .col(json(AuditLog::Detail))
                    .col(text(AuditLog::PrevHash))
                    .col(text(AuditLog::Hash))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("idx_audit_log_pid", AuditLog::Table, &["pid"]))
            .await?;
        let conn = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                conn.execute_unprepared(PG_FUNCTION).await?;
                conn.execute_unprepared(
                    "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
                )
                .await?;
                conn.execute_unprepared(PG_ROW_TRIGGER).await?;
                conn.execute_unprepared(
                    "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
                )
                .await?;
                conn.execute_unprepared(PG_TRUNCATE_TRIGGER).await?;
            }
            _ => {
                conn.execute_unprepared(SQLITE_UPDATE_TRIGGER).await?;
                conn.execute_unprepared(SQLITE_DELETE_TRIGGER).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditLog::Table).if_exists().to_owned())
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("DROP FUNCTION IF EXISTS audit_log_refuse_change()")
                .await?;
        }
        Ok(())
    }
}
