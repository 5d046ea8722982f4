//! `Storage::connect`: URL handling, SQLite file setup and typed errors.

mod common;

use agent_os_kernel::storage::{Backend, Storage, StorageError};
use common::{test_storage, test_storage_at};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

#[tokio::test]
async fn unsupported_scheme_is_a_typed_error_naming_the_scheme() {
    match Storage::connect("mysql://root:hunter2@localhost/db").await {
        Err(e @ StorageError::UnsupportedScheme { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("`mysql`"), "{msg}");
            assert!(!msg.contains("hunter2"), "password leaked: {msg}");
            assert!(
                msg.contains("sqlite://") && msg.contains("postgres://"),
                "{msg}"
            );
        }
        other => panic!("expected UnsupportedScheme, got {other:?}"),
    }
    assert!(matches!(
        Storage::connect("no-scheme-at-all").await,
        Err(StorageError::UnsupportedScheme { .. })
    ));
}

#[tokio::test]
async fn unreachable_postgres_names_the_url_without_password() {
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    let err = Storage::connect("postgres://aok:topsecret@127.0.0.1:1/none")
        .await
        .err()
        .unwrap_or_else(|| panic!("connecting to port 1 succeeded"));
    assert!(matches!(err, StorageError::Connect { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("postgres://aok:***@127.0.0.1:1/none"), "{msg}");
    assert!(!msg.contains("topsecret"), "{msg}");
}

#[tokio::test]
async fn sqlite_creates_parent_dirs_and_uses_wal_and_foreign_keys() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("a/b/c/kernel.db");
    let storage = Storage::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    assert_eq!(storage.backend(), Backend::Sqlite);
    assert!(path.is_file(), "database file created");
    let conn = storage.connection();
    let pragma = |sql: &'static str| async move {
        conn.query_one_raw(Statement::from_string(DbBackend::Sqlite, sql))
            .await
            .ok()
            .flatten()
            .and_then(|r| {
                r.try_get_by_index::<String>(0)
                    .ok()
                    .or_else(|| r.try_get_by_index::<i64>(0).ok().map(|n| n.to_string()))
            })
    };
    assert_eq!(pragma("PRAGMA journal_mode").await.as_deref(), Some("wal"));
    assert_eq!(pragma("PRAGMA foreign_keys").await.as_deref(), Some("1"));
    assert_eq!(
        pragma("PRAGMA busy_timeout").await.as_deref(),
        Some("10000")
    );
}

#[tokio::test]
async fn sqlite_directory_that_cannot_be_created_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").unwrap_or_else(|e| panic!("{e}"));
    let url = format!("sqlite://{}/sub/kernel.db", blocker.display());
    match Storage::connect(&url).await {
        Err(StorageError::CreateDir { path, .. }) => assert_eq!(path, blocker.join("sub")),
        other => panic!("expected CreateDir, got {other:?}"),
    }
}

#[tokio::test]
async fn sqlite_in_memory_is_migrated_on_its_single_connection() {
    let storage = Storage::connect("sqlite::memory:")
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let n = storage
        .connection()
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT COUNT(*) AS n FROM seaql_migrations",
        ))
        .await
        .ok()
        .flatten()
        .and_then(|r| r.try_get::<i64>("", "n").ok());
    assert_eq!(
        n,
        Some(9),
        "every query sees the migrated in-memory database"
    );
}

async fn handle_reports_backend_and_redacted_url(backend: Backend) {
    let (storage, _guard) = test_storage(backend).await;
    assert_eq!(storage.backend(), backend);
    let clone = storage.clone();
    assert_eq!(clone.url(), storage.url());
    let one = clone
        .connection()
        .query_one_raw(Statement::from_string(
            match backend {
                Backend::Sqlite => DbBackend::Sqlite,
                Backend::Postgres => DbBackend::Postgres,
            },
            "SELECT 1 AS one",
        ))
        .await
        .ok()
        .flatten()
        .and_then(|r| r.try_get::<i32>("", "one").ok());
    assert_eq!(one, Some(1));
}

on_both_backends! {
    handle => super::handle_reports_backend_and_redacted_url;
}

/// The shared test helper never skips: an unreachable PostgreSQL is a loud failure that says
/// how to start one.
#[tokio::test]
async fn test_helper_fails_loudly_when_postgres_is_unreachable() {
    let joined = tokio::spawn(async {
        test_storage_at(Backend::Postgres, "postgres://postgres@127.0.0.1:1/test").await;
    })
    .await;
    let panic = match joined {
        Err(e) if e.is_panic() => e.into_panic(),
        other => panic!("expected the helper to panic, got {other:?}"),
    };
    let msg = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(msg.contains("127.0.0.1:1"), "{msg}");
    assert!(msg.contains("scripts/setup-pgvector.sh"), "{msg}");
    assert!(msg.contains("pgvector/pgvector:pg15"), "{msg}");
    assert!(msg.contains("AOK_TEST_POSTGRES_URL"), "{msg}");
}
