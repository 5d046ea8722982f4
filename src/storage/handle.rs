//! The [`Storage`] handle: connect, migrate, hand out the connection.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};

use crate::storage::url::{backend_of, redact_url, sqlite_path};
use crate::storage::{Backend, StorageError};

/// How long a SQLite connection waits for a lock before failing with "database is locked".
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Pool size for SQLite files (WAL allows concurrent readers; writes are serialised anyway).
const SQLITE_MAX_CONNECTIONS: u32 = 4;
/// Pool size for PostgreSQL.
const POSTGRES_MAX_CONNECTIONS: u32 = 8;

static CRYPTO_PROVIDER: Once = Once::new();

/// Installs rustls' ring provider as the process default, once. "Already installed" (by us or
/// by another part of the program) is fine.
fn install_crypto_provider() {
    CRYPTO_PROVIDER.call_once(|| {
        let _already_installed = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A handle to the kernel's database: cheap to clone, shared by every storage role.
#[derive(Clone, Debug)]
pub struct Storage {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    conn: DatabaseConnection,
    backend: Backend,
    url: String,
    /// Data statements issued by the storage repositories (see
    /// [`Storage::statements_executed`]).
    statements: AtomicU64,
}

impl Storage {
    /// Connects to `url` and brings its schema up to date.
    ///
    /// * `sqlite://PATH` (or `sqlite:PATH`, `sqlite::memory:`): parent directories and the file
    ///   are created if missing; the connection uses WAL, foreign keys and a busy timeout.
    /// * `postgres://…` / `postgresql://…`: PostgreSQL 15+ with pgvector installed on the
    ///   server. Use `?options=-c%20search_path%3DSCHEMA,public` to work in a schema.
    ///
    /// Errors name the URL (password redacted) and the cause; any other scheme is
    /// [`StorageError::UnsupportedScheme`].
    pub async fn connect(url: &str) -> Result<Storage, StorageError> {
        let backend = backend_of(url)?;
        let redacted = redact_url(url);
        install_crypto_provider();

        let mut options = ConnectOptions::new(url.to_string());
        options.sqlx_logging(false);
        match backend {
            Backend::Sqlite => {
                let path = sqlite_path(url);
                if let Some(parent) = path.as_ref().and_then(|p| p.parent())
                    && !parent.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(parent).map_err(|source| StorageError::CreateDir {
                        url: redacted.clone(),
                        path: parent.to_path_buf(),
                        source,
                    })?;
                }
                // An in-memory database exists per connection: keep exactly one.
                let max = if path.is_some() {
                    SQLITE_MAX_CONNECTIONS
                } else {
                    1
                };
                options.max_connections(max).map_sqlx_sqlite_opts(|o| {
                    o.create_if_missing(true)
                        .journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Normal)
                        .foreign_keys(true)
                        .busy_timeout(SQLITE_BUSY_TIMEOUT)
                });
            }
            Backend::Postgres => {
                options
                    .max_connections(POSTGRES_MAX_CONNECTIONS)
                    .connect_timeout(Duration::from_secs(10));
            }
        }

        let conn = Database::connect(options)
            .await
            .map_err(|source| StorageError::Connect {
                url: redacted.clone(),
                source,
            })?;
        Migrator::up(&conn, None)
            .await
            .map_err(|source| StorageError::Migrate {
                url: redacted.clone(),
                source,
            })?;
        tracing::debug!(url = %redacted, %backend, "storage connected and migrated");
        Ok(Storage {
            inner: Arc::new(Inner {
                conn,
                backend,
                url: redacted,
                statements: AtomicU64::new(0),
            }),
        })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// The sea-orm connection (a pool), for repositories and ad-hoc queries.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.inner.conn
    }

    /// The URL this storage was opened with, password redacted.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// Runs the migrations again (a no-op on an up-to-date schema).
    pub async fn migrate(&self) -> Result<(), StorageError> {
        Migrator::up(self.connection(), None)
            .await
            .map_err(|source| StorageError::Migrate {
                url: self.inner.url.clone(),
                source,
            })
    }

    /// How many data statements the kernel's storage repositories (pages and durability:
    /// checkpoints, journal, durable mailboxes, durable agents) have issued through this handle
    /// and its clones. `BEGIN`/`COMMIT` are not counted; queries issued directly on
    /// [`Storage::connection`] are not either.
    pub fn statements_executed(&self) -> u64 {
        self.inner.statements.load(Ordering::Relaxed)
    }

    /// Counts one data statement (called by the repositories' execution helpers).
    pub(crate) fn count_statement(&self) {
        self.inner.statements.fetch_add(1, Ordering::Relaxed);
    }

    /// Wraps a driver error with this storage's URL and the operation.
    pub(crate) fn query_error(
        &self,
        operation: &'static str,
        source: sea_orm::DbErr,
    ) -> StorageError {
        StorageError::Query {
            url: self.inner.url.clone(),
            operation,
            source,
        }
    }
}
