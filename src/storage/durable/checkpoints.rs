//! `checkpoints` rows and the content-addressed `page_blobs` they reference.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::{QueryResult, TransactionTrait, Value};

use crate::storage::sql::{
    IN_CHUNK, col, exec, fetch_all, fetch_one, int, len, marks, run, stmt, to_u64,
};
use crate::storage::{Backend, Storage, StorageError};

/// Columns of [`CheckpointMeta`], in `SELECT` order.
const META_COLUMNS: &str = "id, pid, sequence, parent_id, format_version, kind, step, \
                            base_sequence, checksum, bytes, agent_type, created_at";

/// Blobs per multi-row `INSERT` (4 values each).
const BLOB_INSERT_CHUNK: usize = 100;

/// A checkpoint row to insert.
#[derive(Debug, Clone)]
pub(crate) struct NewCheckpoint {
    pub(crate) id: String,
    pub(crate) pid: String,
    pub(crate) sequence: u64,
    pub(crate) parent_id: Option<String>,
    pub(crate) format_version: i32,
    /// `full` or `delta`.
    pub(crate) kind: &'static str,
    pub(crate) step: u64,
    /// The sequence of the full checkpoint this one's delta chain starts at (itself if full).
    pub(crate) base_sequence: u64,
    /// Hex SHA-256 of `body`.
    pub(crate) checksum: String,
    /// The encoded checkpoint (JSON bytes, exact).
    pub(crate) body: Vec<u8>,
    pub(crate) agent_type: Option<String>,
    /// Small JSON summary kept in the legacy `state` column (kind, step).
    pub(crate) summary: serde_json::Value,
    pub(crate) created_at: DateTime<Utc>,
}

/// A stored checkpoint, with its body.
#[derive(Debug, Clone)]
pub(crate) struct CheckpointRow {
    pub(crate) meta: CheckpointMeta,
    /// `None` when the row predates the body column.
    pub(crate) body: Option<Vec<u8>>,
}

/// A stored checkpoint without its body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CheckpointMeta {
    pub(crate) id: String,
    pub(crate) pid: String,
    pub(crate) sequence: u64,
    pub(crate) parent_id: Option<String>,
    pub(crate) format_version: i32,
    pub(crate) kind: String,
    pub(crate) step: u64,
    pub(crate) base_sequence: u64,
    pub(crate) checksum: Option<String>,
    pub(crate) bytes: u64,
    pub(crate) agent_type: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
}

