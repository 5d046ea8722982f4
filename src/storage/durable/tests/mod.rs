//! Tests of the durability repositories on real SQLite and real PostgreSQL.
//!
//! Every case runs on both backends (`<case>::sqlite`, `<case>::postgres`). PostgreSQL is the
//! database at `AOK_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`),
//! one fresh schema per test, dropped at the end; these tests never skip.

use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};

use crate::storage::{Backend, Storage};

mod checkpoints;
mod rows;

/// The default PostgreSQL URL for tests.
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Deletes a test database when dropped.
enum Guard {
    /// The SQLite file's directory.
    Sqlite(tempfile::TempDir),
    /// The PostgreSQL schema, and the URL to drop it through.
    Postgres { admin_url: String, schema: String },
}

impl Drop for Guard {
    fn drop(&mut self) {
        let Guard::Postgres { admin_url, schema } = self else {
            return;
        };
        let (admin_url, schema) = (admin_url.clone(), schema.clone());
        // Drop runs inside the test's runtime: clean up on a thread of its own.
        let cleaned = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async {
                let conn = admin(&admin_url).await?;
                conn.execute_unprepared(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .await
                    .map_err(|e| e.to_string())?;
                conn.close().await.map_err(|e| e.to_string())
            })
        })
        .join();
        if !matches!(cleaned, Ok(Ok(()))) {
            eprintln!("warning: could not drop test schema {self:?}");
        }
    }
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Guard::Sqlite(dir) => write!(f, "sqlite in {}", dir.path().display()),
            Guard::Postgres { schema, .. } => write!(f, "postgres schema {schema}"),
        }
    }
}

/// A one-connection pool for creating and dropping schemas.
async fn admin(url: &str) -> Result<DatabaseConnection, String> {
    let _already = rustls::crypto::ring::default_provider().install_default();
    let mut opts = ConnectOptions::new(url.to_string());
    opts.max_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    Database::connect(opts).await.map_err(|e| e.to_string())
}

/// A fresh, migrated storage on `backend` and the guard that deletes it.
async fn storage(backend: Backend) -> (Storage, Guard) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
            let url = format!("sqlite://{}", dir.path().join("kernel.db").display());
            let storage = Storage::connect(&url)
                .await
                .unwrap_or_else(|e| panic!("SQLite test storage: {e}"));
            (storage, Guard::Sqlite(dir))
        }
        Backend::Postgres => {
            let admin_url = std::env::var("AOK_TEST_POSTGRES_URL")
                .ok()
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_POSTGRES_URL.to_string());
            let conn = admin(&admin_url).await.unwrap_or_else(|e| {
                panic!("PostgreSQL unreachable at {admin_url}: {e} (see scripts/setup-pgvector.sh)")
            });
            let schema = format!("aok_d_{}", uuid::Uuid::new_v4().simple());
            conn.execute_unprepared(&format!("CREATE SCHEMA {schema}"))
                .await
                .unwrap_or_else(|e| panic!("create schema {schema}: {e}"));
            let _closed = conn.close().await;
            let guard = Guard::Postgres {
                admin_url: admin_url.clone(),
                schema: schema.clone(),
            };
            let sep = if admin_url.contains('?') { '&' } else { '?' };
            let url = format!("{admin_url}{sep}options=-c%20search_path%3D{schema}%2Cpublic");
            let storage = Storage::connect(&url)
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL test storage: {e}"));
            (storage, guard)
        }
    }
}

/// Generates `mod $name { sqlite, postgres }` running `$case(Backend)` on each backend.
macro_rules! on_both_backends {
    ($($name:ident => $case:path;)+) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    $case($crate::storage::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    $case($crate::storage::Backend::Postgres).await;
                }
            }
        )+
    };
}
use on_both_backends;
