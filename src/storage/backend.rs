//! The database backends.

use std::fmt;

/// Which database a [`Storage`](crate::storage::Storage) talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// A SQLite file (the default), vector search in process.
    Sqlite,
    /// PostgreSQL 15+ with pgvector, vector search with HNSW indexes.
    Postgres,
}

impl Backend {
    /// sea-orm's name for this backend (statement syntax).
    pub(crate) fn sea(self) -> sea_orm::DbBackend {
        match self {
            Backend::Sqlite => sea_orm::DbBackend::Sqlite,
            Backend::Postgres => sea_orm::DbBackend::Postgres,
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}
