//! Shared helpers for integration tests: a fresh, migrated [`Storage`] per test on SQLite or
//! PostgreSQL.
//!
//! * [`backend_from_env`] reads `AOK_TEST_BACKEND` (`sqlite`, the default, or `postgres`).
//! * [`test_storage`] returns a storage plus a guard that cleans up when dropped: a temporary
//!   directory for SQLite; for PostgreSQL a schema `aok_t_<random>` in the database at
//!   `AOK_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`), used through
//!   `search_path=<schema>,public`, dropped with `CASCADE` at the end.
//! * If PostgreSQL is unreachable the helper panics with instructions: tests never skip.
//!
//! Each test binary compiles this module separately, so not every item is used everywhere.
#![allow(dead_code)]

use std::time::Duration;

use agent_os_kernel::storage::{Backend, Storage};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};

/// The default PostgreSQL URL for tests.
pub(crate) const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The backend kernel tests should use: `AOK_TEST_BACKEND` = `sqlite` (default) or `postgres`.
pub(crate) fn backend_from_env() -> Backend {
    match std::env::var("AOK_TEST_BACKEND") {
        Err(_) => Backend::Sqlite,
        Ok(v) => match v.trim().to_ascii_lowercase().as_str() {
            "" | "sqlite" => Backend::Sqlite,
            "postgres" | "postgresql" | "pg" => Backend::Postgres,
            other => {
                panic!("AOK_TEST_BACKEND={other:?} is not a backend: use `sqlite` or `postgres`")
            }
        },
    }
}

/// The PostgreSQL URL tests connect to (`AOK_TEST_POSTGRES_URL`, else the default).
pub(crate) fn postgres_url() -> String {
    std::env::var("AOK_TEST_POSTGRES_URL")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_POSTGRES_URL.to_string())
}

/// Cleans up a test database when dropped.
pub(crate) struct StorageGuard {
    kind: GuardKind,
}

enum GuardKind {
    Sqlite(tempfile::TempDir),
    Postgres { admin_url: String, schema: String },
}

impl StorageGuard {
    /// The PostgreSQL schema of this test, if any.
    pub(crate) fn schema(&self) -> Option<&str> {
        match &self.kind {
            GuardKind::Postgres { schema, .. } => Some(schema),
            GuardKind::Sqlite(_) => None,
        }
    }

    /// The URL of this test's database (for tests that open a second connection).
    pub(crate) fn url(&self) -> String {
        match &self.kind {
            GuardKind::Sqlite(dir) => sqlite_url(dir),
            GuardKind::Postgres { admin_url, schema } => schema_url(admin_url, schema),
        }
    }
}

impl Drop for StorageGuard {
    fn drop(&mut self) {
        let GuardKind::Postgres { admin_url, schema } = &self.kind else {
            return;
        };
        let (admin_url, schema) = (admin_url.clone(), schema.clone());
        // Drop runs inside the test's runtime: do the async cleanup on a thread of its own.
        let joined = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async {
                let conn = admin_connection(&admin_url).await?;
                // A test that panicked may leave a transaction open on a runtime this very
                // drop is blocking: never wait for its locks forever (the schema then leaks,
                // with a warning, rather than the test run hanging).
                conn.execute_unprepared("SET lock_timeout = '3s'")
                    .await
                    .map_err(|e| e.to_string())?;
                conn.execute_unprepared(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .await
                    .map_err(|e| e.to_string())?;
                conn.close().await.map_err(|e| e.to_string())
            })
        })
        .join();
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("warning: could not drop test schema: {e}"),
            Err(_) => eprintln!("warning: schema cleanup thread panicked"),
        }
    }
}

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("kernel.db").display())
}

fn schema_url(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}%2Cpublic")
}

fn how_to_start_postgres(url: &str, error: &str) -> String {
    format!(
        "PostgreSQL for the storage tests is unreachable at {url}: {error}\n\
         Every storage test runs on SQLite AND PostgreSQL; they do not skip. Start it with\n\
         \x20   bash scripts/setup-pgvector.sh        # Debian, as root: starts the local cluster, installs pgvector\n\
         or\n\
         \x20   docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust -e POSTGRES_DB=test pgvector/pgvector:pg15\n\
         and set AOK_TEST_POSTGRES_URL if it is not {DEFAULT_POSTGRES_URL}."
    )
}

async fn admin_connection(url: &str) -> Result<DatabaseConnection, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut opts = ConnectOptions::new(url.to_string());
    opts.max_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    Database::connect(opts).await.map_err(|e| e.to_string())
}

/// A fresh, migrated storage on `backend`, and the guard that deletes it when dropped.
///
/// Panics (with instructions) if PostgreSQL is requested and unreachable.
pub(crate) async fn test_storage(backend: Backend) -> (Storage, StorageGuard) {
    test_storage_at(backend, &postgres_url()).await
}

/// [`test_storage`] with an explicit PostgreSQL URL (ignored for SQLite).
pub(crate) async fn test_storage_at(
    backend: Backend,
    postgres_url: &str,
) -> (Storage, StorageGuard) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("cannot create temp dir: {e}"));
            let url = sqlite_url(&dir);
            let storage = Storage::connect(&url)
                .await
                .unwrap_or_else(|e| panic!("SQLite test storage failed: {e}"));
            (
                storage,
                StorageGuard {
                    kind: GuardKind::Sqlite(dir),
                },
            )
        }
        Backend::Postgres => {
            let admin_url = postgres_url.to_string();
            let admin = admin_connection(&admin_url)
                .await
                .unwrap_or_else(|e| panic!("{}", how_to_start_postgres(&admin_url, &e)));
            let schema = format!("aok_t_{}", uuid::Uuid::new_v4().simple());
            admin
                .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
                .await
                .unwrap_or_else(|e| panic!("cannot create test schema {schema}: {e}"));
            let _ = admin.close().await;
            // From here on the guard drops the schema even if connecting fails.
            let guard = StorageGuard {
                kind: GuardKind::Postgres {
                    admin_url: admin_url.clone(),
                    schema: schema.clone(),
                },
            };
            let storage = Storage::connect(&schema_url(&admin_url, &schema))
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL test storage failed: {e}"));
            (storage, guard)
        }
    }
}

/// Generates `mod $name { sqlite, postgres }` tests that run `$case(Backend)` on each backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident => $case:path;)+) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    $case(agent_os_kernel::storage::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    $case(agent_os_kernel::storage::Backend::Postgres).await;
                }
            }
        )+
    };
}
