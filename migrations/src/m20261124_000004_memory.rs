//! Pager pages and long-term memories, with embeddings for vector search.
//!
//! Both tables share one column set. The embedding is stored per backend:
//!
//! * PostgreSQL: a pgvector `vector` column without a fixed dimension, plus `embedding_dim`.
//!   For each dimension in [`INDEXED_EMBEDDING_DIMS`](crate::INDEXED_EMBEDDING_DIMS) there is an
//!   HNSW partial expression index
//!   `USING hnsw ((embedding::vector(N)) vector_cosine_ops) WHERE embedding_dim = N`,
//!   because HNSW can only index vectors of one fixed dimension, while one kernel may hold
//!   embeddings of several models.
//! * SQLite: a BLOB of little-endian `f32`, plus `embedding_dim`; search is done in process.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::INDEXED_EMBEDDING_DIMS;
use crate::columns::{boolean, index, int, json, text, text_pk, ts};

/// Creates `pages` and `memories` (and, on Postgres, the `vector` extension and HNSW indexes).
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Pages {
    Table,
}

#[derive(DeriveIden)]
enum Memories {
    Table,
}

#[derive(DeriveIden)]
enum Col {
    Id,
    Pid,
    Content,
    Tokens,
    Importance,
    Pinned,
    Kind,
    Metadata,
    Embedding,
    EmbeddingDim,
    AccessCount,
    CreatedAt,
    UpdatedAt,
    AccessedAt,
}

/// The start of the migration error when the server has no pgvector; public so callers and
/// tests can match it.
pub const PGVECTOR_MISSING: &str = "pgvector is not installed on this PostgreSQL server \
(the `vector` extension is not in pg_available_extensions), so \
`CREATE EXTENSION IF NOT EXISTS vector SCHEMA public` cannot work. Install it with \
`scripts/setup-pgvector.sh` (Debian, as root: builds pgvector for the local server), or run the \
`pgvector/pgvector:pg15` Docker image and point AOK_TEST_POSTGRES_URL / DATABASE_URL at it";

/// The start of the migration error when pgvector is installed but this role may not create
/// the extension.
pub const PGVECTOR_NOT_CREATED: &str = "pgvector is installed on this PostgreSQL server, but \
`CREATE EXTENSION IF NOT EXISTS vector SCHEMA public` failed for this role; create it once as \
a superuser in this database (`CREATE EXTENSION vector SCHEMA public;`)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        if backend == DbBackend::Postgres {
            ensure_pgvector(manager).await?;
        }
        for table in [Pages::Table.into_iden(), Memories::Table.into_iden()] {
            let name = table.to_string();
            manager
                .create_table(memory_table(table.clone(), backend))
                .await?;
            manager
                .create_index(index(&format!("idx_{name}_pid"), table.clone(), &["pid"]))
                .await?;
            manager
                .create_index(index(
                    &format!("idx_{name}_pid_kind"),
                    table.clone(),
                    &["pid", "kind"],
                ))
                .await?;
            if backend == DbBackend::Postgres {
                for dim in INDEXED_EMBEDDING_DIMS {
                    let sql = format!(
                        "CREATE INDEX IF NOT EXISTS idx_{name}_embedding_{dim}_hnsw ON {name} \
                         USING hnsw ((embedding::vector({dim})) vector_cosine_ops) \
                         WHERE embedding_dim = {dim}"
                    );
                    manager.get_connection().execute_unprepared(&sql).await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Memories::Table).if_exists().to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Pages::Table).if_exists().to_owned())
            .await
    }
}

/// The shared column set of `pages` and `memories`.
fn memory_table(table: DynIden, backend: DbBackend) -> TableCreateStatement {
    let mut embedding = ColumnDef::new(Col::Embedding);
    if backend == DbBackend::Postgres {
        embedding.custom(Alias::new("vector")).null();
    } else {
        embedding.blob().null();
    }
    Table::create()
        .table(table)
        .if_not_exists()
        .col(text_pk(Col::Id))
        .col(text(Col::Pid))
        .col(text(Col::Content))
        .col(int(Col::Tokens, 0))
        .col(
            ColumnDef::new(Col::Importance)
                .double()
                .not_null()
                .default(0.0),
        )
        .col(boolean(Col::Pinned, false))
        .col(text(Col::Kind))
        .col(json(Col::Metadata))
        .col(embedding)
        .col(ColumnDef::new(Col::EmbeddingDim).integer().null())
        .col(int(Col::AccessCount, 0))
        .col(ts(Col::CreatedAt))
        .col(ts(Col::UpdatedAt))
        .col(ts(Col::AccessedAt))
        .to_owned()
}

/// Enables pgvector in `public`, or fails with [`PGVECTOR_MISSING`] /
/// [`PGVECTOR_NOT_CREATED`].
async fn ensure_pgvector(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let conn = manager.get_connection();
    let exists = |sql: &'static str| async move {
        conn.query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await
            .map(|row| row.is_some())
    };
    // Skip the CREATE when it already exists: concurrent `CREATE EXTENSION IF NOT EXISTS` in one
    // database can race on pg_extension's unique index.
    if exists("SELECT 1 AS one FROM pg_extension WHERE extname = 'vector'").await? {
        return Ok(());
    }
    if !exists("SELECT 1 AS one FROM pg_available_extensions WHERE name = 'vector'").await? {
        return Err(DbErr::Migration(PGVECTOR_MISSING.to_owned()));
    }
    conn.execute_unprepared("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public")
        .await
        .map(|_| ())
        .map_err(|e| DbErr::Migration(format!("{PGVECTOR_NOT_CREATED} (server said: {e})")))
}
