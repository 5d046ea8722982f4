//! Migrations on real SQLite and real PostgreSQL: schema, idempotence, pgvector, audit guard.

mod common;

use agent_os_kernel::storage::embedding::{EmbeddingTable, get_embedding, set_embedding};
use agent_os_kernel::storage::entities::{audit_entry, page};
use agent_os_kernel::storage::{Backend, Storage};
use chrono::Utc;
use common::test_storage;
use sea_orm::{ActiveValue, ConnectionTrait, DbBackend, EntityTrait, Statement};

const TABLES: [&str; 14] = [
    "agents",
    "mailbox_messages",
    "checkpoints",
    "page_blobs",
    "pages",
    "memories",
    "leases",
    "locks",
    "jobs",
    "audit_log",
    "journal",
    "durable_agents",
    "trajectories",
    "seaql_migrations",
];

fn db_backend(storage: &Storage) -> DbBackend {
    match storage.backend() {
        Backend::Sqlite => DbBackend::Sqlite,
        Backend::Postgres => DbBackend::Postgres,
    }
}

async fn count(storage: &Storage, sql: &str) -> i64 {
    let row = storage
        .connection()
        .query_one_raw(Statement::from_string(db_backend(storage), sql.to_string()))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .unwrap_or_else(|| panic!("{sql}: no row"));
    row.try_get::<i64>("", "n")
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn table_names(storage: &Storage) -> Vec<String> {
    let sql = match storage.backend() {
        Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table'",
        Backend::Postgres => {
            "SELECT table_name::text AS name FROM information_schema.tables \
                              WHERE table_schema = current_schema()"
        }
    };
    let rows = storage
        .connection()
        .query_all_raw(Statement::from_string(db_backend(storage), sql))
        .await
        .unwrap_or_else(|e| panic!("listing tables: {e}"));
    rows.iter()
        .map(|r| r.try_get::<String>("", "name").unwrap_or_default())
        .collect()
}

async fn migrations_create_every_table_and_are_idempotent(backend: Backend) {
    let (storage, guard) = test_storage(backend).await;
    let tables = table_names(&storage).await;
    for t in TABLES {
        assert!(
            tables.iter().any(|x| x == t),
            "{backend}: table {t} missing in {tables:?}"
        );
    }
    assert_eq!(
        count(&storage, "SELECT COUNT(*) AS n FROM seaql_migrations").await,
        9
    );

    // Second run on the same handle, then a fresh connection: no error, nothing re-applied.
    storage
        .migrate()
        .await
        .unwrap_or_else(|e| panic!("second migrate: {e}"));
    let again = Storage::connect(&guard.url())
        .await
        .unwrap_or_else(|e| panic!("reconnect: {e}"));
    assert_eq!(
        count(&again, "SELECT COUNT(*) AS n FROM seaql_migrations").await,
        9
    );
    assert_eq!(table_names(&again).await.len(), tables.len());
}

async fn audit_log_refuses_update_and_delete(backend: Backend) {
    let (storage, _guard) = test_storage(backend).await;
    let entry = audit_entry::ActiveModel {
        seq: ActiveValue::Set(1),
        ts: ActiveValue::Set(Utc::now()),
        pid: ActiveValue::Set(None),
        action: ActiveValue::Set("kernel.start".into()),
        detail: ActiveValue::Set(serde_json::json!({"v": 1})),
        prev_hash: ActiveValue::Set(String::new()),
        hash: ActiveValue::Set("h1".into()),
    };
    audit_entry::Entity::insert(entry)
        .exec_without_returning(storage.connection())
        .await
        .unwrap_or_else(|e| panic!("append: {e}"));

    let conn = storage.connection();
    let update = conn
        .execute_unprepared("UPDATE audit_log SET action = 'forged' WHERE seq = 1")
        .await;
    let err = update.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        err.contains("append-only"),
        "{backend}: UPDATE not refused: {err:?}"
    );
    let delete = conn.execute_unprepared("DELETE FROM audit_log").await;
    let err = delete.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        err.contains("append-only"),
        "{backend}: DELETE not refused: {err:?}"
    );

    let kept = audit_entry::Entity::find_by_id(1i64)
        .one(conn)
        .await
        .unwrap_or_else(|e| panic!("read back: {e}"))
        .unwrap_or_else(|| panic!("{backend}: audit row vanished"));
    assert_eq!(kept.action, "kernel.start");
    assert_eq!(kept.detail, serde_json::json!({"v": 1}));
}

async fn embeddings_round_trip(backend: Backend) {
    let (storage, _guard) = test_storage(backend).await;
    let now = Utc::now();
    let row = page::ActiveModel {
        id: ActiveValue::Set("p1".into()),
        pid: ActiveValue::Set(agent_os_kernel::Pid::new().to_string()),
        content: ActiveValue::Set("the quick brown fox".into()),
        tokens: ActiveValue::Set(4),
        importance: ActiveValue::Set(0.5),
        pinned: ActiveValue::Set(false),
        kind: ActiveValue::Set("message".into()),
        metadata: ActiveValue::Set(serde_json::json!({})),
        access_count: ActiveValue::Set(0),
        created_at: ActiveValue::Set(now),
        updated_at: ActiveValue::Set(now),
        accessed_at: ActiveValue::Set(now),
        ..Default::default()
    };
    page::Entity::insert(row)
        .exec_without_returning(storage.connection())
        .await
        .unwrap_or_else(|e| panic!("insert page: {e}"));

    assert_eq!(
        get_embedding(&storage, EmbeddingTable::Pages, "p1")
            .await
            .ok(),
        Some(None)
    );
    let v: Vec<f32> = (0..768).map(|i| (i as f32) / 768.0 - 0.5).collect();
    let found = set_embedding(&storage, EmbeddingTable::Pages, "p1", Some(&v))
        .await
        .unwrap_or_else(|e| panic!("set embedding: {e}"));
    assert!(found);
    let back = get_embedding(&storage, EmbeddingTable::Pages, "p1")
        .await
        .unwrap_or_else(|e| panic!("get embedding: {e}"));
    assert_eq!(back.as_deref(), Some(v.as_slice()));
    assert_eq!(
        count(
            &storage,
            "SELECT COUNT(*) AS n FROM pages WHERE embedding_dim = 768"
        )
        .await,
        1
    );
    let missing = set_embedding(&storage, EmbeddingTable::Memories, "nope", Some(&v)).await;
    assert_eq!(missing.ok(), Some(false));
}

