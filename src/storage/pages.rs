//! The pager's swap: page rows (`pages`) whose bodies live once per distinct content in
//! `page_blobs`, and long-term memories (`memories`). The pager writes every page when it is
//! allocated (so no page exists only in memory), flips `resident` when it evicts or faults,
//! and rebuilds a page table from these rows after a restart.

use chrono::{DateTime, Utc};
use sea_orm::{QueryResult, Statement, TransactionTrait, Value};

use crate::storage::embedding::{column_value, read_column};
use crate::storage::sql::{exec, int, int32, now, query_all, query_one, stmt};
use crate::storage::{Backend, Storage, StorageError};

/// A page row to insert.
#[derive(Debug)]
pub(crate) struct NewPageRow<'a> {
    pub(crate) id: String,
    pub(crate) pid: String,
    pub(crate) hash: &'a str,
    pub(crate) content: &'a str,
    pub(crate) tokens: u32,
    pub(crate) importance: f32,
    pub(crate) pinned: bool,
    pub(crate) kind: &'static str,
    pub(crate) metadata: serde_json::Value,
    pub(crate) embedding: Option<&'a [f32]>,
    pub(crate) seq: u64,
    pub(crate) resident: bool,
}

/// A page row as loaded (the blob only for resident rows).
#[derive(Debug)]
pub(crate) struct PageRow {
    pub(crate) id: String,
    pub(crate) hash: Option<String>,
    pub(crate) inline: String,
    pub(crate) tokens: u32,
    pub(crate) importance: f32,
    pub(crate) pinned: bool,
    pub(crate) kind: String,
    pub(crate) metadata: serde_json::Value,
    pub(crate) embedding: Option<Vec<f32>>,
    pub(crate) access_count: u32,
    pub(crate) seq: u64,
    pub(crate) resident: bool,
    pub(crate) blob: Option<Vec<u8>>,
}

/// A residency change to write.
#[derive(Debug)]
pub(crate) struct Residency {
    pub(crate) id: String,
    pub(crate) resident: bool,
    pub(crate) access_count: u32,
}

fn dim(v: Option<&[f32]>) -> Value {
    Value::Int(v.and_then(|v| i32::try_from(v.len()).ok()))
}

/// Inserts pages and their blobs (a blob already stored is not written again), in one
/// transaction.
pub(crate) async fn insert_pages(
    storage: &Storage,
    rows: &[NewPageRow<'_>],
) -> Result<(), StorageError> {
    let backend = storage.backend();
    const OP: &str = "storing pages";
    let err = |e| storage.query_error(OP, e);
    let txn = storage.connection().begin().await.map_err(err)?;
    for row in rows {
        let size = i64::try_from(row.content.len()).unwrap_or(i64::MAX);
        exec(
            storage,
            &txn,
            OP,
            stmt(
                backend,
                "INSERT INTO page_blobs (hash, content, size, created_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (hash) DO NOTHING",
                vec![
                    row.hash.into(),
                    Value::Bytes(Some(row.content.as_bytes().to_vec())),
                    Value::BigInt(Some(size)),
                    now(),
                ],
            ),
        )
        .await?;
        exec(
            storage,
            &txn,
            OP,
            stmt(
                backend,
                "INSERT INTO pages (id, pid, content, tokens, importance, pinned, kind, metadata, \
             embedding, embedding_dim, access_count, created_at, updated_at, accessed_at, \
             content_hash, seq, resident) \
             VALUES (?, ?, '', ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?)",
                vec![
                    row.id.clone().into(),
                    row.pid.clone().into(),
                    int32(row.tokens),
                    Value::Double(Some(f64::from(row.importance))),
                    row.pinned.into(),
                    row.kind.into(),
                    Value::Json(Some(Box::new(row.metadata.clone()))),
                    column_value(backend, row.embedding),
                    dim(row.embedding),
                    now(),
                    now(),
                    now(),
                    row.hash.into(),
                    int(row.seq),
                    row.resident.into(),
                ],
            ),
        )
        .await?;
    }
    txn.commit().await.map_err(err)
}

/// Writes residency changes (evictions, faults) in one transaction.
pub(crate) async fn set_residency(
    storage: &Storage,
    changes: &[Residency],
) -> Result<(), StorageError> {
    if changes.is_empty() {
        return Ok(());
    }
    let backend = storage.backend();
    const OP: &str = "writing page residency";
    let err = |e| storage.query_error(OP, e);
    if let [one] = changes {
        exec(
            storage,
            storage.connection(),
            OP,
            residency_stmt(backend, one),
        )
        .await?;
        return Ok(());
    }
    let txn = storage.connection().begin().await.map_err(err)?;
    for change in changes {
        exec(storage, &txn, OP, residency_stmt(backend, change)).await?;
    }
    txn.commit().await.map_err(err)
}

fn residency_stmt(backend: Backend, c: &Residency) -> Statement {
    stmt(
        backend,
        "UPDATE pages SET resident = ?, access_count = ?, accessed_at = ? WHERE id = ?",
        vec![
            c.resident.into(),
            int32(c.access_count),
            now(),
            c.id.clone().into(),
        ],
    )
}

/// Updates a page's metadata, pin and importance.
pub(crate) async fn update_page(
    storage: &Storage,
    id: &str,
    metadata: &serde_json::Value,
    pinned: bool,
    importance: f32,
) -> Result<(), StorageError> {
    let backend = storage.backend();
    exec(
        storage,
        storage.connection(),
        "updating a page",
        stmt(
            backend,
            "UPDATE pages SET metadata = ?, pinned = ?, importance = ?, updated_at = ? WHERE id = ?",
            vec![
                Value::Json(Some(Box::new(metadata.clone()))),
                pinned.into(),
                Value::Double(Some(f64::from(importance))),
                now(),
                id.into(),
            ],
        ),
    )
    .await?;
    Ok(())
}

/// The bodies of `hashes` (those that exist).
pub(crate) async fn load_blobs(
    storage: &Storage,
    hashes: &[&str],
) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
    if hashes.is_empty() {
        return Ok(Vec::new());
    }
    let backend = storage.backend();
    let marks = vec!["?"; hashes.len()].join(", ");
    let rows = query_all(
        storage,
        storage.connection(),
        "reading page blobs",
        stmt(
            backend,
            &format!("SELECT hash, content FROM page_blobs WHERE hash IN ({marks})"),
            hashes.iter().map(|h| Value::from(*h)).collect(),
        ),
    )
    .await?;
    rows.iter()
        .map(|r| {
            let hash: String = r.try_get("", "hash").map_err(|e| corrupt(storage, e))?;
            let content: Vec<u8> = r.try_get("", "content").map_err(|e| corrupt(storage, e))?;
            Ok((hash, content))
        })
        .collect()
}