/// Inserts a checkpoint and marks the mailbox rows `acks` acknowledged (`status = 'acked'`,
/// `delivered_at = now`), in one transaction (a single INSERT, without a transaction, when
/// `acks` is empty). At most two statements besides BEGIN/COMMIT.
pub(crate) async fn commit(
    storage: &Storage,
    row: &NewCheckpoint,
    acks: &[i64],
) -> Result<(), StorageError> {
    const OP: &str = "committing a checkpoint";
    let backend = storage.backend();
    const INSERT: &str = "INSERT INTO checkpoints (id, pid, sequence, format_version, parent_id, state, \
         created_at, kind, step, base_sequence, checksum, body, bytes, agent_type) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    let row_values = vec![
        row.id.clone().into(),
        row.pid.clone().into(),
        int(row.sequence),
        Value::Int(Some(row.format_version)),
        row.parent_id.clone().into(),
        Value::Json(Some(Box::new(row.summary.clone()))),
        Value::ChronoDateTimeUtc(Some(row.created_at)),
        row.kind.into(),
        int(row.step),
        int(row.base_sequence),
        row.checksum.clone().into(),
        Value::Bytes(Some(row.body.clone())),
        len(&row.body),
        row.agent_type.clone().into(),
    ];
    if backend == Backend::Postgres && !acks.is_empty() && acks.len() <= IN_CHUNK {
        // One statement, atomic by itself: one round trip and one commit instead of four
        // round trips (BEGIN, INSERT, UPDATE, COMMIT).
        let mut values = vec![Value::ChronoDateTimeUtc(Some(Utc::now()))];
        values.extend(acks.iter().map(|id| Value::BigInt(Some(*id))));
        values.extend(row_values);
        let sql = format!(
            "WITH acked AS (UPDATE mailbox_messages SET status = 'acked', delivered_at = ? \
             WHERE id IN ({}) RETURNING id) {INSERT}",
            marks(acks.len())
        );
        exec(
            storage,
            storage.connection(),
            OP,
            stmt(backend, &sql, values),
        )
        .await?;
        return Ok(());
    }
    let insert = stmt(backend, INSERT, row_values);
    if acks.is_empty() {
        exec(storage, storage.connection(), OP, insert).await?;
        return Ok(());
    }
    let txn = storage
        .connection()
        .begin()
        .await
        .map_err(|e| storage.query_error(OP, e))?;
    exec(storage, &txn, OP, insert).await?;
    let acked_at = Utc::now();
    for chunk in acks.chunks(IN_CHUNK) {
        let mut values = vec![Value::ChronoDateTimeUtc(Some(acked_at))];
        values.extend(chunk.iter().map(|id| Value::BigInt(Some(*id))));
        let sql = format!(
            "UPDATE mailbox_messages SET status = 'acked', delivered_at = ? WHERE id IN ({})",
            marks(chunk.len())
        );
        exec(storage, &txn, OP, stmt(backend, &sql, values)).await?;
    }
    txn.commit().await.map_err(|e| storage.query_error(OP, e))
}

/// Decodes the [`META_COLUMNS`] of a row.
fn meta(storage: &Storage, r: &QueryResult) -> Result<CheckpointMeta, StorageError> {
    Ok(CheckpointMeta {
        id: col(storage, r, "id")?,
        pid: col(storage, r, "pid")?,
        sequence: to_u64(
            storage,
            "checkpoints.sequence",
            col(storage, r, "sequence")?,
        )?,
        parent_id: col(storage, r, "parent_id")?,
        format_version: col(storage, r, "format_version")?,
        kind: col(storage, r, "kind")?,
        step: to_u64(storage, "checkpoints.step", col(storage, r, "step")?)?,
        base_sequence: to_u64(
            storage,
            "checkpoints.base_sequence",
            col(storage, r, "base_sequence")?,
        )?,
        checksum: col(storage, r, "checksum")?,
        bytes: to_u64(storage, "checkpoints.bytes", col(storage, r, "bytes")?)?,
        agent_type: col(storage, r, "agent_type")?,
        created_at: col(storage, r, "created_at")?,
    })
}

/// Decodes the [`META_COLUMNS`] and `body` of a row.
fn with_body(storage: &Storage, r: &QueryResult) -> Result<CheckpointRow, StorageError> {
    Ok(CheckpointRow {
        meta: meta(storage, r)?,
        body: col(storage, r, "body")?,
    })
}

/// Every checkpoint of `pid`, oldest first (by sequence), without bodies.
pub(crate) async fn list(
    storage: &Storage,
    pid: &str,
) -> Result<Vec<CheckpointMeta>, StorageError> {
    let sql = format!("SELECT {META_COLUMNS} FROM checkpoints WHERE pid = ? ORDER BY sequence");
    let rows = fetch_all(storage, "listing checkpoints", &sql, vec![pid.into()]).await?;
    rows.iter().map(|r| meta(storage, r)).collect()
}

/// One checkpoint with its body.
pub(crate) async fn get(
    storage: &Storage,
    id: &str,
) -> Result<Option<CheckpointRow>, StorageError> {
    let sql = format!("SELECT {META_COLUMNS}, body FROM checkpoints WHERE id = ?");
    let row = fetch_one(storage, "reading a checkpoint", &sql, vec![id.into()]).await?;
    row.map(|r| with_body(storage, &r)).transpose()
}