on_both_backends! {
    migrations_idempotent => super::migrations_create_every_table_and_are_idempotent;
    audit_append_only => super::audit_log_refuses_update_and_delete;
    embedding_round_trip => super::embeddings_round_trip;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_has_pgvector_and_hnsw_indexes() {
    let (storage, guard) = test_storage(Backend::Postgres).await;
    assert_eq!(
        count(
            &storage,
            "SELECT COUNT(*) AS n FROM pg_extension WHERE extname = 'vector'"
        )
        .await,
        1
    );
    let schema = guard.schema().unwrap_or_default().to_string();
    let rows = storage
        .connection()
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT indexname::text AS name, indexdef FROM pg_indexes \
             WHERE schemaname = $1 AND indexdef LIKE '%USING hnsw%'",
            [schema.into()],
        ))
        .await
        .unwrap_or_else(|e| panic!("pg_indexes: {e}"));
    let defs: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                r.try_get::<String>("", "name").unwrap_or_default(),
                r.try_get::<String>("", "indexdef").unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        defs.len(),
        2 * migrations::INDEXED_EMBEDDING_DIMS.len(),
        "expected one HNSW index per table and dimension, got {defs:#?}"
    );
    for table in ["pages", "memories"] {
        for dim in migrations::INDEXED_EMBEDDING_DIMS {
            let name = format!("idx_{table}_embedding_{dim}_hnsw");
            let (_, def) = defs
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| panic!("index {name} missing in {defs:#?}"));
            assert!(def.contains(&format!("vector({dim})")), "{def}");
            assert!(def.contains("vector_cosine_ops"), "{def}");
            assert!(
                def.contains(&format!("WHERE (embedding_dim = {dim})")),
                "{def}"
            );
        }
    }
    // The planner uses the partial index for a nearest-neighbour query of the same shape.
    let conn = storage.connection();
    conn.execute_unprepared("SET enable_seqscan = off")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let query: Vec<String> = (0..768)
        .map(|i| if i == 0 { "1".into() } else { "0".into() })
        .collect();
    let explain = format!(
        "EXPLAIN SELECT id FROM pages WHERE embedding_dim = 768 \
         ORDER BY embedding::vector(768) <=> '[{}]'::vector(768) LIMIT 5",
        query.join(",")
    );
    let plan: Vec<String> = conn
        .query_all_raw(Statement::from_string(DbBackend::Postgres, explain))
        .await
        .unwrap_or_else(|e| panic!("explain: {e}"))
        .iter()
        .map(|r| r.try_get::<String>("", "QUERY PLAN").unwrap_or_default())
        .collect();
    assert!(
        plan.iter()
            .any(|l| l.contains("idx_pages_embedding_768_hnsw")),
        "HNSW index not used: {plan:#?}"
    );
}

#[tokio::test]
async fn postgres_audit_trigger_also_refuses_truncate() {
    let (storage, _guard) = test_storage(Backend::Postgres).await;
    let err = storage
        .connection()
        .execute_unprepared("TRUNCATE audit_log")
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("append-only"), "TRUNCATE not refused: {err:?}");
}

/// A role that may not create extensions, in a database without `vector`: the migration error
/// must say what is wrong and what to do, not just relay the server's refusal.
#[tokio::test]
async fn postgres_extension_failure_is_explained() {
    use sea_orm::{ConnectOptions, Database};

    let base = common::postgres_url();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut opts = ConnectOptions::new(base.clone());
    opts.max_connections(1).sqlx_logging(false);
    let admin = Database::connect(opts)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL unreachable at {base}: {e} (see tests/common)"));
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let (role, db) = (format!("aok_r_{suffix}"), format!("aok_d_{suffix}"));
    for sql in [
        format!("CREATE ROLE {role} LOGIN NOSUPERUSER"),
        format!("CREATE DATABASE {db} OWNER {role}"),
    ] {
        admin
            .execute_unprepared(&sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    // Same server, new database, new role (no password: the test server trusts local TCP).
    let authority_and_rest = base.split_once('@').map_or(base.as_str(), |(_, r)| r);
    let host = authority_and_rest
        .split('/')
        .next()
        .unwrap_or("127.0.0.1:5432");
    let url = format!("postgres://{role}@{host}/{db}");
    let result = Storage::connect(&url).await;

    for sql in [
        format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
        format!("DROP ROLE IF EXISTS {role}"),
    ] {
        if let Err(e) = admin.execute_unprepared(&sql).await {
            eprintln!("cleanup {sql}: {e}");
        }
    }
    let err = result
        .err()
        .unwrap_or_else(|| panic!("a non-superuser created the vector extension"));
    let msg = err.to_string();
    assert!(
        matches!(err, agent_os_kernel::storage::StorageError::Migrate { .. }),
        "{err:?}"
    );
    assert!(msg.contains(migrations::PGVECTOR_NOT_CREATED), "{msg}");
    assert!(msg.contains(&db), "error names the database URL: {msg}");
}