fn corrupt(storage: &Storage, e: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt {
        url: storage.url().to_string(),
        what: "pages".into(),
        reason: e.to_string(),
    }
}

/// Every page row of `pid`, in conversation order, with the blobs of resident rows.
pub(crate) async fn load_pages(storage: &Storage, pid: &str) -> Result<Vec<PageRow>, StorageError> {
    let backend = storage.backend();
    let rows = query_all(
        storage,
        storage.connection(),
        "loading pages",
        stmt(
            backend,
            "SELECT p.id, p.content_hash, p.content AS inline, p.tokens, p.importance, p.pinned, \
             p.kind, p.metadata, p.embedding, p.access_count, p.seq, p.resident, \
             b.content AS blob \
             FROM pages p LEFT JOIN page_blobs b ON b.hash = p.content_hash AND p.resident \
             WHERE p.pid = ? ORDER BY p.seq",
            vec![pid.into()],
        ),
    )
    .await?;
    rows.iter().map(|r| page_row(storage, backend, r)).collect()
}

fn page_row(storage: &Storage, backend: Backend, r: &QueryResult) -> Result<PageRow, StorageError> {
    let c = |e: sea_orm::DbErr| corrupt(storage, e);
    let tokens: i32 = r.try_get("", "tokens").map_err(c)?;
    let access: i32 = r.try_get("", "access_count").map_err(c)?;
    let seq: i64 = r.try_get("", "seq").map_err(c)?;
    let importance: f64 = r.try_get("", "importance").map_err(c)?;
    Ok(PageRow {
        id: r.try_get("", "id").map_err(c)?,
        hash: r.try_get("", "content_hash").map_err(c)?,
        inline: r.try_get("", "inline").map_err(c)?,
        tokens: u32::try_from(tokens).unwrap_or(0),
        importance: importance as f32,
        pinned: r.try_get("", "pinned").map_err(c)?,
        kind: r.try_get("", "kind").map_err(c)?,
        metadata: r.try_get("", "metadata").map_err(c)?,
        embedding: read_column(r, backend, "embedding").map_err(|e| corrupt(storage, e))?,
        access_count: u32::try_from(access).unwrap_or(0),
        seq: u64::try_from(seq).unwrap_or(0),
        resident: r.try_get("", "resident").map_err(c)?,
        blob: r.try_get("", "blob").map_err(c)?,
    })
}

