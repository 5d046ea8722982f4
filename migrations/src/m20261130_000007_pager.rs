//! The pager's columns on `pages`: where a page's content lives, its place in the
//! conversation, and whether it is resident; plus HNSW indexes for 384-dimension embeddings
//! (all-MiniLM-L6-v2 and the lexical embedder).
//!
//! * `content_hash` — hex SHA-256 of the content; the bytes live once in `page_blobs`
//!   (content-addressed), `pages.content` is left empty for such rows.
//! * `seq` — the page's position in its owner's conversation (ascending).
//! * `resident` — `true` while the page is in its owner's resident set, `false` once swapped.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::columns::{boolean, index, text_null};

/// Adds `content_hash`, `seq`, `resident` to `pages`, an index on `(pid, seq)`, and the
/// 384-dimension HNSW indexes.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Pages {
    Table,
    ContentHash,
    Seq,
    Resident,
}

/// The embedding dimension this migration indexes (it joined
/// [`crate::INDEXED_EMBEDDING_DIMS`] with it).
const DIM: u32 = 384;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite can add only one column per ALTER TABLE.
        for column in [
            text_null(Pages::ContentHash),
            ColumnDef::new(Pages::Seq)
                .big_integer()
                .not_null()
                .default(0i64)
                .take(),
            boolean(Pages::Resident, true),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Pages::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(index("idx_pages_pid_seq", Pages::Table, &["pid", "seq"]))
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            for name in ["pages", "memories"] {
                let sql = format!(
                    "CREATE INDEX IF NOT EXISTS idx_{name}_embedding_{DIM}_hnsw ON {name} \
                     USING hnsw ((embedding::vector({DIM})) vector_cosine_ops) \
                     WHERE embedding_dim = {DIM}"
                );
                manager.get_connection().execute_unprepared(&sql).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            for name in ["pages", "memories"] {
                manager
                    .get_connection()
                    .execute_unprepared(&format!(
                        "DROP INDEX IF EXISTS idx_{name}_embedding_{DIM}_hnsw"
                    ))
                    .await?;
            }
        }
        manager
            .drop_index(
                Index::drop()
                    .name("idx_pages_pid_seq")
                    .table(Pages::Table)
                    .to_owned(),
            )
            .await?;
        for column in [Pages::Resident, Pages::Seq, Pages::ContentHash] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Pages::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