/// The newest checkpoint of `pid` (highest sequence), with its body.
pub(crate) async fn latest(
    storage: &Storage,
    pid: &str,
) -> Result<Option<CheckpointRow>, StorageError> {
    let sql = format!(
        "SELECT {META_COLUMNS}, body FROM checkpoints WHERE pid = ? \
         ORDER BY sequence DESC LIMIT 1"
    );
    let row = fetch_one(
        storage,
        "reading the latest checkpoint",
        &sql,
        vec![pid.into()],
    )
    .await?;
    row.map(|r| with_body(storage, &r)).transpose()
}

/// Checkpoints of `pid` with `from <= sequence <= to`, with bodies, by sequence (one query).
pub(crate) async fn range(
    storage: &Storage,
    pid: &str,
    from: u64,
    to: u64,
) -> Result<Vec<CheckpointRow>, StorageError> {
    let sql = format!(
        "SELECT {META_COLUMNS}, body FROM checkpoints \
         WHERE pid = ? AND sequence >= ? AND sequence <= ? ORDER BY sequence"
    );
    let rows = fetch_all(
        storage,
        "reading a checkpoint chain",
        &sql,
        vec![pid.into(), int(from), int(to)],
    )
    .await?;
    rows.iter().map(|r| with_body(storage, r)).collect()
}

/// Ids of the checkpoints whose `parent_id` is `id`.
pub(crate) async fn children(storage: &Storage, id: &str) -> Result<Vec<String>, StorageError> {
    let rows = fetch_all(
        storage,
        "listing child checkpoints",
        "SELECT id FROM checkpoints WHERE parent_id = ? ORDER BY sequence, id",
        vec![id.into()],
    )
    .await?;
    rows.iter().map(|r| col(storage, r, "id")).collect()
}

/// Deletes these checkpoints (chunked); returns how many rows went.
pub(crate) async fn delete(storage: &Storage, ids: &[String]) -> Result<u64, StorageError> {
    let mut deleted = 0u64;
    for chunk in ids.chunks(IN_CHUNK) {
        let sql = format!(
            "DELETE FROM checkpoints WHERE id IN ({})",
            marks(chunk.len())
        );
        let values = chunk.iter().map(|id| Value::from(id.as_str())).collect();
        let done = run(storage, "deleting checkpoints", &sql, values).await?;
        deleted = deleted.saturating_add(done);
    }
    Ok(deleted)
}

/// Bodies of every checkpoint (any pid), `limit` at a time after `after` (by id), for the
/// blob collector.
pub(crate) async fn bodies_after(
    storage: &Storage,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
    let (sql, mut values) = match after {
        Some(after) => (
            "SELECT id, body FROM checkpoints WHERE body IS NOT NULL AND id > ? \
             ORDER BY id LIMIT ?",
            vec![Value::from(after)],
        ),
        None => (
            "SELECT id, body FROM checkpoints WHERE body IS NOT NULL ORDER BY id LIMIT ?",
            Vec::new(),
        ),
    };
    values.push(int(limit));
    let rows = fetch_all(storage, "reading checkpoint bodies", sql, values).await?;
    rows.iter()
        .map(|r| Ok((col(storage, r, "id")?, col(storage, r, "body")?)))
        .collect()
}

/// Every `content_hash` some `pages` row still references.
pub(crate) async fn page_hashes_in_use(storage: &Storage) -> Result<HashSet<String>, StorageError> {
    let rows = fetch_all(
        storage,
        "listing page content hashes",
        "SELECT DISTINCT content_hash FROM pages WHERE content_hash IS NOT NULL",
        Vec::new(),
    )
    .await?;
    rows.iter()
        .map(|r| col(storage, r, "content_hash"))
        .collect()
}