/// The owner of page `id`, if the row exists.
pub(crate) async fn page_owner(
    storage: &Storage,
    id: &str,
) -> Result<Option<String>, StorageError> {
    let backend = storage.backend();
    let row = query_one(
        storage,
        storage.connection(),
        "finding a page's owner",
        stmt(
            backend,
            "SELECT pid FROM pages WHERE id = ?",
            vec![id.into()],
        ),
    )
    .await?;
    row.map(|r| {
        r.try_get::<String>("", "pid")
            .map_err(|e| corrupt(storage, e))
    })
    .transpose()
}

/// Deletes page rows, then the blobs no page refers to any more.
pub(crate) async fn delete_pages(
    storage: &Storage,
    pages: &[(String, String)],
) -> Result<(), StorageError> {
    let backend = storage.backend();
    const OP: &str = "deleting pages";
    let err = |e| storage.query_error(OP, e);
    let txn = storage.connection().begin().await.map_err(err)?;
    for (id, hash) in pages {
        exec(
            storage,
            &txn,
            OP,
            stmt(
                backend,
                "DELETE FROM pages WHERE id = ?",
                vec![id.clone().into()],
            ),
        )
        .await?;
        exec(
            storage,
            &txn,
            OP,
            stmt(
                backend,
                "DELETE FROM page_blobs WHERE hash = ? AND NOT EXISTS \
             (SELECT 1 FROM pages WHERE content_hash = ?) \
             AND NOT EXISTS (SELECT 1 FROM checkpoints)",
                vec![hash.clone().into(), hash.clone().into()],
            ),
        )
        .await?;
    }
    txn.commit().await.map_err(err)
}

/// A long-term memory row.
#[derive(Debug, Clone)]
pub(crate) struct MemoryRow {
    pub(crate) id: String,
    pub(crate) content: String,
    pub(crate) tokens: u32,
    pub(crate) importance: f32,
    pub(crate) embedding: Option<Vec<f32>>,
    pub(crate) created_at: DateTime<Utc>,
}

/// Inserts a long-term memory.
pub(crate) async fn insert_memory(
    storage: &Storage,
    pid: &str,
    m: &MemoryRow,
) -> Result<(), StorageError> {
    let backend = storage.backend();
    exec(
        storage,
        storage.connection(),
        "storing a memory",
        stmt(
            backend,
            "INSERT INTO memories (id, pid, content, tokens, importance, pinned, kind, metadata, \
             embedding, embedding_dim, access_count, created_at, updated_at, accessed_at) \
             VALUES (?, ?, ?, ?, ?, false, 'memory', ?, ?, ?, 0, ?, ?, ?)",
            vec![
                m.id.clone().into(),
                pid.into(),
                m.content.clone().into(),
                int32(m.tokens),
                Value::Double(Some(f64::from(m.importance))),
                Value::Json(Some(Box::new(serde_json::json!({})))),
                column_value(backend, m.embedding.as_deref()),
                dim(m.embedding.as_deref()),
                Value::ChronoDateTimeUtc(Some(m.created_at)),
                now(),
                now(),
            ],
        ),
    )
    .await?;
    Ok(())
}

/// Every long-term memory of `pid`, oldest first.
pub(crate) async fn load_memories(
    storage: &Storage,
    pid: &str,
) -> Result<Vec<MemoryRow>, StorageError> {
    let backend = storage.backend();
    let rows = query_all(
        storage,
        storage.connection(),
        "loading memories",
        stmt(
            backend,
            "SELECT id, content, tokens, importance, embedding, created_at FROM memories \
             WHERE pid = ? ORDER BY created_at, id",
            vec![pid.into()],
        ),
    )
    .await?;
    rows.iter()
        .map(|r| {
            let c = |e: sea_orm::DbErr| corrupt(storage, e);
            let tokens: i32 = r.try_get("", "tokens").map_err(c)?;
            let importance: f64 = r.try_get("", "importance").map_err(c)?;
            Ok(MemoryRow {
                id: r.try_get("", "id").map_err(c)?,
                content: r.try_get("", "content").map_err(c)?,
                tokens: u32::try_from(tokens).unwrap_or(0),
                importance: importance as f32,
                embedding: read_column(r, backend, "embedding").map_err(|e| corrupt(storage, e))?,
                created_at: r.try_get("", "created_at").map_err(c)?,
            })
        })
        .collect()
}

/// Deletes page rows and leaves their blobs (checkpoints may refer to them; the checkpoint
/// collector removes blobs nothing refers to).
pub(crate) async fn delete_page_rows(
    storage: &Storage,
    ids: &[String],
) -> Result<(), StorageError> {
    let backend = storage.backend();
    for chunk in ids.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(", ");
        exec(
            storage,
            storage.connection(),
            "deleting pages",
            stmt(
                backend,
                &format!("DELETE FROM pages WHERE id IN ({marks})"),
                chunk.iter().map(|id| Value::from(id.clone())).collect(),
            ),
        )
        .await?;
    }
    Ok(())
}