/// Every blob's hash and size.
pub(crate) async fn blobs(storage: &Storage) -> Result<Vec<(String, u64)>, StorageError> {
    let rows = fetch_all(
        storage,
        "listing blobs",
        "SELECT hash, size FROM page_blobs ORDER BY hash",
        Vec::new(),
    )
    .await?;
    rows.iter()
        .map(|r| {
            let size = to_u64(storage, "page_blobs.size", col(storage, r, "size")?)?;
            Ok((col(storage, r, "hash")?, size))
        })
        .collect()
}

/// Deletes these blobs, except those a `pages` row refers to (checked in the same statement);
/// returns (rows, bytes) freed.
pub(crate) async fn delete_blobs(
    storage: &Storage,
    hashes: &[String],
) -> Result<(u64, u64), StorageError> {
    let (mut rows_freed, mut bytes_freed) = (0u64, 0u64);
    for chunk in hashes.chunks(IN_CHUNK) {
        let sql = format!(
            "DELETE FROM page_blobs WHERE hash IN ({}) AND NOT EXISTS \
             (SELECT 1 FROM pages WHERE pages.content_hash = page_blobs.hash) RETURNING size",
            marks(chunk.len())
        );
        let values = chunk.iter().map(|h| Value::from(h.as_str())).collect();
        let rows = fetch_all(storage, "deleting blobs", &sql, values).await?;
        for r in &rows {
            let size = to_u64(storage, "page_blobs.size", col(storage, r, "size")?)?;
            rows_freed = rows_freed.saturating_add(1);
            bytes_freed = bytes_freed.saturating_add(size);
        }
    }
    Ok((rows_freed, bytes_freed))
}

/// Stores blobs not yet stored (`ON CONFLICT DO NOTHING`), in one transaction.
pub(crate) async fn put_blobs(
    storage: &Storage,
    blobs: &[(String, Vec<u8>)],
) -> Result<(), StorageError> {
    const OP: &str = "storing blobs";
    let backend = storage.backend();
    let statements = blobs.chunks(BLOB_INSERT_CHUNK).map(|chunk| {
        let rows = vec!["(?, ?, ?, ?)"; chunk.len()].join(", ");
        let now = Utc::now();
        let mut values = Vec::with_capacity(chunk.len() * 4);
        for (hash, content) in chunk {
            values.push(Value::from(hash.as_str()));
            values.push(Value::Bytes(Some(content.clone())));
            values.push(len(content));
            values.push(Value::ChronoDateTimeUtc(Some(now)));
        }
        let sql = format!(
            "INSERT INTO page_blobs (hash, content, size, created_at) VALUES {rows} \
             ON CONFLICT (hash) DO NOTHING"
        );
        stmt(backend, &sql, values)
    });
    if blobs.len() <= BLOB_INSERT_CHUNK {
        // One statement (or none) is atomic on its own.
        for statement in statements {
            exec(storage, storage.connection(), OP, statement).await?;
        }
        return Ok(());
    }
    let txn = storage
        .connection()
        .begin()
        .await
        .map_err(|e| storage.query_error(OP, e))?;
    for statement in statements {
        exec(storage, &txn, OP, statement).await?;
    }
    txn.commit().await.map_err(|e| storage.query_error(OP, e))
}

/// The bytes of these blobs (missing ones are absent from the result).
pub(crate) async fn get_blobs(
    storage: &Storage,
    hashes: &[String],
) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
    let mut out = Vec::with_capacity(hashes.len());
    for chunk in hashes.chunks(IN_CHUNK) {
        let sql = format!(
            "SELECT hash, content FROM page_blobs WHERE hash IN ({})",
            marks(chunk.len())
        );
        let values = chunk.iter().map(|h| Value::from(h.as_str())).collect();
        let rows = fetch_all(storage, "reading blobs", &sql, values).await?;
        for r in &rows {
            out.push((col(storage, r, "hash")?, col(storage, r, "content")?));
        }
    }
    Ok(out)
}
